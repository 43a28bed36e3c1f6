#include "naming/target.hpp"

#include <algorithm>

namespace peerup::app {

multiaddr circuit_address(const multiaddr& relay, const peer_id& peer) {
  auto circuit = multiaddr::parse("/p2p-circuit");
  return relay.encapsulate(*circuit).encapsulate(multiaddr::from_peer(peer));
}

target_result plan_multiaddr(const std::string& text) {
  auto a = multiaddr::parse(text);
  if (!a) return target_error{"bad multiaddr \"" + text + "\": " + a.error().message()};
  // Without /p2p/ any peer would be accepted at that address: refuse.
  if (!a->peer())
    return target_error{"multiaddr \"" + text +
                        "\" must end in /p2p/<peer-id> (without it, whichever peer answers "
                        "there would be trusted)"};
  return dial_plan{*a->peer(), {}, *a, "multiaddr"};
}

net::awaitable<target_result> resolve_target(name_resolver& resolver, std::string text) {
  if (text.empty()) co_return target_error{"empty target"};
  if (text.front() == '/') co_return plan_multiaddr(text);
  auto r = co_await resolver.resolve(text);
  if (!r) co_return target_error{r.error().message};
  if (r->addrs.empty())
    co_return target_error{"no address for " + r->peer.to_string() + " (\"" + text + "\", " +
                           r->source +
                           "): add a relay (peerup relay add <multiaddr>), a network "
                           "(networks: in the config), or give a full multiaddr"};
  co_return dial_plan{r->peer, std::move(r->addrs), std::nullopt, std::move(r->source)};
}

net::awaitable<result<net::connection_ptr>> connect_target(net::host& h, const dial_plan& plan) {
  if (plan.exact) co_return co_await h.connect(*plan.exact);
  h.peers().add_addrs(plan.peer, plan.addrs);
  co_return co_await h.connect(plan.peer);
}

net::awaitable<bool> add_dht_addrs(protocols::kad_node& k, dial_plan& plan,
                                   std::vector<peer_id>& relays, net::steady_clock::duration limit) {
  if (plan.exact) co_return false;
  auto looking = [](protocols::kad_node& node,
                    peer_id p) -> net::awaitable<result<std::optional<wire::peer_record>>> {
    auto inner = node.find_peer_record(std::move(p));
    co_return co_await std::move(inner);
  }(k, plan.peer);
  auto bounded = net::with_timeout(std::move(looking), limit);
  auto found = co_await std::move(bounded);
  if (!found || !*found) co_return false;
  const auto& rec = **found;
  std::vector<multiaddr> addrs;
  for (const auto& a : rec.addrs) {
    // The record is the peer's own claim (Noise checks who answers), so every
    // address is made to end in /p2p/<peer>.
    const bool circuit_end = a.to_string().ends_with("/p2p-circuit");
    auto full = circuit_end ? a.encapsulate(multiaddr::from_peer(plan.peer)) : a.with_peer(plan.peer);
    if (auto relay = full.relay_addr(); relay && relay->peer()) relays.push_back(*relay->peer());
    addrs.push_back(std::move(full));
  }
  for (auto& a : plan.addrs)
    if (std::find(addrs.begin(), addrs.end(), a) == addrs.end()) addrs.push_back(std::move(a));
  plan.addrs = std::move(addrs);
  plan.source += ", then its peer record in the DHT (seq " + std::to_string(rec.seq) + ")";
  co_return true;
}

}  // namespace peerup::app
