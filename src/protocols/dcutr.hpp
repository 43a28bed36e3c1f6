// DCUtR (/libp2p/dcutr, specs relay/DCUtR.md) over the host: the A side as a
// stream handler, the B side as upgrade(), both driving the sans-I/O
// machines of dcutr_session.hpp and dialing with SO_REUSEPORT from the
// listen port so that both SYNs leave from the mapped port.
#pragma once

#include <functional>
#include <optional>

#include "net/host.hpp"
#include "net/signal.hpp"
#include "protocols/dcutr_session.hpp"

namespace peerup::protocols {

inline const protocol_id dcutr_protocol{std::string(wire::dcutr_protocol_id)};

struct dcutr_config {
  dcutr::addr_policy policy;
  // How long each round's direct dials (and a peer's dial into our listener)
  // may take; go-libp2p and js-libp2p use 5 s.
  net::steady_clock::duration dial_timeout = std::chrono::seconds(5);
  // Waiting for the peer's next DCUtR message.
  net::steady_clock::duration message_timeout = std::chrono::seconds(10);
  // B first dials A's public addresses, if A announced any (the spec's
  // unilateral upgrade), for a few relayed RTTs at most: a NATed peer's
  // announced or remembered address usually drops the SYN, and the hole
  // punch should not wait a whole dial_timeout for that.
  bool try_unilateral = true;
  net::steady_clock::duration unilateral_min = std::chrono::milliseconds(500);
  // SECURITY: DCUtR streams served at once (each may make us dial up to
  // dcutr::max_dial_addrs addresses).
  std::size_t max_inbound = 8;
  // When a TCP direct path came first, how much longer a QUIC one may take
  // to win (QUIC is kept when both succeed).
  net::steady_clock::duration quic_grace = std::chrono::milliseconds(500);
};

enum class punch_role { initiator, responder };  // B, A

// One finished DCUtR run, for logs, status and tests.
struct punch_outcome {
  peer_id peer;
  punch_role role;
  result<net::connection_ptr> conn;
  std::chrono::milliseconds took{0};  // from the start of the run
  int rounds = 0;                     // 0: unilateral upgrade, or refused before round 1
};

class dcutr_service {
 public:
  // `our_addrs` lists what we offer in CONNECT (observed addresses and
  // listen addresses); it is filtered by cfg.policy.
  using addr_source = std::function<std::vector<multiaddr>()>;
  dcutr_service(net::host& h, addr_source our_addrs, dcutr_config cfg = {});
  ~dcutr_service();
  dcutr_service(const dcutr_service&) = delete;
  dcutr_service& operator=(const dcutr_service&) = delete;

  // B: upgrades `relayed` (a relayed connection the peer opened to us).
  // 1. if there is a direct connection already, return it
  // 2. unilateral: dial A's public addresses from identify
  // 3. DCUtR rounds (dcutr::initiator), each on a new stream
  // Contract: runs on the host's executor; bounded by 3 x (message_timeout +
  // dial_timeout) plus the unilateral dial_timeout.
  net::awaitable<result<net::connection_ptr>> upgrade(net::connection_ptr relayed);

  void on_outcome(std::function<void(const punch_outcome&)> f) {
    listeners_.push_back(std::move(f));
  }
  const dcutr_config& config() const { return cfg_; }

 private:
  net::awaitable<void> serve(net::stream_ptr s, net::stream_context ctx);
  // Runs one side's machine (exactly one of b, a): carries out its actions
  // and feeds back what they produced, until it reports success or failure.
  net::awaitable<result<net::connection_ptr>> drive(dcutr::initiator* b, dcutr::responder* a,
                                                    std::vector<dcutr::action> acts,
                                                    const net::connection_ptr& relayed,
                                                    net::stream_ptr s);
  // Dials every TCP address at once in `role` and, for QUIC addresses,
  // either dials them (`quic_server` false: A, the QUIC client) or sends
  // random UDP packets to them from our QUIC listen socket every 10-200 ms
  // (`quic_server` true: B, whose NAT must let A's Initial in; spec
  // relay/DCUtR.md). Waits (up to `timeout`) for any direct connection to
  // `peer`: ours, or the peer's arriving at our listener. A QUIC path is
  // preferred: after a TCP one, QUIC gets up to quic_grace more, and a TCP
  // connection without streams is closed when QUIC made it too. nullptr
  // when none came.
  net::awaitable<net::connection_ptr> punch(const peer_id& peer,
                                            const std::vector<multiaddr>& addrs,
                                            net::dial_options opts,
                                            net::steady_clock::duration timeout,
                                            bool quic_server = false);
  // B's side of a QUIC punch: random datagrams to `addrs` until `stop`.
  net::awaitable<void> udp_punch(std::vector<multiaddr> addrs, net::steady_clock::time_point until,
                                 std::shared_ptr<bool> stop);
  net::connection_ptr direct_to(const peer_id& peer) const;
  void report(punch_outcome o);

  net::host& host_;
  addr_source our_addrs_;
  dcutr_config cfg_;
  std::size_t serving_ = 0;
  net::signal changed_;  // a dial finished or a direct connection registered
  std::vector<std::function<void(const punch_outcome&)>> listeners_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::protocols
