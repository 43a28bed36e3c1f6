// AutoNAT v1 message decoding: bounded address count, safe typed views, and
// encode/decode leaves a decoded message unchanged.
#include "fuzz_common.hpp"
#include "wire/autonat_message.hpp"

using namespace peerup;
using namespace peerup::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto m = autonat_message::decode(byte_span(data, size));
  if (!m) return 0;
  FUZZ_CHECK(size <= autonat_max_message_size);
  if (m->dial && m->dial->peer) {
    FUZZ_CHECK(m->dial->peer->addrs.size() <= autonat_max_addrs);
    (void)m->dial->peer->multiaddrs();
    if (m->dial->peer->id) (void)peer_id::from_bytes(*m->dial->peer->id);
  }
  if (m->dial_response && m->dial_response->addr) {
    (void)multiaddr::from_bytes(*m->dial_response->addr);
  }
  auto again = autonat_message::decode(m->encode());
  FUZZ_CHECK(again.has_value() && *again == *m);
  return 0;
}
