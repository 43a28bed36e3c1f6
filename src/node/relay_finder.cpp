#include "node/relay_finder.hpp"

#include <algorithm>

namespace peerup::app {

namespace {

bool is_loopback(const std::string& a) {
  return a.rfind("/ip4/127.", 0) == 0 || a.rfind("/ip6/::1/", 0) == 0;
}

bool dialable(const std::string& a) {
  if (a.find("/p2p-circuit") != std::string::npos) return false;
  if (a.rfind("/ip4/", 0) != 0 && a.rfind("/ip6/", 0) != 0) return false;
  // A wildcard is a listen address leaked into a record, not a place to dial.
  if (a.rfind("/ip4/0.0.0.0/", 0) == 0 || a.rfind("/ip6/::/", 0) == 0) return false;
  return a.find("/tcp/") != std::string::npos || a.find("/quic-v1") != std::string::npos;
}

}  // namespace

std::optional<multiaddr> relay_dial_addr(const std::vector<multiaddr>& addrs) {
  std::optional<multiaddr> loopback;
  for (const auto& a : addrs) {
    const auto text = a.without_peer().to_string();
    if (!dialable(text)) continue;
    // In a namespace or on a LAN the relay's loopback address is our own
    // machine: take it only when the relay offers nothing else (one host).
    if (is_loopback(text)) {
      if (!loopback) loopback = a.without_peer();
      continue;
    }
    return a.without_peer();
  }
  return loopback;
}

relay_choice choose_relays(const std::vector<dht::provider>& found, const dht_config& cfg,
                           const peer_id& self, const std::function<bool(const peer_id&)>& kept,
                           std::size_t room) {
  relay_choice out;
  for (const auto& p : found) {
    if (out.chosen.size() >= room) break;
    if (p.id == self || (kept && kept(p.id))) continue;
    const bool twice = std::any_of(out.chosen.begin(), out.chosen.end(),
                                   [&](const multiaddr& m) { return m.peer() == p.id; });
    if (twice) continue;
    if (cfg.relays_from == relay_policy::authorized &&
        std::find(cfg.relay_peers.begin(), cfg.relay_peers.end(), p.id) == cfg.relay_peers.end()) {
      out.skipped.push_back(p.id.to_string() + ": not in dht.relay_peers (relay_policy authorized)");
      continue;
    }
    auto addr = relay_dial_addr(p.addrs);
    if (!addr) {
      out.skipped.push_back(p.id.to_string() + ": no TCP or QUIC address to dial");
      continue;
    }
    out.chosen.push_back(addr->with_peer(p.id));
  }
  return out;
}

}  // namespace peerup::app
