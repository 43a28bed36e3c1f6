// The one js-libp2p node used by every peer-up interop test.
//
// Run: node --import ./polyfill.mjs peer.mjs [flags]
// stdout: one JSON object per line (events); stderr: human logs.
//
// Listener:  --listen /ip4/127.0.0.1/tcp/0 [--listen ...]
//            prints {"event":"listening",...}, then {"event":"inbound",...}
//            per served connection/stream; runs until SIGTERM/SIGINT or
//            until stdin reaches EOF (when stdin is a pipe or socket).
// Dialer:    --dial <multiaddr> followed by actions, run in the order given:
//            --ping N, --identify, --echo-bytes N,
//            --echo-streams N [--echo-stream-bytes N], --perf-upload N
//            --perf-download N (one perf action). Exits 0 iff all succeeded.
//            --hold-ms N keeps the node running N ms after the actions (e.g.
//            for DCUtR to upgrade the dialed relayed connection).
// Identity:  --key-seed <64 hex chars> (Ed25519 seed), else random.
// Relay:     --relay-server [--relay-unlimited], --relay-client,
//            --reserve-on <relay multiaddr with /p2p/>, --dcutr, --autonat.
// DHT:       --kad <protocol id> runs @libp2p/kad-dht in server mode with that
//            protocol (loopback addresses kept); actions after --dial:
//            --kad-provide <multihash hex>, --kad-find-providers <multihash hex>,
//            --kad-find-peer <peer id>, --kad-put-own-record (a signed peer record
//            of ours under /peerup-peer/<our id>), --kad-get <key hex>.
//            --kad-peerup-validator adds a validator and a selector for the
//            /peerup-peer/ namespace (without it js refuses such records:
//            "No validator available for key type").
//            --kad-provide-at-start <multihash hex> (listener): provide the key
//            once started, then every 10 s (a relay providing a namespace).
// Relay limits: --relay-server alone grants long circuits (tests move MiB);
//            --relay-default-limits keeps js's defaults (2 min, 128 KiB), as a
//            public relay has them.
import { parseArgs } from 'node:util'
import fs from 'node:fs'
import { setMaxListeners } from 'node:events'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { autoNAT } from '@libp2p/autonat'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromString, peerIdFromMultihash, peerIdFromPublicKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { generateKeyPairFromSeed, generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import {
  ECHO_PROTOCOL, PERF_PROTOCOL, STREAM_LIMITS,
  serveEcho, servePerf, pingClient, echoClient, echoStreamsClient, perfClient
} from './protocols.mjs'

function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function log (...args) {
  process.stderr.write(`[js-peer ${process.pid}] ${args.join(' ')}\n`)
}

const OPTIONS = {
  listen: { type: 'string', multiple: true },
  'key-seed': { type: 'string' },
  dial: { type: 'string' },
  ping: { type: 'string' },
  identify: { type: 'boolean' },
  'echo-bytes': { type: 'string' },
  'echo-streams': { type: 'string' },
  'echo-stream-bytes': { type: 'string' },
  'perf-upload': { type: 'string' },
  'perf-download': { type: 'string' },
  'relay-server': { type: 'boolean' },
  'relay-unlimited': { type: 'boolean' },
  'relay-client': { type: 'boolean' },
  'reserve-on': { type: 'string', multiple: true },
  dcutr: { type: 'boolean' },
  autonat: { type: 'boolean' },
  kad: { type: 'string' },
  'kad-provide': { type: 'string' },
  'kad-find-providers': { type: 'string' },
  'kad-find-peer': { type: 'string' },
  'kad-put-own-record': { type: 'boolean' },
  'kad-get': { type: 'string' },
  'kad-peerup-validator': { type: 'boolean' },
  'kad-provide-at-start': { type: 'string' },
  'relay-default-limits': { type: 'boolean' },
  'action-timeout': { type: 'string' },
  'hold-ms': { type: 'string' },
  'ignore-stdin': { type: 'boolean' }
}

function parseCount (name, text) {
  if (!/^\d+$/.test(text ?? '')) throw new Error(`--${name}: expected a non-negative integer, got "${text}"`)
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new Error(`--${name}: ${text} is too large`)
  return n
}

// Actions in command-line order. --perf-upload/--perf-download together form
// one perf action, placed where the first of them appeared.
function parseActions (values, tokens) {
  const actions = []
  let perfAdded = false
  for (const t of tokens) {
    if (t.kind !== 'option') continue
    switch (t.name) {
      case 'ping': actions.push({ action: 'ping', count: parseCount('ping', t.value) }); break
      case 'identify': actions.push({ action: 'identify' }); break
      case 'kad-provide': actions.push({ action: 'kad-provide', key: parseHex(t.name, t.value) }); break
      case 'kad-find-providers':
        actions.push({ action: 'kad-find-providers', key: parseHex(t.name, t.value) })
        break
      case 'kad-find-peer': actions.push({ action: 'kad-find-peer', peer: t.value }); break
      case 'kad-put-own-record': actions.push({ action: 'kad-put-own-record' }); break
      case 'kad-get': actions.push({ action: 'kad-get', key: parseHex(t.name, t.value, 512) }); break
      case 'echo-bytes':
        actions.push({ action: 'echo', bytes: parseCount('echo-bytes', t.value) })
        break
      case 'echo-streams':
        actions.push({
          action: 'echo-streams',
          streams: parseCount('echo-streams', t.value),
          bytes: parseCount('echo-stream-bytes', values['echo-stream-bytes'] ?? '65536')
        })
        break
      case 'perf-upload':
      case 'perf-download':
        if (!perfAdded) {
          perfAdded = true
          actions.push({
            action: 'perf',
            upload: parseCount('perf-upload', values['perf-upload'] ?? '0'),
            download: parseCount('perf-download', values['perf-download'] ?? '0')
          })
        }
        break
    }
  }
  return actions
}

function parseHex (name, text, maxBytes = 64) {
  const re = new RegExp(`^([0-9a-fA-F]{2}){2,${maxBytes}}$`)
  if (!re.test(text ?? '')) throw new Error(`--${name}: expected at most ${maxBytes} hex bytes`)
  return Uint8Array.from(Buffer.from(text, 'hex'))
}

// A raw-codec CIDv1 around a multihash: providers are keyed by the multihash.
function cidOf (multihash) {
  return CID.createV1(0x55, Digest.decode(multihash))
}

async function waitForDhtPeer (node, signal) {
  while (node.services.dht.routingTable.size === 0) {
    if (signal.aborted) throw new Error('no DHT server in the routing table')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

// peer-up's record type: a libp2p signed peer record (RFC 0003) under
// /peerup-peer/<peer ID multihash bytes>, signed by that very peer; newer seq
// wins. Implemented here with js-libp2p's own envelope code, so records
// cross-check against an independent implementation.
const PEERUP_PREFIX = new TextEncoder().encode('/peerup-peer/')

function peerupKey (peerId) {
  const mh = peerId.toMultihash().bytes
  const key = new Uint8Array(PEERUP_PREFIX.length + mh.length)
  key.set(PEERUP_PREFIX)
  key.set(mh, PEERUP_PREFIX.length)
  return key
}

async function openPeerupRecord (key, value) {
  if (key.length <= PEERUP_PREFIX.length || !PEERUP_PREFIX.every((b, i) => key[i] === b)) {
    throw new Error('not a /peerup-peer/ key')
  }
  const keyPeer = peerIdFromMultihash(Digest.decode(key.subarray(PEERUP_PREFIX.length)))
  const envelope = await RecordEnvelope.openAndCertify(value, PeerRecord.DOMAIN)
  if (Buffer.compare(Buffer.from(envelope.payloadType), Buffer.from(PeerRecord.CODEC)) !== 0) {
    throw new Error('envelope payload is not a peer record')
  }
  const record = PeerRecord.createFromProtobuf(envelope.payload)
  const signer = peerIdFromPublicKey(envelope.publicKey)
  if (!signer.equals(keyPeer) || !record.peerId.equals(keyPeer)) {
    throw new Error('record is not signed by the peer its key names')
  }
  return record
}

const peerupValidator = async (key, value) => { await openPeerupRecord(key, value) }

function peerupSelector (key, records) {
  let best = 0
  let bestSeq = -1n
  records.forEach((value, i) => {
    try {
      const envelope = RecordEnvelope.createFromProtobuf(value)
      const seq = PeerRecord.createFromProtobuf(envelope.payload).seqNumber
      if (seq > bestSeq) { best = i; bestSeq = seq }
    } catch {}
  })
  return best
}

let privateKeyOfNode = null

async function loadKey (seedHex) {
  if (seedHex == null) return generateKeyPair('Ed25519')
  if (!/^[0-9a-fA-F]{64}$/.test(seedHex)) throw new Error('--key-seed: expected 64 hex characters')
  return generateKeyPairFromSeed('Ed25519', Buffer.from(seedHex, 'hex'))
}

function relayServerOptions (unlimited) {
  // js defaults cut a relayed connection after 128 KiB or 2 minutes. Tests move
  // up to 64 MiB, so grant 4 GiB and 1 hour per circuit (or no limit at all).
  return {
    hopTimeout: 30_000,
    reservations: {
      maxReservations: 128,
      reservationTtl: 2 * 60 * 60 * 1000,
      applyDefaultLimit: !unlimited,
      defaultDurationLimit: 60 * 60 * 1000,
      defaultDataLimit: 4n * 1024n * 1024n * 1024n
    }
  }
}

async function buildNode (values) {
  const needsRelayTransport = values['relay-client'] === true ||
    (values['reserve-on'] ?? []).length > 0 ||
    (values.dial ?? '').includes('/p2p-circuit')
  const listen = [...(values.listen ?? [])]
  for (const relay of values['reserve-on'] ?? []) {
    // Listening on <relay>/p2p-circuit makes the circuit transport reserve a
    // slot on that relay during start().
    listen.push(`${relay}/p2p-circuit`)
  }
  const transports = [tcp()]
  if (needsRelayTransport) {
    transports.push(circuitRelayTransport({ reservationCompletionTimeout: 20_000 }))
  }
  const services = { identify: identify(), ping: ping() }
  if (values['relay-server']) {
    services.relay = values['relay-default-limits']
      ? circuitRelayServer({ reservations: { maxReservations: 128 } })
      : circuitRelayServer(relayServerOptions(values['relay-unlimited']))
  }
  if (values.dcutr) services.dcutr = dcutr()
  if (values.autonat) services.autonat = autoNAT()
  if (values.kad != null) {
    const init = { protocol: values.kad, clientMode: false, peerInfoMapper: passthroughMapper }
    if (values['kad-peerup-validator']) {
      init.validators = { 'peerup-peer': peerupValidator }
      init.selectors = { 'peerup-peer': peerupSelector }
    }
    services.dht = kadDHT(init)
  }
  privateKeyOfNode = await loadKey(values['key-seed'])
  return createLibp2p({
    privateKey: privateKeyOfNode,
    addresses: { listen },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // No discovery, no DHT, no bootstrap: only the peers a test names.
    peerDiscovery: [],
    connectionManager: { maxConnections: 512, inboundConnectionThreshold: 1000 },
    services
  })
}

function registerHandlers (node) {
  const serve = (protocol, fn) => node.handle(protocol, async (stream, connection) => {
    const signal = AbortSignal.timeout(10 * 60 * 1000)
    const base = { event: 'inbound', kind: 'stream', protocol, peer: connection.remotePeer.toString() }
    try {
      emit({ ...base, ok: true, ...(await fn(stream, signal)) })
    } catch (err) {
      log(`${protocol} handler failed: ${err.stack ?? err}`)
      emit({ ...base, ok: false, error: String(err.message ?? err) })
      stream.abort(err)
    }
  }, STREAM_LIMITS)
  return Promise.all([
    serve(ECHO_PROTOCOL, async (stream, signal) => ({ bytes: await serveEcho(stream, signal) })),
    serve(PERF_PROTOCOL, (stream, signal) => servePerf(stream, signal))
  ])
}

// libp2p identifies every new connection by itself, and the identify service
// allows one outbound identify stream per connection, so a second explicit
// identify races the automatic one. Report the automatic one instead.
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
  // Every concurrent stream adds an abort listener to the shared signal.
  setMaxListeners(Infinity, signal)
  switch (spec.action) {
    case 'ping': return pingClient(connection, spec.count, signal)
    case 'identify': {
      const r = await identified(connection.id, AbortSignal.timeout(Math.min(timeoutMs, 30_000)))
      return {
        ok: r.peerId.equals(connection.remotePeer),
        peer_id: r.peerId.toString(),
        protocols: r.protocols,
        listen_addrs: r.listenAddrs.map(String),
        observed_addr: r.observedAddr?.toString() ?? null,
        agent_version: r.agentVersion ?? null,
        protocol_version: r.protocolVersion ?? null
      }
    }
    case 'kad-provide': {
      await waitForDhtPeer(node, signal)
      await node.contentRouting.provide(cidOf(spec.key), { signal })
      return { ok: true }
    }
    case 'kad-find-providers': {
      await waitForDhtPeer(node, signal)
      const providers = []
      for await (const p of node.contentRouting.findProviders(cidOf(spec.key), { signal })) {
        providers.push({ peer: p.id.toString(), addrs: p.multiaddrs.map(String) })
        break
      }
      return { ok: providers.length > 0, providers }
    }
    case 'kad-find-peer': {
      await waitForDhtPeer(node, signal)
      const info = await node.peerRouting.findPeer(peerIdFromString(spec.peer), { signal })
      return { ok: info.multiaddrs.length > 0, peer: info.id.toString(), addrs: info.multiaddrs.map(String) }
    }
    case 'kad-put-own-record': {
      await waitForDhtPeer(node, signal)
      const seq = BigInt(Date.now()) * 1000n
      const record = new PeerRecord({ peerId: node.peerId, multiaddrs: node.getMultiaddrs().map(a => a.decapsulateCode(421)), seqNumber: seq })
      const envelope = await RecordEnvelope.seal(record, privateKeyOfNode)
      const key = peerupKey(node.peerId)
      await node.contentRouting.put(key, envelope.marshal(), { signal })
      return { ok: true, key: Buffer.from(key).toString('hex'), seq: String(seq) }
    }
    case 'kad-get': {
      await waitForDhtPeer(node, signal)
      const value = await node.contentRouting.get(spec.key, { signal })
      const out = { ok: true, value: Buffer.from(value).toString('hex') }
      try {
        const record = await openPeerupRecord(spec.key, value)
        Object.assign(out, { peer: record.peerId.toString(), seq: String(record.seqNumber), addrs: record.multiaddrs.map(String) })
      } catch (err) {
        out.decode_error = String(err.message ?? err)
      }
      return out
    }
    case 'echo': return echoClient(connection, spec.bytes, signal)
    case 'echo-streams': return echoStreamsClient(connection, spec.streams, spec.bytes, signal)
    case 'perf': return perfClient(connection, spec.upload, spec.download, signal)
  }
  throw new Error(`unknown action ${spec.action}`)
}

function circuitAddrs (node) {
  return node.getMultiaddrs().map(String).filter(a => a.includes('/p2p-circuit'))
}

async function waitForReservation (node, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (circuitAddrs(node).length === 0) {
    if (Date.now() > deadline) throw new Error('no relay reservation within timeout')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return circuitAddrs(node)
}

// Exit when the parent goes away: stdin EOF (if it is a pipe/socket we were
// given) or reparenting. Tests that kill the harness must not leave orphans.
function watchParent (stop, ignoreStdin) {
  let watchStdin = false
  try {
    const st = fs.fstatSync(0)
    watchStdin = !ignoreStdin && (st.isFIFO() || st.isSocket())
  } catch {}
  if (watchStdin) {
    process.stdin.on('data', () => {})
    process.stdin.on('end', () => stop('stdin closed'))
    process.stdin.on('error', () => stop('stdin error'))
    process.stdin.resume()
  }
  const parent = process.ppid
  setInterval(() => { if (process.ppid !== parent) stop('parent exited') }, 1000).unref()
}

async function main () {
  const { values, tokens } = parseArgs({ options: OPTIONS, tokens: true, allowPositionals: false })
  const actions = parseActions(values, tokens)
  const timeoutMs = parseCount('action-timeout', values['action-timeout'] ?? '300000')
  if (actions.length > 0 && values.dial == null) throw new Error('actions need --dial <multiaddr>')

  const node = await buildNode(values)
  let stopping = false
  const stop = async (why, code = 0) => {
    if (stopping) return
    stopping = true
    log(`stopping: ${why}`)
    const force = setTimeout(() => process.exit(code), 3000)
    force.unref()
    try { await node.stop() } catch (err) { log(`stop failed: ${err}`) }
    process.exit(code)
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))

  await registerHandlers(node)
  node.addEventListener('peer:identify', recordIdentify)
  node.addEventListener('connection:open', evt => {
    const c = evt.detail
    if (c.direction !== 'inbound') return
    emit({ event: 'inbound', kind: 'connection', peer: c.remotePeer.toString(), remote_addr: c.remoteAddr.toString(), limited: c.limits != null })
  })
  await node.start()
  emit({ event: 'listening', peer_id: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })

  if ((values['reserve-on'] ?? []).length > 0) {
    const addrs = await waitForReservation(node, 30_000)
    emit({ event: 'reserved', peer_id: node.peerId.toString(), addrs })
  }

  if (values['kad-provide-at-start'] != null) {
    // A relay providing a namespace: the record is ours at once (js adds
    // itself as provider before it asks the network), and each turn also
    // sends it to the closest servers known by then.
    const cid = cidOf(parseHex('kad-provide-at-start', values['kad-provide-at-start']))
    const provideOnce = async () => {
      try {
        await node.contentRouting.provide(cid, { signal: AbortSignal.timeout(8_000) })
        log('provided the namespace key')
      } catch (err) {
        log(`provide: ${err.message ?? err} (the local provider record stays)`)
      }
    }
    provideOnce()
    setInterval(provideOnce, 10_000).unref()
    emit({ event: 'providing', key: values['kad-provide-at-start'] })
  }

  if (values.dial == null) {
    watchParent(stop, values['ignore-stdin'])
    return
  }

  let allOk = true
  let connection
  try {
    const start = performance.now()
    connection = await node.dial(multiaddr(values.dial), { signal: AbortSignal.timeout(30_000) })
    emit({
      event: 'connected',
      peer: connection.remotePeer.toString(),
      remote_addr: connection.remoteAddr.toString(),
      limited: connection.limits != null,
      encryption: connection.encryption ?? null,
      multiplexer: connection.multiplexer ?? null,
      ms: Math.round(performance.now() - start)
    })
  } catch (err) {
    log(`dial failed: ${err.stack ?? err}`)
    emit({ event: 'result', action: 'dial', ok: false, error: String(err.message ?? err) })
    await stop('dial failed', 1)
    return
  }
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
  const holdMs = parseCount('hold-ms', values['hold-ms'] ?? '0')
  if (holdMs > 0) await new Promise(resolve => setTimeout(resolve, holdMs))
  await stop('actions done', allOk ? 0 : 1)
}

main().catch(err => {
  log(`fatal: ${err.stack ?? err}`)
  emit({ event: 'error', error: String(err.message ?? err) })
  process.exit(2)
})
