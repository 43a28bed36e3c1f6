// The gateway core with a fake naming layer: how host names become peers and
// services, which failure each case is (the SOCKS reply follows from it),
// the catalog cache, virtual-IP listeners and the connection limit. No peer
// is ever reachable here, so nothing leaves the process.
#include "gateway/gateway.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"
#include "gateway/socks_server.hpp"
#include "support/async_test.hpp"

namespace peerup::app {
namespace {

using test::run_async;

struct fake_directory : peer_directory {
  std::map<std::string, peer_id> names;
  std::vector<gateway_service> catalog;
  boost::system::error_code resolve_error = make_error_code(errc::name_not_found);
  boost::system::error_code catalog_error;
  int catalog_fetches = 0;
  std::vector<std::string> asked;
  std::vector<bool> asked_in_zone;

  net::awaitable<result<directory_entry>> resolve(const std::string& name, bool in_zone) override {
    asked.push_back(name);
    asked_in_zone.push_back(in_zone);
    if (auto it = names.find(name); it != names.end())
      co_return directory_entry{it->second, {}, "fake"};
    co_return resolve_error;
  }
  net::awaitable<result<std::vector<gateway_service>>> services(const peer_id&) override {
    ++catalog_fetches;
    if (catalog_error) co_return catalog_error;
    co_return catalog;
  }
};

struct gateway_core : ::testing::Test {
  net::asio::io_context io;
  net::host host{io.get_executor(), net::host_config{.identity = private_key::generate()}};
  std::shared_ptr<fake_directory> dir = std::make_shared<fake_directory>();
  peer_id home = private_key::generate().to_peer_id();
  peer_id other = private_key::generate().to_peer_id();

  gateway_core() {
    dir->names.insert_or_assign("home", home);
    dir->names.insert_or_assign("ssh.other", other);  // a name that looks like <service>.<name>
    dir->names.insert_or_assign("other", other);
    dir->catalog = {{"ssh", 22}, {"web", 8080}};
  }

  gateway_result<gateway_target> lookup(gateway& gw, const std::string& host_name) {
    std::optional<gateway_result<gateway_target>> out;
    run_async(io, [&]() -> net::awaitable<void> { out = co_await gw.lookup(host_name); });
    return std::move(*out);
  }
  gateway_result<net::stream_ptr> open(gateway& gw, const gateway_target& t, std::uint16_t port) {
    std::optional<gateway_result<net::stream_ptr>> out;
    run_async(io, [&]() -> net::awaitable<void> { out = co_await gw.open(t, port); });
    return std::move(*out);
  }
};

TEST_F(gateway_core, resolves_names_with_and_without_the_zone_suffix) {
  gateway gw(host, gateway_config{}, dir);
  for (auto name : {"home", "home.p2p", "home.P2P.", "home."}) {
    auto t = lookup(gw, name);
    ASSERT_TRUE(t) << name << ": " << t.error().message;
    EXPECT_EQ(t->peer, home) << name;
    EXPECT_FALSE(t->service) << name;
  }
  EXPECT_EQ(dir->asked.back(), "home");  // the suffix never reaches the resolver
  // Only a name in the zone may be asked of other (federated) networks: what
  // a SOCKS client sends unqualified ("example.com") must not reach a relay.
  EXPECT_EQ(dir->asked_in_zone, (std::vector<bool>{false, true, true, false}));
}

TEST_F(gateway_core, a_service_label_in_front_of_a_name_picks_that_service) {
  gateway gw(host, gateway_config{}, dir);
  auto t = lookup(gw, "web.home.p2p");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->peer, home);
  EXPECT_EQ(t->service, "web");
  // Names win: "ssh.other" is itself a name, so it is that peer, no service.
  auto named = lookup(gw, "ssh.other");
  ASSERT_TRUE(named);
  EXPECT_FALSE(named->service);
}

TEST_F(gateway_core, classifies_unknown_names_by_zone) {
  gateway gw(host, gateway_config{}, dir);
  auto outside = lookup(gw, "example.com");
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().kind, gateway_failure::not_peerup_name);
  EXPECT_EQ(to_socks_reply(outside.error().kind), wire::socks5::reply::not_allowed);
  auto inside = lookup(gw, "nobody.p2p");
  ASSERT_FALSE(inside);
  EXPECT_EQ(inside.error().kind, gateway_failure::unknown_name);
  EXPECT_EQ(to_socks_reply(inside.error().kind), wire::socks5::reply::host_unreachable);
  // Text no name can have is refused without asking the resolver.
  const auto asked = dir->asked.size();
  for (auto bad : {"", ".", "a..b", "bad name.p2p", "x/y", "p2p"}) EXPECT_FALSE(lookup(gw, bad));
  EXPECT_EQ(dir->asked.size(), asked + 1);  // only "p2p" itself (outside its own zone) is asked
  // A SOCKS client chooses these bytes; the message (logged) shows them escaped.
  auto forged = lookup(gw, "x\n[info] forged.p2p");
  ASSERT_FALSE(forged);
  EXPECT_EQ(forged.error().message,
            "no peer-up name \"x\\x0a[info] forged.p2p\" (unknown to every tier)");
}

TEST_F(gateway_core, a_configured_zone_replaces_p2p) {
  gateway_config cfg;
  cfg.zone = "peerup.internal";
  gateway gw(host, cfg, dir);
  EXPECT_TRUE(lookup(gw, "home.peerup.internal"));
  EXPECT_EQ(lookup(gw, "nobody.peerup.internal").error().kind, gateway_failure::unknown_name);
  EXPECT_EQ(lookup(gw, "nobody.p2p").error().kind, gateway_failure::not_peerup_name);
}

