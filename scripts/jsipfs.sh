#!/usr/bin/env bash
# A local js-ipfs daemon for the IPFS tests (and for anyone who wants one without kubo).
#
#   scripts/jsipfs.sh install          npm-install ipfs@$JSIPFS_VERSION once, cached under
#                                      $BAASIM_CACHE or ~/.cache/baasim (jsipfs/<version>)
#   scripts/jsipfs.sh init REPO        make an offline, loopback-only repo in REPO
#                                      (API, Gateway and RPC on free 127.0.0.1 ports)
#   scripts/jsipfs.sh daemon REPO      run its daemon in the foreground
#   scripts/jsipfs.sh start REPO       init REPO if needed, start its daemon in the background,
#                                      wait until it is ready and print its RPC API multiaddr
#                                      (the storage.api value); the log is REPO/daemon.log
#   scripts/jsipfs.sh stop REPO        stop the daemon that `start REPO` started
#
# Why each setting (measured on these machines, see NOTES.md "IPFS"):
# - Node 20 lacks Promise.withResolvers, which one dependency calls: polyfill.cjs is loaded
#   through NODE_OPTIONS=--require by the wrapper;
# - Addresses.Swarm must be [] or the daemon hangs at start; Bootstrap [] and --offline keep
#   it off the network; --enable-preload=false stops it contacting preload nodes;
# - `jsipfs config` boots a whole node (~2 s per call), so the config JSON is edited directly.
set -euo pipefail

JSIPFS_VERSION=0.66.1
cache="${BAASIM_CACHE:-${XDG_CACHE_HOME:-${HOME:-$(cd ~ && pwd)}/.cache}/baasim}"
prefix="$cache/jsipfs/$JSIPFS_VERSION"
wrapper="$prefix/jsipfs"

die() {
  echo "jsipfs.sh: $*" >&2
  exit 1
}

install() {
  [ -x "$wrapper" ] && return 0
  command -v npm >/dev/null || die "npm not found: install Node.js >= 20 with npm (e.g. apt-get install nodejs npm)"
  echo "jsipfs.sh: installing ipfs@$JSIPFS_VERSION into $prefix (about 3 minutes, once)" >&2
  mkdir -p "$(dirname "$prefix")"
  local tmp
  tmp=$(mktemp -d "$prefix.partial.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  npm install --prefix "$tmp" --no-audit --no-fund --loglevel=error "ipfs@$JSIPFS_VERSION" >&2
  cat >"$tmp/polyfill.cjs" <<'JS'
// Node < 22 lacks Promise.withResolvers; a dependency of js-ipfs 0.66 calls it.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}
JS
  cat >"$tmp/jsipfs" <<'SH'
#!/usr/bin/env bash
here="$(cd "$(dirname "$0")" && pwd)"
export NODE_OPTIONS="--require $here/polyfill.cjs ${NODE_OPTIONS:-}"
exec "$here/node_modules/.bin/jsipfs" "$@"
SH
  chmod +x "$tmp/jsipfs"
  # The wrapper's directory is its install location: move the finished tree into place
  # (atomic on one file system) so an interrupted install never looks complete.
  rm -rf "$prefix"
  mv "$tmp" "$prefix"
  trap - EXIT
}

init() {
  local repo="$1"
  install
  IPFS_PATH="$repo" "$wrapper" init --profile test >/dev/null
  node - "$repo/config" <<'JS'
const fs = require("fs");
const net = require("net");
const file = process.argv[2];
// Three distinct free loopback ports, taken from the kernel and released just before use.
const freePort = () => new Promise((resolve, reject) => {
  const server = net.createServer();
  server.once("error", reject);
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});
(async () => {
  const ports = new Set();
  while (ports.size < 3) ports.add(await freePort());
  const [api, gateway, rpc] = [...ports];
  const config = JSON.parse(fs.readFileSync(file, "utf8"));
  config.Addresses = {
    ...config.Addresses,
    API: `/ip4/127.0.0.1/tcp/${api}`,
    Gateway: `/ip4/127.0.0.1/tcp/${gateway}`,
    RPC: `/ip4/127.0.0.1/tcp/${rpc}`,
    Swarm: [],
    Announce: [],
    NoAnnounce: [],
    Delegates: [],
  };
  config.Bootstrap = [];
  config.Discovery = { MDNS: { Enabled: false }, webRTCStar: { Enabled: false } };
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
})();
JS
}

daemon() {
  local repo="$1"
  install
  IPFS_PATH="$repo" exec "$wrapper" daemon --offline --enable-preload=false
}

start() {
  local repo="$1" pid waited=0
  [ -f "$repo/config" ] || init "$repo"
  [ -f "$repo/daemon.pid" ] && kill -0 "$(cat "$repo/daemon.pid")" 2>/dev/null &&
    die "a daemon for $repo is already running (pid $(cat "$repo/daemon.pid"))"
  IPFS_PATH="$repo" setsid "$wrapper" daemon --offline --enable-preload=false \
    </dev/null >"$repo/daemon.log" 2>&1 &
  pid=$!
  echo "$pid" >"$repo/daemon.pid"
  until grep -q "Daemon is ready" "$repo/daemon.log"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$repo/daemon.log" >&2
      die "the daemon for $repo exited before it was ready (log above)"
    fi
    if [ "$waited" -ge 1200 ]; then
      stop "$repo"
      die "the daemon for $repo was not ready after 120 s (log: $repo/daemon.log)"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  printf '%s\n' "$(<"$repo/api")"
}

stop() {
  local repo="$1" pid waited=0
  [ -f "$repo/daemon.pid" ] || return 0
  pid=$(cat "$repo/daemon.pid")
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 200 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$repo/daemon.pid"
}

case "${1:-}" in
  install) install ;;
  init | daemon | start | stop)
    [ $# -eq 2 ] || die "usage: $0 $1 REPO"
    "$1" "$2"
    ;;
  *) die "usage: $0 install | init REPO | daemon REPO | start REPO | stop REPO" ;;
esac
