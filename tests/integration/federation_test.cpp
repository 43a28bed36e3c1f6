// Relay federation in one process (issue 18, docs/federation.md): three
// relays (grewal, bob, alice) serving names and /peerup/federation/1.0.0 on
// loopback, a home node registered in each network, and members resolving
// names of the other networks through their own relay.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "naming/resolver.hpp"
#include "net/length_prefixed_io.hpp"
#include "protocols/federation.hpp"
#include "protocols/names.hpp"
#include "support/relay_support.hpp"

namespace peerup::test {
namespace {

using ::testing::HasSubstr;
using name_state = protocols::name_registration::state;

wire::dns_label label(std::string_view s) { return wire::dns_label::parse(s).value(); }

// One network: its relay (names + federation) and one registered home node.
struct network_site {
  std::string name;
  std::set<peer_id> authorized;
  private_key key = private_key::generate();
  std::optional<net::host> relay;
  std::optional<protocols::names_server> names;
  std::optional<protocols::federation_service> federation;
  std::optional<net::host> home;
  std::optional<protocols::name_registrar> registrar;

  multiaddr addr() { return relay->full_addrs().front(); }
  void stop() {
    if (registrar) registrar->stop();
  }
};

struct federation_setup : ::testing::Test {
  asio::io_context io;
  net::steady_clock::time_point now = net::steady_clock::now();
  std::uint64_t unix_now = 1700000000;
  network_site grewal{"grewal"}, bob{"bob"}, alice{"alice"};

  void TearDown() override {
    for (auto* s : {&grewal, &bob, &alice}) s->stop();
  }

  void start_relay(network_site& s) {
    s.relay.emplace(io.get_executor(),
                    net::host_config{.identity = s.key,
                                     .listen = {multiaddr::from_tcp("127.0.0.1", 0)}});
    s.relay->start();
    wire::name_registry_limits limits;
    limits.min_ttl = 1s;
    s.names.emplace(*s.relay,
                    protocols::names_server_config{label(s.name), limits,
                                                   [&s](const peer_id& p) {
                                                     return s.authorized.contains(p);
                                                   }});
  }
  // The federation service of `s` with these peerings (trust from s's side).
  void federate(network_site& s,
                std::vector<std::pair<network_site*, wire::federation_trust>> peers) {
    wire::federation_state st(label(s.name), {});
    for (auto& [other, trust] : peers)
      EXPECT_TRUE(st.add_peering(
          wire::federation_peering::make(label(other->name), other->addr(), trust).value()));
    protocols::federation_options o;
    o.request_timeout = 2s;
    o.tick = 1h;  // the background loop stays out of the way
    o.clock = [this] { return now; };
    o.unix_clock = [this] { return unix_now; };
    auto* names = &*s.names;
    s.federation.emplace(*s.relay, s.key, std::move(st),
                         [names](const wire::dns_label& h, net::steady_clock::time_point) {
                           return names->lookup_local(h, net::steady_clock::now());
                         },
                         o);
    s.names->set_federation(&*s.federation);
  }
  void start_home(network_site& s, std::string_view host) {
    s.home.emplace(io.get_executor(), net::host_config{.identity = private_key::generate()});
    s.authorized.insert(s.home->id());
    s.home->start();
    protocols::name_registrar_options o;
    o.min_backoff = 100ms;
    s.registrar.emplace(*s.home, label(host),
                        std::vector<std::pair<wire::dns_label, multiaddr>>{{label(s.name), s.addr()}},
                        o);
    s.registrar->start();
  }
  // A member of `s`: a client host and a resolver whose config lists only s.
  struct member {
    std::unique_ptr<net::host> host;
    std::unique_ptr<app::config> cfg;  // the resolver keeps a reference
    std::unique_ptr<app::name_resolver> resolver;
  };
  member make_member(network_site& s) {
    member m;
    m.host = circuit_client(io, s.authorized, true);
    auto cfg = app::parse_config("networks:\n  " + s.name + ":\n    - " + s.addr().to_string() +
                                     "\n",
                                 "/tmp/peerup-federation-test.yaml");
    EXPECT_TRUE(cfg);
    m.cfg = std::make_unique<app::config>(std::move(*cfg));
    app::resolver_options o;
    o.lookup_timeout = 5s;
    m.resolver = std::make_unique<app::name_resolver>(*m.host, *m.cfg, o);
    return m;
  }
  net::awaitable<bool> registered(network_site& s) {
    co_return co_await eventually(
        [&] { return s.registrar->registrations().front().current == name_state::registered; },
        10s);
  }
  // grewal <-> bob full; alice -> grewal one way (grewal lists alice
  // one_way, alice lists grewal full). Homes: home.grewal, server.bob,
  // desk.alice.
  void start_all() {
    for (auto* s : {&grewal, &bob, &alice}) start_relay(*s);
    federate(grewal, {{&bob, wire::federation_trust::full},
                      {&alice, wire::federation_trust::one_way}});
    federate(bob, {{&grewal, wire::federation_trust::full}});
    federate(alice, {{&grewal, wire::federation_trust::full}});
    start_home(grewal, "home");
    start_home(bob, "server");
    start_home(alice, "desk");
  }
};

TEST_F(federation_setup, full_trust_resolves_both_ways_through_the_own_relay) {
  start_all();
  auto laptop = make_member(grewal);
  auto phone = make_member(bob);
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await registered(bob));
    EXPECT_TRUE(co_await registered(grewal));
    auto got = co_await laptop.resolver->resolve("server.bob");
    EXPECT_TRUE(got) << got.error().message;
    if (!got) co_return;
    EXPECT_EQ(got->peer, bob.home->id());
    EXPECT_EQ(got->tier, app::name_tier::relay);
    // first address: the circuit through bob's relay, where the host is reserved
    EXPECT_EQ(got->addrs.front().to_string(),
              bob.addr().to_string() + "/p2p-circuit/p2p/" + bob.home->id().to_string());
    auto back = co_await phone.resolver->resolve("home.grewal");
    EXPECT_TRUE(back && back->peer == grewal.home->id());
    EXPECT_EQ(bob.federation->stats().served, 1u);
    EXPECT_EQ(grewal.federation->stats().served, 1u);
    // names of another network that nobody registered are "not found"
    auto ghost = co_await laptop.resolver->resolve("ghost.bob");
    EXPECT_FALSE(ghost);
    if (!ghost) {
      EXPECT_EQ(ghost.error().code, make_error_code(errc::name_not_found));
    }
  });
}