TEST_F(gateway_core, resolver_failures_other_than_not_found_are_unreachable) {
  dir->resolve_error = make_error_code(errc::timeout);
  gateway gw(host, gateway_config{}, dir);
  auto t = lookup(gw, "somewhere.p2p");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().kind, gateway_failure::unreachable);
}

// Issue 21, defect 3: a name whose relay could not be asked is "host
// unreachable" (SOCKS 0x04, DNS SERVFAIL), inside the zone or not, never
// "not a peer-up name" (0x02) or "unknown" (NXDOMAIN).
TEST_F(gateway_core, a_name_that_could_not_be_looked_up_is_unreachable_not_unknown) {
  dir->resolve_error = make_error_code(errc::name_lookup_failed);
  gateway gw(host, gateway_config{}, dir);
  for (auto name : {"laptop.grewal", "laptop.grewal.p2p"}) {
    auto t = lookup(gw, name);
    ASSERT_FALSE(t) << name;
    EXPECT_EQ(t.error().kind, gateway_failure::unreachable) << name;
    EXPECT_EQ(to_socks_reply(t.error().kind), wire::socks5::reply::host_unreachable) << name;
    EXPECT_NE(t.error().message.find("cannot look up"), std::string::npos) << t.error().message;
  }
  // The service split is still tried: "web.home" could not be looked up as a
  // whole, but "home" is known.
  auto service = lookup(gw, "web.home");
  ASSERT_TRUE(service) << service.error().message;
  EXPECT_EQ(service->peer, home);
  EXPECT_EQ(service->service, "web");
}

TEST_F(gateway_core, a_port_without_a_service_is_refused_and_lists_the_services) {
  gateway gw(host, gateway_config{}, dir);
  const gateway_target t{home, std::nullopt, "home"};
  auto s = open(gw, t, 9999);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, gateway_failure::refused);
  EXPECT_EQ(to_socks_reply(s.error().kind), wire::socks5::reply::connection_refused);
  EXPECT_NE(s.error().message.find("(its services: ssh 22, web 8080)"), std::string::npos)
      << s.error().message;
  // Cached: a second miss right away does not ask the peer again.
  EXPECT_FALSE(open(gw, t, 9998));
  EXPECT_EQ(dir->catalog_fetches, 1);
}

TEST_F(gateway_core, a_known_port_goes_on_to_dial_the_peer) {
  gateway gw(host, gateway_config{}, dir);
  auto s = open(gw, gateway_target{home, std::nullopt, "home"}, 22);
  ASSERT_FALSE(s);  // no address known for the peer in this test
  EXPECT_EQ(s.error().kind, gateway_failure::unreachable) << s.error().message;
}

TEST_F(gateway_core, catalog_refusals_map_to_not_allowed_and_refused) {
  dir->catalog_error = make_error_code(errc::stream_reset);
  gateway gw(host, gateway_config{}, dir);
  auto denied = open(gw, gateway_target{home, std::nullopt, "home"}, 22);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind, gateway_failure::not_allowed);
  dir->catalog_error = make_error_code(errc::protocol_not_supported);
  auto old = open(gw, gateway_target{other, std::nullopt, "other"}, 22);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().kind, gateway_failure::refused);
}

TEST_F(gateway_core, virtual_ips_are_stable_per_peer_and_listened_on_per_service_port) {
  net::tcp::acceptor probe(io, net::tcp::endpoint(net::asio::ip::address_v4::loopback(), 0));
  const auto port = probe.local_endpoint().port();  // free on 127.0.0.1, so likely on 127.64/16
  probe.close();
  dir->catalog = {{"web", port}};
  gateway gw(host, gateway_config{}, dir);
  std::optional<gateway_result<std::uint32_t>> a, b, c;
  run_async(io, [&]() -> net::awaitable<void> {
    const gateway_target t1{home, std::nullopt, "home"}, t2{home, std::string("web"), "w"},
        t3{other, std::nullopt, "other"};
    a = co_await gw.virtual_ip(t1);
    b = co_await gw.virtual_ip(t2);
    c = co_await gw.virtual_ip(t3);
  });
  ASSERT_TRUE(*a && *b && *c);
  EXPECT_EQ(**a, **b);
  EXPECT_NE(**a, **c);
  EXPECT_TRUE(gw.settings().virtual_network.contains(**a));
  EXPECT_EQ(gw.lookup_ip(**a)->peer, home);
  EXPECT_FALSE(gw.lookup_ip(0x7f000001));
  EXPECT_EQ(gw.listener_count(), 2u);  // one port on each of two addresses
  // Something accepts on <virtual IP>:<port>.
  bool connected = false;
  run_async(io, [&]() -> net::awaitable<void> {
    net::tcp::socket s(io);
    const net::tcp::endpoint ep(net::asio::ip::address_v4(**a), port);
    auto [ec] = co_await s.async_connect(ep, net::use_nothrow);
    connected = !ec;
  });
  EXPECT_TRUE(connected);
}

TEST_F(gateway_core, the_connection_limit_counts_slots_until_they_are_released) {
  gateway_config cfg;
  cfg.max_connections = 2;
  gateway gw(host, cfg, dir);
  auto s1 = gw.try_acquire();
  auto s2 = gw.try_acquire();
  ASSERT_TRUE(s1 && s2);
  EXPECT_FALSE(gw.try_acquire());
  EXPECT_EQ(gw.active_connections(), 2u);
  s1.reset();
  EXPECT_EQ(gw.active_connections(), 1u);
  EXPECT_TRUE(gw.try_acquire());
}

}  // namespace
}  // namespace peerup::app
