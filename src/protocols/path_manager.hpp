// Direct and relayed paths to peers, kept by one object (STYLE.md #6):
// - learns our public addresses from identify (observed_addrs) and AutoNAT,
//   announces the confirmed ones
// - upgrades inbound relayed connections with DCUtR, and retries with
//   backoff (30 s doubling to 10 min) while a peer is only relayed
// - closes a relayed connection once a direct one exists and it has no
//   streams left
// - when a direct connection that carried streams dies, dials the peer
//   through the relay again at once, so traffic falls back without waiting
//   for a direct dial to time out
// - records per peer: the path, when it changed, hole punching counters
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "protocols/autonat.hpp"
#include "protocols/birthday.hpp"
#include "protocols/dcutr.hpp"
#include "protocols/identify.hpp"
#include "protocols/observed_addrs.hpp"
#include "protocols/path_policy.hpp"

namespace peerup::protocols {

struct path_manager_config {
  // Off: no DCUtR runs in either role; paths are still tracked.
  bool hole_punch = true;
  // Offered in DCUtR CONNECT besides observed and listen addresses, and not
  // announced: e.g. a DNS name for this host. (js-libp2p dials DNS
  // addresses but never private or loopback IPs.)
  std::vector<multiaddr> extra_punch_addrs;
  dcutr_config dcutr;
  // After DCUtR failed between two peerup nodes, one behind a hard
  // (symmetric) NAT and one behind an easy one: the birthday punch.
  // PEERUP_BIRTHDAY=off turns it off.
  birthday_config birthday{.policy = {.allow_private = false, .allow_loopback = false}};
  observed_addrs_config observed;
  net::steady_clock::duration retry_initial = std::chrono::seconds(30);
  net::steady_clock::duration retry_max = std::chrono::minutes(10);
  // An idle relayed connection closes this long after a direct one is up.
  net::steady_clock::duration relayed_idle_grace = std::chrono::seconds(2);
  net::steady_clock::duration sweep_interval = std::chrono::milliseconds(500);
  bool redial_relay_on_direct_loss = true;
  // Ask peers that serve AutoNAT (our relays) whether we are reachable.
  bool autonat = true;
  net::steady_clock::duration autonat_first = std::chrono::seconds(3);
  net::steady_clock::duration autonat_retry = std::chrono::minutes(1);      // status unknown
  net::steady_clock::duration autonat_interval = std::chrono::minutes(15);  // status known
  // SECURITY: peers with a path record; those without connections go first.
  std::size_t max_peers = 1024;
};

// `base` adjusted by the environment, for tests and labs on one machine:
// PEERUP_HOLEPUNCH=off, PEERUP_HOLEPUNCH_LOOPBACK=1 (offer and dial
// 127.0.0.0/8 and ::1), PEERUP_HOLEPUNCH_RETRY_S=<seconds> (first retry delay).
path_manager_config path_config_from_env(path_manager_config base = {});

// Hole punching (DCUtR) runs since start, both roles, all peers (for
// /metrics; peer_path_status forgets peers that left).
struct punch_totals {
  std::uint64_t attempts = 0, successes = 0, failures = 0;
};

struct peer_path_status {
  peer_id peer;
  path_kind path = path_kind::none;
  std::uint64_t changed_unix = 0;
  std::uint32_t attempts = 0, successes = 0;
  std::string last_error;
  std::string method;  // how the last direct path was found: "dcutr", "birthday"
};

class path_manager {
 public:
  // Installs the DCUtR handler and observers on `h`. `h` and `id` must
  // outlive the manager. Contract: all members run on the host's executor.
  path_manager(net::host& h, identify_service& id, const path_manager_config& cfg = {});
  ~path_manager();
  path_manager(const path_manager&) = delete;
  path_manager& operator=(const path_manager&) = delete;

  // Starts the sweep and AutoNAT loops; stop() ends them (call before host.stop()).
  void start();
  void stop();

  std::optional<peer_path_status> status(const peer_id& p) const;
  std::vector<peer_path_status> statuses() const;
  reachability reachability_status() const { return reach_.status(); }
  punch_totals totals() const { return totals_; }
  int reachability_confidence() const { return reach_.confidence(); }
  // Confirmed public addresses (announced via identify).
  std::vector<multiaddr> confirmed_addrs() const;
  // What we offer in a DCUtR CONNECT: observed candidates, then our other
  // direct addresses. Empty without a TCP listener (nobody could reach us).
  std::vector<multiaddr> hole_punch_addrs() const;
  dcutr_service& dcutr() { return *dcutr_; }
  // Our NAT hint and observed UDP (QUIC) address, for the birthday punch.
  birthday_self birthday_self_info() const;

  void on_path_change(std::function<void(const peer_id&, path_kind)> f) {
    path_listeners_.push_back(std::move(f));
  }

 private:
  struct peer_state {
    path_record rec;
    std::optional<multiaddr> circuit;  // how we last dialed the peer through a relay
    bool direct_busy = false;          // a direct connection carried streams at the last sweep
    net::steady_clock::time_point direct_since{};
  };

  peer_state& state(const peer_id& p);
  void on_connection(const net::connection_ptr& c);
  void on_closed(const net::connection_ptr& c);
  void on_identified(const net::connection_ptr& c, const identify_info& info);
  void on_outcome(const punch_outcome& o);
  void refresh(const peer_id& p);
  bool supports(const peer_id& p, const protocol_id& proto) const;
  void start_upgrade(const net::connection_ptr& relayed);
  void sweep();
  // Whether a direct connection in `conns` received bytes after `since`;
  // probes those that did not.
  static bool heard_on_direct_since(const std::vector<net::connection_ptr>& conns,
                                    net::steady_clock::time_point since);
  void announce();
  void forget_stale_peers();
  net::awaitable<void> sweep_loop();
  net::awaitable<void> autonat_loop();
  net::awaitable<void> ask_autonat();

  net::host& host_;
  identify_service& identify_;
  path_manager_config cfg_;
  observed_addr_table observed_;
  reachability_tracker reach_;
  std::unordered_map<peer_id, peer_state> peers_;
  std::vector<multiaddr> announced_;
  std::unique_ptr<dcutr_service> dcutr_;
  std::unique_ptr<birthday_service> birthday_;
  std::vector<std::function<void(const peer_id&, path_kind)>> path_listeners_;
  punch_totals totals_;
  std::size_t autonat_next_ = 0;  // round robin over AutoNAT servers
  bool running_ = false;
  std::unique_ptr<net::asio::steady_timer> sweep_timer_, autonat_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::protocols
