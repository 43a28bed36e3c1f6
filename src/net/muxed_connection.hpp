// The narrow interface the host, the protocols and the path manager use to
// drive one authenticated, multiplexed connection, whatever carries it: a
// Yamux session over Noise over TCP or a relayed circuit
// (net/yamux_connection.hpp), or a QUIC connection whose streams are native
// (net/quic_connection.hpp). Every stream it hands out is a byte_stream on
// which multistream-select then runs, so protocol code never knows which.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>

#include "net/byte_stream.hpp"
#include "net/resource_manager.hpp"

namespace peerup::net {

class muxed_connection {
 public:
  using inbound_handler = std::function<void(stream_ptr)>;

  virtual ~muxed_connection() = default;

  // Starts the connection's coroutines. `on_inbound` is called on the
  // connection's executor for every stream the peer opens; it must not block
  // (spawn a coroutine to serve the stream).
  virtual void start(inbound_handler on_inbound) = 0;
  // Opens an outbound stream. Contract: runs on the connection's executor;
  // fails with errc::connection_closed, errc::resource_limit or a
  // muxer-specific error when the peer allows no more streams.
  virtual result<stream_ptr> open_stream() = 0;
  // Orderly close: tells the peer, flushes what is queued, closes the path.
  virtual void close() = 0;
  // Drops the connection at once, as a broken path ends; close_reason()
  // becomes `why`.
  virtual void abort(error_code why) = 0;
  virtual bool is_closed() const = 0;
  // errc::connection_closed for an orderly end, another error otherwise.
  virtual error_code close_reason() const = 0;
  // Completes when the connection is closed (either side, or an error).
  virtual awaitable<void> wait_closed() = 0;

  virtual std::size_t stream_count() const = 0;
  virtual std::optional<std::chrono::milliseconds> rtt() const = 0;
  // Last stream event in either direction (keepalives do not count).
  virtual steady_clock::time_point last_activity() const = 0;
  // When bytes of any kind last arrived from the peer.
  virtual steady_clock::time_point last_received() const = 0;
  // Probes the peer now and fails the connection with errc::timeout if
  // nothing arrives soon: for callers about to rely on a connection that may
  // have died silently.
  virtual void check_alive() = 0;
  virtual const connection_resources_ptr& resources() const = 0;
  virtual asio::any_io_executor get_executor() = 0;
  // "yamux" or "quic": what status and logs show as the transport's muxer.
  virtual std::string_view kind() const = 0;
};

using muxed_connection_ptr = std::shared_ptr<muxed_connection>;

}  // namespace peerup::net
