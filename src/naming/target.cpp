#include "naming/target.hpp"

namespace peerup::app {

multiaddr circuit_address(const multiaddr& relay, const peer_id& peer) {
  auto circuit = multiaddr::parse("/p2p-circuit");
  return relay.encapsulate(*circuit).encapsulate(multiaddr::from_peer(peer));
}

boost::system::result<dial_plan, target_error> resolve_target(const std::string& text,
                                                              const config* cfg) {
  if (text.empty()) return target_error{"empty target"};
  if (text.front() == '/') {
    auto a = multiaddr::parse(text);
    if (!a) return target_error{"bad multiaddr \"" + text + "\": " + a.error().message()};
    // Without /p2p/ any peer would be accepted at that address: refuse.
    if (!a->peer()) return target_error{"multiaddr \"" + text + "\" must end in /p2p/<peer-id>"};
    return dial_plan{*a->peer(), {}, *a};
  }
  std::optional<dial_plan> plan;
  if (cfg) {
    if (auto it = cfg->names.find(text); it != cfg->names.end()) {
      plan = dial_plan{it->second.peer, {}, std::nullopt};
      if (it->second.addr) plan->addrs.push_back(*it->second.addr);
    }
  }
  if (!plan) {
    auto id = peer_id::parse(text);
    if (!id)
      return target_error{"\"" + text +
                          "\" is neither a name in the config's names:, a peer ID nor a multiaddr"};
    plan = dial_plan{*id, {}, std::nullopt};
  }
  if (cfg)
    for (const auto& r : cfg->relays)
      if (r.peer() != plan->peer) plan->addrs.push_back(circuit_address(r, plan->peer));
  if (plan->addrs.empty())
    return target_error{"no address for " + plan->peer.to_string() +
                        ": add a relay (peerup relay add <multiaddr>) or give a full multiaddr"};
  return *plan;
}

net::awaitable<result<net::connection_ptr>> connect_target(net::host& h, const dial_plan& plan) {
  if (plan.exact) co_return co_await h.connect(*plan.exact);
  h.peers().add_addrs(plan.peer, plan.addrs);
  co_return co_await h.connect(plan.peer);
}

}  // namespace peerup::app
