// The multiaddr protocol table (codes from multiformats/multicodec table.csv)
// and how each protocol's value moves between text and bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::multiaddr_protocols {

namespace code {
inline constexpr std::uint64_t ip4 = 4;
inline constexpr std::uint64_t tcp = 6;
inline constexpr std::uint64_t dccp = 33;
inline constexpr std::uint64_t ip6 = 41;
inline constexpr std::uint64_t ip6zone = 42;
inline constexpr std::uint64_t ipcidr = 43;
inline constexpr std::uint64_t dns = 53;
inline constexpr std::uint64_t dns4 = 54;
inline constexpr std::uint64_t dns6 = 55;
inline constexpr std::uint64_t dnsaddr = 56;
inline constexpr std::uint64_t sctp = 132;
inline constexpr std::uint64_t udp = 273;
inline constexpr std::uint64_t webrtc_direct = 280;
inline constexpr std::uint64_t webrtc = 281;
inline constexpr std::uint64_t p2p_circuit = 290;
inline constexpr std::uint64_t udt = 301;
inline constexpr std::uint64_t utp = 302;
inline constexpr std::uint64_t p2p = 421;
inline constexpr std::uint64_t https = 443;
inline constexpr std::uint64_t tls = 448;
inline constexpr std::uint64_t sni = 449;
inline constexpr std::uint64_t noise = 454;
inline constexpr std::uint64_t quic = 460;
inline constexpr std::uint64_t quic_v1 = 461;
inline constexpr std::uint64_t webtransport = 465;
inline constexpr std::uint64_t certhash = 466;
inline constexpr std::uint64_t ws = 477;
inline constexpr std::uint64_t wss = 478;
inline constexpr std::uint64_t http = 480;
}  // namespace code

enum class value_kind : std::uint8_t {
  none,       // no value (tcp's /p2p-circuit, /ws, ...)
  ip4,        // 4 bytes, dotted quad
  ip6,        // 16 bytes, RFC 5952 text
  port,       // 2 bytes big-endian, decimal
  cidr,       // 1 byte, decimal
  text,       // varint length + UTF-8 without '/'
  peer,       // varint length + peer ID multihash; text base58btc (or CID on input)
  multibase,  // varint length + bytes; text multibase (base64url on output)
};

struct protocol {
  std::uint64_t code;
  std::string_view name;
  value_kind kind;
};

// Longest length-prefixed value we accept (DNS names are <= 253 bytes).
inline constexpr std::size_t max_value_length = 512;

const protocol* by_code(std::uint64_t code);
const protocol* by_name(std::string_view name);  // also accepts the alias "ipfs"

// Byte size of a fixed-size value, std::nullopt for length-prefixed ones.
std::optional<std::size_t> fixed_size(value_kind kind);

// errc::invalid_multiaddr when `text` is not a valid value of `kind`.
result<bytes> value_from_text(value_kind kind, std::string_view text);
// errc::invalid_multiaddr when `value` is not a valid value of `kind`.
boost::system::error_code validate_value(value_kind kind, byte_span value);
// `value` must have passed validate_value.
std::string value_to_text(value_kind kind, byte_span value);

}  // namespace peerup::multiaddr_protocols
