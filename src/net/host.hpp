// The libp2p host: listens, dials, upgrades, keeps one connection per peer
// (preferring direct over relayed), and routes inbound streams to protocol
// handlers by protocol ID.
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/protocol_id.hpp"
#include "crypto/keys.hpp"
#include "common/version.hpp"
#include "net/connection.hpp"
#include "net/peer_store.hpp"
#include "net/quic_transport.hpp"
#include "net/resource_manager.hpp"
#include "net/tcp_transport.hpp"
#include "net/upgrader.hpp"

namespace peerup::net {

struct host_config {
  private_key identity;
  std::vector<multiaddr> listen;
  connection_gater gater;  // empty: accept every authenticated peer
  host_limits limits;      // net/resource_manager.hpp
  yamux::config yamux_cfg;
  quic::config quic_cfg;  // for /udp/<port>/quic-v1 listen addresses and dials
  std::string agent_version{peerup::agent_version};  // "peerup/<version>", from CMake
};

// Serves one inbound stream whose protocol was negotiated. Runs as its own
// coroutine; owns the stream.
using stream_handler = std::function<awaitable<void>(stream_ptr, stream_context)>;
// Runs after the remote proposed the protocol and before we answer: true
// echoes it (the handler then runs with the same context), false answers
// "na". It may fill ctx.admitted for the handler.
using stream_admission = std::function<awaitable<bool>(stream_context&)>;
using connection_observer = std::function<void(const connection_ptr&)>;

// Which side of the security and muxer handshakes we take on a socket we
// dialed. Hole punching (DCUtR) makes both peers dial; libp2p gives the
// DCUtR initiator (the peer that received the relayed connection) the
// responder role, as go-libp2p and js-libp2p do.
enum class dial_role { initiator, responder };

struct dial_options {
  // Dial from the TCP listen port (SO_REUSEPORT) when we listen, so peers
  // observe the NAT mapping of the listen port. Off for AutoNAT dial-backs,
  // which must test reachability from a fresh port.
  bool reuse_port = true;
  // On EADDRNOTAVAIL (that 4-tuple is taken), dial again from a fresh port.
  // Off for hole punching: there it means the peer's SYN got in first.
  bool ephemeral_fallback = true;
  dial_role role = dial_role::initiator;
  // QUIC only, with reuse_port false: bind the fresh UDP socket to this port
  // (0: any). The birthday hole punch dials from the port whose NAT mapping
  // a probe proved open.
  std::uint16_t quic_local_port = 0;
};

struct opened_stream {
  stream_ptr stream;
  std::string protocol;
  connection_ptr conn;
};

class host {
 public:
  // Contract: every member runs on `ex`, which must be a single-threaded
  // executor (one io_context thread); the host is not thread-safe.
  host(asio::any_io_executor ex, host_config cfg);
  ~host();
  host(const host&) = delete;
  host& operator=(const host&) = delete;

  // Binds every configured listen address. Throws std::system_error on failure
  // (start-up error). Port 0 picks a free port; listen_addrs() shows it.
  void start();
  void stop();

  const peer_id& id() const { return id_; }
  const private_key& identity() const { return cfg_.identity; }
  std::vector<multiaddr> listen_addrs() const;
  // Listen addresses with /p2p/<id> appended, as users copy them.
  std::vector<multiaddr> full_addrs() const;
  // Extra addresses to announce (relay circuits, observed addresses).
  void set_extra_announce(std::vector<multiaddr> addrs) { extra_announce_ = std::move(addrs); }
  // Our confirmed public addresses (observed by peers); announced as well.
  void set_observed_announce(std::vector<multiaddr> addrs) {
    observed_announce_ = std::move(addrs);
  }
  std::vector<multiaddr> announce_addrs() const;

