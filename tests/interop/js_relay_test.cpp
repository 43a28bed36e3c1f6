// Circuit Relay v2 interop with js-libp2p 3.x (@libp2p/circuit-relay-v2):
// every pairing of relay, home and client between our stack and js.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <set>

#include "protocols/ping.hpp"
#include "protocols/relay_reservations.hpp"
#include "protocols/relay_server.hpp"
#include "support/async_test.hpp"
#include "support/io_thread.hpp"
#include "support/js_peer.hpp"

namespace peerup::test {
namespace {

const std::string home_seed(64, '1');
const std::string client_seed(64, '2');

peer_id js_peer_of(const std::string& seed_hex) {
  bytes seed;
  for (std::size_t i = 0; i < seed_hex.size(); i += 2)
    seed.push_back(static_cast<std::uint8_t>(std::stoi(seed_hex.substr(i, 2), nullptr, 16)));
  return private_key::from_seed(seed).value().to_peer_id();
}

// Our relay in closed mode, authorizing exactly `allowed`, on its own thread.
struct our_relay {
  io_thread t;
  net::host host{t.io().get_executor(),
                 net::host_config{.identity = private_key::generate(),
                                  .listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0")}}};
  std::set<peer_id> allowed;
  protocols::relay_server server{
      host, {.is_authorized = [this](const peer_id& p) { return allowed.contains(p); }}};
  explicit our_relay(std::set<peer_id> a) : allowed(std::move(a)) {
    protocols::install_ping(host);
    host.start();
    t.start();
  }
  ~our_relay() {
    t.stop([this] { host.stop(); });
  }
  std::string addr() const { return host.full_addrs().front().to_string(); }
};

// Our home node: reserves on `relay`, serves echo and ping, on its own thread.
struct our_home {
  io_thread t;
  net::host host{t.io().get_executor(), net::host_config{.identity = private_key::generate()}};
  protocols::reservation_keeper keeper;
  explicit our_home(const std::string& relay) : keeper(host, {*multiaddr::parse(relay)}) {
    host.set_handler(echo_protocol, serve_echo);
    protocols::install_ping(host);
    protocols::install_circuit_dialer(host);
    protocols::install_relay_stop(host,
                                  [this](const peer_id& p) { return keeper.is_our_relay(p); });
    host.start();
    keeper.start();
    t.start();
  }
  ~our_home() {
    t.stop([this] {
      keeper.stop();
      host.stop();
    });
  }
  bool wait_reserved(std::chrono::seconds limit) {
    for (auto waited = 0ms; waited < limit; waited += 100ms) {
      if (t.call([this] { return !keeper.circuit_addrs().empty(); })) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  std::string circuit_addr() {
    return t.call([this] { return keeper.circuit_addrs().front().to_string(); }) + "/p2p/" +
           host.id().to_string();
  }
};

class js_relay_interop : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(js_peer_installed()) << "run `npm ci` in " << js_peer_dir(); }

  // A js client dials `addr`, pings and echoes 1 MiB; asserts both worked.
  static void js_client_reaches(const std::string& addr) {
    auto js = spawn_js_peer(
        {"--key-seed", client_seed, "--dial", addr, "--ping", "3", "--echo-bytes", "1048576"});
    for (const char* action : {"ping", "echo"}) {
      auto r = wait_for_event(js, "result", 90s);
      ASSERT_TRUE(r) << "no " << action << " result";
      EXPECT_EQ(r->at("action").as_string(), action);
      EXPECT_TRUE(r->at("ok").as_bool()) << boost::json::serialize(*r);
    }
    EXPECT_EQ(js.wait(30s), 0);
  }

  // Our client dials `addr` through a relay, pings and echoes 1 MiB.
  static void our_client_reaches(const std::string& addr) {
    asio::io_context io;
    net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
    protocols::install_circuit_dialer(client);
    bool pinged = false, echoed = false, relayed = false;
    run_async(io, [&]() -> net::awaitable<void> {
      auto conn = co_await client.connect(*multiaddr::parse(addr));
      EXPECT_TRUE(conn) << conn.error().message();
      if (!conn) co_return;
      relayed = (*conn)->relayed;
      auto p = co_await client.new_stream(*conn, protocols::ping_protocol);
      EXPECT_TRUE(p) << p.error().message();
      if (p) pinged = static_cast<bool>(co_await protocols::ping_once(*p->stream));
      auto e = co_await client.new_stream(*conn, echo_protocol);
      EXPECT_TRUE(e) << e.error().message();
      if (!e) co_return;
      const auto data = random_bytes(1 << 20);
      auto back = co_await echo_roundtrip(*e->stream, data);
      echoed = back && *back == data;
    });
    EXPECT_TRUE(relayed);
    EXPECT_TRUE(pinged);
    EXPECT_TRUE(echoed);
  }
};

TEST_F(js_relay_interop, a_js_home_reserves_on_our_relay_and_a_js_client_reaches_it) {
  our_relay relay({js_peer_of(home_seed), js_peer_of(client_seed)});
  auto home = spawn_js_peer({"--key-seed", home_seed, "--reserve-on", relay.addr()});
  auto reserved = wait_for_event(home, "reserved", 60s);
  ASSERT_TRUE(reserved) << "js home got no reservation on our relay";
  const std::string circuit = reserved->at("addrs").as_array().front().as_string().c_str();
  EXPECT_THAT(circuit,
              ::testing::HasSubstr("/p2p-circuit/p2p/" + js_peer_of(home_seed).to_string()));
  js_client_reaches(circuit);
  EXPECT_GE(relay.t.call([&] { return relay.server.stats().circuits_total; }), 1u);
}

TEST_F(js_relay_interop, b_our_home_reserves_on_a_js_relay_and_our_client_reaches_it) {
  auto js_relay =
      spawn_js_peer({"--listen", "/ip4/127.0.0.1/tcp/0", "--relay-server", "--relay-unlimited"});
  auto listening = wait_for_event(js_relay, "listening", 30s);
  ASSERT_TRUE(listening);
  our_home home(first_addr(*listening));
  ASSERT_TRUE(home.wait_reserved(30s)) << "our home got no reservation on the js relay";
  our_client_reaches(home.circuit_addr());
}

TEST_F(js_relay_interop, c1_js_client_reaches_our_home_through_our_relay) {
  our_relay relay({js_peer_of(client_seed)});
  our_home home(relay.addr());
  relay.t.call([&] { return relay.allowed.insert(home.host.id()).second; });
  ASSERT_TRUE(home.wait_reserved(30s));
  js_client_reaches(home.circuit_addr());
}

TEST_F(js_relay_interop, c2_our_client_reaches_a_js_home_through_a_js_relay) {
  auto js_relay =
      spawn_js_peer({"--listen", "/ip4/127.0.0.1/tcp/0", "--relay-server", "--relay-unlimited"});
  auto listening = wait_for_event(js_relay, "listening", 30s);
  ASSERT_TRUE(listening);
  auto home = spawn_js_peer({"--key-seed", home_seed, "--reserve-on", first_addr(*listening)});
  auto reserved = wait_for_event(home, "reserved", 60s);
  ASSERT_TRUE(reserved);
  our_client_reaches(reserved->at("addrs").as_array().front().as_string().c_str());
}

}  // namespace
}  // namespace peerup::test
