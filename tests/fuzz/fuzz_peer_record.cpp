// Signed peer records and the DHT record validator (wire/peer_record). A
// decoded record keeps its bounds and survives encode/decode; an envelope
// that opens validates under its own peer's key and under no other.
#include "fuzz_common.hpp"
#include "wire/peer_record.hpp"

using namespace peerup;
using namespace peerup::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const byte_span in(data, size);
  if (auto r = peer_record::decode(in)) {
    FUZZ_CHECK(r->addrs.size() <= peer_record_max_addrs);
    auto again = peer_record::decode(r->encode());
    FUZZ_CHECK(again.has_value() && *again == *r);
  }
  (void)peer_of_record_key(in);
  auto opened = open_peer_record(in);
  if (!opened) return 0;
  FUZZ_CHECK(size <= peer_record_max_size);
  FUZZ_CHECK(validate_peer_record(peer_record_key(opened->peer), in).has_value());
  // Under any other key (here: a key that is no peer ID) it is refused.
  FUZZ_CHECK(!validate_peer_record(as_bytes("/peerup-peer/x"), in));
  return 0;
}
