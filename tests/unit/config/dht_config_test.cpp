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
