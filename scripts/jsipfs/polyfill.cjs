// Node < 22 lacks Promise.withResolvers, which a dependency of js-ipfs 0.66 calls.
// Loaded before js-ipfs through NODE_OPTIONS=--require (see ../jsipfs.sh).
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
