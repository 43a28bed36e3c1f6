#include "gateway/virtual_ips.hpp"

#include <gtest/gtest.h>

#include <set>

#include "crypto/keys.hpp"
#include "gateway/token_bucket.hpp"

namespace peerup::app {
namespace {

peer_id fixed_peer(std::uint8_t seed) {
  std::array<std::uint8_t, 32> secret{};
  secret.fill(seed);
  return private_key::from_seed(secret).value().to_peer_id();
}

const ipv4_network net16 = *ipv4_network::parse("127.64.0.0/16");

TEST(virtual_ips, the_same_peer_gets_the_same_address_in_every_allocator) {
  virtual_ips a(net16), b(net16);
  const peer_id p = fixed_peer(1), q = fixed_peer(2);
  const auto pa = a.assign(p).value();
  (void)b.assign(q);  // another peer first must not move p
  EXPECT_EQ(b.assign(p).value(), pa);
  EXPECT_EQ(a.assign(p).value(), pa);  // idempotent
  EXPECT_TRUE(net16.contains(pa));
  EXPECT_EQ(a.peer_at(pa), p);
  EXPECT_EQ(a.find(p), pa);
  EXPECT_FALSE(a.find(q));
  EXPECT_NE(a.assign(q).value(), pa);
}

TEST(virtual_ips, never_hands_out_addresses_ending_in_0_or_255) {
  virtual_ips a(*ipv4_network::parse("127.64.7.0/24"));
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 254; ++i) {
    auto ip = a.assign(private_key::generate().to_peer_id());
    ASSERT_TRUE(ip) << i;
    EXPECT_NE(*ip & 0xff, 0u);
    EXPECT_NE(*ip & 0xff, 255u);
    EXPECT_EQ(*ip >> 8, 0x7f4007u);
    EXPECT_TRUE(seen.insert(*ip).second) << "address given twice";
  }
  // 254 usable addresses in a /24: the 255th peer is refused, not looped on.
  auto full = a.assign(private_key::generate().to_peer_id());
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), make_error_code(errc::resource_limit));
}

TEST(virtual_ips, a_collision_probes_to_the_next_free_address) {
  // In a /24 with 254 slots, 40 peers make a hash collision likely; every
  // peer must still get its own address and keep it.
  virtual_ips a(*ipv4_network::parse("127.64.9.0/24"));
  std::vector<std::pair<peer_id, std::uint32_t>> given;
  for (std::uint8_t i = 0; i < 40; ++i) {
    const peer_id p = fixed_peer(i);
    given.emplace_back(p, a.assign(p).value());
  }
  std::set<std::uint32_t> distinct;
  for (const auto& [p, ip] : given) {
    distinct.insert(ip);
    EXPECT_EQ(a.peer_at(ip), p);
    EXPECT_EQ(a.assign(p).value(), ip);
  }
  EXPECT_EQ(distinct.size(), given.size());
}

TEST(virtual_ips, ipv4_text_round_trips) {
  EXPECT_EQ(ipv4_to_string(0x7f400102u), "127.64.1.2");
  EXPECT_EQ(parse_ipv4("127.64.1.2"), 0x7f400102u);
  for (auto bad : {"127.64.1", "127.64.1.2.3", "127.64.1.256", "a.b.c.d", "127.64.1.2 ", ""})
    EXPECT_FALSE(parse_ipv4(bad)) << bad;
}

TEST(token_bucket, allows_a_burst_then_the_rate) {
  using namespace std::chrono_literals;
  token_bucket b(10, 5);
  const auto t0 = token_bucket::clock::time_point{} + 1h;
  int taken = 0;
  for (int i = 0; i < 20; ++i) taken += b.try_take(t0);
  EXPECT_EQ(taken, 5);
  EXPECT_FALSE(b.try_take(t0 + 50ms));  // half a token
  EXPECT_TRUE(b.try_take(t0 + 100ms));
  taken = 0;
  for (int i = 0; i < 20; ++i) taken += b.try_take(t0 + 10s);  // refilled to the burst only
  EXPECT_EQ(taken, 5);
}

}  // namespace
}  // namespace peerup::app
