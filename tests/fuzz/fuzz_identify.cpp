// identify / identify-push decoding. The input is split into up to
// identify_max_messages chunks [u16 length][chunk]... merged as go-libp2p's
// chunked identify is. Counts must stay bounded, typed views must be safe,
// and a decoded message must survive encode/decode unchanged.
#include "fuzz_common.hpp"
#include "wire/identify_message.hpp"

using namespace peerup;
using namespace peerup::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The whole input as one message first: the common case.
  if (auto single = identify_message::decode(byte_span(data, size))) {
    const bytes again = single->encode();
    FUZZ_CHECK(again.size() <= size);  // unknown fields dropped, varints minimal
    auto decoded = identify_message::decode(again);
    FUZZ_CHECK(decoded.has_value() && *decoded == *single);
  }

  fuzz::input in(data, size);
  identify_message merged;
  for (std::size_t i = 0; i < identify_max_messages && !in.empty(); ++i) {
    if (!merged.merge(in.chunk16())) return 0;
    FUZZ_CHECK(merged.listen_addrs.size() <= identify_max_listen_addrs);
    FUZZ_CHECK(merged.protocols.size() <= identify_max_protocols);
  }
  for (const auto& a : merged.listen_multiaddrs()) FUZZ_CHECK(!a.empty());
  (void)merged.observed_multiaddr();
  const bytes encoded = merged.encode();
  if (encoded.size() <= identify_max_message_size) {
    auto decoded = identify_message::decode(encoded);
    FUZZ_CHECK(decoded.has_value() && *decoded == merged);
  }
  return 0;
}
