#include "wire/socks5.hpp"

#include <algorithm>

namespace peerup::wire::socks5 {

namespace {

constexpr std::size_t max_field = 255;  // every SOCKS length field is one byte

result<parsed<std::string>> read_field(byte_span in, std::size_t at) {
  if (in.size() <= at) return make_error_code(errc::truncated);
  const std::size_t len = in[at];
  // SECURITY: a one-byte length bounds the field at 255 bytes; zero is not a
  // valid user, password or host name.
  if (len == 0) return make_error_code(errc::socks_invalid);
  if (in.size() < at + 1 + len) return make_error_code(errc::truncated);
  const auto field = in.subspan(at + 1, len);
  return parsed<std::string>{std::string(as_string_view(field)), 1 + len};
}

void put_u16(bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

}  // namespace

bool greeting::offers(method m) const {
  return std::find(methods.begin(), methods.end(), static_cast<std::uint8_t>(m)) != methods.end();
}

bool address::known_type() const {
  return type == static_cast<std::uint8_t>(address_type::ipv4) ||
         type == static_cast<std::uint8_t>(address_type::domain) ||
         type == static_cast<std::uint8_t>(address_type::ipv6);
}

result<parsed<greeting>> parse_greeting(byte_span in) {
  if (in.empty()) return make_error_code(errc::truncated);
  if (in[0] != version) return make_error_code(errc::socks_invalid);
  if (in.size() < 2) return make_error_code(errc::truncated);
  const std::size_t n = in[1];
  // SECURITY: NMETHODS is one byte, so at most 255 methods; RFC 1928 requires
  // at least one.
  if (n == 0) return make_error_code(errc::socks_invalid);
  if (in.size() < 2 + n) return make_error_code(errc::truncated);
  greeting g;
  g.methods.assign(in.begin() + 2, in.begin() + 2 + static_cast<std::ptrdiff_t>(n));
  return parsed<greeting>{std::move(g), 2 + n};
}

result<parsed<credentials>> parse_credentials(byte_span in) {
  if (in.empty()) return make_error_code(errc::truncated);
  if (in[0] != auth_version) return make_error_code(errc::socks_invalid);
  auto user = read_field(in, 1);
  if (!user) return user.error();
  auto pass = read_field(in, 1 + user->consumed);
  if (!pass) return pass.error();
  credentials c{std::move(user->value), std::move(pass->value)};
  return parsed<credentials>{std::move(c), 1 + user->consumed + pass->consumed};
}

result<parsed<request>> parse_request(byte_span in) {
  // 1. VER CMD RSV ATYP (RSV is ignored, as most servers do)
  // 2. DST.ADDR, its length given by ATYP (and a length byte for domains)
  // 3. DST.PORT, big endian
  if (in.empty()) return make_error_code(errc::truncated);
  if (in[0] != version) return make_error_code(errc::socks_invalid);
  if (in.size() < 4) return make_error_code(errc::truncated);
  request r;
  r.cmd = in[1];
  r.dest.type = in[3];
  if (!r.dest.known_type()) return parsed<request>{std::move(r), 4};
  std::size_t at = 4;
  switch (static_cast<address_type>(r.dest.type)) {
    case address_type::ipv4:
    case address_type::ipv6: {
      const std::size_t len = r.dest.type == static_cast<std::uint8_t>(address_type::ipv4) ? 4 : 16;
      if (in.size() < at + len) return make_error_code(errc::truncated);
      std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(at), len, r.dest.ip.begin());
      at += len;
      break;
    }
    case address_type::domain: {
      auto name = read_field(in, at);
      if (!name) return name.error();
      r.dest.domain = std::move(name->value);
      at += name->consumed;
      break;
    }
  }
  if (in.size() < at + 2) return make_error_code(errc::truncated);
  r.dest.port = static_cast<std::uint16_t>(in[at] << 8 | in[at + 1]);
  return parsed<request>{std::move(r), at + 2};
}

bytes encode_method_choice(method m) { return {version, static_cast<std::uint8_t>(m)}; }

bytes encode_auth_status(bool accepted) {
  return {auth_version, static_cast<std::uint8_t>(accepted ? 0x00 : 0x01)};
}

bytes encode_reply(reply r, std::array<std::uint8_t, 4> bound_ip, std::uint16_t bound_port) {
  bytes out{version, static_cast<std::uint8_t>(r), 0x00,
            static_cast<std::uint8_t>(address_type::ipv4)};
  out.insert(out.end(), bound_ip.begin(), bound_ip.end());
  put_u16(out, bound_port);
  return out;
}

bytes encode_greeting(const std::vector<method>& methods) {
  if (methods.empty() || methods.size() > max_field) return {};
  bytes out{version, static_cast<std::uint8_t>(methods.size())};
  for (auto m : methods) out.push_back(static_cast<std::uint8_t>(m));
  return out;
}

bytes encode_credentials(std::string_view username, std::string_view password) {
  if (username.empty() || username.size() > max_field || password.empty() ||
      password.size() > max_field)
    return {};
  bytes out{auth_version, static_cast<std::uint8_t>(username.size())};
  append(out, as_bytes(username));
  out.push_back(static_cast<std::uint8_t>(password.size()));
  append(out, as_bytes(password));
  return out;
}

bytes encode_connect(std::string_view domain, std::uint16_t port) {
  if (domain.empty() || domain.size() > max_field) return {};
  bytes out{version, static_cast<std::uint8_t>(command::connect), 0x00,
            static_cast<std::uint8_t>(address_type::domain),
            static_cast<std::uint8_t>(domain.size())};
  append(out, as_bytes(domain));
  put_u16(out, port);
  return out;
}

bytes encode_connect_ipv4(std::array<std::uint8_t, 4> ip, std::uint16_t port) {
  bytes out{version, static_cast<std::uint8_t>(command::connect), 0x00,
            static_cast<std::uint8_t>(address_type::ipv4)};
  out.insert(out.end(), ip.begin(), ip.end());
  put_u16(out, port);
  return out;
}

}  // namespace peerup::wire::socks5
