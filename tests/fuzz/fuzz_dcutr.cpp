// DCUtR HolePunch decoding: bounded address count, safe typed view, and
// encode/decode leaves a decoded message unchanged.
#include "fuzz_common.hpp"
#include "wire/dcutr_message.hpp"

using namespace peerup;
using namespace peerup::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto m = hole_punch_message::decode(byte_span(data, size));
  if (!m) return 0;
  FUZZ_CHECK(size <= dcutr_max_message_size);
  FUZZ_CHECK(m->obs_addrs.size() <= dcutr_max_obs_addrs);
  for (const auto& a : m->obs_multiaddrs()) FUZZ_CHECK(!a.empty());
  auto again = hole_punch_message::decode(m->encode());
  FUZZ_CHECK(again.has_value() && *again == *m);
  return 0;
}