  void set_handler(const protocol_id& proto, stream_handler h);
  // A handler whose protocol is accepted only once `admit` says so: the
  // dialer's negotiation waits for it (bounded by negotiate_timeout), so a
  // refusal reaches it as "na" instead of a reset after the echo.
  void set_handler(const protocol_id& proto, stream_handler h, stream_admission admit);
  void remove_handler(const protocol_id& proto);
  std::vector<std::string> protocols() const;
  void on_connection(connection_observer obs) { observers_.push_back(std::move(obs)); }
  // Called when a connection closes, each one (before on_disconnect for a
  // peer's last): per-connection state goes with it.
  void on_connection_closed(connection_observer obs) { close_observers_.push_back(std::move(obs)); }
  // Called when the last open connection to a peer closes.
  void on_disconnect(std::function<void(const peer_id&)> f) {
    disconnect_observers_.push_back(std::move(f));
  }

  // Addresses for which `keep` is false are never announced nor dialed: the
  // TUN network mode hides the addresses of its own interface, which would
  // otherwise route a peer's dial into the tunnel it is meant to carry.
  void set_address_filter(std::function<bool(const multiaddr&)> keep) {
    address_filter_ = std::move(keep);
  }
  peer_store& peers() { return peers_; }
  const host_config& config() const { return cfg_; }
  void set_gater(connection_gater g) { cfg_.gater = std::move(g); }
  // Connection, stream and memory accounting (e.g. the relay server charges
  // its copy buffers here).
  resource_manager& resources() { return *resources_; }
  // Applies to new connections, streams and buffers; nothing is cut.
  void set_limits(const host_limits& l);
  // Connections for which `keep` returns true are never closed as idle
  // (e.g. those holding a relay reservation). Called on the host's executor.
  void add_idle_exemption(std::function<bool(const connection&)> keep) {
    idle_exemptions_.push_back(std::move(keep));
  }

  // Returns an open connection to `peer`, dialing its known addresses if
  // needed. A direct connection is preferred over a relayed one; of the
  // direct addresses QUIC ones are dialed first and TCP ones 250 ms later
  // (happy eyeballs), relayed ones 1 s after the direct ones (or as soon as
  // they all failed), the first connection winning. A call for a peer that
  // another connect() is dialing waits for that dial.
  awaitable<result<connection_ptr>> connect(const peer_id& peer);
  // Dials a multiaddr (with /p2p/ for authentication; without it any peer is
  // accepted) and returns the connection, reusing an existing one.
  awaitable<result<connection_ptr>> connect(const multiaddr& addr);
  // Opens a stream and negotiates the first supported protocol.
  awaitable<result<opened_stream>> new_stream(const peer_id& peer,
                                              std::vector<std::string> protocols);
  awaitable<result<opened_stream>> new_stream(const connection_ptr& conn,
                                              std::vector<std::string> protocols);
  // Single-protocol forms. (g++ 12 miscompiles braced lists inside co_await
  // expressions, so callers should not write new_stream(c, {"/x"}).)
  awaitable<result<opened_stream>> new_stream(const peer_id& peer, const protocol_id& proto);
  awaitable<result<opened_stream>> new_stream(const connection_ptr& conn, const protocol_id& proto);
  // Proposes `proto` and returns without waiting for the answer (optimistic
  // select): the stream's first read takes the answer in front of the reply.
  // Saves a round trip whenever the caller writes first (a relay CONNECT, an
  // HTTP request). A refusal shows as errc::protocol_not_supported from that
  // read; net::optimistic_stream::confirmed() tells it from later failures.
  awaitable<result<opened_stream>> new_stream_optimistic(const connection_ptr& conn,
                                                         const protocol_id& proto);

  // Upgrades a raw stream (e.g. a relayed circuit) and registers the result.
  awaitable<result<connection_ptr>> add_outbound(raw_connection raw,
                                                 std::optional<peer_id> expected);
  awaitable<result<connection_ptr>> add_inbound(raw_connection raw);

  // Connections to `peer`, best first: direct before relayed, QUIC before
  // TCP, newest first.
  std::vector<connection_ptr> connections(const peer_id& peer) const;
  std::vector<connection_ptr> all_connections() const;
  void close_connections(const peer_id& peer);

  asio::any_io_executor get_executor() const { return ex_; }

