// A js-libp2p 2.x node over QUIC (@chainsafe/libp2p-quic 1.1.x, quinn inside)
// for the peer-up QUIC interop tests. It speaks the event protocol of
// tests/interop/js/peer.mjs (one JSON object per stdout line), so the same
// gtest helpers (tests/support/js_peer.*) drive it; it carries only what the
// QUIC tests need: ping, identify and echo.
//
// Run: node --import ../js/polyfill.mjs peer.mjs [flags]
// Listener:  --listen /ip4/127.0.0.1/udp/0/quic-v1; prints {"event":"listening"},
//            then {"event":"inbound",...} per connection and served stream;
//            runs until SIGTERM/SIGINT or stdin EOF (pipe or socket).
// Dialer:    --dial <multiaddr> then, in order: --ping N, --identify,
//            --echo-bytes N, --echo-streams N [--echo-stream-bytes N].
//            Exits 0 iff every action succeeded.
//
// js-libp2p 2.x stream API (unlike 3.x in tests/interop/js): a stream is a
// duplex { source, sink }; sink(iterable) writes until the iterable ends and
// then closes our write side; source yields Uint8ArrayList chunks until the
// remote closes its write side.
import { parseArgs } from 'node:util'
import fs from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { createLibp2p } from 'libp2p'
import { quic } from '@chainsafe/libp2p-quic'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'

const ECHO_PROTOCOL = '/peerup/echo/1.0.0'
const STREAM_LIMITS = { maxInboundStreams: 256, maxOutboundStreams: 256 }
const CHUNK = 64 * 1024

function emit (obj) { process.stdout.write(JSON.stringify(obj) + '\n') }
function log (...args) { process.stderr.write(`[js-quic-peer ${process.pid}] ${args.join(' ')}\n`) }

const OPTIONS = {
  listen: { type: 'string', multiple: true },
  dial: { type: 'string' },
  ping: { type: 'string' },
  identify: { type: 'boolean' },
  'echo-bytes': { type: 'string' },
  'echo-streams': { type: 'string' },
  'echo-stream-bytes': { type: 'string' },
  'action-timeout': { type: 'string' }
}

function parseCount (name, text) {
  if (!/^\d+$/.test(text ?? '')) throw new Error(`--${name}: expected a non-negative integer, got "${text}"`)
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new Error(`--${name}: ${text} is too large`)
  return n
}

function parseActions (values, tokens) {
  const actions = []
  for (const t of tokens) {
    if (t.kind !== 'option') continue
    if (t.name === 'ping') actions.push({ action: 'ping', count: parseCount('ping', t.value) })
    if (t.name === 'identify') actions.push({ action: 'identify' })
    if (t.name === 'echo-bytes') actions.push({ action: 'echo', bytes: parseCount('echo-bytes', t.value) })
    if (t.name === 'echo-streams') {
      actions.push({
        action: 'echo-streams',
        streams: parseCount('echo-streams', t.value),
        bytes: parseCount('echo-stream-bytes', values['echo-stream-bytes'] ?? '65536')
      })
    }
  }
  return actions
}

function toU8 (chunk) { return chunk instanceof Uint8Array ? chunk : chunk.subarray() }

// Echo server: every byte back; sink closes our side when the source ends.
async function serveEcho (stream) {
  let bytes = 0
  await stream.sink((async function * () {
    for await (const chunk of stream.source) {
      const buf = toU8(chunk)
      bytes += buf.byteLength
      yield buf
    }
  })())
  return bytes
}

async function echoClient (connection, nbytes, signal) {
  const stream = await connection.newStream(ECHO_PROTOCOL, { ...STREAM_LIMITS, signal })
  const sent = createHash('sha256')
  const received = createHash('sha256')
  const start = performance.now()
  let receivedBytes = 0
  const reader = (async () => {
    for await (const chunk of stream.source) {
      const buf = toU8(chunk)
      received.update(buf)
      receivedBytes += buf.byteLength
    }
  })()
  await stream.sink((async function * () {
    for (let left = nbytes; left > 0; left -= CHUNK) {
      const buf = randomBytes(Math.min(CHUNK, left))
      sent.update(buf)
      yield buf
    }
  })())
  await reader
  const seconds = (performance.now() - start) / 1000
  const sentDigest = sent.digest('hex')
  const receivedDigest = received.digest('hex')
  return {
    ok: receivedBytes === nbytes && sentDigest === receivedDigest,
    bytes: nbytes,
    received_bytes: receivedBytes,
    sha256_sent: sentDigest,
    sha256_received: receivedDigest,
    seconds
  }
}

async function echoStreamsClient (connection, count, nbytes, signal) {
  const results = await Promise.allSettled(
    Array.from({ length: count }, () => echoClient(connection, nbytes, signal)))
  const failures = results
    .map((r, i) => ({ i, r }))
    .filter(({ r }) => r.status === 'rejected' || !r.value.ok)
    .map(({ i, r }) => ({ stream: i, error: r.status === 'rejected' ? String(r.reason?.message ?? r.reason) : 'mismatch' }))
  return { ok: failures.length === 0, streams: count, bytes_per_stream: nbytes, streams_ok: count - failures.length, failures: failures.slice(0, 10) }
}

