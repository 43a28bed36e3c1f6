// /peerup/pair/1.0.0 on streams: the coroutine side of wire/pairing. One
// coroutine per stream; the state machine is wire::pairing's.
#pragma once

#include <functional>

#include "net/host.hpp"
#include "wire/pairing.hpp"

namespace peerup::protocols {

inline const protocol_id pairing_protocol{std::string(pairing::protocol_id)};
// A whole pairing (two round trips) must finish within this; a stalled peer
// cannot hold an invite attempt open.
inline constexpr auto pairing_timeout = std::chrono::seconds(20);

// What the home node plugs in: the invite records and what to do with a
// pairing. All callbacks run on the host's executor.
struct pairing_home_hooks {
  // Loads the current records (from disk, so `peerup invite` and the daemon
  // agree without IPC); returns false if they cannot be read.
  std::function<bool(std::vector<pairing::invite_record>&)> load;
  // Saves the records after an attempt (failures, used).
  std::function<void(const std::vector<pairing::invite_record>&)> save;
  // Adds the device (authorized_keys, services, comment) after the tags
  // matched and before WELCOME is sent; false refuses the pairing.
  std::function<bool(const pairing::paired&)> on_paired;
  // The relay address (with /p2p) the device should add, for the relay
  // transport address in the invite.
  std::function<multiaddr(const multiaddr& invite_relay)> relay;
  std::string home_name = "home";
};

// Serves pairing streams on `h`. Steps 2 and 4 of wire/pairing.hpp.
void install_pairing(net::host& h, pairing_home_hooks hooks);

// The device side over an open stream (steps 1, 3, 5). Returns the result
// or the reason: errc::invite_expired/_wrong_code/_locked/_used from home,
// errc::pairing_protocol, errc::timeout, or the stream's error.
// Contract: the caller owns `s` and bounds nothing: the call is bounded by
// pairing_timeout.
net::awaitable<result<pairing::paired>> pair_as_device(net::byte_stream& s,
                                                       pairing::device_session& session);

}  // namespace peerup::protocols
