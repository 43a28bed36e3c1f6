// The Kademlia DHT between real hosts over loopback (TCP, Noise, Yamux):
// bootstrap from 3 servers, peer routing, provider records, client mode, a
// closed network, and bad requests on the wire.
#include <gtest/gtest.h>

#include <memory>
#include <variant>

#include "net/length_prefixed_io.hpp"
#include "protocols/identify.hpp"
#include "protocols/kad.hpp"
#include "support/async_test.hpp"
#include "wire/peer_record.hpp"

namespace peerup::test {
namespace {

struct dht_node {
  net::host host;
  protocols::identify_service identify;
  protocols::kad_node kad;
  dht_node(asio::io_context& io, protocols::kad_config cfg)
      : host(io.get_executor(), listening_config()), identify(host), kad(host, std::move(cfg)) {
    host.start();
  }
};

struct dht_network : ::testing::Test {
  asio::io_context io;
  std::vector<std::unique_ptr<dht_node>> nodes;

  dht_node& add(protocols::kad_config cfg = {}) {
    nodes.push_back(std::make_unique<dht_node>(io, std::move(cfg)));
    return *nodes.back();
  }
  void TearDown() override {
    for (auto& n : nodes) n->host.stop();
    io.poll();
  }
  // 1. n servers; nodes 3.. know the first three and bootstrap in turn.
  net::awaitable<void> build(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) add();
    for (std::size_t i = 3; i < n; ++i) {
      for (std::size_t b = 0; b < 3; ++b) {
        nodes[i]->kad.add_server(nodes[b]->host.id(), nodes[b]->host.listen_addrs());
      }
      co_await nodes[i]->kad.bootstrap();
    }
    // 2. The first three refresh too, as their periodic bootstrap would.
    for (std::size_t b = 0; b < 3; ++b) co_await nodes[b]->kad.bootstrap();
  }
};

TEST_F(dht_network, twenty_nodes_bootstrap_from_three_and_find_each_other) {
  constexpr std::size_t n = 20;
  std::size_t lookups = 0, found = 0;
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        co_await build(n);
        for (std::size_t i = 0; i < n; i += 3) {
          for (std::size_t j = 0; j < n; ++j) {
            if (i == j) continue;
            ++lookups;
            auto addrs = co_await nodes[i]->kad.find_peer(nodes[j]->host.id());
            auto want = nodes[j]->host.listen_addrs().front();
            if (std::find(addrs.begin(), addrs.end(), want) != addrs.end()) {
              ++found;
            } else {
              ADD_FAILURE() << "node " << i << " did not find node " << j;
            }
          }
        }
      },
      300s);
  EXPECT_EQ(found, lookups);
  for (const auto& node : nodes) {
    EXPECT_GE(node->kad.table().size(), 3U);  // everyone learned beyond its seeds
  }
}

TEST_F(dht_network, provider_records_round_trip) {
  const bytes key{0x12, 0x20, 0xde, 0xad, 0xbe, 0xef};  // a (short) sha2-256 multihash
  std::vector<dht::provider> got;
  std::size_t stored = 0;
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        co_await build(12);
        stored = co_await nodes[5]->kad.provide(key);
        got = co_await nodes[11]->kad.find_providers(key, 1);
      },
      300s);
  EXPECT_GE(stored, 3U);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].id, nodes[5]->host.id());
  ASSERT_FALSE(got[0].addrs.empty());
  EXPECT_EQ(got[0].addrs.front(), nodes[5]->host.announce_addrs().front());
  std::size_t holders = 0;
  for (const auto& node : nodes) holders += node->kad.providers().records();
  EXPECT_GE(holders, stored);
}

TEST_F(dht_network, a_client_queries_but_never_enters_tables) {
  std::vector<multiaddr> addrs;
  protocols::kad_config client_cfg;
  client_cfg.server = false;
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        co_await build(8);
        auto& client = add(client_cfg);
        client.kad.add_server(nodes[0]->host.id(), nodes[0]->host.listen_addrs());
        co_await client.kad.bootstrap();
        addrs = co_await client.kad.find_peer(nodes[7]->host.id());
      },
      300s);
  EXPECT_FALSE(addrs.empty());
  const auto& client_id = nodes.back()->host.id();
  for (std::size_t i = 0; i + 1 < nodes.size(); ++i) {
    EXPECT_EQ(nodes[i]->kad.table().find(client_id), nullptr) << "node " << i;
  }
  // It does not offer the protocol, so identify does not list it.
  auto protos = nodes.back()->host.protocols();
  EXPECT_EQ(std::count(protos.begin(), protos.end(), std::string(wire::kad_peerup_protocol_id)), 0);
}

