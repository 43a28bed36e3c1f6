#include "wire/relay_voucher.hpp"

#include <algorithm>

#include "crypto/signed_envelope.hpp"

namespace peerup::wire {

bytes seal_relay_voucher(const private_key& relay_key, relay_voucher v) {
  v.relay = relay_key.to_peer_id().to_bytes();
  return signed_envelope::seal(relay_key, relay_voucher_domain, relay_voucher_payload_type,
                               v.encode());
}

result<relay_voucher> open_relay_voucher(byte_span envelope_bytes) {
  auto env = signed_envelope::open(envelope_bytes, relay_voucher_domain);
  if (!env) return env.error();
  if (!std::ranges::equal(env->payload_type, relay_voucher_payload_type)) {
    return errc::relay_malformed_message;
  }
  auto v = relay_voucher::decode(env->payload);
  if (!v) return errc::relay_malformed_message;
  // A valid signature by some key proves nothing unless that key is the
  // relay the voucher speaks for.
  if (v->relay != env->signer().to_bytes()) return errc::bad_signature;
  return v;
}

}  // namespace peerup::wire
