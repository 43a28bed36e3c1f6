// The /peerup/names/1.0.0 messages: home nodes register their host name with
// a relay of their network, and clients look names up there.
//
//   message NamesRequest {
//     enum Type { REGISTER = 0; LOOKUP = 1; }
//     Type   type    = 1;
//     string network = 2;          // the relay's network, e.g. "grewal"
//     string host    = 3;          // the host label, e.g. "home"
//     uint32 ttl     = 4;          // REGISTER: seconds wanted; 0 = relay default
//     repeated bytes addrs = 5;    // REGISTER: extra addresses of the peer
//   }
//   message NamesResponse {
//     uint32 status = 1;           // names_status
//     bytes  peer   = 2;           // LOOKUP ok: peer ID (multihash bytes)
//     repeated bytes addrs = 3;    // LOOKUP ok: addresses registered with it
//     uint32 ttl    = 4;           // REGISTER ok: seconds granted;
//                                  // LOOKUP ok: seconds the record has left
//     string text   = 5;           // why, for logs and users
//   }
//
// One request and one response per stream, each varint length-prefixed.
// The registering peer is the Noise-authenticated remote peer of the stream:
// a request cannot name another peer, so it cannot register for one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::wire {

inline constexpr std::string_view names_protocol_id = "/peerup/names/1.0.0";

// SECURITY: bounds on what a names message may make us allocate.
inline constexpr std::size_t names_max_message_size = 4096;
inline constexpr std::size_t names_max_addrs = 8;
inline constexpr std::size_t names_max_text = 256;

// One DNS label (RFC 1035 / 1123): 1-63 of [a-z0-9-], not starting or ending
// with '-'. Upper-case input is lower-cased, as DNS names compare.
class dns_label {
 public:
  // errc::invalid_argument when `text` is not a label.
  static result<dns_label> parse(std::string_view text);
  const std::string& str() const { return label_; }
  auto operator<=>(const dns_label&) const = default;
  static constexpr std::size_t max_length = 63;

 private:
  explicit dns_label(std::string s) : label_(std::move(s)) {}
  std::string label_;
};

enum class names_request_type : std::uint32_t { register_name = 0, lookup = 1 };

// Open enum: unknown values are kept for logging.
enum class names_status : std::uint32_t {
  ok = 100,
  name_taken = 200,         // REGISTER: another peer holds the name
  permission_denied = 201,  // the peer may not use this relay's names
  not_found = 202,          // LOOKUP: no live registration
  resource_limit = 203,     // REGISTER: a per-peer or total cap is reached
  wrong_network = 204,      // the relay does not serve that network
  not_federated = 205,      // LOOKUP of another network: no peering, or one_way (docs/federation.md)
  network_unreachable = 206,  // LOOKUP of another network: its relay could not be asked
  malformed_message = 400,
};
std::string_view to_string(names_status s);

struct names_request {
  names_request_type type = names_request_type::lookup;
  dns_label network;
  dns_label host;
  std::uint32_t ttl = 0;
  std::vector<multiaddr> addrs;

  bytes encode() const;
  // errc::invalid_protobuf for broken protobuf, errc::too_large past a bound,
  // errc::invalid_argument for a missing or invalid field.
  static result<names_request> decode(byte_span msg);
};

struct names_response {
  names_status status = names_status::ok;
  std::optional<peer_id> peer;
  std::vector<multiaddr> addrs;
  std::uint32_t ttl = 0;
  std::string text;

  bytes encode() const;
  static result<names_response> decode(byte_span msg);
  static names_response status_only(names_status s, std::string text = {});
};

}  // namespace peerup::wire
