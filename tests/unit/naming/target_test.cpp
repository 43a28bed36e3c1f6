// Target plans: how a name, a peer ID or a multiaddr becomes addresses to dial.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/keys.hpp"
#include "config/config.hpp"
#include "naming/target.hpp"

namespace peerup::app {
namespace {

struct targets : ::testing::Test {
  peer_id home = private_key::generate().to_peer_id();
  peer_id relay = private_key::generate().to_peer_id();
  config cfg = [this] {
    auto c = parse_config("relays:\n  - /ip4/203.0.113.7/tcp/4001/p2p/" + relay.to_string() +
                              "\nnames:\n  home: " + home.to_string() +
                              "\n  lab: /ip4/192.0.2.1/tcp/4001/p2p/" + home.to_string() + "\n",
                          "/x/config.yaml");
    EXPECT_TRUE(c) << c.error().to_string();
    return *c;
  }();
};

TEST_F(targets, a_name_dials_through_every_configured_relay) {
  auto plan = resolve_target("home", &cfg);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->peer, home);
  EXPECT_FALSE(plan->exact);
  ASSERT_EQ(plan->addrs.size(), 1u);
  EXPECT_EQ(plan->addrs[0].to_string(), "/ip4/203.0.113.7/tcp/4001/p2p/" + relay.to_string() +
                                            "/p2p-circuit/p2p/" + home.to_string());
}

TEST_F(targets, a_name_with_an_address_tries_it_before_the_relays) {
  auto plan = resolve_target("lab", &cfg);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->addrs.size(), 2u);
  EXPECT_FALSE(plan->addrs[0].is_relayed());
  EXPECT_TRUE(plan->addrs[1].is_relayed());
}

TEST_F(targets, a_peer_id_works_without_a_name) {
  auto plan = resolve_target(home.to_string(), &cfg);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->peer, home);
  EXPECT_EQ(plan->addrs.size(), 1u);
}

TEST_F(targets, a_multiaddr_is_dialed_exactly_and_must_name_the_peer) {
  auto plan = resolve_target("/ip4/127.0.0.1/tcp/4001/p2p/" + home.to_string(), &cfg);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->exact);
  EXPECT_TRUE(plan->addrs.empty());
  auto bad = resolve_target("/ip4/127.0.0.1/tcp/4001", &cfg);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, ::testing::HasSubstr("must end in /p2p/<peer-id>"));
}

TEST_F(targets, unknown_names_and_unreachable_peers_are_explained) {
  auto unknown = resolve_target("nas", &cfg);
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message, ::testing::HasSubstr("neither a name"));
  auto no_relays = resolve_target(home.to_string(), nullptr);
  ASSERT_FALSE(no_relays);
  EXPECT_THAT(no_relays.error().message, ::testing::HasSubstr("add a relay"));
}

}  // namespace
}  // namespace peerup::app
