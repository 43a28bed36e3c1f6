// /peerup/relay-invite/1.0.0 on streams (wire/relay_invite.hpp): the relay
// makes a one-time invite for a sponsor's new device; the sponsor (the home
// node's `peerup invite --relay-rights`) asks for it.
#pragma once

#include <functional>

#include "net/host.hpp"
#include "wire/relay_invite.hpp"

namespace peerup::protocols {

inline const protocol_id relay_invite_protocol{std::string(relay_invite::protocol_id)};
inline constexpr auto relay_invite_timeout = std::chrono::seconds(10);

// The relay's side. `make` runs on the host's executor for a request from
// `sponsor` (any peer: it checks the right itself) and returns the answer.
using relay_invite_maker =
    std::function<relay_invite::response(const peer_id& sponsor, const relay_invite::request&)>;
void install_relay_invite(net::host& h, relay_invite_maker make);

// The sponsor's side: one request on a new stream of `conn` (a connection to
// the relay). errc::relay_invite_refused when the relay said no (`why` gets
// its reason), errc::protocol_not_supported from a relay without it, or the
// stream's error. Bounded by relay_invite_timeout.
net::awaitable<result<relay_invite::response>> request_relay_invite(net::host& h,
                                                                    const net::connection_ptr& conn,
                                                                    relay_invite::request req,
                                                                    std::string* why);

}  // namespace peerup::protocols
