// The libp2p TLS certificate checks (crypto/tls_certificate.hpp) on arbitrary
// bytes. Layout: [u8 mode][rest], mode taken modulo 3:
//   0: rest is a SignedKey (the extension value); decode_signed_key must
//      accept only strict DER, so a decoded value re-encodes to the input.
//   1: rest is a peer's certificate (DER), checked by verify_tls_certificate
//      at a fixed time inside every seed's validity window.
//   2: rest is a TBSCertificate; the harness signs it with the fixed key of
//      tls_fixtures.hpp and checks the result as in mode 1, so mutations get
//      past the self-signature to the extension and SignedKey checks.
// An accepted certificate must also pass as a one-certificate chain with the
// same key, and as the certificate of the peer it names.
// Seeds (make_corpus.cpp): our certificates, the tls.md vectors, js-libp2p's,
// and TBS parts signed with the fixed key.
#include <chrono>

#include "crypto/tls_certificate.hpp"
#include "fuzz_common.hpp"
#include "tls_fixtures.hpp"

using namespace peerup;

namespace {
// 2027-01-01: after the js-libp2p fixtures were made, inside every seed.
const auto fuzz_now = std::chrono::system_clock::time_point(std::chrono::seconds(1798761600));
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const unsigned mode = in.u8() % 3;
  const byte_span rest = in.rest();

  if (mode == 0) {
    auto decoded = decode_signed_key(rest);
    if (!decoded) return 0;
    FUZZ_CHECK(decoded->public_key.size() <= public_key::max_protobuf_length);
    FUZZ_CHECK(encode_signed_key(decoded->public_key, decoded->signature) ==
               bytes(rest.begin(), rest.end()));
    return 0;
  }

  bytes signed_certificate;
  byte_span certificate = rest;
  if (mode == 2) {
    // SECURITY (harness): TBS inputs past the certificate bound are not worth signing.
    if (rest.size() > max_tls_certificate_length) return 0;
    signed_certificate = fuzz::tls_sign_tbs(rest);
    certificate = signed_certificate;
  }
  auto key = verify_tls_certificate(certificate, fuzz_now);
  if (!key) return 0;
  FUZZ_CHECK(certificate.size() <= max_tls_certificate_length);
  const byte_span chain[] = {certificate};
  auto again = verify_tls_certificate_chain(chain, fuzz_now);
  FUZZ_CHECK(again.has_value() && *again == *key);
  auto for_peer = verify_tls_certificate(certificate, fuzz_now, key->to_peer_id());
  FUZZ_CHECK(for_peer.has_value());
  return 0;
}