  // Dials /p2p-circuit addresses; installed by the relay client.
  using circuit_dialer =
      std::function<awaitable<result<connection_ptr>>(const multiaddr&, std::optional<peer_id>)>;
  void set_circuit_dialer(circuit_dialer d) { circuit_dialer_ = std::move(d); }
  // Sends one UDP datagram of `data` to the QUIC address `to` from our QUIC
  // listen socket of its family (so the NAT mapping it opens is the one a
  // peer's QUIC dial reaches): the UDP hole punch of DCUtR. False, sending
  // nothing, when `to` is no IP quic-v1 address or no listener fits.
  bool send_udp_punch(const multiaddr& to, byte_span data);
  // Dials from the listen port (SO_REUSEPORT), as hole punching needs.
  awaitable<result<connection_ptr>> dial_reusing_port(const multiaddr& addr,
                                                      const peer_id& expected);
  // Always opens a new connection (never reuses one), with `opts`.
  awaitable<result<connection_ptr>> dial(const multiaddr& addr, std::optional<peer_id> expected,
                                         dial_options opts);
  // Retry packets our QUIC listeners sent (address validation under load).
  std::uint64_t quic_retries_sent() const {
    std::uint64_t n = 0;
    for (const auto& l : quic_listeners_) n += l->retries_sent();
    return n;
  }
  // UDP offload across our QUIC sockets (listeners and dial sockets): on
  // when any socket has it; sends and receives that used it.
  struct quic_offload_stats {
    bool gso = false, gro = false;
    std::uint64_t gso_sends = 0, gro_receives = 0;
  };
  quic_offload_stats quic_offload() const {
    quic_offload_stats s;
    for (const auto* v : {&quic_listeners_, &quic_dialers_})
      for (const auto& e : *v) {
        s.gso = s.gso || e->gso_enabled();
        s.gro = s.gro || e->gro_enabled();
        s.gso_sends += e->gso_sends();
        s.gro_receives += e->gro_receives();
      }
    return s;
  }
  // UDP datagrams our QUIC listeners dropped unread: malformed, truncated,
  // for no connection of ours and no client Initial (logged once).
  std::uint64_t quic_dropped_datagrams() const {
    std::uint64_t n = 0;
    for (const auto& l : quic_listeners_) n += l->dropped_datagrams();
    return n;
  }
  // Inbound QUIC handshakes that failed: a refused certificate (no or bad
  // libp2p extension, bad signature, expired, key refused), a gater refusal,
  // a protocol error or a timeout (the first is logged with its reason).
  std::uint64_t quic_handshakes_failed() const { return quic_handshakes_failed_; }
  // True when a TCP listener exists (hole punching needs one).
  bool listens_on_tcp() const { return !listeners_.empty() && !stopped_; }
  bool listens_on_quic() const { return !quic_listeners_.empty() && !stopped_; }

  // Hole punching: until `until`, an inbound TCP connection from one of
  // `from` may be the peer's punch, its SYN having reached our listener
  // before our own SYN left (no simultaneous open). If it sends nothing for
  // 250 ms it dialed as the responder and waits for us: we upgrade it as the
  // initiator expecting `peer`. An exact address match wins; otherwise the
  // same IP matches (js-libp2p dials from a fresh port). Cleared by
  // forget_punch or expiry.
  void expect_punch(const peer_id& peer, const std::vector<multiaddr>& from,
                    steady_clock::time_point until);
  void forget_punch(const peer_id& peer) { punches_.erase(peer); }

