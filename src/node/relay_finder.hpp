// Relay discovery (issue 17, docs/dht.md "Finding relays"): a node with
// `relays: auto`, or with no relays and a dht.bootstrap list, looks up the
// providers of the relay namespace (dht::relay_namespace) in the DHT and
// reserves on those its relay policy accepts (dht.relay_policy: only the
// peer IDs of dht.relay_peers by default, or `any`).
//
// choose_relays is the pure part (policy, de-duplication, address choice),
// unit tested on its own; the daemon's relay_finder_loop runs it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/dht_config.hpp"
#include "dht/provider_store.hpp"

namespace peerup::app {

struct relay_choice {
  std::vector<multiaddr> chosen;    // each ends in /p2p/<relay>, ready for the keeper
  std::vector<std::string> skipped; // "<peer>: <why>", for the log
};

// From the providers `found`, the relays to add: accepted by `cfg`'s policy,
// not `self`, not already kept (`kept`), with an address we can dial (TCP or
// QUIC, not a circuit; loopback only when nothing else is offered); at most
// `room` of them, in the order found.
relay_choice choose_relays(const std::vector<dht::provider>& found, const dht_config& cfg,
                           const peer_id& self, const std::function<bool(const peer_id&)>& kept,
                           std::size_t room);

// The address of `addrs` to reserve through (see choose_relays), or none.
std::optional<multiaddr> relay_dial_addr(const std::vector<multiaddr>& addrs);

}  // namespace peerup::app
