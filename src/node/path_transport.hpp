// What status, the daemon log and `peerup ping` name as a path's transport.
#pragma once

#include <string>

#include "net/host.hpp"
#include "net/quic_transport.hpp"

namespace peerup::app {

// "quic" or "tcp" for a direct path. For a relayed path, what carries the
// hop to the relay: the open connection to the relay if we have one (that
// is the one the circuit rides), else the kind of the relay's address; ""
// when neither says.
inline std::string path_transport(const net::host& h, const net::connection& c) {
  if (!c.relayed) return std::string(c.transport());
  const auto relay = c.remote_addr.relay_addr();
  if (!relay) return {};
  if (const auto relay_peer = relay->peer()) {
    const auto hop = h.connections(*relay_peer);
    if (!hop.empty() && !hop.front()->relayed) return std::string(hop.front()->transport());
  }
  if (net::is_quic_addr(*relay)) return "quic";
  if (relay->tcp_target()) return "tcp";
  return {};
}

}  // namespace peerup::app
