// /peerup/relay-invite/1.0.0: a peer the relay lets invite devices (a
// sponsor) asks it for a one-time pairing invite, which the sponsor puts into
// the invite code it gives a new device (wire/invite.hpp, version 2). The
// device pairs with the relay first (/peerup/pair/1.0.0, CPace, the relay as
// the responder) and is then authorized on the relay, so a relay that is not
// open lets it through to the home node.
//
// Why a second PAKE instead of a bearer token: the relay's part of the code
// is as short as the home node's (48-bit secret), and a wrong guess costs an
// online attempt that the relay's invite store counts and locks, as at home.
//
// One request and one response per stream, each a protobuf body behind an
// unsigned-varint length (wire/length_prefixed):
//   request  { 1: expires_unix (varint), 2: device_name (string) }
//   response { 1: status (varint), 2: invite id (2 bytes), 3: secret (6 bytes) }
//
// SECURITY: a message is at most max_message_bytes; the name is checked as
// pairing::valid_name; id and secret must have exactly their sizes; unknown
// fields are skipped, repeated ones refused.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "wire/invite.hpp"

namespace peerup::relay_invite {

inline constexpr std::string_view protocol_id = "/peerup/relay-invite/1.0.0";
inline constexpr std::size_t max_message_bytes = 256;

struct request {
  std::int64_t expires_unix = 0;  // when the relay's invite should expire
  std::string device_name;        // kept in the relay's authorized_keys comment
  friend bool operator==(const request&, const request&) = default;
};

enum class status : std::uint8_t {
  ok = 0,
  not_sponsor = 1,  // the asking peer may not invite devices on this relay
  too_many = 2,     // the relay holds as many pending invites as it keeps
  bad_request = 3,  // expiry in the past or too far ahead, or a bad name
  unavailable = 4,  // the relay cannot store the invite (file error)
};

struct response {
  status code = status::ok;
  std::array<std::uint8_t, invite::id_bytes> id{};
  std::array<std::uint8_t, invite::secret_bytes> secret{};
  friend bool operator==(const response&, const response&) = default;
};

// errc::invalid_argument when a field is over its bound.
result<bytes> encode(const request& r);
result<bytes> encode(const response& r);
// errc::relay_invite_protocol on anything malformed or over a bound.
result<request> decode_request(byte_span in);
result<response> decode_response(byte_span in);

std::string_view describe(status s);

}  // namespace peerup::relay_invite
