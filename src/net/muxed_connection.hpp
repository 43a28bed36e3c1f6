// The narrow interface the host, the protocols and the path manager use to
// drive one authenticated, multiplexed connection, whatever carries it: a
// Yamux session over Noise over TCP or a relayed circuit
// (net/yamux_connection.hpp), or a QUIC connection whose streams are native
// (net/quic_connection.hpp). Every stream it hands out is a byte_stream on
// which multistream-select then runs, so protocol code never knows which.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "net/byte_stream.hpp"
#include "net/resource_manager.hpp"

namespace peerup::net {

// RFC 9221 datagram counters of one connection.
struct datagram_stats {
  std::uint64_t sent = 0;             // put on the wire
  std::uint64_t received = 0;         // arrived from the peer
  std::uint64_t send_dropped = 0;     // a full send queue, or no longer fitting the path
  std::uint64_t receive_dropped = 0;  // a full receive queue (nobody read fast enough)
};

// Unreliable datagrams on one connection (RFC 9221 DATAGRAM frames in
// QUIC): whole messages, encrypted and authenticated like streams, but
// unordered, never retransmitted, and dropped rather than queued without
// bound. For traffic that carries its own reliability (IP packets of the
// TUN network). Both queues (received, to send) hold at most
// quic::config::datagram_queue datagrams and drop per
// quic::config::datagram_policy (oldest by default) when full, counting.
// Contract: every call runs on the connection's executor.
class datagram_channel {
 public:
  virtual ~datagram_channel() = default;
  // The largest payload send() takes now: the smaller of the peer's limit
  // and one packet on the current path (at least 1156 bytes over QUIC);
  // 0 once the connection is closed.
  virtual std::size_t max_size() const = 0;
  // Queues one datagram and returns at once; it leaves with the next
  // packets. Errors: errc::quic_datagram_too_large (above max_size()),
  // errc::connection_closed. Success means queued, not delivered.
  virtual result<void> send(byte_span data) = 0;
  // Datagrams send() queues before the queue is full (0: the next send
  // drops one). A sender with its own bounded queue waits instead of
  // losing packets to a burst (tun/network).
  virtual std::size_t send_room() const = 0;
  // Completes when packets left (so the queue may have room) or the
  // connection closed; check send_room() again. Notifications while nobody
  // waits are not kept.
  virtual awaitable<void> wait_send_room() = 0;
  // The next received datagram, waiting for one. errc::connection_closed
  // once the connection ended and nothing is left. One reader at a time;
  // cancelling the wait loses no datagram.
  virtual awaitable<result<bytes>> receive() = 0;
  // The next received datagram if one waits, without waiting.
  virtual std::optional<bytes> try_receive() = 0;
  // The same, moved into `into` (false when none waits, `into` untouched).
  // An implementation may keep `into`'s old buffer for a later datagram, so
  // a reader that reuses `into` allocates nothing per datagram.
  virtual bool try_receive(bytes& into) {
    auto d = try_receive();
    if (!d) return false;
    into = std::move(*d);
    return true;
  }
  virtual datagram_stats stats() const = 0;
};

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
  // Last stream or datagram event in either direction (keepalives do not
  // count).
  virtual steady_clock::time_point last_activity() const = 0;
  // When bytes of any kind last arrived from the peer.
  virtual steady_clock::time_point last_received() const = 0;
  // Probes the peer now and fails the connection with errc::timeout if
  // nothing arrives soon: for callers about to rely on a connection that may
  // have died silently.
  virtual void check_alive() = 0;
  // Pings the peer at least this often (default 15 s), also when nothing
  // else flows. For a connection that must stay reachable through a NAT
  // that may lose its mapping (a home node's connection to its relay): the
  // peer's packets are dropped there until we send, so the interval bounds
  // how long an idle node stays unreachable. Zero or less is ignored.
  virtual void set_keepalive_interval(steady_clock::duration d) = 0;
  virtual const connection_resources_ptr& resources() const = 0;
  virtual asio::any_io_executor get_executor() = 0;
  // "yamux" or "quic": what status and logs show as the transport's muxer.
  virtual std::string_view kind() const = 0;
  // The connection's datagram channel when both sides negotiated unreliable
  // datagrams (a QUIC connection to a peer that offers RFC 9221), else
  // null: Yamux connections, relayed circuits, QUIC peers without them.
  // Lives as long as the connection object.
  virtual datagram_channel* datagrams() { return nullptr; }
};

using muxed_connection_ptr = std::shared_ptr<muxed_connection>;

}  // namespace peerup::net
