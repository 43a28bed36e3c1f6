#include "config/dht_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config/relay_config.hpp"

namespace peerup::app {
namespace {

using ::testing::HasSubstr;

const std::string relay_a =
    "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
const std::string relay_b =
    "/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDMp4F9iSwYntZ9WjHa";

std::string error_of(const std::string& text) {
  auto r = parse_config(text, "config.yaml");
  EXPECT_FALSE(r) << "accepted:\n" << text;
  return r ? std::string() : r.error().to_string();
}

std::string relay_error_of(const std::string& text) {
  try {
    (void)parse_relay_config(text, "relay.yaml");
  } catch (const std::exception& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted:\n" << text;
  return {};
}

TEST(dht_config, is_on_in_auto_mode_bootstrapping_from_the_relays_by_default) {
  auto r = parse_config("relays:\n  - " + relay_a + "\n", "config.yaml");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->dht.enabled);
  EXPECT_EQ(r->dht.protocol, "/peerup/kad/1.0.0");
  EXPECT_EQ(r->dht.mode, dht_mode::auto_mode);
  EXPECT_EQ(r->dht.refresh_interval, std::chrono::seconds(600));
  ASSERT_EQ(r->dht_bootstrap().size(), 1u);
  EXPECT_EQ(r->dht_bootstrap()[0].to_string(), relay_a);
  EXPECT_EQ(render_dht_config(r->dht), "");  // defaults are not written
}

TEST(dht_config, parses_every_key_and_renders_back) {
  const std::string text =
      "relays:\n  - " + relay_a +
      "\n"
      "dht:\n"
      "  enabled: true\n"
      "  protocol: /ipfs/kad/1.0.0\n"
      "  mode: server\n"
      "  bootstrap:\n"
      "    - " + relay_b +
      "\n"
      "  refresh_interval: 120\n";
  auto r = parse_config(text, "/tmp/x/config.yaml");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->dht.protocol, "/ipfs/kad/1.0.0");
  EXPECT_EQ(r->dht.mode, dht_mode::server);
  EXPECT_EQ(r->dht.refresh_interval, std::chrono::seconds(120));
  ASSERT_EQ(r->dht_bootstrap().size(), 1u);  // bootstrap replaces the relays
  EXPECT_EQ(r->dht_bootstrap()[0].to_string(), relay_b);
  // What `peerup relay add` would write back reads as the same section.
  auto again = parse_config(render_config(*r), "/tmp/x/config.yaml");
  ASSERT_TRUE(again) << again.error().to_string() << "\n" << render_config(*r);
  EXPECT_EQ(again->dht, r->dht);
}

TEST(dht_config, refuses_bad_values_naming_the_line_and_key) {
  EXPECT_THAT(error_of("dht:\n  mode: sometimes\n"),
              HasSubstr("config.yaml:2: dht.mode: expected auto, client or server, got \"sometimes\""));
  EXPECT_THAT(error_of("dht:\n  enabled: maybe\n"),
              HasSubstr("config.yaml:2: dht.enabled: expected true or false"));
  EXPECT_THAT(error_of("dht:\n  protocol: kad\n"),
              HasSubstr("config.yaml:2: dht.protocol: expected a protocol ID"));
  EXPECT_THAT(error_of("dht:\n  protocol: /has space/1\n"), HasSubstr("dht.protocol"));
  EXPECT_THAT(error_of("dht:\n  refresh_interval: 5\n"),
              HasSubstr("config.yaml:2: dht.refresh_interval: expected a number of seconds from "
                        "60 to 86400, got \"5\""));
  EXPECT_THAT(error_of("dht:\n  refresh_interval: 100000\n"), HasSubstr("dht.refresh_interval"));
  EXPECT_THAT(error_of("dht:\n  bootstrap:\n    - /ip4/127.0.0.1/tcp/4001\n"),
              HasSubstr("config.yaml:3: dht.bootstrap[0]: expected a multiaddr ending in "
                        "/p2p/<peer-id>"));
  EXPECT_THAT(error_of("dht:\n  bootstrap: " + relay_a + "\n"), HasSubstr("dht.bootstrap"));
  EXPECT_THAT(error_of("dht:\n  open: true\n"),
              HasSubstr("config.yaml:2: dht.open: unknown key"));  // relay.yaml only
  EXPECT_THAT(error_of("dht:\n  mode: client\n  mode: server\n"), HasSubstr("duplicate key"));
  EXPECT_THAT(error_of("dht: [1]\n"), HasSubstr("config.yaml:1: dht: expected a map"));
  std::string many = "dht:\n  bootstrap:\n";
  for (int i = 0; i < 65; ++i) many += "    - " + relay_a + "\n";
  EXPECT_THAT(error_of(many), HasSubstr("dht.bootstrap: more than 64 entries"));
}

TEST(dht_config, relay_yaml_has_bootstrap_and_open_but_no_mode) {
  auto c = parse_relay_config("open: false\ndht:\n  bootstrap:\n    - " + relay_b +
                                  "\n  refresh_interval: 60\n",
                              "relay.yaml");
  EXPECT_TRUE(c.dht.enabled);
  ASSERT_EQ(c.dht.bootstrap.size(), 1u);
  EXPECT_FALSE(c.dht_open());  // a closed relay's DHT answers members and its peers
  EXPECT_TRUE(parse_relay_config("open: true\n", "relay.yaml").dht_open());
  EXPECT_TRUE(parse_relay_config("dht:\n  open: true\n", "relay.yaml").dht_open());
  EXPECT_THAT(relay_error_of("dht:\n  mode: client\n"),
              HasSubstr("relay.yaml:2: dht.mode: unknown key"));
  EXPECT_THAT(relay_error_of("dht:\n  enabled: 1\n"),
              HasSubstr("relay.yaml:2: dht.enabled: expected true or false, got \"1\""));
  EXPECT_THAT(relay_error_of("dht: {}\nbogus: 1\n"), HasSubstr("dht)"));  // listed as a key
}

}  // namespace
}  // namespace peerup::app

