#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/keys.hpp"
#include "peerup/status.hpp"
#include "peerup/target.hpp"

namespace peerup::app {
namespace {

TEST(status, json_round_trips_including_characters_that_need_escaping) {
  daemon_status s;
  s.pid = 1234;
  s.peer_id = "12D3KooWpeer";
  s.config_file = "/home/a \"b\"\\c/config.yaml";
  s.started_unix = 100;
  s.updated_unix = 160;
  s.authorized_peers = 3;
  s.listen = {"/ip4/0.0.0.0/tcp/4001"};
  s.relays = {{"/ip4/1.2.3.4/tcp/1/p2p/R", "reserved", 4000, ""},
              {"/ip4/5.6.7.8/tcp/1/p2p/S", "backoff", 0, "cannot reach\nrelay"}};
  s.connections = {{"12D3KooWother", "laptop", "relayed", "/p2p-circuit", "inbound"}};
  s.services = {{"ssh", "127.0.0.1:22", true, 5, 1, 2, 3}};
  auto back = parse_status(to_json(s));
  ASSERT_TRUE(back) << to_json(s);
  EXPECT_EQ(back->pid, 1234);
  EXPECT_EQ(back->config_file, s.config_file);
  EXPECT_EQ(back->updated_unix, 160u);
  EXPECT_EQ(back->authorized_peers, 3u);
  ASSERT_EQ(back->relays.size(), 2u);
  EXPECT_EQ(back->relays[0].expires_unix, 4000u);
  EXPECT_EQ(back->relays[1].error, "cannot reach\nrelay");
  ASSERT_EQ(back->connections.size(), 1u);
  EXPECT_EQ(back->connections[0].path, "relayed");
  EXPECT_EQ(back->connections[0].name, "laptop");
  ASSERT_EQ(back->services.size(), 1u);
  EXPECT_TRUE(back->services[0].enabled);
  EXPECT_EQ(back->services[0].failed, 3u);
  EXPECT_THAT(render_status(*back), ::testing::HasSubstr("reserved (expires in 3840 s)"));
}

TEST(status, rejects_documents_that_are_not_status) {
  EXPECT_FALSE(parse_status("[1, 2]"));
  EXPECT_FALSE(parse_status("{\"pid\": 1"));
  EXPECT_FALSE(parse_status(std::string(max_status_file + 1, ' ')));
}

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
