// libp2p ping (/ipfs/ping/1.0.0): the dialer sends 32 random bytes and the
// listener echoes them, repeatedly on one stream.
#pragma once

#include "net/host.hpp"

namespace peerup::protocols {

inline const protocol_id ping_protocol{"/ipfs/ping/1.0.0"};
inline constexpr std::size_t ping_size = 32;

// Registers the echo side on `h`.
void install_ping(net::host& h);

// Measures one round trip on an open ping stream.
// Contract: the caller owns `s`; bound the call with with_timeout.
net::awaitable<result<std::chrono::microseconds>> ping_once(net::byte_stream& s);

}  // namespace peerup::protocols
