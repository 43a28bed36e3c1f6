// /peerup/rendezvous/1.0.0: a relay holds sealed invites for short codes
// (wire/invite.hpp, version 3). The home node puts the box when it makes the
// invite; the new device gets it by the handle its code derives, and opens it
// itself. The relay cannot read or change a box (crypto/sealed.hpp); it only
// bounds how many it keeps, for how long, and how often one is fetched.
//
// One request and one response per stream, each a protobuf body behind an
// unsigned-varint length (wire/length_prefixed):
//   request  { 1: op (1 put, 2 get), 2: handle (8 bytes),
//              3: expires_unix (put), 4: box (put, 1..max_sealed_bytes) }
//   response { 1: status, 2: box (get, ok) }
// Who may put is the relay's call (its authorized peers); anyone may get,
// since the device is not known to the relay yet.
//
// SECURITY: a message is at most max_message_bytes; the handle must be 8
// bytes; a box at most invite::max_sealed_bytes; unknown fields are skipped,
// repeated ones refused. The store bounds entries in total and per owner,
// the lifetime, and the fetches per box.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/peer_id.hpp"
#include "wire/invite.hpp"

namespace peerup::rendezvous {

inline constexpr std::string_view protocol_id = "/peerup/rendezvous/1.0.0";
inline constexpr std::size_t max_message_bytes = 512;

enum class op : std::uint8_t { put = 1, get = 2 };

struct request {
  op what = op::get;
  invite::rendezvous_handle handle{};
  std::int64_t expires_unix = 0;  // put only
  bytes box;                      // put only
  friend bool operator==(const request&, const request&) = default;
};

enum class status : std::uint8_t {
  ok = 0,
  unknown = 1,         // get: no box under that handle (never put, expired, fetched too often)
  not_authorized = 2,  // put: the relay does not hold boxes for this peer
  full = 3,            // put: the relay or this peer holds as many boxes as it keeps
  bad_request = 4,     // malformed, an expiry in the past or too far ahead
  taken = 5,           // put: another peer holds a box under that handle
};

struct response {
  status code = status::ok;
  bytes box;  // get, ok only
  friend bool operator==(const response&, const response&) = default;
};

// errc::invalid_argument when a field is over its bound.
result<bytes> encode(const request& r);
result<bytes> encode(const response& r);
// errc::rendezvous_protocol on anything malformed or over a bound.
result<request> decode_request(byte_span in);
result<response> decode_response(byte_span in);

std::string_view describe(status s);

// The relay's boxes. Sans-I/O: the caller passes the wall clock.
struct store_limits {
  std::size_t max_boxes = 4096;      // ~1 MiB at the largest box
  std::size_t max_per_owner = 16;    // pending invites of one home node
  std::int64_t max_lifetime_s = 7 * 86400;
  unsigned max_fetches = 8;          // a device that retries; not a scanner
};

class store {
public:
  explicit store(store_limits limits = {}) : limits_(limits) {}
  // Puts (or replaces, for the same owner) a box. `owner` is the
  // Noise-authenticated peer that asked; the caller checked it may.
  status put(const peer_id& owner, const request& r, std::int64_t now_unix);
  // The box under `handle`, counting the fetch; status::unknown otherwise.
  response get(const invite::rendezvous_handle& handle, std::int64_t now_unix);
  std::size_t size() const { return boxes_.size(); }

private:
  struct entry {
    peer_id owner;
    std::int64_t expires_unix = 0;
    bytes box;
    unsigned fetches = 0;
  };
  void expire(std::int64_t now_unix);
  store_limits limits_;
  std::map<invite::rendezvous_handle, entry> boxes_;
};

}  // namespace peerup::rendezvous
