// NoiseHandshakePayload decoding (the protobuf inside XX messages 2 and 3):
// bounded counts, and encode/decode leaves a decoded payload unchanged.
#include "fuzz_common.hpp"
#include "wire/noise_payload.hpp"

using namespace peerup;
using namespace peerup::noise;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto p = decode_payload(byte_span(data, size));
  if (!p) return 0;
  FUZZ_CHECK(p->stream_muxers.size() <= max_payload_muxers);
  FUZZ_CHECK(p->webtransport_certhashes.size() <= max_payload_certhashes);
  for (const auto& m : p->stream_muxers) FUZZ_CHECK(m.size() <= max_muxer_name);
  auto again = decode_payload(encode_payload(*p));
  FUZZ_CHECK(again.has_value() && *again == *p);
  return 0;
}
