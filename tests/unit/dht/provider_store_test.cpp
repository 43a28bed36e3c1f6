#include "dht/provider_store.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"

namespace peerup::dht {
namespace {

using namespace std::chrono_literals;

peer_id random_peer() { return private_key::generate().to_peer_id(); }
const multiaddr addr = *multiaddr::parse("/ip4/127.0.0.1/tcp/4001");

TEST(provider_store, stores_refreshes_and_expires) {
  provider_store s;
  auto t0 = std::chrono::steady_clock::now();
  auto a = random_peer();
  auto b = random_peer();
  bytes key{0x12, 0x20, 1};
  ASSERT_TRUE(s.add(key, a, {addr}, t0));
  ASSERT_TRUE(s.add(key, b, {}, t0 + 1h));
  auto got = s.get(key, t0 + 1h, 10);
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].id, b);  // most recent first
  EXPECT_EQ(got[1].id, a);
  EXPECT_TRUE(got[1].addrs.empty());  // a's addresses are older than 30 minutes
  EXPECT_EQ(s.get(key, t0 + 10min, 10).at(0).addrs.size(), 1U);
  // a refreshes at 40 h, so at 48 h only b has expired.
  ASSERT_TRUE(s.add(key, a, {}, t0 + 40h));
  EXPECT_EQ(s.records(), 2U);
  EXPECT_EQ(s.expire(t0 + 49h + 1s), 1U);
  got = s.get(key, t0 + 49h + 1s, 10);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].id, a);
  EXPECT_EQ(s.expire(t0 + 100h), 1U);
  EXPECT_EQ(s.keys(), 0U);
  EXPECT_TRUE(s.get(key, t0 + 100h, 10).empty());
}

TEST(provider_store, bounds_per_key_per_peer_and_in_all) {
  provider_store s(
      provider_limits{.max_keys = 3, .max_providers_per_key = 2, .max_records_per_peer = 2});
  auto now = std::chrono::steady_clock::now();
  auto a = random_peer();
  ASSERT_TRUE(s.add({1}, a, {}, now));
  ASSERT_TRUE(s.add({2}, a, {}, now));
  EXPECT_EQ(s.add({3}, a, {}, now).error(), errc::kad_store_full);  // a has 2 records
  EXPECT_TRUE(s.add({1}, a, {}, now));                              // a refresh is fine
  ASSERT_TRUE(s.add({1}, random_peer(), {}, now));
  EXPECT_EQ(s.add({1}, random_peer(), {}, now).error(), errc::kad_store_full);  // key full
  ASSERT_TRUE(s.add({3}, random_peer(), {}, now));
  EXPECT_EQ(s.add({4}, random_peer(), {}, now).error(), errc::kad_store_full);  // 3 keys
  EXPECT_EQ(s.records(), 4U);
  EXPECT_EQ(s.get({1}, now, 1).size(), 1U);  // max honoured
}

}  // namespace
}  // namespace peerup::dht