TEST_F(dht_network, a_closed_network_answers_only_whom_it_allows) {
  bool refused = false, allowed = false;
  std::string why;
  run_async(io, [&]() -> net::awaitable<void> {
    auto& friend_node = add();
    auto& stranger = add();
    protocols::kad_config closed;
    const peer_id friend_id = friend_node.host.id();
    closed.may_query = [friend_id](const peer_id& p) { return p == friend_id; };
    auto& server = add(closed);
    const dht::lookup_peer to{server.host.id(), server.host.listen_addrs()};
    const protocol_id proto{std::string(wire::kad_peerup_protocol_id)};
    // Named, not temporaries: g++ 12 miscompiles braced temporaries inside a
    // co_await expression.
    const bytes key{1};
    const auto req = wire::kad_message::find_node(key);
    auto r1 = co_await protocols::kad_request(stranger.host, proto, to, req, 5s);
    refused = !r1;
    auto r2 = co_await protocols::kad_request(friend_node.host, proto, to, req, 5s);
    allowed = r2.has_value();
    if (!r2) why = r2.error().message();
  });
  EXPECT_TRUE(refused);
  EXPECT_TRUE(allowed) << why;
  EXPECT_EQ(nodes[2]->kad.stats().requests_refused, 1U);
}

TEST_F(dht_network, bad_requests_reset_the_stream_and_the_server_keeps_serving) {
  bool garbage_reset = false, put_reset = false, after = false;
  std::string why;
  run_async(io, [&]() -> net::awaitable<void> {
    auto& server = add();
    auto& client = add();
    const protocol_id proto{std::string(wire::kad_peerup_protocol_id)};
    client.host.peers().add_addrs(server.host.id(), server.host.listen_addrs());
    // 1. Bytes that are no kad message (a type outside the enum).
    {
      auto opened = co_await client.host.new_stream(server.host.id(), proto);
      EXPECT_TRUE(opened);
      if (!opened) co_return;
      const bytes junk{0x08, 0x63};
      co_await net::write_length_prefixed(*opened->stream, junk);
      auto r = co_await net::read_length_prefixed(*opened->stream, 1024);
      garbage_reset = !r;
    }
    // 2. PUT_VALUE of a record no validator accepts (not a peer record): refused.
    {
      const dht::lookup_peer to{server.host.id(), {}};
      const wire::kad_record record{bytes{'k'}, bytes{'v'}, ""};
      const auto put = wire::kad_message::put_value(record);
      auto r = co_await protocols::kad_request(client.host, proto, to, put, 5s);
      put_reset = !r;
    }
    // 3. A good request still gets its answer.
    const dht::lookup_peer to{server.host.id(), {}};
    const bytes key{1};
    const auto req = wire::kad_message::find_node(key);
    auto r = co_await protocols::kad_request(client.host, proto, to, req, 5s);
    after = r.has_value();
    if (!r) why = r.error().message();
  });
  EXPECT_TRUE(garbage_reset);
  EXPECT_TRUE(put_reset);
  EXPECT_TRUE(after) << why;
  EXPECT_EQ(nodes[0]->kad.stats().requests_refused, 2U);
}

TEST_F(dht_network, peer_records_round_trip_and_the_newer_one_wins) {
  std::size_t first = 0, second = 0;
  std::optional<wire::peer_record> got1, got2, missing;
  const auto a1 = *multiaddr::parse("/ip4/192.0.2.1/tcp/4001");
  const auto a2 = *multiaddr::parse(
      "/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/"
      "p2p-circuit");
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        co_await build(10);
        // Named, not braced temporaries inside co_await (g++ 12).
        const std::vector<multiaddr> one{a1}, two{a1, a2};
        first = co_await nodes[4]->kad.publish_peer_record(one);
        got1 = co_await nodes[9]->kad.find_peer_record(nodes[4]->host.id());
        second = co_await nodes[4]->kad.publish_peer_record(two);
        got2 = co_await nodes[8]->kad.find_peer_record(nodes[4]->host.id());
        missing = co_await nodes[8]->kad.find_peer_record(nodes[5]->host.id());
      },
      300s);
  EXPECT_GE(first, 3U);
  EXPECT_GE(second, 3U);
  ASSERT_TRUE(got1);
  EXPECT_EQ(got1->peer, nodes[4]->host.id());
  EXPECT_EQ(got1->addrs, std::vector<multiaddr>{a1});
  ASSERT_TRUE(got2);
  EXPECT_GT(got2->seq, got1->seq);
  EXPECT_EQ(got2->addrs, (std::vector<multiaddr>{a1, a2}));
  EXPECT_FALSE(missing);  // node 5 never published
  std::size_t holders = 0;
  for (const auto& node : nodes) holders += node->kad.records().size();
  EXPECT_GE(holders, second);
}

