// The QUIC transport (libp2p quic-v1): one UDP socket per listen address,
// shared by every connection on it and used to dial from it too (so the NAT
// mapping peers see is the listen port's), a receive coroutine that routes
// datagrams by connection ID, and one muxed_connection per QUIC connection
// whose streams are byte_streams (multistream-select runs on each; there is
// no Noise and no Yamux: TLS 1.3 inside QUIC authenticates, QUIC multiplexes).
//
// The protocol work is quic::connection (sans-I/O, src/quic); this file only
// moves its datagrams, runs its timer and wakes the coroutines waiting on
// its streams. Everything runs on the endpoint's executor, which must be
// single-threaded (the host's).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "multiformats/multiaddr.hpp"
#include "net/muxed_connection.hpp"
#include "net/signal.hpp"
#include "quic/connection.hpp"

namespace peerup::net {

using udp = asio::ip::udp;

// /ip4|ip6/<ip>/udp/<port>/quic-v1 (a trailing /p2p/<id> is ignored).
bool is_quic_addr(const multiaddr& addr);
// errc::invalid_multiaddr for anything but an IP quic-v1 address (no DNS).
result<udp::endpoint> to_udp_endpoint(const multiaddr& addr);
multiaddr to_quic_multiaddr(const udp::endpoint& ep);

class quic_endpoint;

class quic_connection final : public muxed_connection,
                              private datagram_channel,
                              public std::enable_shared_from_this<quic_connection> {
 public:
  quic_connection(std::shared_ptr<quic_endpoint> ep, std::unique_ptr<quic::connection> core,
                  connection_resources_ptr res);
  ~quic_connection() override;

  // muxed_connection
  void start(inbound_handler on_inbound) override;
  result<stream_ptr> open_stream() override;
  void close() override;
  void abort(error_code why) override;
  bool is_closed() const override { return closed_; }
  error_code close_reason() const override { return close_reason_; }
  // What a stream of a closed connection reports: errc::timeout when the
  // path died (a failed liveness probe, the idle timeout), so a user sees
  // "the peer stopped answering" rather than "closed by the peer"; else
  // errc::connection_closed.
  error_code stream_error() const {
    return close_reason_ == make_error_code(errc::timeout) ? close_reason_
                                                           : make_error_code(errc::connection_closed);
  }
  awaitable<void> wait_closed() override;
  std::size_t stream_count() const override { return streams_.size(); }
  std::optional<std::chrono::milliseconds> rtt() const override;
  steady_clock::time_point last_activity() const override { return last_activity_; }
  steady_clock::time_point last_received() const override { return last_received_; }
  void check_alive() override;
  // QUIC's keep-alive (a PING after this long without sending).
  void set_keepalive_interval(steady_clock::duration d) override;
  const connection_resources_ptr& resources() const override { return res_; }
  asio::any_io_executor get_executor() override;
  std::string_view kind() const override { return "quic"; }
  // Null until the handshake is done and when the peer offers no datagrams.
  datagram_channel* datagrams() override;

  // Completes when the TLS handshake is done (the peer is authenticated and
  // passed the gater) or the connection failed. Contract: on the executor.
  awaitable<result<void>> handshake();
  const std::optional<peer_id>& remote_peer() const { return core_->remote_peer(); }
  multiaddr remote_multiaddr() const;
  multiaddr local_multiaddr() const;

 private:
  friend class quic_endpoint;
  friend class quic_stream;
  struct stream_state;

  void on_datagram(byte_span data, const udp::endpoint& from);
  // Dispatches the core's events, sends what is due, re-arms the timer.
  void process();
  void flush_soon();
  void dispatch();
  void on_closed(error_code why);
  awaitable<void> timer_loop(std::shared_ptr<quic_connection> self);
  // Probes a connection that fell silent after use (see quiet_probe_after).
  awaitable<void> quiet_loop(std::shared_ptr<quic_connection> self);
  void release(std::int64_t id);

  // datagram_channel
  std::size_t max_size() const override { return closed_ ? 0 : core_->max_datagram_size(); }
  result<void> send(byte_span data) override;
  std::size_t send_room() const override { return closed_ ? 0 : core_->datagram_send_room(); }
  awaitable<void> wait_send_room() override;
  awaitable<result<bytes>> receive() override;
  std::optional<bytes> try_receive() override { return core_->take_datagram(); }
  bool try_receive(bytes& into) override { return core_->take_datagram(into); }
  datagram_stats stats() const override;

  std::shared_ptr<quic_endpoint> ep_;
  std::unique_ptr<quic::connection> core_;
  connection_resources_ptr res_;
  std::unordered_map<std::int64_t, std::shared_ptr<stream_state>> streams_;
  std::vector<stream_ptr> pending_inbound_;  // opened before start()
  inbound_handler on_inbound_;
  bool started_ = false;
  bool closed_ = false;
  bool flush_posted_ = false;
  bool timer_running_ = false;
  bool probing_ = false;  // a check_alive() probe waits on probe_timer_
  error_code close_reason_;
  std::vector<quic::event> events_;  // dispatch()'s, kept for its memory
  signal state_changed_;  // handshake done, closed
  signal datagram_arrived_;  // a datagram waits in the core, or closed
  signal datagram_room_;     // datagrams left (the send queue may have room), or closed
  asio::steady_timer timer_;
  asio::steady_timer quiet_timer_;  // quiet_loop's
  asio::steady_timer probe_timer_;  // check_alive()'s deadline
  steady_clock::time_point armed_ = steady_clock::time_point::max();
  steady_clock::time_point last_activity_ = steady_clock::now();
  steady_clock::time_point last_received_ = steady_clock::now();
  steady_clock::time_point probe_sent_;  // check_alive()'s last PING
};

// Decides about a client's first datagram from `from`: the resources to
// charge (null refuses it) and the gate its peer must pass.
struct quic_accept_policy {
  std::function<connection_resources_ptr(const udp::endpoint& from)> admit;
  std::function<quic::connection::gate(const udp::endpoint& from)> gate;
  // A new inbound connection, handshake not yet done. Must not block.
  std::function<void(std::shared_ptr<quic_connection>)> accepted;
  // True while clients must first prove their address (a Retry round trip)
  // before they cost us any state: under a flood of Initials.
  std::function<bool()> validate_addresses;
};

class quic_endpoint : public std::enable_shared_from_this<quic_endpoint> {
 public:
  // Binds `bind` (port 0 picks one). Throws std::system_error on failure (a
  // start-up error, as for TCP listeners). Without a policy it only dials.
  static std::shared_ptr<quic_endpoint> open(asio::any_io_executor ex, const udp::endpoint& bind,
                                             quic::tls_context_ptr tls, quic::config cfg,
                                             std::optional<quic_accept_policy> policy);
  ~quic_endpoint();

