// multiaddr::parse on arbitrary text. A parsed address must come back from its
// own bytes, and its printed form must be a fixed point of parse/print.
#include "fuzz_common.hpp"
#include "multiformats/multiaddr.hpp"

using namespace peerup;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto a = multiaddr::parse(as_string_view(byte_span(data, size)));
  if (!a) return 0;
  FUZZ_CHECK(a->to_bytes().size() <= multiaddr::max_binary_length);
  FUZZ_CHECK(a->components().size() <= multiaddr::max_components);

  auto from_bin = multiaddr::from_bytes(a->to_bytes());
  FUZZ_CHECK(from_bin.has_value());
  FUZZ_CHECK(*from_bin == *a);
  FUZZ_CHECK(from_bin->components() == a->components());

  // The input may use aliases (/ipfs, CID peer IDs, other multibases), so
  // compare the canonical text, not the input.
  const std::string text = a->to_string();
  if (text.size() <= multiaddr::max_text_length) {
    auto again = multiaddr::parse(text);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == *a);
    FUZZ_CHECK(again->to_string() == text);
  }
  (void)a->peer();
  (void)a->tcp_target();
  (void)a->relay_addr();
  (void)a->without_peer();
  return 0;
}