// The spec's correction step: one server got a newer record than the rest;
// a GET_VALUE that sees both PUTs the newer one to every server that
// answered with the older one.
TEST_F(dht_network, get_value_corrects_servers_that_hold_an_older_record) {
  std::size_t newer_before = 0, newer_after = 0, holders = 0;
  std::uint64_t got_seq = 0, new_seq = 0;
  std::uint64_t corrected = 0;
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        co_await build(10);
        auto& owner = *nodes[4];
        const auto key = wire::peer_record_key(owner.host.id());
        const std::vector<multiaddr> old_addrs{*multiaddr::parse("/ip4/192.0.2.1/tcp/4001")};
        (void)co_await owner.kad.publish_peer_record(old_addrs);
        // A newer record, by the same owner, on one server only.
        const auto addr2 = *multiaddr::parse("/ip4/192.0.2.2/tcp/4001");
        // Published records carry unix microseconds: one a minute ahead is newer.
        new_seq = static_cast<std::uint64_t>(
                      std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count()) +
                  60'000'000;
        const wire::peer_record newer{owner.host.id(), new_seq, {addr2}};
        const auto sealed = wire::seal_peer_record(owner.host.identity(), newer);
        const protocol_id proto{std::string(wire::kad_peerup_protocol_id)};
        const dht::lookup_peer to{nodes[0]->host.id(), nodes[0]->host.listen_addrs()};
        const auto put = wire::kad_message::put_value(wire::kad_record{key, sealed, ""});
        (void)co_await protocols::kad_request(owner.host, proto, to, put, 5s);
        auto count_newer = [&] {
          std::size_t n = 0;
          for (const auto& node : nodes) {
            auto v = node->kad.records().get(key, std::chrono::steady_clock::now());
            if (v && wire::open_peer_record(*v)->seq == new_seq) ++n;
          }
          return n;
        };
        newer_before = count_newer();
        // A quorum above the network size: the lookup hears every holder.
        auto value = co_await nodes[9]->kad.get_value(key, 50);
        if (value) got_seq = wire::open_peer_record(*value)->seq;
        // The corrections run in the background: wait for them (bounded).
        auto all_newer = [&] {
          std::size_t held = 0;
          for (const auto& node : nodes)
            held += node->kad.records().get(key, std::chrono::steady_clock::now()) ? 1 : 0;
          return count_newer() == held;
        };
        auto waiting = eventually(all_newer, std::chrono::milliseconds(10000));
        (void)co_await std::move(waiting);
        newer_after = count_newer();
        for (const auto& node : nodes)
          holders += node->kad.records().get(key, std::chrono::steady_clock::now()) ? 1 : 0;
        corrected = nodes[9]->kad.stats().records_corrected;
      },
      300s);
  EXPECT_EQ(newer_before, 1U);
  EXPECT_EQ(got_seq, new_seq);
  EXPECT_GE(corrected, 3U);
  // Every server that held the record now holds the newer one.
  EXPECT_EQ(newer_after, holders);
  EXPECT_GE(holders, 4U);
}

TEST_F(dht_network, a_record_signed_by_another_peer_is_refused) {
  bool forged_refused = false, own_taken = false;
  run_async(io, [&]() -> net::awaitable<void> {
    auto& server = add();
    auto& mallory = add();
    auto& victim = add();
    const protocol_id proto{std::string(wire::kad_peerup_protocol_id)};
    const dht::lookup_peer to{server.host.id(), server.host.listen_addrs()};
    const auto addr = *multiaddr::parse("/ip4/192.0.2.66/tcp/4001");
    // Mallory's valid record, put under the victim's key.
    const auto mine = wire::seal_peer_record(mallory.host.identity(), {mallory.host.id(), 1, {addr}});
    const wire::kad_record forged{wire::peer_record_key(victim.host.id()), mine, ""};
    const auto put_forged = wire::kad_message::put_value(forged);
    auto r1 = co_await protocols::kad_request(mallory.host, proto, to, put_forged, 5s);
    forged_refused = !r1;
    const wire::kad_record own{wire::peer_record_key(mallory.host.id()), mine, ""};
    const auto put_own = wire::kad_message::put_value(own);
    auto r2 = co_await protocols::kad_request(mallory.host, proto, to, put_own, 5s);
    own_taken = r2 && r2->record && r2->record->value == mine;  // echoed (go does)
  });
  EXPECT_TRUE(forged_refused);
  EXPECT_TRUE(own_taken);
  EXPECT_EQ(nodes[0]->kad.records().size(), 1U);
  EXPECT_EQ(nodes[0]->kad.stats().records_stored, 1U);
}

