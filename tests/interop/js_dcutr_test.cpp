// DCUtR with js-libp2p 3.x (@libp2p/dcutr 3.0.28) in both roles, through
// our relay on loopback.
//
// What js-libp2p does that shapes these tests (read from its source):
// - It drops every private or loopback IP from a CONNECT before dialing
//   (isPublicAndDialable: 127.0.0.0/8, 10/8, 192.168/16, ... are private) but
//   passes any DNS multiaddr. On loopback our side therefore offers
//   /dns4/localhost/tcp/<port> in its CONNECT (extra_punch_addrs), and not in
//   identify, or js would take the unilateral path and skip DCUtR.
// - It dials from a fresh port (no SO_REUSEPORT). As B it asks for the
//   responder role (initiator: false, like go-libp2p), but the dial queue
//   drops that option and the dial runs as initiator. Our A expects the
//   peer's dial by IP (host::expect_punch) and, since js speaks first, stays
//   the responder on it.
// - As A it closes the relayed connection as soon as its own dial works.
// So this proves the CONNECT/SYNC exchange, RTT-timed dials and role choice
// against js on loopback; NAT traversal itself is left to tests/lab.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <iostream>
#include <set>

#include "protocols/path_manager.hpp"
#include "protocols/ping.hpp"
#include "protocols/relay_reservations.hpp"
#include "protocols/relay_server.hpp"
#include "support/async_test.hpp"
#include "support/io_thread.hpp"
#include "support/js_peer.hpp"

