// Make a fresh js-ipfs repo's config offline and loopback-only: node configure.cjs REPO/config
// API, Gateway and RPC each get a free 127.0.0.1 port; Swarm must be empty or the daemon hangs.
// (`jsipfs config` boots a whole node, about 2 s a call, so the JSON is edited here instead.)
const fs = require("fs");
const net = require("net");

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

(async () => {
  const file = process.argv[2];
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
})().catch((err) => {
  console.error(`configure.cjs: ${err.message}`);
  process.exit(1);
});
