// An authenticated, multiplexed connection to one peer, as the host keeps it.
#pragma once

#include <memory>

#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"
#include "net/muxed_connection.hpp"

namespace peerup::net {

enum class direction { inbound, outbound };

struct connection {
  peer_id remote_peer;
  multiaddr remote_addr;  // for relayed connections, the /p2p-circuit address
  multiaddr local_addr;
  direction dir;
  bool relayed = false;  // carried by a relay circuit rather than a direct transport
  steady_clock::time_point opened = steady_clock::now();
  // Yamux over a secure channel, or a QUIC connection.
  muxed_connection_ptr mux;

  bool is_open() const { return mux && !mux->is_closed(); }
  // What logs, `peerup ping` and status name as the path's transport:
  // "quic", "tcp", or "relayed" (a circuit over some relay connection).
  std::string_view transport() const {
    if (relayed) return "relayed";
    return mux && mux->kind() == "quic" ? "quic" : "tcp";
  }
};

using connection_ptr = std::shared_ptr<connection>;

// True when `ec` means the peer ended the connection while it was being set
// up or used: our own codes, or the kernel's when the close raced unread data
// and arrived as a TCP RST (a gater cut under load looks like this). Callers
// use it to tell the user "the peer closed it" rather than a socket errno.
inline bool closed_by_peer(const boost::system::error_code& ec) {
  return ec == make_error_code(errc::connection_closed) ||
         ec == make_error_code(errc::connection_denied) || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
         ec == asio::error::broken_pipe;
}

// What a protocol handler learns about the stream it serves.
struct stream_context {
  connection_ptr conn;
  std::string protocol;
  // What the protocol's admission step (host::set_handler with an admission)
  // prepared for the handler, e.g. the local service's socket; else null.
  std::shared_ptr<void> admitted;
};

}  // namespace peerup::net