TEST_F(federation_setup, one_way_works_one_way_and_the_other_way_is_refused_clearly) {
  start_all();
  auto laptop = make_member(grewal);
  auto tablet = make_member(alice);
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await registered(grewal));
    EXPECT_TRUE(co_await registered(alice));
    // alice's members reach grewal's hosts
    auto in = co_await tablet.resolver->resolve("home.grewal");
    EXPECT_TRUE(in && in->peer == grewal.home->id()) << (in ? "" : in.error().message);
    // grewal's members never reach alice's
    auto out = co_await laptop.resolver->resolve("desk.alice");
    EXPECT_FALSE(out);
    if (out) co_return;
    EXPECT_EQ(out.error().code, make_error_code(errc::name_not_found));
    EXPECT_THAT(out.error().message,
                HasSubstr("network alice is one_way from grewal: its members reach grewal, "
                          "grewal's members do not reach it"));
    EXPECT_EQ(alice.federation->stats().served, 0u);
  });
}

TEST_F(federation_setup, unfederated_network_is_refused_with_the_reason) {
  start_all();
  auto phone = make_member(bob);
  run_async(io, [&]() -> net::awaitable<void> {
    auto out = co_await phone.resolver->resolve("desk.alice");
    EXPECT_FALSE(out);
    if (out) co_return;
    EXPECT_THAT(out.error().message,
                HasSubstr("this relay serves network bob and is not federated with network alice"));
  });
}

