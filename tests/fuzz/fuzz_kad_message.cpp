// kad-dht RPC messages (wire/kad_message). Bounds hold after decode, a decoded
// message survives encode/decode unchanged, and its accessors are safe.
#include "fuzz_common.hpp"
#include "wire/kad_message.hpp"

using namespace peerup;
using namespace peerup::wire;

namespace {

void use_peers(const std::vector<kad_peer>& list) {
  FUZZ_CHECK(list.size() <= kad_max_peers);
  for (const auto& p : list) {
    FUZZ_CHECK(!p.id.empty() && p.id.size() <= kad_max_peer_id_size);
    FUZZ_CHECK(p.addrs.size() <= kad_max_addrs);
    (void)p.parsed_id();
    (void)p.multiaddrs();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto m = kad_message::decode(byte_span(data, size));
  if (!m) return 0;
  FUZZ_CHECK(m->key.size() <= kad_max_key_size);
  if (m->record) {
    FUZZ_CHECK(m->record->key.size() <= kad_max_key_size);
    FUZZ_CHECK(m->record->value.size() <= kad_max_value_size);
  }
  use_peers(m->closer_peers);
  use_peers(m->provider_peers);
  // What we keep re-encodes to a message that decodes the same (the dropped
  // overflow is gone, so nothing is dropped the second time).
  const bytes encoded = m->encode();
  auto again = kad_message::decode(encoded);
  FUZZ_CHECK(again.has_value() && *again == *m && again->dropped == 0);
  return 0;
}