namespace peerup::app {
namespace {

const std::string relay_b_id = "12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDMp4F9iSwYntZ9WjHa";

TEST(dht_config, relays_auto_with_a_policy_parses_and_renders_back) {
  const std::string text = "relays: auto\ndht:\n  bootstrap:\n    - " + relay_a +
                           "\n  relay_peers:\n    - " + relay_b_id + "\n  max_relays: 3\n";
  auto r = parse_config(text, "/tmp/x/config.yaml");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->relays_auto);
  EXPECT_TRUE(r->relays.empty());
  EXPECT_TRUE(r->discovers_relays());
  EXPECT_EQ(r->dht.relays_from, relay_policy::authorized);
  ASSERT_EQ(r->dht.relay_peers.size(), 1U);
  EXPECT_EQ(r->dht.relay_peers[0].to_string(), relay_b_id);
  EXPECT_EQ(r->dht.max_relays, 3U);
  auto again = parse_config(render_config(*r), "/tmp/x/config.yaml");
  ASSERT_TRUE(again) << again.error().to_string() << "\n" << render_config(*r);
  EXPECT_TRUE(again->relays_auto);
  EXPECT_EQ(again->dht, r->dht);
  // relay_policy any needs no list.
  auto any = parse_config("relays: auto\ndht:\n  relay_policy: any\n", "config.yaml");
  ASSERT_TRUE(any) << any.error().to_string();
  EXPECT_EQ(any->dht.relays_from, relay_policy::any);
}

TEST(dht_config, no_relays_and_a_bootstrap_list_discover_relays_too) {
  auto r = parse_config("dht:\n  bootstrap:\n    - " + relay_a + "\n", "config.yaml");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_FALSE(r->relays_auto);
  EXPECT_TRUE(r->discovers_relays());
  auto fixed = parse_config("relays:\n  - " + relay_b + "\ndht:\n  bootstrap:\n    - " + relay_a +
                                "\n",
                            "config.yaml");
  ASSERT_TRUE(fixed);
  EXPECT_FALSE(fixed->discovers_relays());  // it has relays of its own
}

TEST(dht_config, relay_discovery_refuses_bad_input_with_the_line_and_key) {
  EXPECT_THAT(error_of("relays: sometimes\n"),
              HasSubstr("config.yaml:1: relays: expected a list of multiaddrs ending in "
                        "/p2p/<peer-id>, or auto, got \"sometimes\""));
  EXPECT_THAT(error_of("relays: auto\n"),
              HasSubstr("config.yaml:1: relays: auto with dht.relay_policy authorized (the "
                        "default) needs dht.relay_peers"));
  EXPECT_THAT(error_of("relays: auto\ndht:\n  enabled: false\n  relay_policy: any\n"),
              HasSubstr("relays: auto finds relays through the DHT, but dht.enabled is false"));
  EXPECT_THAT(error_of("dht:\n  relay_policy: trusted\n"),
              HasSubstr("config.yaml:2: dht.relay_policy: expected authorized or any, got "
                        "\"trusted\""));
  EXPECT_THAT(error_of("dht:\n  max_relays: 0\n"),
              HasSubstr("dht.max_relays: expected a number of relays from 1 to 8, got \"0\""));
  EXPECT_THAT(error_of("dht:\n  max_relays: 9\n"), HasSubstr("from 1 to 8"));
  EXPECT_THAT(error_of("dht:\n  relay_peers:\n    - not-a-peer\n"),
              HasSubstr("config.yaml:3: dht.relay_peers[0]: expected a peer ID (12D3KooW...), got "
                        "\"not-a-peer\""));
  EXPECT_THAT(error_of("dht:\n  relay_peers: " + relay_b_id + "\n"),
              HasSubstr("dht.relay_peers: expected a list of relay peer IDs"));
  std::string many = "dht:\n  relay_peers:\n";
  for (int i = 0; i < 65; ++i) many += "    - " + relay_b_id + "\n";
  EXPECT_THAT(error_of(many), HasSubstr("dht.relay_peers: more than 64 entries"));
  // relay.yaml has no relay discovery: a relay does not reserve on relays.
  EXPECT_THAT(relay_error_of("dht:\n  relay_policy: any\n"), HasSubstr("unknown key"));
}

}  // namespace
}  // namespace peerup::app
