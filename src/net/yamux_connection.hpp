// The Yamux driver: one muxed, authenticated connection over a secure
// byte_stream. It runs the sans-I/O yamux::session with two coroutines (a
// reader feeding on_bytes and a writer flushing output) and exposes each
// Yamux stream as a byte_stream.
#pragma once

#include <functional>
#include <memory>
#include <unordered_map>

#include "net/muxed_connection.hpp"
#include "net/signal.hpp"
#include "wire/yamux.hpp"

namespace peerup::net {

class yamux_connection final : public muxed_connection,
                               public std::enable_shared_from_this<yamux_connection> {
 public:
  // `res` (optional) accounts this connection's streams and buffers: inbound
  // streams beyond its limits are reset, outbound ones fail with
  // errc::resource_limit, and windows grow only while the budget has room.
  yamux_connection(stream_ptr secure, bool is_client, yamux::config cfg = {},
                   connection_resources_ptr res = nullptr);
  ~yamux_connection() override;

  // Starts the reader, writer and keepalive coroutines. `on_inbound` is called
  // on the connection's executor for every stream the peer opens; it must not
  // block (spawn a coroutine to serve the stream).
  void start(inbound_handler on_inbound) override;

  // Opens an outbound stream. Contract: runs on the connection's executor;
  // fails with errc::connection_closed, yamux_go_away or yamux_too_many_streams.
  result<stream_ptr> open_stream() override;

  // Sends GoAway, flushes what is queued, and closes the transport.
  void close() override;
  // Drops the transport at once with an RST, as a broken path ends: the peer
  // sees a reset, not an orderly end, and close_reason() becomes `why`.
  void abort(error_code why) override { fail(why); }
  bool is_closed() const override { return closed_; }
  // Why it closed: errc::connection_closed for an orderly end (EOF, our
  // close()), another error for a broken path (timeout, reset).
  error_code close_reason() const override { return close_reason_; }
  // Completes when the connection is closed (either side, or an error).
  awaitable<void> wait_closed() override;

  std::size_t stream_count() const override { return streams_.size(); }
  std::optional<std::chrono::milliseconds> rtt() const override { return rtt_; }
  // Last stream event (open, data, close) in either direction; keepalive
  // pings do not count, so an unused connection can be found idle.
  steady_clock::time_point last_activity() const override { return last_activity_; }
  // When bytes (of any frame, pings too) last arrived from the peer.
  steady_clock::time_point last_received() const override { return last_received_; }
  // Pings the peer now, unless a probe is under way and still unanswered
  // (that one covers this call), and fails the connection with
  // errc::timeout if nothing arrives within the probe timeout. For callers
  // about to rely on a connection that may have died silently (see
  // expect_reply).
  void check_alive() override;
  void set_keepalive_interval(steady_clock::duration d) override;
  const connection_resources_ptr& resources() const override { return res_; }
  asio::any_io_executor get_executor() override { return secure_->get_executor(); }
  std::string_view kind() const override { return "yamux"; }

 private:
  friend class yamux_stream;
  struct stream_state;
  struct borrowed_write;

  awaitable<void> read_loop(std::shared_ptr<yamux_connection> self);
  awaitable<void> write_loop(std::shared_ptr<yamux_connection> self);
  awaitable<void> keepalive_loop(std::shared_ptr<yamux_connection> self);
  // We sent the peer something it must answer (a SYN, data) on a connection
  // that has been quiet: ping now and fail the connection if nothing at all
  // arrives within probe_timeout(). A path that died silently (a NAT mapping
  // dropped, a link gone) is found in seconds instead of when keepalive gives
  // up, so callers fall back to another path while the user still waits.
  void expect_reply();
  awaitable<void> probe(std::shared_ptr<yamux_connection> self);
  steady_clock::duration probe_timeout() const;
  void dispatch(const yamux::event& ev);
  void fail(error_code ec);
  void flush_soon() { output_ready_.notify(); }
  std::shared_ptr<stream_state> add_stream(std::uint32_t id, std::size_t window, bool inbound);
  void accept_inbound(std::uint32_t id);
  // session_.consumed(), with the window's growth checked against and
  // charged to the memory budget.
  void credit(stream_state& st, std::size_t n);
  // Stream use (open, data either way, close). Wakes the keepalive loop if
  // it sleeps until the next ping: the quiet probe after this use must not
  // wait for that ping (see keepalive_loop).
  void touch() {
    last_activity_ = steady_clock::now();
    if (keepalive_asleep_) {
      keepalive_asleep_ = false;
      keepalive_timer_.cancel();
    }
  }

  connection_resources_ptr res_;
  yamux::config cfg_;
  stream_ptr secure_;
  yamux::session session_;
  std::unordered_map<std::uint32_t, std::shared_ptr<stream_state>> streams_;
  inbound_handler on_inbound_;
  signal output_ready_;
  signal output_drained_;
  // A stream's large write whose frames go out from the stream's own buffer
  // (no copy into the session's output): set by yamux_stream::write, sent by
  // write_loop before any newer output, completed (or failed) through
  // borrowed_done_. At most one at a time.
  borrowed_write* borrowed_ = nullptr;
  bool borrowed_in_flight_ = false;  // write_loop is inside its write
  signal borrowed_done_;
  signal closed_signal_;
  bool closed_ = false;
  bool closing_ = false;
  error_code close_reason_;
  std::optional<std::chrono::milliseconds> rtt_;
  steady_clock::time_point last_activity_ = steady_clock::now();
  std::vector<yamux::event> events_;
  asio::steady_timer keepalive_timer_;
  bool keepalive_asleep_ = false;  // keepalive_loop waits for the next ping, not a tick
  steady_clock::duration keepalive_interval_;
  steady_clock::time_point next_ping_;  // keepalive_loop's next keepalive ping
  int unanswered_pings_ = 0;
  steady_clock::time_point last_received_ = steady_clock::now();
  asio::steady_timer probe_timer_;       // the latest probe's deadline
  bool probing_ = false;                 // probe() waits on probe_timer_
  steady_clock::time_point probe_sent_;  // when check_alive() last pinged
};

}  // namespace peerup::net