TEST_F(dht_network, a_peer_over_its_request_rate_is_cut_off) {
  std::size_t answered = 0;
  run_async(io, [&]() -> net::awaitable<void> {
    protocols::kad_config strict;
    strict.requests_per_second = 0.001;  // no refill within the test
    strict.request_burst = 5;
    auto& server = add(strict);
    auto& flooder = add();
    const protocol_id proto{std::string(wire::kad_peerup_protocol_id)};
    const dht::lookup_peer to{server.host.id(), server.host.listen_addrs()};
    const bytes key{1};
    const auto req = wire::kad_message::find_node(key);
    // Bounded: 20 requests, each on its own stream (the budget spans streams).
    for (int i = 0; i < 20; ++i) {
      auto r = co_await protocols::kad_request(flooder.host, proto, to, req, 5s);
      if (r) ++answered;
    }
  });
  EXPECT_EQ(answered, 5U);
  EXPECT_EQ(nodes[0]->kad.stats().rate_limited, 15U);
}

TEST_F(dht_network, a_saved_routing_table_lets_a_restarted_node_look_up_without_bootstrap) {
  std::vector<multiaddr> addrs;
  std::size_t taken = 0, saved = 0;
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        co_await build(8);
        // 1. node 7's table goes through the file format, as the daemon writes it;
        const auto text = dht::encode_table_file(nodes[7]->kad.export_table());
        auto decoded = dht::decode_table_file(text);
        EXPECT_TRUE(std::holds_alternative<std::vector<dht::table_entry>>(decoded));
        if (!std::holds_alternative<std::vector<dht::table_entry>>(decoded)) co_return;
        const auto& entries = std::get<std::vector<dht::table_entry>>(decoded);
        saved = entries.size();
        // 2. a fresh node (no bootstrap peers) reads it and finds node 3.
        auto& fresh = add();
        taken = fresh.kad.import_table(entries);
        addrs = co_await fresh.kad.find_peer(nodes[3]->host.id());
      },
      300s);
  EXPECT_GE(saved, 3U);
  EXPECT_EQ(taken, saved);
  ASSERT_FALSE(addrs.empty());
  EXPECT_EQ(addrs.front(), nodes[3]->host.listen_addrs().front());
}


// Addresses that change while the refresh loop is busy (our reservation
// completed during its bootstrap walk or its publish) are published at once:
// publish_soon() then finds no sleep to cut short, and the loop used to
// sleep a whole interval on the record without the circuit (e2e two_relays,
// relays: auto: the laptop never saw home's circuit).
TEST_F(dht_network, addresses_that_change_during_a_publish_are_published_at_once) {
  const auto direct = *multiaddr::parse("/ip4/192.0.2.1/tcp/4001");
  const auto circuit = *multiaddr::parse(
      "/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/"
      "p2p-circuit");
  std::optional<wire::peer_record> got;
  int reads = 0;
  bool reserved = false;  // outlives the loop's use of the callback
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        co_await build(6);
        auto& owner = *nodes[4];
        owner.kad.set_self_addrs([&] {
          ++reads;
          if (!reserved) {
            // 1. the first publish reads the direct address only; while it
            //    walks, the reservation completes (posted: it runs between
            //    the walk's steps, not inside this call).
            asio::post(io, [&] {
              reserved = true;
              owner.kad.publish_soon();
            });
            return std::vector<multiaddr>{direct};
          }
          return std::vector<multiaddr>{direct, circuit};
        });
        // 2. an interval far beyond the test: only publish_soon() can
        //    publish the second record in time.
        owner.kad.start(std::chrono::seconds(3600));
        asio::steady_timer t(co_await asio::this_coro::executor);
        // Bounded: 50 lookups, 200 ms apart.
        for (int i = 0; i < 50; ++i) {
          got = co_await nodes[5]->kad.find_peer_record(owner.host.id());
          if (got && got->addrs.size() == 2) break;
          t.expires_after(200ms);
          co_await t.async_wait(net::use_nothrow);
        }
        owner.kad.stop();
      },
      300s);
  EXPECT_GE(reads, 2);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->addrs, (std::vector<multiaddr>{direct, circuit}));
}

}  // namespace
}  // namespace peerup::test
