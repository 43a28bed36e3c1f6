// The peer store's bounds (net/peer_store.hpp): a full table takes the
// newest peer in place of the least recently used disconnected one, never
// pushes out a connected or kept peer, and forgets disconnected peers after
// their TTL, so a relay whose crowd left keeps nothing of it.
#include "net/peer_store.hpp"

#include <gtest/gtest.h>

namespace peerup::net {
namespace {

using namespace std::chrono_literals;

// A distinct peer for each n (an identity multihash of 4 bytes of n).
peer_id nth_peer(std::uint32_t n) {
  return peer_id::from_public_key(bytes{0x08, 0x01, 0x12, 0x04, std::uint8_t(n >> 24),
                                        std::uint8_t(n >> 16), std::uint8_t(n >> 8),
                                        std::uint8_t(n)});
}

multiaddr nth_addr(std::uint32_t n) {
  return *multiaddr::parse("/ip4/10." + std::to_string((n >> 16) & 255) + "." +
                           std::to_string((n >> 8) & 255) + "." + std::to_string(n & 255) +
                           "/tcp/4001");
}

// The store's clock, moved by hand.
struct test_clock {
  peer_store::clock::time_point t{std::chrono::hours(1)};
  std::function<peer_store::clock::time_point()> fn() {
    return [this] { return t; };
  }
};

constexpr std::uint32_t max = peer_store::max_peers;

TEST(peer_store, a_full_table_admits_the_newest_peer_and_evicts_the_oldest_disconnected) {
  test_clock clock;
  peer_store s(clock.fn());
  for (std::uint32_t i = 0; i < 11000; ++i) {
    s.add_addr(nth_peer(i), nth_addr(i));
    clock.t += 1ms;
  }
  EXPECT_EQ(s.size(), max);
  // The newest 10,000 are there, the 1,000 oldest went.
  const auto newest = s.addrs(nth_peer(10999));
  ASSERT_EQ(newest.size(), 1u) << "the newest peer was refused";
  EXPECT_EQ(newest.front(), nth_addr(10999));
  EXPECT_TRUE(s.find(nth_peer(1000)));
  for (std::uint32_t i = 0; i < 1000; ++i) ASSERT_FALSE(s.find(nth_peer(i))) << "peer " << i;
}

TEST(peer_store, connected_and_kept_peers_are_never_evicted) {
  test_clock clock;
  peer_store s(clock.fn());
  // 100 connected peers, as the host reports them, and 10 from the config.
  for (std::uint32_t i = 0; i < 100; ++i) {
    s.connected(nth_peer(i));
    s.add_addr(nth_peer(i), nth_addr(i));
    s.set_protocols(nth_peer(i), {"/ipfs/id/1.0.0"});
  }
  for (std::uint32_t i = 100; i < 110; ++i) {
    ASSERT_TRUE(s.keep(nth_peer(i)));
    s.add_addr(nth_peer(i), nth_addr(i));
  }
  // 11,000 newer peers pass through the table.
  for (std::uint32_t i = 1000; i < 12000; ++i) {
    clock.t += 1ms;
    s.add_addr(nth_peer(i), nth_addr(i));
  }
  EXPECT_EQ(s.size(), max);
  EXPECT_EQ(s.connected_count(), 100u);
  for (std::uint32_t i = 0; i < 110; ++i) {
    const auto* info = s.find(nth_peer(i));
    ASSERT_TRUE(info) << "peer " << i << " was evicted";
    EXPECT_EQ(info->addrs, std::vector<multiaddr>{nth_addr(i)});
    if (i < 100) {
      EXPECT_EQ(info->protocols.size(), 1u);
    }
  }
  EXPECT_TRUE(s.find(nth_peer(11999)));
  // 10,000 - 110 places for the newest ones; the older went.
  EXPECT_FALSE(s.find(nth_peer(12000 - (max - 110) - 1)));
  EXPECT_TRUE(s.find(nth_peer(12000 - (max - 110))));
}

TEST(peer_store, a_table_full_of_connected_peers_refuses_a_new_one_until_one_leaves) {
  test_clock clock;
  peer_store s(clock.fn());
  for (std::uint32_t i = 0; i < max; ++i) {
    s.connected(nth_peer(i));
    s.add_addr(nth_peer(i), nth_addr(i));
  }
  const auto stranger = nth_peer(max + 1);
  s.add_addr(stranger, nth_addr(max + 1));
  EXPECT_FALSE(s.find(stranger));
  EXPECT_EQ(s.size(), max);
  // One leaves (its addresses stay, for a redial), and makes room when needed.
  s.disconnected(nth_peer(7));
  EXPECT_TRUE(s.find(nth_peer(7)));
  s.add_addr(stranger, nth_addr(max + 1));
  EXPECT_TRUE(s.find(stranger));
  EXPECT_FALSE(s.find(nth_peer(7)));
  EXPECT_EQ(s.size(), max);
  EXPECT_EQ(s.connected_count(), max - 1);
}

TEST(peer_store, a_write_to_a_disconnected_peer_makes_it_recently_used) {
  test_clock clock;
  peer_store s(clock.fn());
  for (std::uint32_t i = 0; i < max; ++i) {
    s.add_addr(nth_peer(i), nth_addr(i));
    clock.t += 1ms;
  }
  s.add_addr(nth_peer(0), nth_addr(max + 5));  // peer 0 heard of again (kad, a dial)
  s.add_addr(nth_peer(max), nth_addr(max));
  EXPECT_TRUE(s.find(nth_peer(0)));
  EXPECT_FALSE(s.find(nth_peer(1)));
  EXPECT_EQ(s.addrs(nth_peer(0)).size(), 2u);
}

TEST(peer_store, disconnected_peers_expire_after_their_ttl_connected_and_kept_ones_never) {
  test_clock clock;
  peer_store s(clock.fn());
  const auto gone = nth_peer(1), staying = nth_peer(2), configured = nth_peer(3),
             heard_of = nth_peer(4);
  for (const auto& p : {gone, staying}) {
    s.connected(p);
    s.add_addr(p, nth_addr(1));
  }
  s.keep(configured);
  s.add_addr(configured, nth_addr(3));
  s.add_addr(heard_of, nth_addr(4));  // never connected: its TTL runs from now
  s.disconnected(gone);
  clock.t += peer_store::disconnected_ttl - 1s;
  EXPECT_EQ(s.expire(), 0u);
  EXPECT_TRUE(s.find(gone));
  clock.t += 2s;
  EXPECT_EQ(s.expire(), 2u);
  EXPECT_FALSE(s.find(gone));
  EXPECT_FALSE(s.find(heard_of));
  clock.t += 24h;
  EXPECT_EQ(s.expire(), 0u);
  EXPECT_TRUE(s.find(staying));
  EXPECT_TRUE(s.find(configured));
  EXPECT_EQ(s.size(), 2u);
}

TEST(peer_store, a_disconnect_drops_protocols_and_agent_and_an_entry_with_nothing_left) {
  test_clock clock;
  peer_store s(clock.fn());
  const auto with_addrs = nth_peer(1), bare = nth_peer(2);
  for (const auto& p : {with_addrs, bare}) {
    s.connected(p);
    s.set_protocols(p, {"/ipfs/id/1.0.0", "/libp2p/circuit/relay/0.2.0/hop"});
    s.set_agent(p, "peerup/test");
  }
  s.add_addr(with_addrs, nth_addr(1));
  EXPECT_EQ(s.size(), 2u);
  s.disconnected(with_addrs);
  s.disconnected(bare);
  EXPECT_EQ(s.connected_count(), 0u);
  // Its addresses stay for a redial; what identify tells again does not.
  const auto* info = s.find(with_addrs);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->addrs.size(), 1u);
  EXPECT_TRUE(info->protocols.empty());
  EXPECT_TRUE(info->agent_version.empty());
  EXPECT_FALSE(s.find(bare)) << "an entry with nothing to remember stayed";
  EXPECT_EQ(s.size(), 1u);
  // An identify answer that lands after the disconnect records nothing.
  s.set_protocols(with_addrs, {"/ipfs/id/1.0.0"});
  EXPECT_TRUE(s.find(with_addrs)->protocols.empty());
}

}  // namespace
}  // namespace peerup::net
