#include "multiformats/multiaddr_protocols.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "multiformats/multibase.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::multiaddr_protocols {
namespace {

constexpr std::array<protocol, 29> table{{
    {code::ip4, "ip4", value_kind::ip4},
    {code::tcp, "tcp", value_kind::port},
    {code::dccp, "dccp", value_kind::port},
    {code::ip6, "ip6", value_kind::ip6},
    {code::ip6zone, "ip6zone", value_kind::text},
    {code::ipcidr, "ipcidr", value_kind::cidr},
    {code::dns, "dns", value_kind::text},
    {code::dns4, "dns4", value_kind::text},
    {code::dns6, "dns6", value_kind::text},
    {code::dnsaddr, "dnsaddr", value_kind::text},
    {code::sctp, "sctp", value_kind::port},
    {code::udp, "udp", value_kind::port},
    {code::webrtc_direct, "webrtc-direct", value_kind::none},
    {code::webrtc, "webrtc", value_kind::none},
    {code::p2p_circuit, "p2p-circuit", value_kind::none},
    {code::udt, "udt", value_kind::none},
    {code::utp, "utp", value_kind::none},
    {code::p2p, "p2p", value_kind::peer},
    {code::https, "https", value_kind::none},
    {code::tls, "tls", value_kind::none},
    {code::sni, "sni", value_kind::text},
    {code::noise, "noise", value_kind::none},
    {code::quic, "quic", value_kind::none},
    {code::quic_v1, "quic-v1", value_kind::none},
    {code::webtransport, "webtransport", value_kind::none},
    {code::certhash, "certhash", value_kind::multibase},
    {code::ws, "ws", value_kind::none},
    {code::wss, "wss", value_kind::none},
    {code::http, "http", value_kind::none},
}};

bool valid_text_value(std::string_view s) {
  // A '/' would split the value when printed; control bytes have no business
  // in a host name and could forge log lines.
  return !s.empty() && s.size() <= max_value_length && std::none_of(s.begin(), s.end(), [](char c) {
    return c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

result<unsigned> parse_decimal(std::string_view s, unsigned max) {
  unsigned v = 0;
  // Leading zeros and signs are not canonical; from_chars rejects signs itself.
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return errc::invalid_multiaddr;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v > max) return errc::invalid_multiaddr;
  return v;
}

template <int Family, std::size_t N>
result<bytes> parse_ip(std::string_view s) {
  // inet_pton needs a terminated string; longer text is no address anyway.
  if (s.size() >= 64) return errc::invalid_multiaddr;
  std::array<char, 64> z{};
  std::copy(s.begin(), s.end(), z.begin());
  std::array<std::uint8_t, N> out{};
  if (inet_pton(Family, z.data(), out.data()) != 1) return errc::invalid_multiaddr;
  return bytes(out.begin(), out.end());
}

}  // namespace

const protocol* by_code(std::uint64_t c) {
  auto it =
      std::find_if(table.begin(), table.end(), [c](const protocol& p) { return p.code == c; });
  return it == table.end() ? nullptr : &*it;
}

const protocol* by_name(std::string_view name) {
  if (name == "ipfs") return by_code(code::p2p);  // legacy alias, printed as /p2p
  auto it = std::find_if(table.begin(), table.end(),
                         [name](const protocol& p) { return p.name == name; });
  return it == table.end() ? nullptr : &*it;
}

std::optional<std::size_t> fixed_size(value_kind kind) {
  switch (kind) {
    case value_kind::none: return 0;
    case value_kind::ip4: return 4;
    case value_kind::ip6: return 16;
    case value_kind::port: return 2;
    case value_kind::cidr: return 1;
    default: return std::nullopt;
  }
}

result<bytes> value_from_text(value_kind kind, std::string_view text) {
  switch (kind) {
    case value_kind::none: return bytes{};
    case value_kind::ip4: return parse_ip<AF_INET, 4>(text);
    case value_kind::ip6: return parse_ip<AF_INET6, 16>(text);
    case value_kind::port: {
      auto v = parse_decimal(text, 65535);
      if (!v) return v.error();
      return bytes{static_cast<std::uint8_t>(*v >> 8), static_cast<std::uint8_t>(*v)};
    }
    case value_kind::cidr: {
      auto v = parse_decimal(text, 255);
      if (!v) return v.error();
      return bytes{static_cast<std::uint8_t>(*v)};
    }
    case value_kind::text:
      if (!valid_text_value(text)) return errc::invalid_multiaddr;
      return bytes(text.begin(), text.end());
    case value_kind::peer: {
      auto id = peer_id::parse(text);
      if (!id) return errc::invalid_multiaddr;
      return id->to_bytes();
    }
    case value_kind::multibase: {
      auto raw = multibase::decode(text);
      if (!raw || raw->empty() || raw->size() > max_value_length) return errc::invalid_multiaddr;
      return std::move(*raw);
    }
  }
  return errc::invalid_multiaddr;
}

boost::system::error_code validate_value(value_kind kind, byte_span value) {
  if (auto size = fixed_size(kind)) {
    return value.size() == *size ? boost::system::error_code{} : errc::invalid_multiaddr;
  }
  switch (kind) {
    case value_kind::text:
      if (!valid_text_value(as_string_view(value))) return errc::invalid_multiaddr;
      return {};
    case value_kind::peer:
      if (!peer_id::from_bytes(value)) return errc::invalid_multiaddr;
      return {};
    case value_kind::multibase:
      if (value.empty() || value.size() > max_value_length) return errc::invalid_multiaddr;
      return {};
    default: return errc::invalid_multiaddr;
  }
}

std::string value_to_text(value_kind kind, byte_span value) {
  switch (kind) {
    case value_kind::none: return {};
    case value_kind::ip4:
    case value_kind::ip6: {
      std::array<char, INET6_ADDRSTRLEN> buf{};
      inet_ntop(kind == value_kind::ip4 ? AF_INET : AF_INET6, value.data(), buf.data(), buf.size());
      return buf.data();
    }
    case value_kind::port: return std::to_string(unsigned{value[0]} << 8 | value[1]);
    case value_kind::cidr: return std::to_string(value[0]);
    case value_kind::text: return std::string(as_string_view(value));
    case value_kind::peer: return peer_id::from_bytes(value).value().to_string();
    case value_kind::multibase: return multibase::encode_base64url(value);
  }
  return {};
}

}  // namespace peerup::multiaddr_protocols
