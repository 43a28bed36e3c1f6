// length_prefixed_reader fed the input in chunks. Layout: [u8 max size
// selector][u8 chunk length][chunk]... Every message must respect max_size,
// consumption must never exceed the chunk, and the messages must equal what
// a one-shot parse of the concatenated chunks yields.
#include <vector>

#include "fuzz_common.hpp"
#include "wire/length_prefixed.hpp"

using namespace peerup;
using namespace peerup::wire;

namespace {

// Reference: parse the whole stream at once with varint::decode.
std::vector<bytes> reference_parse(byte_span all, std::size_t max_size, bool& failed) {
  std::vector<bytes> out;
  failed = false;
  while (!all.empty()) {
    auto len = varint::decode(all);
    if (!len) {
      failed = len.error() != errc::truncated;
      return out;
    }
    if (len->value > max_size) {
      failed = true;
      return out;
    }
    all = all.subspan(len->length);
    if (len->value > all.size()) return out;  // incomplete at the end
    out.emplace_back(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(len->value));
    all = all.subspan(static_cast<std::size_t>(len->value));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  static constexpr std::size_t max_sizes[] = {0, 1, 127, 128, 4096, 65536};
  const std::size_t max_size = max_sizes[in.u8() % std::size(max_sizes)];
  length_prefixed_reader reader(max_size);
  std::vector<bytes> got;
  bytes all;
  bool failed = false;
  while (!in.empty() && !failed) {
    const byte_span chunk = in.chunk8();
    append(all, chunk);
    byte_span rest = chunk;
    // Each call consumes at least one byte or returns, so this is bounded.
    for (std::size_t guard = 0; guard <= chunk.size(); ++guard) {
      std::size_t consumed = 0;
      auto r = reader.feed(rest, consumed);
      FUZZ_CHECK(consumed <= rest.size());
      if (!r) {
        failed = true;
        FUZZ_CHECK(!reader.feed(rest, consumed).has_value());  // unusable after an error
        break;
      }
      rest = rest.subspan(consumed);
      if (*r) {
        FUZZ_CHECK((*r)->size() <= max_size);
        FUZZ_CHECK(reader.idle());
        got.push_back(std::move(**r));
      } else {
        FUZZ_CHECK(rest.empty());
      }
      if (rest.empty()) break;
    }
  }
  bool ref_failed = false;
  const auto expected = reference_parse(all, max_size, ref_failed);
  // However the input was split, the reader fails where a one-shot parse
  // fails and delivers exactly the complete messages before that point.
  FUZZ_CHECK(failed == ref_failed);
  FUZZ_CHECK(got == expected);
  return 0;
}
