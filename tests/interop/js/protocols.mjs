// Stream-level protocols of the interop peer: /peerup/echo/1.0.0 and a
// hand-written /perf/1.0.0 (libp2p/specs perf/perf.md), server and client.
//
// js-libp2p 3.x stream API used here (no it-pipe / duplex any more):
//   - stream is an AsyncIterable<Uint8Array | Uint8ArrayList>; iteration ends
//     when the remote closes its write side (or throws on reset/abort).
//   - stream.send(buf) queues bytes and returns false when the caller should
//     wait for stream.onDrain() before sending more.
//   - stream.close() half-closes our write side; the stream stays readable.
//   - stream.abort(err) resets.
import { createHash, randomBytes } from 'node:crypto'

export const PING_PROTOCOL = '/ipfs/ping/1.0.0'
export const ECHO_PROTOCOL = '/peerup/echo/1.0.0'
export const PERF_PROTOCOL = '/perf/1.0.0'

// Enough for the 50+ concurrent stream tests, and well under yamux's 1000.
export const STREAM_LIMITS = {
  maxInboundStreams: 256,
  maxOutboundStreams: 256,
  // Relayed (circuit v2) connections are "limited"; our tests run over them.
  runOnLimitedConnection: true
}

const CHUNK = 64 * 1024
// A perf client may ask for at most this many bytes (keeps a typo from
// making the server stream for hours).
const MAX_PERF_DOWNLOAD = 16n * 1024n * 1024n * 1024n

function toU8 (chunk) {
  return chunk instanceof Uint8Array ? chunk : chunk.subarray()
}

export async function sendAll (stream, buf, signal) {
  if (!stream.send(buf)) {
    await stream.onDrain({ signal })
  }
}

// Sends `total` bytes produced by `fill(n)` in CHUNK pieces.
async function sendGenerated (stream, total, fill, signal) {
  let remaining = total
  while (remaining > 0) {
    const n = Math.min(CHUNK, remaining)
    await sendAll(stream, fill(n), signal)
    remaining -= n
  }
}

// Echo server: write back every byte until the remote closes its write side,
// then close ours. Returns the number of bytes echoed.
export async function serveEcho (stream, signal) {
  let bytes = 0
  for await (const chunk of stream) {
    bytes += chunk.byteLength
    await sendAll(stream, chunk, signal)
  }
  await stream.close({ signal })
  return bytes
}

// Perf server, following perf.md step by step:
// 1. read the 8-byte big-endian number of bytes to send back,
// 2. drain the upload until EOF,
// 3. only then send the requested bytes, and close.
export async function servePerf (stream, signal) {
  let header = new Uint8Array(0)
  let uploaded = 0
  for await (const chunk of stream) {
    let buf = toU8(chunk)
    if (header.byteLength < 8) {
      const need = 8 - header.byteLength
      const merged = new Uint8Array(header.byteLength + Math.min(need, buf.byteLength))
      merged.set(header, 0)
      merged.set(buf.subarray(0, need), header.byteLength)
      header = merged
      buf = buf.subarray(need)
    }
    uploaded += buf.byteLength
  }
  if (header.byteLength < 8) {
    throw new Error(`perf: stream closed after ${header.byteLength} header bytes`)
  }
  const download = new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0, false)
  if (download > MAX_PERF_DOWNLOAD) {
    throw new Error(`perf: refusing to send ${download} bytes`)
  }
  const zeros = new Uint8Array(CHUNK)
  await sendGenerated(stream, Number(download), n => zeros.subarray(0, n), signal)
  await stream.close({ signal })
  return { uploaded, downloaded: Number(download) }
}

// Reads a stream to EOF, hashing and counting. Start it BEFORE sending so
// that a 'message' listener exists while data arrives.
function drain (stream, hash) {
  return (async () => {
    let bytes = 0
    for await (const chunk of stream) {
      const buf = toU8(chunk)
      hash?.update(buf)
      bytes += buf.byteLength
    }
    return bytes
  })()
}

function mibPerSecond (bytes, seconds) {
  return seconds > 0 ? Number((bytes / (1024 * 1024) / seconds).toFixed(2)) : null
}

// Reads exactly `n` bytes from an async iterator over a stream, keeping any
// surplus in `state.rest` for the next call.
async function readExactly (iter, state, n) {
  while (state.rest.byteLength < n) {
    const { value, done } = await iter.next()
    if (done) throw new Error(`stream ended after ${state.rest.byteLength}/${n} bytes`)
    const buf = toU8(value)
    const merged = new Uint8Array(state.rest.byteLength + buf.byteLength)
    merged.set(state.rest, 0)
    merged.set(buf, state.rest.byteLength)
    state.rest = merged
  }
  const out = state.rest.subarray(0, n)
  state.rest = state.rest.subarray(n)
  return out
}