namespace peerup::test {
namespace {

const std::string home_seed(64, '3');
const std::string client_seed(64, '4');

peer_id js_peer_of(const std::string& seed_hex) {
  bytes seed;
  for (std::size_t i = 0; i < seed_hex.size(); i += 2)
    seed.push_back(static_cast<std::uint8_t>(std::stoi(seed_hex.substr(i, 2), nullptr, 16)));
  return private_key::from_seed(seed).value().to_peer_id();
}

net::host_config on_loopback() {
  return {.identity = private_key::generate(),
          .listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0")}};
}

struct relay_node {
  io_thread t;
  net::host host{t.io().get_executor(), on_loopback()};
  std::set<peer_id> allowed;
  protocols::identify_service identify{host};
  protocols::relay_server server{
      host, {.is_authorized = [this](const peer_id& p) { return allowed.contains(p); }}};
  explicit relay_node(std::set<peer_id> a) : allowed(std::move(a)) {
    host.start();
    t.start();
  }
  ~relay_node() {
    t.stop([this] { host.stop(); });
  }
  std::string addr() const { return host.full_addrs().front().to_string(); }
};

// Our node with DCUtR on loopback; optionally a home holding a reservation.
struct our_node {
  io_thread t;
  net::host host{t.io().get_executor(), on_loopback()};
  protocols::identify_service identify{host};
  std::optional<protocols::path_manager> paths;
  std::optional<protocols::reservation_keeper> keeper;
  std::vector<protocols::punch_outcome> outcomes;

  explicit our_node(const std::optional<std::string>& reserve_on = std::nullopt) {
    host.set_handler(echo_protocol, serve_echo);
    protocols::install_ping(host);
    protocols::install_circuit_dialer(host);
    host.start();
    protocols::path_manager_config cfg;
    cfg.dcutr.policy = {.allow_private = true, .allow_loopback = true};
    cfg.autonat = false;
    const auto port = host.listen_addrs().front().tcp_target()->port;
    cfg.extra_punch_addrs = {*multiaddr::parse("/dns4/localhost/tcp/" + std::to_string(port))};
    paths.emplace(host, identify, cfg);
    paths->dcutr().on_outcome([this](const protocols::punch_outcome& o) { outcomes.push_back(o); });
    paths->start();
    if (reserve_on) {
      keeper.emplace(host, std::vector<multiaddr>{*multiaddr::parse(*reserve_on)});
      protocols::install_relay_stop(host,
                                    [this](const peer_id& p) { return keeper->is_our_relay(p); });
      keeper->start();
    }
    t.start();
  }
  ~our_node() {
    t.stop([this] {
      paths->stop();
      if (keeper) keeper->stop();
      host.stop();
    });
  }
  bool direct_to(const peer_id& p) {
    return t.call([&] {
      for (const auto& c : host.connections(p))
        if (!c->relayed) return true;
      return false;
    });
  }
  bool relayed_to(const peer_id& p) {
    return t.call([&] {
      for (const auto& c : host.connections(p))
        if (c->relayed) return true;
      return false;
    });
  }
  template <class F>
  bool wait_until(F pred, std::chrono::milliseconds limit) {
    for (auto waited = 0ms; waited < limit; waited += 50ms) {
      if (pred()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return pred();
  }
  // Runs the coroutine `f` on the io thread and waits for its result.
  template <class F>
  auto run(F f) {
    using T = typename decltype(f())::value_type;
    auto p = std::make_shared<std::promise<T>>();
    auto result = p->get_future();
    asio::co_spawn(
        t.io(), [f, p]() -> net::awaitable<void> { p->set_value(co_await f()); }, asio::detached);
    return result.get();
  }
  // Pings `p` on a new stream; returns the path it took ("direct"/"relayed"/"").
  std::string ping_path(const peer_id& p) {
    return run([this, p]() -> net::awaitable<std::string> {
      auto s = co_await host.new_stream(p, protocols::ping_protocol);
      if (!s) co_return "";
      auto rtt = co_await net::with_timeout(protocols::ping_once(*s->stream), 10s);
      co_return !rtt ? "" : s->conn->relayed ? "relayed" : "direct";
    });
  }
  std::string circuit_to(const std::string& relay, const peer_id& p) {
    return relay + "/p2p-circuit/p2p/" + p.to_string();
  }
};

class js_dcutr_interop : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(js_peer_installed()) << "run `npm ci` in " << js_peer_dir();
    ::setenv("DEBUG", "libp2p:dcutr*", 1);  // js DCUtR logs on the test's stderr
  }
  void TearDown() override { ::unsetenv("DEBUG"); }
};

TEST_F(js_dcutr_interop, we_initiate_as_b_and_a_js_dialer_answers_as_a) {
  const auto js_id = js_peer_of(client_seed);
  relay_node relay({js_id});
  our_node home(relay.addr());
  relay.t.call([&] { return relay.allowed.insert(home.host.id()).second; });
  ASSERT_TRUE(home.wait_until(
      [&] { return home.t.call([&] { return !home.keeper->circuit_addrs().empty(); }); }, 30s));
  auto js = spawn_js_peer({"--key-seed", client_seed, "--listen", "/ip4/127.0.0.1/tcp/0", "--dcutr",
                           "--dial", home.circuit_to(relay.addr(), home.host.id()), "--hold-ms",
                           "15000"});
  auto connected = wait_for_event(js, "connected", 30s);
  ASSERT_TRUE(connected);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(std::string(connected->at("remote_addr").as_string().c_str()),
              ::testing::HasSubstr("/p2p-circuit"))
      << "js should first be on the relay";
  ASSERT_TRUE(home.wait_until([&] { return home.direct_to(js_id); }, 20s))
      << "no direct connection from the js peer";
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::cout << "js A: relayed -> direct in " << ms << " ms after js reported the connection\n";
  const auto outcomes = home.t.call([&] { return home.outcomes; });
  ASSERT_FALSE(outcomes.empty());
  EXPECT_EQ(outcomes.front().role, protocols::punch_role::initiator);
  EXPECT_TRUE(outcomes.front().conn) << outcomes.front().conn.error().message();
  EXPECT_GE(outcomes.front().rounds, 1) << "the unilateral path was taken, not DCUtR";
  EXPECT_EQ(home.ping_path(js_id), "direct");
  // js closes the relayed connection once its own dial worked.
  EXPECT_TRUE(home.wait_until([&] { return !home.relayed_to(js_id); }, 10s));
  js.terminate();
}

TEST_F(js_dcutr_interop, a_js_home_initiates_as_b_and_we_answer_as_a) {
  const auto js_id = js_peer_of(home_seed);
  relay_node relay({js_id});
  auto js = spawn_js_peer({"--key-seed", home_seed, "--listen", "/ip4/127.0.0.1/tcp/0",
                           "--reserve-on", relay.addr(), "--dcutr"});
  // Allowed before js reserves; our client is added below.
  ASSERT_TRUE(wait_for_event(js, "reserved", 60s)) << "js home got no reservation";
  our_node client;
  relay.t.call([&] { return relay.allowed.insert(client.host.id()).second; });
  const auto t0 = std::chrono::steady_clock::now();
  const auto circuit = *multiaddr::parse(client.circuit_to(relay.addr(), js_id));
  const bool relayed = client.run([&client, circuit]() -> net::awaitable<bool> {
    auto c = co_await client.host.connect(circuit);
    co_return c && (*c)->relayed;
  });
  ASSERT_TRUE(relayed) << "could not reach the js home through the relay";
  ASSERT_TRUE(client.wait_until([&] { return client.direct_to(js_id); }, 20s))
      << "no direct connection to the js home";
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::cout << "js B: relayed -> direct in " << ms << " ms\n";
  EXPECT_TRUE(client.wait_until(
      [&] {
        return client.t.call([&] {
          for (const auto& o : client.outcomes)
            if (o.role == protocols::punch_role::responder && o.conn) return true;
          return false;
        });
      },
      10s))
      << "our responder side did not report a successful round";
  EXPECT_EQ(client.ping_path(js_id), "direct");
  // js saw a direct (not limited) inbound connection: ours into its listener,
  // or its own responder-role dial.
  bool direct_seen = false;
  for (int i = 0; i < 10 && !direct_seen; ++i) {
    auto ev = wait_for_event(js, "inbound", 2s);
    if (!ev) break;
    if (ev->contains("kind") && ev->at("kind").as_string() == "connection" &&
        !ev->at("limited").as_bool())
      direct_seen = true;
  }
  EXPECT_TRUE(direct_seen);
  js.terminate();
}

}  // namespace
}  // namespace peerup::test