 private:
  awaitable<void> accept_loop(tcp_listener& listener);
  // QUIC: our certificate (made once, on first use), the endpoint a dial
  // to `target` leaves from (the listen socket of its family when there
  // is one, so NAT mappings match), the dial, and an accepted connection.
  result<quic::tls_context_ptr> quic_tls();
  std::shared_ptr<quic_endpoint> quic_endpoint_for(const udp::endpoint& target);
  quic_accept_policy quic_policy();
  // `fresh_socket`: from a new dial-only socket instead of the listener's
  // (AutoNAT dial-backs: a NAT that lets our listener's peers in must not
  // make the test pass).
  awaitable<result<connection_ptr>> dial_quic(const multiaddr& addr,
                                              std::optional<peer_id> expected,
                                              bool fresh_socket = false,
                                              std::uint16_t local_port = 0);
  awaitable<void> handle_inbound_quic(std::shared_ptr<quic_connection> c);
  // Dials `addrs` in order until one connects.
  awaitable<result<connection_ptr>> dial_each(peer_id peer, std::vector<multiaddr> addrs);
  awaitable<result<connection_ptr>> race_direct(peer_id peer, std::vector<multiaddr> quic_addrs,
                                                std::vector<multiaddr> tcp_addrs);
  // Runs `first` at once and `second` after `delay` (at once when `first`
  // failed before); the first connection wins and the other is cancelled.
  awaitable<result<connection_ptr>> race_dials(awaitable<result<connection_ptr>> first,
                                               awaitable<result<connection_ptr>> second,
                                               steady_clock::duration delay);
  // Checks the authenticated peer against the per-peer limit and registers
  // the connection; closes it on refusal.
  result<connection_ptr> admit_quic(const std::shared_ptr<quic_connection>& c, direction dir);
  awaitable<void> idle_loop();
  void close_idle_connections();
  // `remote`: the socket's peer, as accept_loop read it (one getpeername).
  awaitable<void> handle_inbound_socket(tcp::socket socket, tcp::endpoint remote,
                                        connection_resources_ptr res);
  awaitable<result<connection_ptr>> upgrade(raw_connection raw, std::optional<peer_id> expected,
                                            direction dir, connection_resources_ptr res);
  awaitable<result<connection_ptr>> dial_addr(const multiaddr& addr,
                                              std::optional<peer_id> expected, dial_options opts);
  std::optional<tcp::endpoint> reuse_endpoint_for(const tcp::endpoint& target) const;
  std::optional<peer_id> punching_peer(const tcp::endpoint& remote);
  void register_connection(const connection_ptr& conn);
  // One dial per peer at a time: a connect() for a peer being dialed waits
  // for that dial instead of racing it (a second connection, or a dead
  // direct address tried while the relayed redial is about to succeed).
  struct dial_in_flight;
  class dial_registration;
  // The outcome of the dial in flight to `peer`, if there is one.
  awaitable<std::optional<result<connection_ptr>>> join_dial(const peer_id& peer);
  void serve_stream(const connection_ptr& conn, stream_ptr s);
  awaitable<void> run_stream(connection_ptr conn, stream_ptr s);

  asio::any_io_executor ex_;
  host_config cfg_;
  peer_id id_;
  // The Noise static key and signed payload of all our handshakes, made at
  // the first one (upgrader.hpp make_noise_static).
  std::shared_ptr<const noise::local_static> noise_static_;
  peer_store peers_;
  std::list<tcp_listener> listeners_;
  quic::tls_context_ptr quic_tls_;
  std::vector<std::shared_ptr<quic_endpoint>> quic_listeners_;
  std::uint64_t quic_handshakes_failed_ = 0;
  // Dial-only endpoints (ephemeral port) for families we do not listen on.
  std::vector<std::shared_ptr<quic_endpoint>> quic_dialers_;
  std::vector<multiaddr> extra_announce_;
  std::vector<multiaddr> observed_announce_;
  struct punch_expectation {
    std::vector<tcp::endpoint> from;
    steady_clock::time_point until;
  };
  std::unordered_map<peer_id, punch_expectation> punches_;
  std::map<std::string, stream_handler> handlers_;
  std::map<std::string, stream_admission> admissions_;
  std::vector<connection_observer> observers_;
  std::vector<connection_observer> close_observers_;
  std::vector<std::function<void(const peer_id&)>> disconnect_observers_;
  std::unordered_map<peer_id, std::vector<connection_ptr>> conns_;
  std::unordered_map<peer_id, std::shared_ptr<dial_in_flight>> dials_;
  std::shared_ptr<resource_manager> resources_;
  std::vector<std::function<bool(const connection&)>> idle_exemptions_;
  circuit_dialer circuit_dialer_;
  std::function<bool(const multiaddr&)> address_filter_;
  bool stopped_ = false;
  bool idle_loop_started_ = false;
  // Coroutines spawned by the host copy this and check it after every
  // suspension: the host may be destroyed while they wait (e.g. a listener's
  // accept completing with operation_aborted after ~host).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::net
