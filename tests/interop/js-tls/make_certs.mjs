// libp2p TLS certificates made and checked by real js-libp2p (@libp2p/tls,
// pinned in package-lock.json), for tests/unit/crypto/tls_certificate_test.cpp.
//
//   npm ci --no-audit --no-fund
//   node --import ../js/polyfill.mjs make_certs.mjs write <dir>
//       one certificate per host key type js-libp2p has (Ed25519, secp256k1,
//       ECDSA P-256, RSA 2048) as <dir>/js_<type>.der, and <dir>/js_certs.txt
//       listing "<file> <peer id or -> <host PublicKey protobuf hex>" per
//       line after a comment with the generation time.
//   node --import ../js/polyfill.mjs make_certs.mjs verify <file.der> [<peer id>]
//       js-libp2p's own check of a certificate (ours): prints
//       {"ok":true,"peer_id":...} or {"ok":false,"error":...}; exit 0 iff ok.
//
// generateCertificate and verifyPeerCertificate are what @libp2p/tls runs in
// its handshake; the package does not export them, so they are imported from
// its dist file by path.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromCID, peerIdFromString } from '@libp2p/peer-id'
import { generateCertificate, verifyPeerCertificate } from './node_modules/@libp2p/tls/dist/src/utils.js'

function pemToDer (pem) {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '')
  return Buffer.from(body, 'base64')
}

async function write (dir) {
  mkdirSync(dir, { recursive: true })
  const kinds = [
    ['ed25519', () => generateKeyPair('Ed25519')],
    ['secp256k1', () => generateKeyPair('secp256k1')],
    ['ecdsa', () => generateKeyPair('ECDSA', 'P-256')],
    ['rsa', () => generateKeyPair('RSA', 2048)]
  ]
  const lines = [`# made by make_certs.mjs with @libp2p/tls 3.1.10 at ${new Date().toISOString()}`]
  for (const [name, generate] of kinds) {
    const key = await generate()
    const { cert } = await generateCertificate(key)
    const der = pemToDer(cert)
    const protobuf = Buffer.from(publicKeyToProtobuf(key.publicKey)).toString('hex')
    let id = '-'
    if (name !== 'ecdsa') {
      // js-libp2p must accept what it made, or the fixture is worthless.
      // It cannot check ECDSA ones: peerIdFromCID refuses the sha2-256 peer ID
      // of a non-RSA key, so verifyPeerCertificate throws for every ECDSA peer.
      const expected = peerIdFromCID(key.publicKey.toCID())
      const checked = await verifyPeerCertificate(new Uint8Array(der), expected)
      if (!checked.equals(expected)) throw new Error(`js-libp2p refused its own ${name} certificate`)
      id = expected.toString()
    }
    const file = `js_${name}.der`
    writeFileSync(join(dir, file), der)
    lines.push(`${file} ${id} ${protobuf}`)
  }
  writeFileSync(join(dir, 'js_certs.txt'), lines.join('\n') + '\n')
  console.log(lines.join('\n'))
}

async function verify (file, expected) {
  try {
    const der = new Uint8Array(readFileSync(file))
    const id = await verifyPeerCertificate(der, expected ? peerIdFromString(expected) : undefined)
    console.log(JSON.stringify({ ok: true, peer_id: id.toString() }))
    return 0
  } catch (err) {
    console.log(JSON.stringify({ ok: false, error: `${err.name}: ${err.message}` }))
    return 1
  }
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'write' && args.length === 1) {
  await write(args[0])
} else if (mode === 'verify' && (args.length === 1 || args.length === 2)) {
  process.exitCode = await verify(args[0], args[1])
} else {
  console.error('usage: make_certs.mjs write <dir> | verify <file.der> [<peer id>]')
  process.exitCode = 2
}
