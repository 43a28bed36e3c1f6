// kad-dht interop with a real js-libp2p node running @libp2p/kad-dht in server
// mode on our protocol ID (tests/interop/js, --kad): js queries our servers
// (FIND_NODE, GET_PROVIDERS, ADD_PROVIDER), we query the js server, and
// provider records round-trip both ways.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "crypto/sha256.hpp"
#include "protocols/identify.hpp"
#include "protocols/kad.hpp"
#include "support/async_test.hpp"
#include "support/io_thread.hpp"
#include "support/js_peer.hpp"

namespace peerup::test {
namespace {

const protocol_id kad_protocol{std::string(wire::kad_peerup_protocol_id)};

// A sha2-256 multihash of `text`, the form provider keys take.
bytes multihash_of(std::string_view text) {
  bytes out{0x12, 0x20};
  const auto d = sha256(as_bytes(text));
  out.insert(out.end(), d.begin(), d.end());
  return out;
}

// Our DHT server on its own io thread, so the test thread can wait on js.
struct our_dht_node {
  io_thread t;
  net::host host{t.io().get_executor(),
                 net::host_config{.identity = private_key::generate(),
                                  .listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0")}}};
  protocols::identify_service identify{host};
  protocols::kad_node kad{host, protocols::kad_config{}};
  our_dht_node() {
    host.start();
    t.start();
  }
  ~our_dht_node() {
    t.stop([this] { host.stop(); });
  }
  // Runs a coroutine of ours on the io thread and waits for its value.
  template <class T>
  T run(net::awaitable<T> op) {
    return net::asio::co_spawn(t.io(), std::move(op), net::asio::use_future).get();
  }
  void knows(const our_dht_node& other) {
    t.call([&] {
      kad.add_server(other.host.id(), other.host.listen_addrs());
      return 0;
    });
  }
};

std::vector<std::string> strings(const boost::json::value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.as_array()) out.emplace_back(s.as_string().c_str());
  return out;
}

TEST(js_kad_interop, js_queries_our_dht_and_providers_round_trip_both_ways) {
  ASSERT_TRUE(js_peer_installed()) << "run `npm ci` in " << js_peer_dir();
  our_dht_node a;  // the server js knows
  our_dht_node b;  // found by js through a; provides k_ours
  a.knows(b);
  b.knows(a);
  const bytes k_ours = multihash_of("peer-up provides this");
  const bytes k_js = multihash_of("js-libp2p provides this");

  // 1. b announces k_ours; a (b's only DHT peer) stores the record.
  EXPECT_GE(b.run(b.kad.provide(k_ours)), 1U);

  // 2. js joins through a: finds b by peer ID, finds b as provider of
  //    k_ours, and provides k_js (an ADD_PROVIDER to a).
  auto js = spawn_js_peer({"--listen", "/ip4/127.0.0.1/tcp/0", "--kad", kad_protocol.str(),
                           "--dial", a.host.full_addrs().front().to_string(), "--kad-find-peer",
                           b.host.id().to_string(), "--kad-find-providers", to_hex(k_ours),
                           "--kad-provide", to_hex(k_js), "--hold-ms", "60000"});
  auto listening = wait_for_event(js, "listening", 30s);
  ASSERT_TRUE(listening);
  const auto js_addr = *multiaddr::parse(first_addr(*listening));
  const auto js_id = *js_addr.peer();
  std::vector<boost::json::object> results;
  for (int i = 0; i < 3; ++i) {
    auto r = wait_for_event(js, "result", 120s);
    ASSERT_TRUE(r) << "js gave no result " << i;
    results.push_back(*r);
  }
  ASSERT_EQ(results[0].at("action").as_string(), "kad-find-peer");
  EXPECT_TRUE(results[0].at("ok").as_bool()) << boost::json::serialize(results[0]);
  EXPECT_THAT(strings(results[0].at("addrs")),
              ::testing::Contains(b.host.listen_addrs().front().to_string()));
  ASSERT_EQ(results[1].at("action").as_string(), "kad-find-providers");
  EXPECT_TRUE(results[1].at("ok").as_bool()) << boost::json::serialize(results[1]);
  const auto& providers = results[1].at("providers").as_array();
  ASSERT_FALSE(providers.empty());
  EXPECT_EQ(providers[0].at("peer").as_string(), b.host.id().to_string());
  ASSERT_EQ(results[2].at("action").as_string(), "kad-provide");
  EXPECT_TRUE(results[2].at("ok").as_bool()) << boost::json::serialize(results[2]);

  // 3. js's ADD_PROVIDER reached a, and b finds js as provider through a.
  auto found = b.run(b.kad.find_providers(k_js, 1));
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].id, js_id);

  // 4. We query the js server directly: FIND_NODE names a (js's only DHT
  //    peer), GET_PROVIDERS names js itself for k_js.
  const dht::lookup_peer to{js_id, {js_addr.without_peer()}};
  const auto find_node = wire::kad_message::find_node(b.host.id().to_bytes());
  auto closer = b.run(protocols::kad_request(b.host, kad_protocol, to, find_node, 30s));
  ASSERT_TRUE(closer) << closer.error().message();
  std::vector<bytes> closer_ids;
  for (const auto& p : closer->closer_peers) closer_ids.push_back(p.id);
  EXPECT_THAT(closer_ids, ::testing::Contains(a.host.id().to_bytes()));
  const auto get_providers = wire::kad_message::get_providers(k_js);
  auto provs = b.run(protocols::kad_request(b.host, kad_protocol, to, get_providers, 30s));
  ASSERT_TRUE(provs) << provs.error().message();
  ASSERT_FALSE(provs->provider_peers.empty());
  EXPECT_EQ(provs->provider_peers[0].id, js_id.to_bytes());
}

}  // namespace
}  // namespace peerup::test
