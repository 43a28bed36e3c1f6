// multiaddr::from_bytes on arbitrary bytes. A parsed address must re-encode to
// the input, survive a text round trip, and every accessor must be safe on it.
#include "fuzz_common.hpp"
#include "multiformats/multiaddr.hpp"

using namespace peerup;

namespace {

void exercise_accessors(const multiaddr& a) {
  (void)a.peer();
  (void)a.is_relayed();
  (void)a.tcp_target();
  if (auto relay = a.relay_addr()) FUZZ_CHECK(relay->components().size() < a.components().size());
  const multiaddr bare = a.without_peer();
  const bool ends_in_peer = a.components().back().code == multiaddr_protocols::code::p2p;
  FUZZ_CHECK(bare.components().size() + (ends_in_peer ? 1 : 0) == a.components().size());
  FUZZ_CHECK(a.encapsulate(multiaddr{}) == a);
  FUZZ_CHECK(multiaddr{}.encapsulate(a) == a);
  FUZZ_CHECK(std::hash<multiaddr>{}(a) == std::hash<multiaddr>{}(a));
  // with_peer replaces a trailing /p2p only; peer() may come from further in
  // (e.g. the relay in ".../p2p/<relay>/p2p-circuit").
  if (auto id = a.peer(); id && a.components().back().code == multiaddr_protocols::code::p2p) {
    FUZZ_CHECK(a.with_peer(*id) == a);
  }
  if (auto id = a.peer()) FUZZ_CHECK(a.with_peer(*id).peer() == id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const byte_span in(data, size);
  auto a = multiaddr::from_bytes(in);
  if (!a) return 0;
  FUZZ_CHECK(a->to_bytes() == bytes(in.begin(), in.end()));
  FUZZ_CHECK(a->components().size() <= multiaddr::max_components);

  const std::string text = a->to_string();
  auto again = multiaddr::parse(text);
  // A binary address near max_binary_length can print longer than
  // max_text_length (e.g. 60 /ip6 components); that refusal is by design.
  if (text.size() <= multiaddr::max_text_length) {
    if (!again) {
      std::fprintf(stderr, "text form does not parse back: %s (%s)\n", text.c_str(),
                   again.error().message().c_str());
    }
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == *a);
    FUZZ_CHECK(again->to_string() == text);
  }
  exercise_accessors(*a);
  return 0;
}
