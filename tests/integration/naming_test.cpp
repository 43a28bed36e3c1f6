// Naming in one process (issue 6): a relay serving /peerup/names/1.0.0, a
// home node registering "home" in network "grewal", and clients resolving
// "home.grewal" through the relay and reaching the home node by the answer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "naming/resolver.hpp"
#include "node/service_catalog.hpp"
#include "protocols/names.hpp"
#include "protocols/relay_server.hpp"
#include "support/relay_support.hpp"

namespace peerup::test {
namespace {

using ::testing::HasSubstr;
using name_state = protocols::name_registration::state;

wire::dns_label label(std::string_view s) { return wire::dns_label::parse(s).value(); }

struct naming_setup : ::testing::Test {
  asio::io_context io;
  std::set<peer_id> authorized;
  wire::name_registry_limits limits;
  std::optional<net::host> relay;
  std::optional<protocols::relay_server> hop;
  std::optional<protocols::names_server> names;
  net::host home{io.get_executor(), net::host_config{.identity = private_key::generate()}};
  std::optional<protocols::reservation_keeper> keeper;
  std::optional<protocols::name_registrar> registrar;
  app::config client_cfg;
  net::steady_clock::time_point now = net::steady_clock::time_point{} + 1000h;

  void SetUp() override {
    limits.min_ttl = 1s;
    authorized.insert(home.id());
  }
  void start(std::uint32_t requested_ttl = 0) {
    relay.emplace(io.get_executor(),
                  net::host_config{.identity = private_key::generate(),
                                   .listen = {multiaddr::from_tcp("127.0.0.1", 0)}});
    relay->start();
    auto allowed = [this](const peer_id& p) { return authorized.contains(p); };
    hop.emplace(*relay, protocols::relay_server_config{.is_authorized = allowed});
    names.emplace(*relay, protocols::names_server_config{label("grewal"), limits, allowed});
    home.set_handler(echo_protocol, serve_echo);
    home.start();
    reserve_on(home, relay_addr(), keeper);
    registrar.emplace(home, label("home"), targets(), fast(requested_ttl));
    registrar->start();
    auto cfg = app::parse_config("networks:\n  grewal:\n    - " + relay_addr().to_string() + "\n",
                                 "/tmp/peerup-naming-test.yaml");
    ASSERT_TRUE(cfg) << cfg.error().to_string();
    client_cfg = std::move(*cfg);
  }
  void TearDown() override {
    if (registrar) registrar->stop();
    if (keeper) keeper->stop();
  }
  std::vector<std::pair<wire::dns_label, multiaddr>> targets() {
    return {{label("grewal"), relay_addr()}};
  }
  static protocols::name_registrar_options fast(std::uint32_t ttl) {
    protocols::name_registrar_options o;
    o.min_backoff = 100ms;
    o.taken_retry = 200ms;
    o.requested_ttl = ttl;
    return o;
  }
  multiaddr relay_addr() { return relay->full_addrs().front(); }
  std::unique_ptr<net::host> make_client(bool authorize) {
    return circuit_client(io, authorized, authorize);
  }
  app::resolver_options opts() {
    app::resolver_options o;
    o.clock = [this] { return now; };
    o.lookup_timeout = 5s;
    return o;
  }
  net::awaitable<bool> registered(protocols::name_registrar& r) {
    co_return co_await eventually(
        [&] { return r.registrations().front().current == name_state::registered; }, 10s);
  }
};

TEST_F(naming_setup, client_resolves_home_through_the_relay_and_reaches_it_by_the_answer) {
  start();
  auto client = make_client(true);
  app::name_resolver resolver(*client, client_cfg, opts());
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await registered(*registrar));
    auto got = co_await resolver.resolve("home.grewal.p2p");
    EXPECT_TRUE(got) << got.error().message;
    if (!got) co_return;
    EXPECT_EQ(got->peer, home.id());
    EXPECT_EQ(got->tier, app::name_tier::relay);
    EXPECT_EQ(got->source, "relay grewal (" + relay_addr().to_string() + ")");
    EXPECT_FALSE(got->cached);
    EXPECT_EQ(got->addrs.front().to_string(),
              relay_addr().to_string() + "/p2p-circuit/p2p/" + home.id().to_string());
    // The answer is enough to reach the home node through its relay.
    EXPECT_TRUE(co_await eventually(
        [&] { return keeper->slots().front().current == protocols::relay_slot::state::reserved; },
        10s));
    client->peers().add_addrs(got->peer, got->addrs);
    auto conn = co_await client->connect(got->peer);
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
    EXPECT_TRUE((*conn)->relayed);
    auto s = co_await client->new_stream(*conn, echo_protocol);
    EXPECT_TRUE(s);
    if (!s) co_return;
    const auto data = random_bytes(4096);
    auto back = co_await echo_roundtrip(*s->stream, data);
    EXPECT_TRUE(back && *back == data);
  });
}

