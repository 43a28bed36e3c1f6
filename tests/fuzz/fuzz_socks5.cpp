// SOCKS5 server-side parsing (RFC 1928/1929): a whole client conversation fed
// as the server would see it, in chunks. Byte 0 picks whether the server asks
// for a password; byte 1 how the stream is cut. A parsed message must have
// used no more bytes than it got, every shorter prefix of it must only ask
// for more bytes, and what the encoders can express must re-encode exactly.
#include <algorithm>
#include <optional>

#include "fuzz_common.hpp"
#include "wire/socks5.hpp"

using namespace peerup;
namespace socks5 = peerup::wire::socks5;

namespace {

// Checks the incremental contract on `in` and returns the message, if any.
template <class T>
std::optional<socks5::parsed<T>> parse_checked(byte_span in,
                                               result<socks5::parsed<T>> (*parse)(byte_span)) {
  auto r = parse(in);
  if (!r) {
    FUZZ_CHECK(r.error() == errc::truncated || r.error() == errc::socks_invalid);
    // A bounded message: "need more" is impossible past the largest one.
    if (r.error() == errc::truncated) FUZZ_CHECK(in.size() < socks5::max_message_size);
    return std::nullopt;
  }
  FUZZ_CHECK(r->consumed > 0 && r->consumed <= in.size());
  FUZZ_CHECK(r->consumed <= socks5::max_message_size);
  for (std::size_t n = 0; n < r->consumed; ++n) {
    auto shorter = parse(in.first(n));
    FUZZ_CHECK(!shorter && shorter.error() == errc::truncated);
  }
  auto exact = parse(in.first(r->consumed));
  FUZZ_CHECK(exact && exact->consumed == r->consumed);
  return std::move(*r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const bool need_auth = in.flag();
  const byte_span rest = in.rest();
  byte_span at = rest;

  auto g = parse_checked<socks5::greeting>(at, &socks5::parse_greeting);
  if (!g) return 0;
  FUZZ_CHECK(!g->value.methods.empty() && g->value.methods.size() <= 255);
  {
    const bytes prefix(at.begin(), at.begin() + static_cast<long>(g->consumed));
    FUZZ_CHECK(prefix[1] == g->value.methods.size());
  }
  at = at.subspan(g->consumed);

  if (need_auth) {
    auto c = parse_checked<socks5::credentials>(at, &socks5::parse_credentials);
    if (!c) return 0;
    const bytes again = socks5::encode_credentials(c->value.username, c->value.password);
    FUZZ_CHECK(again.size() == c->consumed);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), at.begin()));
    at = at.subspan(c->consumed);
  }

  auto r = parse_checked<socks5::request>(at, &socks5::parse_request);
  if (!r) return 0;
  const auto& dest = r->value.dest;
  if (!dest.known_type()) {
    FUZZ_CHECK(r->consumed == 4);
    return 0;
  }
  if (r->value.cmd == static_cast<std::uint8_t>(socks5::command::connect) && at[2] == 0) {
    bytes again;
    if (dest.type == static_cast<std::uint8_t>(socks5::address_type::domain)) {
      FUZZ_CHECK(!dest.domain.empty() && dest.domain.size() <= 255);
      again = socks5::encode_connect(dest.domain, dest.port);
    } else if (dest.type == static_cast<std::uint8_t>(socks5::address_type::ipv4)) {
      again =
          socks5::encode_connect_ipv4({dest.ip[0], dest.ip[1], dest.ip[2], dest.ip[3]}, dest.port);
    }
    if (!again.empty()) {
      FUZZ_CHECK(again.size() == r->consumed);
      FUZZ_CHECK(std::equal(again.begin(), again.end(), at.begin()));
    }
  }
  return 0;
}
