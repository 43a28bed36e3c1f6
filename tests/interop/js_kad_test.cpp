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
#include "protocols/ping.hpp"
#include "support/async_test.hpp"
#include "support/io_thread.hpp"
#include "support/js_peer.hpp"
#include "wire/peer_record.hpp"

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

protocols::kad_config with_protocol(const protocol_id& p) {
  protocols::kad_config c;
  c.protocol = p.str();
  return c;
}

// Our DHT server on its own io thread, so the test thread can wait on js.
struct our_dht_node {
  io_thread t;
  net::host host{t.io().get_executor(),
                 net::host_config{.identity = private_key::generate(),
                                  .listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0")}}};
  protocols::identify_service identify{host};
  protocols::kad_node kad;
  explicit our_dht_node(const protocol_id& proto = kad_protocol) : kad(host, with_protocol(proto)) {
    // js-libp2p pings a new DHT contact (/ipfs/ping/1.0.0) before it enters
    // the routing table; every peer-up node serves ping.
    protocols::install_ping(host);
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
  void knows(const our_dht_node& other) { knows(other.host.id(), other.host.listen_addrs()); }
  void knows(const peer_id& id, const std::vector<multiaddr>& addrs) {
    t.call([&] {
      kad.add_server(id, addrs);
      return 0;
    });
  }
};

std::vector<std::string> strings(const boost::json::value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.as_array()) out.emplace_back(s.as_string().c_str());
  return out;
}

// The whole exchange on protocol `proto`: js queries our servers, we query
// the js server, provider records round-trip both ways.
void providers_round_trip(const protocol_id& kad_protocol) {
  ASSERT_TRUE(js_peer_installed()) << "run `npm ci` in " << js_peer_dir();
  our_dht_node a(kad_protocol);  // the server js knows
  our_dht_node b(kad_protocol);  // found by js through a; provides k_ours
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

TEST(js_kad_interop, js_queries_our_dht_and_providers_round_trip_both_ways) {
  providers_round_trip(kad_protocol);
}

// Public network mode: with /ipfs/kad/1.0.0 the same code speaks Amino's
// protocol. Proven against local js nodes only (never the real network).
TEST(js_kad_interop, amino_protocol_id_works_the_same_against_js) {
  providers_round_trip(protocol_id{std::string(wire::kad_amino_protocol_id)});
}

// GET_VALUE/PUT_VALUE of peer-up's record type with @libp2p/kad-dht, given
// our namespace's validator (peer.mjs --kad-peerup-validator: js-libp2p's
// own envelope code checks the signature): js stores and serves our record,
// we store and serve js's, and each side finds the other's by lookup.
TEST(js_kad_interop, signed_peer_records_round_trip_both_ways_with_a_validating_js_node) {
  ASSERT_TRUE(js_peer_installed()) << "run `npm ci` in " << js_peer_dir();
  our_dht_node a;  // the server js knows
  our_dht_node b;  // publishes its peer record
  a.knows(b);
  b.knows(a);
  const auto b_addrs = b.host.listen_addrs();
  EXPECT_GE(b.run(b.kad.publish_peer_record(b_addrs)), 1U);
  const auto b_key = wire::peer_record_key(b.host.id());
  const auto b_held =
      a.t.call([&] { return a.kad.records().get(b_key, std::chrono::steady_clock::now()); });
  ASSERT_TRUE(b_held) << "a did not store b's record";
  const bytes b_value = *b_held;

  // 1. js (with our validator) PUTs its own sealed record and GETs b's.
  auto js = spawn_js_peer({"--listen", "/ip4/127.0.0.1/tcp/0", "--kad", kad_protocol.str(),
                           "--kad-peerup-validator", "--dial",
                           a.host.full_addrs().front().to_string(), "--kad-put-own-record",
                           "--kad-get", to_hex(b_key), "--hold-ms", "60000"});
  auto listening = wait_for_event(js, "listening", 30s);
  ASSERT_TRUE(listening);
  const auto js_addr = *multiaddr::parse(first_addr(*listening));
  const auto js_id = *js_addr.peer();
  auto put = wait_for_event(js, "result", 120s);
  ASSERT_TRUE(put);
  ASSERT_EQ(put->at("action").as_string(), "kad-put-own-record");
  EXPECT_TRUE(put->at("ok").as_bool()) << boost::json::serialize(*put);
  auto got = wait_for_event(js, "result", 120s);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->at("action").as_string(), "kad-get");
  ASSERT_TRUE(got->at("ok").as_bool()) << boost::json::serialize(*got);
  // js opened our envelope with its own code and read our payload.
  EXPECT_EQ(std::string(got->at("value").as_string()), to_hex(b_value));
  EXPECT_EQ(std::string(got->at("peer").as_string()), b.host.id().to_string());
  EXPECT_THAT(strings(got->at("addrs")), ::testing::Contains(b_addrs.front().to_string()));

  // 2. Our validator took js's record (a js-sealed envelope) on a, and b
  //    finds it by lookup.
  const auto js_key = wire::peer_record_key(js_id);
  auto js_rec = b.run(b.kad.find_peer_record(js_id));
  ASSERT_TRUE(js_rec) << "no record of the js node found through the DHT";
  EXPECT_EQ(js_rec->peer, js_id);
  EXPECT_EQ(std::to_string(js_rec->seq), std::string(put->at("seq").as_string()));
  EXPECT_THAT(js_rec->addrs, ::testing::Contains(js_addr.without_peer()));

  // 3. We PUT to the js server: it validates with js code, stores, and
  //    answers GET_VALUE with our bytes.
  const dht::lookup_peer to{js_id, {js_addr.without_peer()}};
  const auto put_b = wire::kad_message::put_value(wire::kad_record{b_key, b_value, ""});
  auto echoed = b.run(protocols::kad_request(b.host, kad_protocol, to, put_b, 30s));
  ASSERT_TRUE(echoed) << echoed.error().message();
  ASSERT_TRUE(echoed->record);
  EXPECT_EQ(echoed->record->value, b_value);
  const auto get_b = wire::kad_message::get_value(b_key);
  auto held = b.run(protocols::kad_request(b.host, kad_protocol, to, get_b, 30s));
  ASSERT_TRUE(held) << held.error().message();
  ASSERT_TRUE(held->record) << "js did not keep our record";
  EXPECT_EQ(held->record->value, b_value);
  EXPECT_TRUE(dht::validate_record(b_key, held->record->value));
  // a (our server) holds js's record too: our validator took a js envelope.
  const auto js_held =
      a.t.call([&] { return a.kad.records().get(js_key, std::chrono::steady_clock::now()); });
  EXPECT_TRUE(js_held);
}

// What @libp2p/kad-dht does with a namespace it has no validator for (read in
// its rpc/handlers/put-value.js: verifyRecord throws "No validator available
// for key type"): the PUT_VALUE fails (the stream ends without an echo) and
// nothing is stored, so a GET_VALUE finds no record there.
TEST(js_kad_interop, js_without_our_validator_refuses_our_records) {
  ASSERT_TRUE(js_peer_installed()) << "run `npm ci` in " << js_peer_dir();
  our_dht_node b;
  auto js = spawn_js_peer({"--listen", "/ip4/127.0.0.1/tcp/0", "--kad", kad_protocol.str()});
  auto listening = wait_for_event(js, "listening", 30s);
  ASSERT_TRUE(listening);
  const auto js_addr = *multiaddr::parse(first_addr(*listening));
  const dht::lookup_peer to{*js_addr.peer(), {js_addr.without_peer()}};
  const auto b_key = wire::peer_record_key(b.host.id());
  const auto b_value = wire::seal_peer_record(b.host.identity(),
                                              {b.host.id(), 1, b.host.listen_addrs()});
  const auto put_b = wire::kad_message::put_value(wire::kad_record{b_key, b_value, ""});
  auto echoed = b.run(protocols::kad_request(b.host, kad_protocol, to, put_b, 30s));
  EXPECT_FALSE(echoed && echoed->record) << "js stored a record it has no validator for";
  const auto get_b = wire::kad_message::get_value(b_key);
  auto held = b.run(protocols::kad_request(b.host, kad_protocol, to, get_b, 30s));
  ASSERT_TRUE(held) << held.error().message();
  EXPECT_FALSE(held->record);
  // And our put_value through the DHT counts no server that took it.
  b.knows(*js_addr.peer(), {js_addr.without_peer()});
  EXPECT_EQ(b.run(b.kad.put_value(b_key, b_value)), 0U);
}

}  // namespace
}  // namespace peerup::test
