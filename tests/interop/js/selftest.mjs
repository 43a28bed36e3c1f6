// js <-> js self-test of peer.mjs: proves the interop peer works before our
// C++ stack is on the other end. Run: node selftest.mjs [--quick]
// Prints one line per scenario and "N passed, N failed" at the end.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))
const quick = process.argv.includes('--quick')
const MiB = 1024 * 1024
const children = new Set()

// Starts a peer; resolves lines via `next(event)` in arrival order.
function startPeer (args) {
  const child = spawn(process.execPath, ['--import', path.join(here, 'polyfill.mjs'), path.join(here, 'peer.mjs'), ...args], {
    stdio: ['pipe', 'pipe', 'inherit']
  })
  children.add(child)
  child.on('exit', () => children.delete(child))
  const queue = []
  const waiters = []
  createInterface({ input: child.stdout }).on('line', line => {
    let obj
    try { obj = JSON.parse(line) } catch { return }
    queue.push(obj)
    waiters.splice(0).forEach(w => w())
  })
  const exited = new Promise(resolve => child.on('exit', code => { resolve(code); waiters.splice(0).forEach(w => w()) }))
  async function next (event, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = queue.findIndex(o => o.event === event)
      if (i >= 0) return queue.splice(i, 1)[0]
      if (child.exitCode != null || Date.now() > deadline) throw new Error(`no "${event}" event`)
      await new Promise(resolve => { waiters.push(resolve); setTimeout(resolve, 200) })
    }
  }
  return { child, next, exited, results: () => queue.filter(o => o.event === 'result') }
}

async function runDialer (args, timeoutMs) {
  const peer = startPeer(args)
  peer.child.stdin.end()
  const timer = setTimeout(() => peer.child.kill('SIGKILL'), timeoutMs)
  const code = await peer.exited
  clearTimeout(timer)
  return { code, results: peer.results() }
}

function check (name, { code, results }, expected) {
  const ok = code === 0 && results.length === expected && results.every(r => r.ok)
  for (const r of results) {
    const brief = { ...r }
    delete brief.event
    delete brief.sha256_sent
    delete brief.sha256_received
    console.log(`  ${JSON.stringify(brief)}`)
  }
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name} (exit ${code})`)
  return ok
}

async function main () {
  let passed = 0
  let failed = 0
  const tally = ok => { ok ? passed++ : failed++ }

  const server = startPeer(['--listen', '/ip4/127.0.0.1/tcp/0'])
  const { addrs } = await server.next('listening')
  const target = addrs[0]
  tally(check('direct: ping, identify, echo 10 MiB, 50 streams', await runDialer(
    ['--dial', target, '--ping', '3', '--identify', '--echo-bytes', String(10 * MiB),
      '--echo-streams', '50', '--echo-stream-bytes', '65536'], 120_000), 4))
  const perfBytes = quick ? 16 * MiB : 100 * MiB
  tally(check(`direct: perf ${perfBytes / MiB} MiB up + down`, await runDialer(
    ['--dial', target, '--perf-upload', String(perfBytes), '--perf-download', String(perfBytes)], 180_000), 1))

  const relay = startPeer(['--listen', '/ip4/127.0.0.1/tcp/0', '--relay-server'])
  const relayAddr = (await relay.next('listening')).addrs[0]
  const home = startPeer(['--listen', '/ip4/127.0.0.1/tcp/0', '--relay-client', '--reserve-on', relayAddr])
  const reserved = await home.next('reserved')
  const circuit = reserved.addrs.find(a => a.startsWith(relayAddr))
  console.log(`  reserved: ${circuit}`)
  const relayed = await runDialer(['--dial', circuit, '--ping', '2', '--identify', '--echo-bytes', String(MiB),
    ...(quick ? [] : ['--perf-upload', String(64 * MiB), '--perf-download', String(64 * MiB)])], 180_000)
  tally(check('relay: ping, identify, echo 1 MiB' + (quick ? '' : ', perf 64 MiB') + ' through js relay', relayed, quick ? 3 : 4))

  // Listeners exit on stdin EOF: this is what keeps a killed harness from
  // leaving orphans.
  for (const p of [server, relay, home]) p.child.stdin.end()
  const codes = await Promise.race([
    Promise.all([server.exited, relay.exited, home.exited]),
    new Promise(resolve => setTimeout(() => resolve(null), 10_000))
  ])
  const stdinOk = codes != null && codes.every(c => c === 0)
  console.log(`${stdinOk ? 'PASS' : 'FAIL'} listeners exit on stdin EOF`)
  tally(stdinOk)

  console.log(`${passed} passed, ${failed} failed`)
  return failed === 0 ? 0 : 1
}

main()
  .catch(err => { console.error(err); return 1 })
  .then(code => {
    for (const c of children) c.kill('SIGKILL')
    process.exit(code)
  })
