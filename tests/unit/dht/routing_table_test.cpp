#include <gtest/gtest.h>

#include <set>

#include "crypto/keys.hpp"
#include "dht/routing_table.hpp"

namespace peerup::dht {
namespace {

using namespace std::chrono_literals;

peer_id random_peer() { return private_key::generate().to_peer_id(); }
multiaddr addr(const std::string& s) { return *multiaddr::parse(s); }

// A peer whose key falls in bucket `cpl` of `table` (found by trying keys).
peer_id peer_in_bucket(const routing_table& table, std::size_t cpl) {
  for (int i = 0; i < 100000; ++i) {
    auto p = random_peer();
    if (std::min<std::size_t>(common_prefix_length(table.self_key(), kad_key::of(p)), 255) == cpl) {
      return p;
    }
  }
  throw std::runtime_error("no peer found for the bucket");
}

TEST(ip_group, global_addresses_group_by_prefix_private_ones_are_exempt) {
  EXPECT_EQ(ip_group({addr("/ip4/203.0.113.7/tcp/1")}), "v4:203.0");
  EXPECT_EQ(ip_group({addr("/ip6/2001:db8:1:2::1/udp/1/quic-v1")}), "v6:2001:0db8");
  for (const char* s :
       {"/ip4/127.0.0.1/tcp/1", "/ip4/10.1.2.3/tcp/1", "/ip4/192.168.1.1/tcp/1",
        "/ip4/172.20.0.1/tcp/1", "/ip4/100.64.0.1/tcp/1", "/ip4/169.254.1.1/tcp/1",
        "/ip6/::1/tcp/1", "/ip6/fe80::1/tcp/1", "/ip6/fd00::1/tcp/1", "/dns4/example.com/tcp/1"}) {
    EXPECT_EQ(ip_group({addr(s)}), std::nullopt) << s;
  }
  // The first global address decides.
  EXPECT_EQ(ip_group({addr("/ip4/10.0.0.1/tcp/1"), addr("/ip4/198.51.100.1/tcp/1")}), "v4:198.51");
  EXPECT_EQ(ip_group({addr("/ip4/172.32.0.1/tcp/1")}), "v4:172.32");  // outside 172.16/12
}

TEST(routing_table, adds_updates_and_never_adds_itself) {
  auto self = random_peer();
  routing_table t(self);
  auto now = clock::now();
  EXPECT_EQ(t.add(self, {}, now), add_outcome::self);
  auto p = random_peer();
  EXPECT_EQ(t.add(p, {addr("/ip4/127.0.0.1/tcp/1")}, now), add_outcome::added);
  EXPECT_EQ(t.add(p, {}, now + 1s), add_outcome::updated);
  ASSERT_NE(t.find(p), nullptr);
  EXPECT_EQ(t.find(p)->addrs.size(), 1U);  // an empty update keeps the addresses
  EXPECT_EQ(t.find(p)->last_seen, now + 1s);
  EXPECT_EQ(t.size(), 1U);
}

TEST(routing_table, full_bucket_keeps_live_members_and_replaces_stale_ones) {
  auto self = random_peer();
  routing_table t(self, routing_config{.k = 3, .stale_after = 1h});
  auto now = clock::now();
  std::vector<peer_id> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(peer_in_bucket(t, 0));
    ASSERT_EQ(t.add(members.back(), {}, now + std::chrono::seconds(i)), add_outcome::added);
  }
  auto newcomer = peer_in_bucket(t, 0);
  EXPECT_EQ(t.add(newcomer, {}, now + 30min), add_outcome::bucket_full);
  EXPECT_EQ(t.find(newcomer), nullptr);
  // Members 1 and 2 are seen again; member 0 stays silent past stale_after.
  t.on_success(members[1], now + 61min);
  t.on_success(members[2], now + 61min);
  EXPECT_EQ(t.add(newcomer, {}, now + 61min), add_outcome::replaced_stale);
  EXPECT_EQ(t.find(members[0]), nullptr);
  EXPECT_NE(t.find(newcomer), nullptr);
  EXPECT_EQ(t.size(), 3U);
  EXPECT_EQ(t.bucket_sizes()[0], 3U);
}

TEST(routing_table, repeated_failures_remove_a_member) {
  routing_table t(random_peer(), routing_config{.max_failures = 3});
  auto p = random_peer();
  t.add(p, {}, clock::now());
  t.on_failure(p);
  t.on_failure(p);
  t.on_success(p, clock::now());  // an answer resets the count
  t.on_failure(p);
  t.on_failure(p);
  EXPECT_NE(t.find(p), nullptr);
  t.on_failure(p);
  EXPECT_EQ(t.find(p), nullptr);
  EXPECT_EQ(t.size(), 0U);
}

TEST(routing_table, one_ip_block_cannot_fill_a_bucket_or_the_table) {
  routing_table t(random_peer(), routing_config{.max_per_group_per_bucket = 2, .max_per_group = 5});
  auto now = clock::now();
  // Same /16, same bucket: two get in.
  EXPECT_EQ(t.add(peer_in_bucket(t, 0), {addr("/ip4/203.0.1.1/tcp/1")}, now), add_outcome::added);
  EXPECT_EQ(t.add(peer_in_bucket(t, 0), {addr("/ip4/203.0.2.2/tcp/1")}, now), add_outcome::added);
  EXPECT_EQ(t.add(peer_in_bucket(t, 0), {addr("/ip4/203.0.3.3/tcp/1")}, now),
            add_outcome::diversity_refused);
  // Another /16 is fine, and private addresses are exempt.
  EXPECT_EQ(t.add(peer_in_bucket(t, 0), {addr("/ip4/198.51.100.1/tcp/1")}, now),
            add_outcome::added);
  EXPECT_EQ(t.add(peer_in_bucket(t, 0), {addr("/ip4/10.0.0.1/tcp/1")}, now), add_outcome::added);
  // Across buckets, the table-wide limit holds.
  int added = 0;
  for (std::size_t cpl = 1; cpl <= 6; ++cpl) {
    if (t.add(peer_in_bucket(t, cpl), {addr("/ip4/203.0.9.9/tcp/1")}, now) == add_outcome::added) {
      ++added;
    }
  }
  EXPECT_EQ(added, 3);  // 2 already in bucket 0, limit 5
}

TEST(routing_table, closest_is_sorted_by_xor_distance) {
  routing_table t(random_peer());
  auto now = clock::now();
  std::vector<peer_id> all;
  for (int i = 0; i < 200; ++i) {
    all.push_back(random_peer());
    t.add(all.back(), {}, now);
  }
  auto target = kad_key::of(as_bytes("target"));
  auto got = t.closest(target, 20);
  ASSERT_EQ(got.size(), 20U);
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_LT(xor_distance(got[i - 1]->key, target), xor_distance(got[i]->key, target));
  }
  // Against a brute force over the members actually kept.
  std::vector<distance> kept;
  for (const auto& p : all) {
    if (t.find(p) != nullptr) kept.push_back(xor_distance(kad_key::of(p), target));
  }
  std::sort(kept.begin(), kept.end());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(xor_distance(got[i]->key, target), kept[i]);
  }
  EXPECT_TRUE(t.deepest_bucket().has_value());
}

}  // namespace
}  // namespace peerup::dht
