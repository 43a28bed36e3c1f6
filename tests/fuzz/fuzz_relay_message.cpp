// Circuit Relay v2 hop and stop messages, reservation vouchers and signed
// voucher envelopes (first byte selects). A decoded message must survive
// encode/decode unchanged and its typed accessors must be safe.
#include "crypto/signed_envelope.hpp"
#include "fuzz_common.hpp"
#include "wire/relay_message.hpp"
#include "wire/relay_voucher.hpp"

using namespace peerup;
using namespace peerup::wire;

namespace {

void use_peer(const std::optional<relay_peer>& p) {
  if (!p) return;
  FUZZ_CHECK(!p->id.empty());
  FUZZ_CHECK(p->addrs.size() <= relay_max_addrs);
  (void)p->parsed_id();
  (void)p->multiaddrs();
}

template <class Message>
void round_trip(const Message& m) {
  const bytes encoded = m.encode();
  auto again = Message::decode(encoded);
  FUZZ_CHECK(again.has_value() && *again == m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::uint8_t which = in.u8() % 5;
  const byte_span msg = in.rest();
  switch (which) {
    case 0: {
      auto m = hop_message::decode(msg);
      if (!m) return 0;
      use_peer(m->peer);
      if (m->reservation) {
        FUZZ_CHECK(m->reservation->addrs.size() <= relay_max_addrs);
        (void)m->reservation->multiaddrs();
      }
      if (m->status) (void)to_errc(*m->status);
      round_trip(*m);
      break;
    }
    case 1: {
      auto m = stop_message::decode(msg);
      if (!m) return 0;
      use_peer(m->peer);
      if (m->status) (void)to_errc(*m->status);
      round_trip(*m);
      break;
    }
    case 2: {
      auto v = relay_voucher::decode(msg);
      if (v) round_trip(*v);
      break;
    }
    case 3: {
      // A voucher opened from an envelope names the key that signed it.
      auto v = open_relay_voucher(msg);
      if (!v) return 0;
      auto env = signed_envelope::open(msg, relay_voucher_domain);
      FUZZ_CHECK(env.has_value());
      FUZZ_CHECK(v->relay == env->signer().to_bytes());
      break;
    }
    case 4: {
      auto env = signed_envelope::open(msg, relay_voucher_domain);
      if (!env) return 0;
      FUZZ_CHECK(env->signature.size() > 0);
      (void)env->signer();
      break;
    }
  }
  return 0;
}