TEST_F(naming_setup, answers_are_cached_for_the_ttl_then_asked_again) {
  start();
  auto client = make_client(true);
  app::name_resolver resolver(*client, client_cfg, opts());
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await registered(*registrar));
    auto first = co_await resolver.resolve("home.grewal");
    EXPECT_TRUE(first && !first->cached);
    now += 299s;
    auto second = co_await resolver.resolve("HOME.grewal");
    EXPECT_TRUE(second && second->cached);
    EXPECT_EQ(resolver.statistics().relay_queries, 1u);
    now += 2s;
    auto third = co_await resolver.resolve("home.grewal");
    EXPECT_TRUE(third && !third->cached);
    EXPECT_EQ(resolver.statistics().relay_queries, 2u);
    EXPECT_EQ(resolver.statistics().hits, 1u);
    EXPECT_EQ(resolver.statistics().misses, 2u);
  });
}

TEST_F(naming_setup, cache_never_outlives_the_relay_record) {
  limits.max_ttl = 30s;
  start();
  auto client = make_client(true);
  app::name_resolver resolver(*client, client_cfg, opts());
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await registered(*registrar));
    EXPECT_TRUE(co_await resolver.resolve("home.grewal"));
    now += 31s;
    auto again = co_await resolver.resolve("home.grewal");
    EXPECT_TRUE(again && !again->cached);
    EXPECT_EQ(resolver.statistics().relay_queries, 2u);
  });
}

TEST_F(naming_setup, not_registered_answers_are_cached_for_the_negative_ttl) {
  start();
  auto client = make_client(true);
  app::name_resolver resolver(*client, client_cfg, opts());
  run_async(io, [&]() -> net::awaitable<void> {
    auto first = co_await resolver.resolve("ghost.grewal");
    EXPECT_FALSE(first);
    if (first) co_return;
    EXPECT_THAT(first.error().message, HasSubstr("says not registered"));
    auto second = co_await resolver.resolve("ghost.grewal");
    EXPECT_FALSE(second);
    if (second) co_return;
    EXPECT_THAT(second.error().message, HasSubstr("(cached)"));
    EXPECT_EQ(resolver.statistics().relay_queries, 1u);
    now += 31s;
    (void)co_await resolver.resolve("ghost.grewal");
    EXPECT_EQ(resolver.statistics().relay_queries, 2u);
  });
}

TEST_F(naming_setup, concurrent_lookups_of_one_name_share_one_relay_query) {
  start();
  auto client = make_client(true);
  app::name_resolver resolver(*client, client_cfg, opts());
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await registered(*registrar));
    constexpr int n = 8;
    int done = 0, found = 0;
    net::signal finished(io.get_executor());
    for (int i = 0; i < n; ++i)
      asio::co_spawn(
          io,
          [&]() -> net::awaitable<void> {
            auto r = co_await resolver.resolve("home.grewal");
            if (r && r->peer == home.id()) ++found;
            if (++done == n) finished.notify();
          },
          asio::detached);
    while (done < n) co_await finished.wait();
    EXPECT_EQ(found, n);
    EXPECT_EQ(resolver.statistics().relay_queries, 1u);
  });
}

