// Keeps reservations on a set of relays for a home node: reserves, refreshes
// before expiry, re-reserves with backoff when a relay goes away, and
// announces the resulting /p2p-circuit addresses.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "protocols/relay_client.hpp"

namespace peerup::protocols {

struct relay_slot {
  multiaddr relay;  // as configured, ending in /p2p/<relay id>
  enum class state { connecting, reserved, backoff } current = state::connecting;
  std::uint64_t expire_unix = 0;
  std::string last_error;
  std::vector<multiaddr> circuit_addrs;  // ours through this relay
  net::steady_clock::time_point since = net::steady_clock::now();
  bool discovered = false;        // found through the DHT (relays: auto), not configured
  unsigned failures = 0;          // reservation attempts failed in a row
};

std::string_view to_string(relay_slot::state s);

class reservation_keeper {
 public:
  // `on_change` runs after our circuit addresses changed (e.g. to push identify).
  reservation_keeper(net::host& h, std::vector<multiaddr> relays,
                     std::function<void()> on_change = {});
  ~reservation_keeper();

  // Spawns one coroutine per relay on the host's executor.
  void start();
  // Adds a relay found at run time (relays: auto) and, once started, starts
  // keeping a reservation on it. False when the relay is already kept.
  bool add_relay(multiaddr relay);
  void stop();

  const std::vector<relay_slot>& slots() const { return slots_; }
  std::vector<multiaddr> circuit_addrs() const;
  bool is_our_relay(const peer_id& p) const;

 private:
  net::awaitable<void> keep(std::size_t index);
  void publish();

  net::host& host_;
  std::vector<relay_slot> slots_;
  std::function<void()> on_change_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::vector<std::unique_ptr<net::asio::steady_timer>> timers_;
  bool started_ = false;
};

}  // namespace peerup::protocols
