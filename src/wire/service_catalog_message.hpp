// The /peerup/services/1.0.0 message: the list of services a home node offers
// to the asking peer, each with the port of its local address (so a SOCKS5 or
// DNS gateway can map "<service>.<host>:<port>" onto a service).
//
//   message ServiceList { repeated Service services = 1; }
//   message Service     { string name = 1; uint32 port = 2; }
//
// Sent once, varint length-prefixed, by the home node; the stream then closes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::wire {

inline constexpr std::string_view service_catalog_protocol_id = "/peerup/services/1.0.0";

// SECURITY: what a catalog may make the reader allocate.
struct service_catalog_limits {
  static constexpr std::size_t max_services = 256;  // the config's own cap
  static constexpr std::size_t max_name = 64;
  static constexpr std::size_t max_message = 32 * 1024;
};

struct published_service {
  std::string name;  // 1-64 of [A-Za-z0-9._-], starting with a letter or digit
  std::uint16_t port = 0;
  friend bool operator==(const published_service&, const published_service&) = default;
};

bytes encode_service_list(const std::vector<published_service>& services);
// Fails with errc::invalid_protobuf on malformed input, errc::too_large when a
// bound above is exceeded, errc::invalid_argument on a bad name or port.
result<std::vector<published_service>> decode_service_list(byte_span msg);

}  // namespace peerup::wire
