// The Circuit Relay v2 pieces the in-process integration tests share: a home
// node holding a reservation, clients that dial through /p2p-circuit, and the
// circuit address of a peer behind a relay.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "protocols/relay_reservations.hpp"
#include "support/async_test.hpp"

namespace peerup::test {

// "<relay>/p2p-circuit/p2p/<target>", where `relay` ends in the relay's /p2p.
inline multiaddr circuit_addr(const multiaddr& relay, const peer_id& target) {
  return *multiaddr::parse(relay.to_string() + "/p2p-circuit/p2p/" + target.to_string());
}

// Starts keeping a reservation for `home` on `relay` and accepts the circuits
// (STOP) that relay opens. `keeper` is owned by the caller (a fixture member),
// outlives `home`'s handlers, and must be stopped before the io_context runs
// down.
inline void reserve_on(net::host& home, const multiaddr& relay,
                       std::optional<protocols::reservation_keeper>& keeper) {
  keeper.emplace(home, std::vector<multiaddr>{relay});
  protocols::install_relay_stop(
      home, [&keeper](const peer_id& p) { return keeper && keeper->is_our_relay(p); });
  keeper->start();
}

// A started host without listeners that reaches others through relays; its
// ID joins `authorized` (the relay's allow-list) when `authorize` is set.
inline std::unique_ptr<net::host> circuit_client(asio::io_context& io,
                                                 std::set<peer_id>& authorized, bool authorize) {
  auto c = std::make_unique<net::host>(io.get_executor(),
                                       net::host_config{.identity = private_key::generate()});
  if (authorize) authorized.insert(c->id());
  protocols::install_circuit_dialer(*c);
  c->start();
  return c;
}

}  // namespace peerup::test
