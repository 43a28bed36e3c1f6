// SOCKS5 server side, sans-I/O: the client's greeting (RFC 1928 section 3),
// the username/password sub-negotiation (RFC 1929) and the request (RFC 1928
// section 4), plus the server's replies.
//
// Every parse_* takes the bytes received so far and returns the message and
// how many bytes it used, errc::truncated when more bytes are needed, or
// errc::socks_invalid when the bytes can never become a valid message (the
// connection must then be closed). Each message is at most max_message_size
// bytes, so a caller's receive buffer of that size always suffices.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::wire::socks5 {

inline constexpr std::uint8_t version = 0x05;
inline constexpr std::uint8_t auth_version = 0x01;  // RFC 1929 sub-negotiation
// Largest message a client sends: the RFC 1929 request (1 + 1 + 255 + 1 + 255).
inline constexpr std::size_t max_message_size = 513;

enum class method : std::uint8_t {
  no_auth = 0x00,
  gssapi = 0x01,
  username_password = 0x02,
  none_acceptable = 0xff,
};

enum class command : std::uint8_t { connect = 0x01, bind = 0x02, udp_associate = 0x03 };

enum class address_type : std::uint8_t { ipv4 = 0x01, domain = 0x03, ipv6 = 0x04 };

enum class reply : std::uint8_t {
  succeeded = 0x00,
  general_failure = 0x01,
  not_allowed = 0x02,  // connection not allowed by ruleset
  network_unreachable = 0x03,
  host_unreachable = 0x04,
  connection_refused = 0x05,
  ttl_expired = 0x06,
  command_not_supported = 0x07,
  address_type_not_supported = 0x08,
};

template <class T>
struct parsed {
  T value;
  std::size_t consumed = 0;
};

struct greeting {
  std::vector<std::uint8_t> methods;  // as offered, 1-255 entries
  bool offers(method m) const;
};

struct credentials {
  std::string username;  // 1-255 bytes
  std::string password;  // 1-255 bytes
};

struct address {
  // Raw ATYP byte: a value outside address_type is kept so the server can
  // answer address_type_not_supported instead of just closing.
  std::uint8_t type = 0;
  std::array<std::uint8_t, 16> ip{};  // ipv4 in the first 4 bytes
  std::string domain;                 // type domain: 1-255 bytes, as sent
  std::uint16_t port = 0;
  bool known_type() const;
};

struct request {
  std::uint8_t cmd = 0;  // raw CMD byte, see command
  address dest;          // port and address are unset when !dest.known_type()
};

result<parsed<greeting>> parse_greeting(byte_span in);
result<parsed<credentials>> parse_credentials(byte_span in);
// With an unknown ATYP the length of DST.ADDR is unknowable: the request is
// returned with consumed = 4 and the server must reply and close.
result<parsed<request>> parse_request(byte_span in);

// VER METHOD
bytes encode_method_choice(method m);
// VER(1) STATUS: 0 accepted, anything else refused (the connection closes).
bytes encode_auth_status(bool accepted);
// VER REP RSV ATYP BND.ADDR BND.PORT with an IPv4 bound address.
bytes encode_reply(reply r, std::array<std::uint8_t, 4> bound_ip = {},
                   std::uint16_t bound_port = 0);

// Client side, for tests, fuzz seeds and benchmarks.
bytes encode_greeting(const std::vector<method>& methods);
bytes encode_credentials(std::string_view username, std::string_view password);
bytes encode_connect(std::string_view domain, std::uint16_t port);
bytes encode_connect_ipv4(std::array<std::uint8_t, 4> ip, std::uint16_t port);

}  // namespace peerup::wire::socks5
