// peer_id::parse on arbitrary text and peer_id::from_bytes on arbitrary bytes
// (first byte selects). Both printed forms of a valid ID must parse back to it.
#include "fuzz_common.hpp"
#include "multiformats/peer_id.hpp"

using namespace peerup;

namespace {

void check_round_trips(const peer_id& id) {
  auto b58 = peer_id::parse(id.to_string());
  FUZZ_CHECK(b58.has_value() && *b58 == id);
  auto cid = peer_id::parse(id.to_cid_string());
  FUZZ_CHECK(cid.has_value() && *cid == id);
  auto raw = peer_id::from_bytes(id.to_bytes());
  FUZZ_CHECK(raw.has_value() && *raw == id);
  if (auto key = id.embedded_public_key()) {
    FUZZ_CHECK(key->size() <= id.to_bytes().size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const bool as_text = in.flag();
  const byte_span rest = in.rest();
  auto id = as_text ? peer_id::parse(as_string_view(rest)) : peer_id::from_bytes(rest);
  if (!id) {
    FUZZ_CHECK(!as_text || id.error() == errc::invalid_peer_id);
    return 0;
  }
  if (!as_text) FUZZ_CHECK(id->to_bytes() == bytes(rest.begin(), rest.end()));
  check_round_trips(*id);
  return 0;
}