TEST_F(naming_setup, takeover_of_a_registered_name_by_another_peer_is_refused) {
  start();
  net::host intruder(io.get_executor(), net::host_config{.identity = private_key::generate()});
  authorized.insert(intruder.id());  // authorized, but the name is taken
  intruder.start();
  protocols::name_registrar second(intruder, label("home"), targets(), fast(0));
  auto client = make_client(true);
  app::name_resolver resolver(*client, client_cfg, opts());
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await registered(*registrar));
    second.start();
    EXPECT_TRUE(co_await eventually(
        [&] { return second.registrations().front().current == name_state::refused; }, 10s));
    EXPECT_THAT(second.registrations().front().last_error,
                HasSubstr("home.grewal is registered by another peer"));
    // A direct REGISTER says the same, and the name still points home.
    const wire::names_request req{
        wire::names_request_type::register_name, label("grewal"), label("home"), 0, {}};
    const auto addr = relay_addr();
    auto answer = co_await protocols::ask_names(intruder, addr, req, 5s);
    EXPECT_TRUE(answer && answer->status == wire::names_status::name_taken);
    auto got = co_await resolver.resolve("home.grewal");
    EXPECT_TRUE(got && got->peer == home.id());
    second.stop();
  });
}

TEST_F(naming_setup, unauthorized_peer_can_neither_register_nor_look_up) {
  start();
  auto stranger = make_client(false);
  app::name_resolver resolver(*stranger, client_cfg, opts());
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await registered(*registrar));
    const auto addr = relay_addr();
    const wire::names_request reg{
        wire::names_request_type::register_name, label("grewal"), label("evil"), 0, {}};
    auto r1 = co_await protocols::ask_names(*stranger, addr, reg, 5s);
    EXPECT_TRUE(r1 && r1->status == wire::names_status::permission_denied);
    const wire::names_request look{
        wire::names_request_type::lookup, label("grewal"), label("home"), 0, {}};
    auto r2 = co_await protocols::ask_names(*stranger, addr, look, 5s);
    EXPECT_TRUE(r2 && r2->status == wire::names_status::permission_denied);
    EXPECT_FALSE(r2 && r2->peer);
    auto got = co_await resolver.resolve("home.grewal");
    EXPECT_FALSE(got);
    if (!got) {
      EXPECT_THAT(got.error().message, HasSubstr("refused: permission denied"));
    }
    EXPECT_EQ(names->stats().names, 1u);  // only home's
  });
}

TEST_F(naming_setup, registration_expires_unless_refreshed) {
  limits.max_ttl = 2s;
  start(2);
  auto client = make_client(true);
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await registered(*registrar));
    const auto addr = relay_addr();
    const wire::names_request look{
        wire::names_request_type::lookup, label("grewal"), label("home"), 0, {}};
    // Refreshed every second, the 2 s record outlives 3 s.
    asio::steady_timer t(io, 3s);
    co_await t.async_wait(net::use_nothrow);
    auto alive = co_await protocols::ask_names(*client, addr, look, 5s);
    EXPECT_TRUE(alive && alive->status == wire::names_status::ok);
    registrar->stop();
    bool gone = co_await eventually([&] { return false; }, 2500ms);  // let it lapse
    EXPECT_FALSE(gone);
    auto expired = co_await protocols::ask_names(*client, addr, look, 5s);
    EXPECT_TRUE(expired && expired->status == wire::names_status::not_found);
  });
}

TEST_F(naming_setup, service_catalog_goes_to_authorized_peers_only) {
  start();
  auto client = make_client(true);
  // Authorized on the relay, so it reaches the home node, but not by the home.
  auto stranger = make_client(true);
  const peer_id client_id = client->id();
  app::serve_service_catalog(home, [client_id](const peer_id& p) {
    if (p != client_id) return std::optional<std::vector<app::published_service>>{};
    return std::optional<std::vector<app::published_service>>{{{"ssh", 22}, {"web", 8080}}};
  });
  run_async(io, [&]() -> net::awaitable<void> {
    EXPECT_TRUE(co_await eventually(
        [&] { return keeper->slots().front().current == protocols::relay_slot::state::reserved; },
        10s));
    const auto circuit = circuit_addr(relay_addr(), home.id());
    client->peers().add_addrs(home.id(), std::vector<multiaddr>{circuit});
    auto list = co_await app::fetch_services(*client, home.id());
    EXPECT_TRUE(list) << list.error().message();
    if (list) {
      EXPECT_EQ(*list, (std::vector<app::published_service>{{"ssh", 22}, {"web", 8080}}));
    }
    stranger->peers().add_addrs(home.id(), std::vector<multiaddr>{circuit});
    auto refused = co_await app::fetch_services(*stranger, home.id());
    EXPECT_FALSE(refused);
    if (!refused) {
      EXPECT_EQ(refused.error(), make_error_code(errc::stream_reset));
    }
  });
}

}  // namespace
}  // namespace peerup::test
