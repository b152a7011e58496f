#!/usr/bin/env bash
# A local js-ipfs daemon for the IPFS tests, the storage benchmark, or anyone without kubo.
#
#   scripts/jsipfs.sh install       npm-install the locked js-ipfs tree (jsipfs/package-lock.json:
#                                   ipfs@0.66.1, daemon 0.18.1) once; about 3 minutes, cached
#                                   under $BAASIM_CACHE or ~/.cache/baasim (jsipfs/<lock hash>)
#   scripts/jsipfs.sh init REPO     make an offline, loopback-only repo in REPO
#                                   (API, Gateway and RPC on free 127.0.0.1 ports)
#   scripts/jsipfs.sh daemon REPO   run REPO's daemon in the foreground
#   scripts/jsipfs.sh start REPO    init REPO if needed, start its daemon in the background,
#                                   wait until it is ready and print its RPC API multiaddr
#                                   (the storage.api value); its log is REPO/daemon.log
#   scripts/jsipfs.sh stop REPO     stop the daemon that `start REPO` started
#
# Why (measured on these machines, see shared NOTES "IPFS"): Node 20 lacks
# Promise.withResolvers, which one dependency calls, so jsipfs/polyfill.cjs is loaded through
# NODE_OPTIONS=--require; the daemon runs --offline with --enable-preload=false and an empty
# Bootstrap list, so it never leaves the machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/jsipfs"
cache="${BAASIM_CACHE:-${XDG_CACHE_HOME:-${HOME:-$(cd ~ && pwd)}/.cache}/baasim}"
prefix="$cache/jsipfs/$(sha256sum "$here/package-lock.json" | cut -c1-16)"
bin="$prefix/node_modules/.bin/jsipfs"

die() {
  echo "jsipfs.sh: $*" >&2
  exit 1
}

install() {
  [ -x "$bin" ] && return 0
  command -v npm >/dev/null || die "npm not found: install Node.js >= 20 with npm"
  echo "jsipfs.sh: installing js-ipfs into $prefix (about 3 minutes, once)" >&2
  mkdir -p "$(dirname "$prefix")"

  tmp=$(mktemp -d "$prefix.partial.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  cp "$here/package.json" "$here/package-lock.json" "$tmp/"
  # `npm install` on the lock file, not `npm ci`: ci rejects the lock because one optional
  # dependency deep in the tree (electron-eval's "headless") is a tarball URL; install skips it.
  npm install --prefix "$tmp" --no-audit --no-fund --loglevel=error >&2
  chmod 755 "$tmp"
  # Move the finished tree into place (atomic on one file system), so that an interrupted
  # install never looks complete.
  rm -rf "$prefix"
  mv "$tmp" "$prefix"
  trap - EXIT
}

init() {
  install
  IPFS_PATH="$1" NODE_OPTIONS="--require $here/polyfill.cjs ${NODE_OPTIONS:-}" \
    "$bin" init --profile test >/dev/null
  node "$here/configure.cjs" "$1/config"
}

daemon() {
  install
  # exec: the daemon takes this process's id, so `stop` signals the daemon itself.
  IPFS_PATH="$1" NODE_OPTIONS="--require $here/polyfill.cjs ${NODE_OPTIONS:-}" \
    exec "$bin" daemon --offline --enable-preload=false
}

start() {
  local repo="$1" pid waited=0
  [ -f "$repo/config" ] || init "$repo"
  if [ -f "$repo/daemon.pid" ] && kill -0 "$(cat "$repo/daemon.pid")" 2>/dev/null; then
    die "a daemon for $repo is already running (pid $(cat "$repo/daemon.pid"))"
  fi
  # Its own session, so that it outlives this script and no terminal signal reaches it.
  setsid "$0" daemon "$repo" </dev/null >"$repo/daemon.log" 2>&1 &
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
  # The daemon leads its own process group (setsid in `start`): signal the whole group.
  kill -TERM -- "-$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 200 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
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
