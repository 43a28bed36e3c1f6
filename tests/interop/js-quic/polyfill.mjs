// Node 20 lacks Promise.withResolvers (added in Node 22), which js-libp2p
// calls directly. Load this with `node --import ./polyfill.mjs` before libp2p.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}