  // Starts a handshake to `remote` from this socket. The connection is
  // returned once the peer is authenticated and passed `gate`; errors:
  // errc::peer_id_mismatch, connection_denied, timeout, quic_*.
  // Contract: on the executor; the caller bounds it (with_timeout), and
  // cancellation leaves the connection to its own handshake timeout.
  awaitable<result<std::shared_ptr<quic_connection>>> dial(const udp::endpoint& remote,
                                                           std::optional<peer_id> expected,
                                                           quic::connection::gate gate,
                                                           connection_resources_ptr res);
  void close();
  // Sends one datagram of `data` to `to` from this socket, outside any
  // connection: the UDP hole punch of DCUtR (random bytes that open our
  // NAT's mapping towards the peer). Contract: on the executor.
  void send_unconnected(const udp::endpoint& to, byte_span data);
  udp::endpoint local_endpoint() const { return local_; }
  asio::any_io_executor get_executor() { return socket_.get_executor(); }
  std::uint64_t dropped_datagrams() const { return dropped_; }
  std::uint64_t retries_sent() const { return retries_; }
  // UDP segmentation offload (Linux): GSO sends runs of equal-sized
  // datagrams to one address as one sendmsg with UDP_SEGMENT; GRO takes
  // coalesced runs in one receive (UDP_GRO) and splits them. Each is on when
  // the kernel accepts the socket option and not turned off by
  // PEERUP_QUIC_GSO=off / PEERUP_QUIC_GRO=off; GSO turns itself off at the
  // first send the kernel refuses (EIO, EINVAL), and that send goes out
  // datagram by datagram.
  bool gso_enabled() const { return gso_; }
  bool gro_enabled() const { return gro_; }
  std::uint64_t gso_sends() const { return gso_sends_; }        // sendmsgs carrying >1 datagram
  std::uint64_t gro_receives() const { return gro_receives_; }  // receives that held >1 datagram

 private:
  friend class quic_connection;
  quic_endpoint(asio::any_io_executor ex, const udp::endpoint& bind, quic::tls_context_ptr tls,
                quic::config cfg, std::optional<quic_accept_policy> policy);
  awaitable<void> receive_loop(std::shared_ptr<quic_endpoint> self);
  void route(std::span<const std::uint8_t> data, const udp::endpoint& from);
  void note_dropped(const udp::endpoint& from, const char* why);
  void accept(std::span<const std::uint8_t> data, const udp::endpoint& from);
  void send(std::vector<quic::datagram>& out);
  void send(const quic::packet_batch& out);
  // send() without GSO, from packet `first` on.
  void send_plain(const quic::packet_batch& out, std::size_t first);
  // send() with GSO: false (nothing sent from packet `failed_at` on) when
  // the kernel refused a segmented send.
  bool send_gso(const quic::packet_batch& out, std::size_t& failed_at);
  // Writes what `c` has due and sends it, through the endpoint's one
  // reusable batch (all connections run on one thread). True when it
  // stopped at `max_datagrams` (more may be due now).
  bool flush(quic::connection& c, std::size_t max_datagrams);
  void add_route(const bytes& cid, const std::shared_ptr<quic_connection>& c);
  void remove_route(const bytes& cid);

  // Connection IDs as strings of their bytes, looked up by a view of the
  // datagram's bytes: no allocation per packet.
  struct cid_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  udp::socket socket_;
  udp::endpoint local_;
  quic::address local_addr_;
  quic::tls_context_ptr tls_;
  quic::config cfg_;
  std::optional<quic_accept_policy> policy_;
  // Connection ID (as bytes in a string) -> connection.
  std::unordered_map<std::string, std::weak_ptr<quic_connection>, cid_hash, std::equal_to<>>
      routes_;
  // Scratch space of the send path, kept for its memory.
  quic::packet_batch tx_;
  bool tx_busy_ = false;
  quic::packet_batch tx_single_;  // send(std::vector<datagram>&)
  struct gso_run {
    std::size_t first, count, bytes;
    std::uint16_t segment;
  };
  std::vector<gso_run> runs_;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
  struct gso_control {
    alignas(cmsghdr) std::uint8_t bytes[CMSG_SPACE(sizeof(std::uint16_t))] = {};
  };
  std::vector<gso_control> control_;
  bool closed_ = false;
  std::uint64_t dropped_ = 0;
  bool gso_ = false;
  bool gro_ = false;
  std::uint64_t gso_sends_ = 0;
  std::uint64_t gro_receives_ = 0;
  quic::retry_secret retry_secret_ = quic::retry_secret::random();
  std::uint64_t retries_ = 0;
};

}  // namespace peerup::net
