// relays: auto: which providers of the relay namespace a node reserves on.
#include "node/relay_finder.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"

namespace peerup::app {
namespace {

multiaddr ma(const std::string& s) { return *multiaddr::parse(s); }

struct relay_finder_test : ::testing::Test {
  peer_id self = private_key::generate().to_peer_id();
  peer_id a = private_key::generate().to_peer_id();
  peer_id b = private_key::generate().to_peer_id();
  peer_id c = private_key::generate().to_peer_id();
  std::vector<dht::provider> found() const {
    return {
        {a, {ma("/ip4/127.0.0.1/tcp/4001"), ma("/ip4/203.0.113.5/tcp/4001")}},
        {self, {ma("/ip4/192.0.2.9/tcp/4001")}},
        {b, {ma("/ip4/198.51.100.2/tcp/4001/p2p/" + b.to_string() + "/p2p-circuit"),
             ma("/ip4/0.0.0.0/tcp/4001"), ma("/ip4/198.51.100.2/udp/4001/quic-v1")}},
        {c, {ma("/dns4/relay.example/tcp/4001")}},
    };
  }
};

TEST_F(relay_finder_test, authorized_policy_takes_only_listed_relays) {
  dht_config cfg;  // relay_policy authorized
  cfg.relay_peers = {b};
  auto r = choose_relays(found(), cfg, self, {}, 4);
  ASSERT_EQ(r.chosen.size(), 1U);
  // A circuit and a wildcard are no place to dial: the QUIC address is.
  EXPECT_EQ(r.chosen[0], ma("/ip4/198.51.100.2/udp/4001/quic-v1/p2p/" + b.to_string()));
  ASSERT_EQ(r.skipped.size(), 2U);  // a and c; ourselves silently
  EXPECT_EQ(r.skipped[0], a.to_string() + ": not in dht.relay_peers (relay_policy authorized)");
}

TEST_F(relay_finder_test, any_policy_prefers_a_non_loopback_address_and_honours_room) {
  dht_config cfg;
  cfg.relays_from = relay_policy::any;
  auto r = choose_relays(found(), cfg, self, {}, 4);
  ASSERT_EQ(r.chosen.size(), 2U);
  EXPECT_EQ(r.chosen[0], ma("/ip4/203.0.113.5/tcp/4001/p2p/" + a.to_string()));
  EXPECT_EQ(r.chosen[1].peer(), b);
  ASSERT_EQ(r.skipped.size(), 1U);
  EXPECT_EQ(r.skipped[0], c.to_string() + ": no TCP or QUIC address to dial");
  // Room for one, and a is kept already: b.
  auto one = choose_relays(found(), cfg, self, [&](const peer_id& p) { return p == a; }, 1);
  ASSERT_EQ(one.chosen.size(), 1U);
  EXPECT_EQ(one.chosen[0].peer(), b);
  EXPECT_TRUE(choose_relays(found(), cfg, self, {}, 0).chosen.empty());
}

TEST_F(relay_finder_test, loopback_is_taken_only_when_nothing_else_is_offered) {
  EXPECT_EQ(relay_dial_addr({ma("/ip4/127.0.0.1/tcp/1"), ma("/ip4/10.0.0.1/tcp/2")}),
            ma("/ip4/10.0.0.1/tcp/2"));
  EXPECT_EQ(relay_dial_addr({ma("/ip4/127.0.0.1/tcp/1")}), ma("/ip4/127.0.0.1/tcp/1"));
  EXPECT_FALSE(relay_dial_addr({}));
  EXPECT_FALSE(relay_dial_addr({ma("/ip4/0.0.0.0/tcp/1")}));
}

}  // namespace
}  // namespace peerup::app
