#include "naming/target.hpp"

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

}  // namespace peerup::app