// Pings on THIS connection (the ping service would look the peer up and may
// dial a second connection when the first is a limited relayed one): `count`
// rounds of 32 random bytes on one stream, as ping/ping.md allows.
export async function pingClient (connection, count, signal) {
  const stream = await connection.newStream(PING_PROTOCOL, { runOnLimitedConnection: true, signal })
  const iter = stream[Symbol.asyncIterator]()
  const state = { rest: new Uint8Array(0) }
  const rtts = []
  try {
    for (let i = 0; i < count; i++) {
      const payload = randomBytes(32)
      const start = performance.now()
      await sendAll(stream, payload, signal)
      const echoed = await readExactly(iter, state, 32)
      if (!payload.equals(echoed)) throw new Error(`ping ${i}: reply differs from payload`)
      rtts.push(Number((performance.now() - start).toFixed(3)))
    }
    await stream.close({ signal })
  } catch (err) {
    stream.abort(err)
    throw err
  } finally {
    await iter.return?.()
  }
  return { ok: rtts.length === count, count, rtt_ms: rtts }
}

// Sends `nbytes` random bytes on one echo stream and checks that the same
// bytes (by sha256) come back.
export async function echoClient (connection, nbytes, signal) {
  const stream = await connection.newStream(ECHO_PROTOCOL, { ...STREAM_LIMITS, signal })
  const sent = createHash('sha256')
  const received = createHash('sha256')
  const start = performance.now()
  const reader = drain(stream, received)
  await sendGenerated(stream, nbytes, n => {
    const buf = randomBytes(n)
    sent.update(buf)
    return buf
  }, signal)
  await stream.close({ signal })
  const receivedBytes = await reader
  const seconds = (performance.now() - start) / 1000
  const sentDigest = sent.digest('hex')
  const receivedDigest = received.digest('hex')
  return {
    ok: receivedBytes === nbytes && sentDigest === receivedDigest,
    bytes: nbytes,
    received_bytes: receivedBytes,
    sha256_sent: sentDigest,
    sha256_received: receivedDigest,
    seconds,
    mib_per_s: mibPerSecond(2 * nbytes, seconds)
  }
}

// Opens `count` echo streams at once, each carrying `nbytes`, and checks each.
export async function echoStreamsClient (connection, count, nbytes, signal) {
  const start = performance.now()
  const results = await Promise.allSettled(
    Array.from({ length: count }, () => echoClient(connection, nbytes, signal)))
  const seconds = (performance.now() - start) / 1000
  const failures = results
    .map((r, i) => ({ i, r }))
    .filter(({ r }) => r.status === 'rejected' || !r.value.ok)
    .map(({ i, r }) => ({ stream: i, error: r.status === 'rejected' ? String(r.reason?.message ?? r.reason) : 'mismatch' }))
  return {
    ok: failures.length === 0,
    streams: count,
    bytes_per_stream: nbytes,
    streams_ok: count - failures.length,
    failures: failures.slice(0, 10),
    seconds,
    mib_per_s: mibPerSecond(2 * count * nbytes, seconds)
  }
}

// perf.md client: 1. open, 2. send u64 download size, 3. upload, 4. close
// write, 5. read until EOF. Upload and download are timed separately.
export async function perfClient (connection, upload, download, signal) {
  const stream = await connection.newStream(PERF_PROTOCOL, { ...STREAM_LIMITS, signal })
  const start = performance.now()
  const reader = drain(stream)
  const header = new Uint8Array(8)
  new DataView(header.buffer).setBigUint64(0, BigInt(download), false)
  await sendAll(stream, header, signal)
  const zeros = new Uint8Array(CHUNK)
  await sendGenerated(stream, upload, n => zeros.subarray(0, n), signal)
  await stream.close({ signal })
  const uploadDone = performance.now()
  const downloaded = await reader
  const end = performance.now()
  const uploadSeconds = (uploadDone - start) / 1000
  // Upload is "done" for us when the bytes are queued to the transport; the
  // download phase starts only after the server saw our EOF, so the total is
  // the honest figure and the split is indicative.
  const downloadSeconds = (end - uploadDone) / 1000
  const seconds = (end - start) / 1000
  return {
    ok: downloaded === download,
    upload_bytes: upload,
    download_bytes: download,
    received_bytes: downloaded,
    seconds,
    upload_seconds: uploadSeconds,
    download_seconds: downloadSeconds,
    upload_mib_per_s: mibPerSecond(upload, uploadSeconds),
    download_mib_per_s: mibPerSecond(download, downloadSeconds),
    mib_per_s: mibPerSecond(upload + download, seconds)
  }
}
