// Resolving the <target> of proxy/connect/ping. A multiaddr ending in
// /p2p/<peer-id> is dialed exactly as written; anything else (a name of
// `names:` or the names file, "<host>.<network>", a peer ID) goes through the
// name_resolver, so every command that takes a target has the tiers, cache
// and errors of `peerup resolve` (docs/naming.md).
#pragma once

#include <boost/system/result.hpp>
#include <string>

#include "config/config.hpp"
#include "naming/resolver.hpp"
#include "net/host.hpp"
#include "protocols/kad.hpp"

namespace peerup::app {

struct dial_plan {
  peer_id peer;
  // The resolver's addresses, best first: a direct address, then
  // <relay>/p2p-circuit/p2p/<peer> for the relays of `relays:` and of
  // `networks:`. Empty when `exact` is set.
  std::vector<multiaddr> addrs;
  std::optional<multiaddr> exact;  // the target was a multiaddr: dial only it
  std::string source;              // which tier said so, as `peerup resolve` prints it
};

struct target_error {
  std::string message;
};
using target_result = boost::system::result<dial_plan, target_error>;

// A target starting with "/": parsed, and refused unless it ends in
// /p2p/<peer-id> (without it any peer answering there would be accepted).
target_result plan_multiaddr(const std::string& text);

// A multiaddr as plan_multiaddr; anything else through `resolver`. Errors are
// the resolver's ("name \"x\" not found (tried ...)"), or "no address for
// <peer>" when the peer resolved but there is no way to reach it.
// Contract: runs on the resolver's host executor; `text` is copied.
net::awaitable<target_result> resolve_target(name_resolver& resolver, std::string text);

// <relay>/p2p-circuit/p2p/<peer>
multiaddr circuit_address(const multiaddr& relay, const peer_id& peer);

// Looks up the plan's peer record in the DHT (docs/dht.md) and puts the
// addresses it signed first in the plan, each ending in /p2p/<peer>; the
// relays of its circuit addresses are appended to `relays` (for a gater).
// False when the plan is a multiaddr or no valid record came within `limit`.
// Contract: runs on the DHT's host executor; `k` outlives the call.
net::awaitable<bool> add_dht_addrs(protocols::kad_node& k, dial_plan& plan,
                                   std::vector<peer_id>& relays,
                                   net::steady_clock::duration limit = std::chrono::seconds(20));

// Connects as planned, reusing an existing connection to the peer.
// Contract: runs on the host's executor.
net::awaitable<result<net::connection_ptr>> connect_target(net::host& h, const dial_plan& plan);

}  // namespace peerup::app
