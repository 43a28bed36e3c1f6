// /peerup/rendezvous/1.0.0 on streams (wire/rendezvous.hpp): the relay keeps
// sealed invites for short codes; the home node's `peerup invite` puts one,
// the new device's `peerup join` gets it.
#pragma once

#include <functional>

#include "net/host.hpp"
#include "wire/rendezvous.hpp"

namespace peerup::protocols {

inline const protocol_id rendezvous_protocol{std::string(rendezvous::protocol_id)};
inline constexpr auto rendezvous_timeout = std::chrono::seconds(10);

// The relay's side over `boxes` (owned by the caller, outliving the host's
// handlers). `may_put` says whether a peer may leave boxes (the relay's
// authorized peers); `now_unix` is the wall clock. All run on the host's
// executor.
struct rendezvous_hooks {
  std::function<bool(const peer_id&)> may_put;
  std::function<std::int64_t()> now_unix;
};
void install_rendezvous(net::host& h, rendezvous::store& boxes, rendezvous_hooks hooks);

// Clients, one request on a new stream of `conn` (a connection to the relay),
// bounded by rendezvous_timeout. errc::rendezvous_refused (put) or
// errc::rendezvous_unknown (get) when the relay said no, with `why` set to
// its reason; errc::protocol_not_supported from a relay without the
// protocol; or the stream's error.
net::awaitable<result<void>> put_invite_box(net::host& h, net::connection_ptr conn,
                                            rendezvous::request req, std::string* why);
net::awaitable<result<bytes>> get_invite_box(net::host& h, net::connection_ptr conn,
                                             invite::rendezvous_handle handle, std::string* why);

}  // namespace peerup::protocols
