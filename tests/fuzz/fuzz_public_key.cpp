// public_key::from_protobuf on arbitrary bytes, then verify() with an arbitrary
// message and signature. Layout: [u16 key length][key][u8 msg length][msg][signature].
// A parsed key must re-encode to the input (canonical encoding only).
#include "crypto/keys.hpp"
#include "fuzz_common.hpp"

using namespace peerup;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const byte_span key_bytes = in.chunk16();
  const byte_span message = in.chunk8();
  const byte_span signature = in.rest();

  auto key = public_key::from_protobuf(key_bytes);
  if (!key) return 0;
  FUZZ_CHECK(key->to_protobuf() == bytes(key_bytes.begin(), key_bytes.end()));
  auto raw = public_key::from_raw(key->type(), key->raw());
  FUZZ_CHECK(raw.has_value() && *raw == *key);

  const peer_id id = key->to_peer_id();
  if (auto embedded = public_key::from_peer_id(id)) FUZZ_CHECK(*embedded == *key);

  (void)key->verify(message, signature);
  return 0;
}
