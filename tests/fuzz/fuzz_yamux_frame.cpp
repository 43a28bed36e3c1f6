// Yamux frame header decoding: a decoded header re-encodes to the same 12 bytes.
#include <algorithm>

#include "fuzz_common.hpp"
#include "wire/yamux_frame.hpp"

using namespace peerup;
using namespace peerup::yamux;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto h = decode(byte_span(data, size));
  if (!h) {
    FUZZ_CHECK(size >= header_size || h.error() == errc::truncated);
    return 0;
  }
  FUZZ_CHECK(size >= header_size);
  const auto again = encode(*h);
  FUZZ_CHECK(std::equal(again.begin(), again.end(), data));
  return 0;
}