// libp2p identifies each new connection by itself; report that result.
const identifyResults = new Map()
const identifyWaiters = new Map()
function recordIdentify (evt) {
  const id = evt.detail.connection?.id
  if (id == null) return
  identifyResults.set(id, evt.detail)
  identifyWaiters.get(id)?.forEach(resolve => resolve(evt.detail))
  identifyWaiters.delete(id)
}
function identified (connectionId, signal) {
  if (identifyResults.has(connectionId)) return Promise.resolve(identifyResults.get(connectionId))
  return new Promise((resolve, reject) => {
    const list = identifyWaiters.get(connectionId) ?? []
    list.push(resolve)
    identifyWaiters.set(connectionId, list)
    signal.addEventListener('abort', () => reject(new Error('no identify result for this connection')), { once: true })
  })
}

async function runAction (node, connection, spec, timeoutMs) {
  const signal = AbortSignal.timeout(timeoutMs)
  setMaxListeners(Infinity, signal)
  switch (spec.action) {
    case 'ping': {
      const rtts = []
      for (let i = 0; i < spec.count; i++) rtts.push(await node.services.ping.ping(connection.remoteAddr, { signal }))
      return { ok: rtts.length === spec.count, count: spec.count, rtt_ms: rtts }
    }
    case 'identify': {
      const r = await identified(connection.id, AbortSignal.timeout(Math.min(timeoutMs, 30_000)))
      return {
        ok: r.peerId.equals(connection.remotePeer),
        peer_id: r.peerId.toString(),
        protocols: r.protocols,
        listen_addrs: r.listenAddrs.map(String),
        observed_addr: r.observedAddr?.toString() ?? null,
        agent_version: r.agentVersion ?? null
      }
    }
    case 'echo': return echoClient(connection, spec.bytes, signal)
    case 'echo-streams': return echoStreamsClient(connection, spec.streams, spec.bytes, signal)
  }
  throw new Error(`unknown action ${spec.action}`)
}

function watchParent (stop) {
  try {
    const st = fs.fstatSync(0)
    if (st.isFIFO() || st.isSocket()) {
      process.stdin.on('data', () => {})
      process.stdin.on('end', () => stop('stdin closed'))
      process.stdin.on('error', () => stop('stdin error'))
      process.stdin.resume()
    }
  } catch {}
  const parent = process.ppid
  setInterval(() => { if (process.ppid !== parent) stop('parent exited') }, 1000).unref()
}

async function main () {
  const { values, tokens } = parseArgs({ options: OPTIONS, tokens: true, allowPositionals: false })
  const actions = parseActions(values, tokens)
  const timeoutMs = parseCount('action-timeout', values['action-timeout'] ?? '300000')
  if (actions.length > 0 && values.dial == null) throw new Error('actions need --dial <multiaddr>')
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: values.listen ?? [] },
    transports: [quic()],
    peerDiscovery: [],
    connectionManager: { maxConnections: 512, inboundConnectionThreshold: 1000 },
    services: { identify: identify(), ping: ping() }
  })
  let stopping = false
  const stop = async (why, code = 0) => {
    if (stopping) return
    stopping = true
    log(`stopping: ${why}`)
    setTimeout(() => process.exit(code), 3000).unref()
    try { await node.stop() } catch (err) { log(`stop failed: ${err}`) }
    process.exit(code)
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  await node.handle(ECHO_PROTOCOL, async ({ stream, connection }) => {
    const base = { event: 'inbound', kind: 'stream', protocol: ECHO_PROTOCOL, peer: connection.remotePeer.toString() }
    try {
      emit({ ...base, ok: true, bytes: await serveEcho(stream) })
    } catch (err) {
      log(`echo handler failed: ${err.stack ?? err}`)
      emit({ ...base, ok: false, error: String(err.message ?? err) })
      stream.abort(err)
    }
  }, STREAM_LIMITS)
  node.addEventListener('peer:identify', recordIdentify)
  node.addEventListener('connection:open', evt => {
    const c = evt.detail
    if (c.direction !== 'inbound') return
    emit({ event: 'inbound', kind: 'connection', peer: c.remotePeer.toString(), remote_addr: c.remoteAddr.toString() })
  })
  await node.start()
  emit({ event: 'listening', peer_id: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })
  if (values.dial == null) {
    watchParent(stop)
    return
  }
  let connection
  try {
    const start = performance.now()
    connection = await node.dial(multiaddr(values.dial), { signal: AbortSignal.timeout(30_000) })
    emit({ event: 'connected', peer: connection.remotePeer.toString(), remote_addr: connection.remoteAddr.toString(), ms: Math.round(performance.now() - start) })
  } catch (err) {
    log(`dial failed: ${err.stack ?? err}`)
    emit({ event: 'result', action: 'dial', ok: false, error: String(err.message ?? err) })
    await stop('dial failed', 1)
    return
  }
  let allOk = true
  for (const spec of actions) {
    let result
    try {
      result = await runAction(node, connection, spec, timeoutMs)
    } catch (err) {
      log(`${spec.action} failed: ${err.stack ?? err}`)
      result = { ok: false, error: String(err.message ?? err) }
    }
    allOk &&= result.ok === true
    emit({ event: 'result', action: spec.action, ...result })
  }
  await stop('actions done', allOk ? 0 : 1)
}

main().catch(err => {
  log(`fatal: ${err.stack ?? err}`)
  emit({ event: 'error', error: String(err.message ?? err) })
  process.exit(2)
})
