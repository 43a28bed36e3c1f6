// varint::decode on arbitrary bytes: a decoded value must re-encode to exactly
// the bytes it was read from (the decoder accepts only minimal encodings).
#include <algorithm>

#include "fuzz_common.hpp"
#include "multiformats/varint.hpp"

using namespace peerup;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const byte_span in(data, size);
  auto d = varint::decode(in);
  if (!d) {
    FUZZ_CHECK(d.error() == errc::truncated || d.error() == errc::varint_overflow ||
               d.error() == errc::varint_not_minimal);
    // truncated promises that more input may complete the value.
    if (d.error() == errc::truncated) FUZZ_CHECK(size < varint::max_length);
    return 0;
  }
  FUZZ_CHECK(d->length >= 1 && d->length <= varint::max_length && d->length <= size);
  FUZZ_CHECK(d->value <= (std::uint64_t{1} << 63) - 1);
  const bytes again = varint::encode(d->value);
  FUZZ_CHECK(again.size() == d->length);
  FUZZ_CHECK(varint::encoded_size(d->value) == d->length);
  FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin()));
  return 0;
}