TEST_F(federation_setup, a_relay_claiming_names_in_a_third_network_is_refused) {
  // A rogue "bob" relay answers every lookup with a record for alice's
  // network, correctly signed by its own key.
  start_relay(grewal);
  net::host rogue(io.get_executor(),
                  net::host_config{.identity = bob.key,
                                   .listen = {multiaddr::from_tcp("127.0.0.1", 0)}});
  rogue.start();
  const peer_id victim = private_key::generate().to_peer_id();
  rogue.set_handler(protocols::federation_protocol,
                    [&](net::stream_ptr s, net::stream_context) -> net::awaitable<void> {
                      auto raw = co_await net::read_length_prefixed(*s, 8192);
                      if (!raw) co_return;
                      wire::federation_response r;
                      r.record = wire::seal_name_record(
                          bob.key, wire::name_record_body{label("alice"), label("server"), victim,
                                                          {}, unix_now, 600});
                      const bytes out = r.encode();
                      (void)co_await net::write_length_prefixed(*s, out);
                      (void)co_await s->close_write();
                    });
  wire::federation_state st(label("grewal"), {});
  ASSERT_TRUE(st.add_peering(wire::federation_peering::make(label("bob"), rogue.full_addrs().front(),
                                                            wire::federation_trust::full)
                                 .value()));
  protocols::federation_options o;
  o.tick = 1h;
  o.unix_clock = [this] { return unix_now; };
  grewal.federation.emplace(*grewal.relay, grewal.key, std::move(st), nullptr, o);
  grewal.names->set_federation(&*grewal.federation);
  auto laptop = make_member(grewal);
  run_async(io, [&]() -> net::awaitable<void> {
    auto got = co_await laptop.resolver->resolve("server.bob");
    EXPECT_FALSE(got);
    if (got) co_return;
    EXPECT_EQ(got.error().code, make_error_code(errc::name_lookup_failed));
    EXPECT_THAT(got.error().message, HasSubstr("network bob unreachable (relay "));
    EXPECT_THAT(got.error().message, HasSubstr("name record claims another network"));
    EXPECT_EQ(grewal.federation->stats().bad_records, 1u);
    EXPECT_EQ(grewal.federation->state().cache_size(), 0u);
  });
}

TEST_F(federation_setup, peer_relay_down_falls_back_to_the_cache_then_says_unreachable) {
  start_all();
  auto laptop = make_member(grewal);
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await registered(bob));
    auto first = co_await laptop.resolver->resolve("server.bob");
    EXPECT_TRUE(first) << first.error().message;
    const auto bob_addr = bob.addr();
    // bob's relay goes away
    bob.stop();
    bob.federation.reset();
    bob.names.reset();
    bob.relay->stop();
    // the member's own cache is cleared (a new `peerup resolve`); grewal's
    // relay has the answer fresh, then stale
    laptop.resolver->clear_cache();
    auto fresh = co_await laptop.resolver->resolve("server.bob");
    EXPECT_TRUE(fresh && fresh->peer == bob.home->id());
    now += 301s;  // past cache_ttl: stale, and bob is asked and down
    laptop.resolver->clear_cache();
    auto stale = co_await laptop.resolver->resolve("server.bob");
    EXPECT_TRUE(stale && stale->peer == bob.home->id()) << (stale ? "" : stale.error().message);
    EXPECT_EQ(grewal.federation->stats().stale_answers, 1u);
    auto st = grewal.federation->state().status(label("bob"));
    EXPECT_TRUE(st && !st->up);
    now += 3600s;  // past stale_ttl
    laptop.resolver->clear_cache();
    auto gone = co_await laptop.resolver->resolve("server.bob");
    EXPECT_FALSE(gone);
    if (gone) co_return;
    EXPECT_EQ(gone.error().code, make_error_code(errc::name_lookup_failed));
    EXPECT_THAT(gone.error().message,
                HasSubstr("network bob unreachable (relay " + bob_addr.to_string() + ")"));
  });
}

TEST_F(federation_setup, removing_a_peering_takes_effect_at_once) {
  start_all();
  auto laptop = make_member(grewal);
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await registered(bob));
    EXPECT_TRUE(co_await laptop.resolver->resolve("server.bob"));
    std::string why;
    // bob's relay drops grewal: grewal's lookups are refused at bob
    EXPECT_TRUE(bob.federation->set_peerings({}, &why));
    // and grewal drops bob: its cache of bob goes with it
    EXPECT_TRUE(grewal.federation->set_peerings(
        {wire::federation_peering::make(label("alice"), alice.addr(),
                                        wire::federation_trust::one_way)
             .value()},
        &why));
    laptop.resolver->clear_cache();
    auto gone = co_await laptop.resolver->resolve("server.bob");
    EXPECT_FALSE(gone);
    if (gone) co_return;
    EXPECT_THAT(gone.error().message, HasSubstr("not federated with network bob"));
  });
}

}  // namespace
}  // namespace peerup::test
