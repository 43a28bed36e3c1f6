// Observed-address confirmation: distinct observers, AutoNAT, TTL, bounds.
#include "protocols/observed_addrs.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"

namespace peerup::protocols {
namespace {

using namespace std::chrono_literals;
using time_point = observed_addr_table::time_point;

multiaddr ma(std::string_view text) { return multiaddr::parse(text).value(); }
peer_id peer(std::uint8_t n) { return private_key::from_seed(bytes(32, n)).value().to_peer_id(); }

const time_point t0 = time_point{} + 1h;
const multiaddr nat = ma("/ip4/203.0.113.7/tcp/40001");

TEST(observed_addrs, one_observer_is_a_candidate_but_not_confirmed) {
  observed_addr_table t;
  EXPECT_FALSE(t.record(peer(1), nat, t0));
  EXPECT_TRUE(t.confirmed(t0).empty());
  EXPECT_EQ(t.candidates(t0), std::vector{nat});
}

TEST(observed_addrs, two_distinct_observers_confirm_an_address) {
  observed_addr_table t;
  (void)t.record(peer(1), nat, t0);
  EXPECT_TRUE(t.record(peer(2), nat, t0 + 1s));
  EXPECT_EQ(t.confirmed(t0 + 1s), std::vector{nat});
}

TEST(observed_addrs, the_same_observer_twice_does_not_confirm) {
  observed_addr_table t;
  (void)t.record(peer(1), nat, t0);
  EXPECT_FALSE(t.record(peer(1), nat, t0 + 1s));
  EXPECT_TRUE(t.confirmed(t0 + 1s).empty());
}

TEST(observed_addrs, a_different_port_is_a_different_address) {
  observed_addr_table t;
  (void)t.record(peer(1), nat, t0);
  (void)t.record(peer(2), ma("/ip4/203.0.113.7/tcp/40002"), t0);
  EXPECT_TRUE(t.confirmed(t0).empty());
  EXPECT_EQ(t.candidates(t0).size(), 2u);
}

TEST(observed_addrs, one_observer_plus_an_autonat_dial_back_confirms) {
  observed_addr_table t;
  (void)t.record(peer(1), nat, t0);
  EXPECT_TRUE(t.record_dialable(nat, t0 + 1s));
  EXPECT_EQ(t.confirmed(t0 + 1s), std::vector{nat});
}

TEST(observed_addrs, autonat_alone_does_not_confirm) {
  observed_addr_table t;
  EXPECT_FALSE(t.record_dialable(nat, t0));
  EXPECT_TRUE(t.confirmed(t0).empty());
}

TEST(observed_addrs, a_new_report_replaces_the_observers_previous_address) {
  observed_addr_table t;
  (void)t.record(peer(1), nat, t0);
  (void)t.record(peer(2), nat, t0);
  const auto moved = ma("/ip4/198.51.100.1/tcp/40001");
  EXPECT_TRUE(t.record(peer(2), moved, t0 + 1s));  // nat lost its second observer
  EXPECT_TRUE(t.confirmed(t0 + 1s).empty());
  EXPECT_EQ(t.candidates(t0 + 1s).size(), 2u);
}

TEST(observed_addrs, keeps_one_address_per_ip_family_per_observer) {
  observed_addr_table t;
  const auto v6 = ma("/ip6/2001:db8::7/tcp/40001");
  (void)t.record(peer(1), nat, t0);
  (void)t.record(peer(1), v6, t0);
  (void)t.record(peer(2), nat, t0);
  (void)t.record(peer(2), v6, t0);
  EXPECT_EQ(t.confirmed(t0).size(), 2u);
}

TEST(observed_addrs, observations_expire_after_the_ttl) {
  observed_addr_table t(observed_addrs_config{.ttl = 10min});
  (void)t.record(peer(1), nat, t0);
  (void)t.record(peer(2), nat, t0);
  EXPECT_EQ(t.confirmed(t0 + 9min).size(), 1u);
  EXPECT_TRUE(t.confirmed(t0 + 10min).empty());
  EXPECT_EQ(t.expire(t0 + 10min), 2u);
  EXPECT_EQ(t.observers(), 0u);
}

TEST(observed_addrs, ignores_relay_dns_and_other_transports) {
  observed_addr_table t;
  (void)t.record(peer(1), ma("/ip4/1.2.3.4/tcp/1/p2p/" + peer(9).to_string() + "/p2p-circuit"), t0);
  (void)t.record(peer(1), ma("/dns4/example.com/tcp/1"), t0);
  (void)t.record(peer(1), ma("/ip4/1.2.3.4/udp/1"), t0);
  (void)t.record(peer(1), ma("/ip4/1.2.3.4/udp/1/quic"), t0);
  (void)t.record(peer(1), ma("/ip4/1.2.3.4/tcp/1/ws"), t0);
  EXPECT_TRUE(t.candidates(t0).empty());
}

TEST(observed_addrs, an_observer_reports_a_tcp_and_a_quic_mapping_side_by_side) {
  observed_addr_table t;
  const auto udp = ma("/ip4/203.0.113.9/udp/4001/quic-v1");
  (void)t.record(peer(1), nat, t0);
  (void)t.record(peer(1), udp, t0);
  EXPECT_EQ(t.candidates(t0).size(), 2u);
  (void)t.record(peer(2), udp, t0);
  EXPECT_EQ(t.confirmed(t0), std::vector{udp});
  // A new QUIC mapping replaces the old QUIC one only.
  const auto moved = ma("/ip4/203.0.113.9/udp/5555/quic-v1");
  (void)t.record(peer(1), moved, t0 + 1s);
  const auto c = t.candidates(t0 + 1s);
  EXPECT_EQ(std::count(c.begin(), c.end(), nat), 1);
  EXPECT_EQ(std::count(c.begin(), c.end(), moved), 1);
}

TEST(observed_addrs, strips_a_trailing_peer_id) {
  observed_addr_table t;
  (void)t.record(peer(1), ma(nat.to_string() + "/p2p/" + peer(5).to_string()), t0);
  (void)t.record(peer(2), nat, t0);
  EXPECT_EQ(t.confirmed(t0), std::vector{nat});
}

TEST(observed_addrs, the_table_is_bounded_and_evicts_the_stalest_observer) {
  observed_addr_table t(observed_addrs_config{.max_observers = 4});
  for (std::uint8_t i = 1; i <= 10; ++i)
    (void)t.record(peer(i), ma("/ip4/1.2.3." + std::to_string(i) + "/tcp/1"), t0 + i * 1s);
  EXPECT_EQ(t.observers(), 4u);
  const auto left = t.candidates(t0 + 20s);
  EXPECT_EQ(left.size(), 4u);
  EXPECT_EQ(std::count(left.begin(), left.end(), ma("/ip4/1.2.3.1/tcp/1")), 0);
  EXPECT_EQ(std::count(left.begin(), left.end(), ma("/ip4/1.2.3.10/tcp/1")), 1);
}

TEST(observed_addrs, candidates_list_confirmed_addresses_first) {
  observed_addr_table t;
  const auto lone = ma("/ip4/1.1.1.1/tcp/1");
  (void)t.record(peer(1), lone, t0);
  (void)t.record(peer(2), nat, t0);
  (void)t.record(peer(3), nat, t0);
  EXPECT_EQ(t.candidates(t0), (std::vector{nat, lone}));
}

}  // namespace
}  // namespace peerup::protocols
