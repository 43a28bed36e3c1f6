// Resolving the <target> of proxy/connect/ping: a name from the config's
// `names:`, a peer ID, or a full multiaddr ending in /p2p/<peer-id>.
#pragma once

#include <boost/system/result.hpp>
#include <string>

#include "net/host.hpp"
#include "config/config.hpp"

namespace peerup::app {

struct dial_plan {
  peer_id peer;
  // Direct addresses first, then <relay>/p2p-circuit/p2p/<peer> for every
  // relay of the config. Empty when `exact` is set.
  std::vector<multiaddr> addrs;
  std::optional<multiaddr> exact;  // the target was a multiaddr: dial only it
};

struct target_error {
  std::string message;
};

// `cfg` may be null (no config file): then only multiaddrs resolve.
boost::system::result<dial_plan, target_error> resolve_target(const std::string& text,
                                                              const config* cfg);

// <relay>/p2p-circuit/p2p/<peer>
multiaddr circuit_address(const multiaddr& relay, const peer_id& peer);

// Connects as planned, reusing an existing connection to the peer.
// Contract: runs on the host's executor.
net::awaitable<result<net::connection_ptr>> connect_target(net::host& h, const dial_plan& plan);

}  // namespace peerup::app
