#include "config/network_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace peerup::app {
namespace {

using ::testing::HasSubstr;

const std::string laptop_id = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

std::string error_of(const std::string& text) {
  auto r = parse_config(text, "config.yaml");
  EXPECT_FALSE(r) << "accepted:\n" << text;
  return r ? std::string() : r.error().to_string();
}

TEST(network_config, is_off_with_icmp_only_by_default) {
  auto r = parse_config("identity_key: identity.key\n", "config.yaml");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_FALSE(r->network.tun);
  EXPECT_EQ(r->network.name, "peerup0");
  EXPECT_EQ(r->network.prefix.to_string(), "10.64.0.0/16");
  EXPECT_EQ(r->network.mtu, 1152);
  EXPECT_TRUE(r->network.ipv6);
  ASSERT_EQ(r->network.allow.allow.size(), 1u);
  EXPECT_EQ(r->network.allow.allow[0].to_string(), "icmp");
  EXPECT_EQ(render_network_config(r->network), "");
}

TEST(network_config, parses_every_key_and_renders_back) {
  const std::string text =
      "names:\n  laptop: " + laptop_id +
      "\n"
      "network:\n"
      "  tun: true\n"
      "  name: pu1\n"
      "  prefix: 10.99.0.0/16\n"
      "  mtu: 1200\n"
      "  ipv6: false\n"
      "  address: 10.99.0.1\n"
      "  allow: [icmp, tcp/22, udp/60000-61000]\n"
      "  peers:\n"
      "    laptop: {address: 10.99.0.20, allow: [all]}\n";
  auto r = parse_config(text, "/tmp/x/config.yaml");
  ASSERT_TRUE(r) << r.error().to_string();
  const auto& n = r->network;
  EXPECT_TRUE(n.tun);
  EXPECT_EQ(n.name, "pu1");
  EXPECT_EQ(n.prefix.to_string(), "10.99.0.0/16");
  EXPECT_EQ(n.mtu, 1200);
  EXPECT_FALSE(n.ipv6);
  EXPECT_EQ(n.address->to_string(), "10.99.0.1");
  ASSERT_EQ(n.allow.allow.size(), 3u);
  EXPECT_EQ(n.allow.allow[2].to_string(), "udp/60000-61000");
  ASSERT_TRUE(n.peers.count("laptop"));
  EXPECT_EQ(n.peers.at("laptop").address->to_string(), "10.99.0.20");
  EXPECT_EQ(n.peers.at("laptop").allow->allow[0].to_string(), "all");
  // what render_config writes reads back the same
  auto again = parse_config(render_config(*r), "/tmp/x/config.yaml");
  ASSERT_TRUE(again) << again.error().to_string() << "\n" << render_config(*r);
  EXPECT_EQ(again->network, n);
}

TEST(network_config, names_the_key_and_the_fix_for_bad_values) {
  EXPECT_THAT(error_of("network:\n  tun: yes please\n"), HasSubstr("network.tun: expected true or false"));
  EXPECT_THAT(error_of("network:\n  ipv6: maybe\n"), HasSubstr("network.ipv6: expected true or false"));
  EXPECT_THAT(error_of("network:\n  name: this-name-is-too-long\n"), HasSubstr("network.name"));
  EXPECT_THAT(error_of("network:\n  prefix: 10.64.1.0/16\n"), HasSubstr("network.prefix: expected"));
  EXPECT_THAT(error_of("network:\n  prefix: 10.0.0.0/4\n"), HasSubstr("/8 to /24"));
  EXPECT_THAT(error_of("network:\n  prefix: fd00::/48\n"), HasSubstr("network.prefix"));
  EXPECT_THAT(error_of("network:\n  mtu: 100\n"), HasSubstr("network.mtu: expected a number from 576"));
  EXPECT_THAT(error_of("network:\n  address: 10.65.0.1\n"), HasSubstr("inside 10.64.0.0/16"));
  EXPECT_THAT(error_of("network:\n  address: 10.64.0.0\n"), HasSubstr("network or broadcast"));
  EXPECT_THAT(error_of("network:\n  allow: [tcp/99999]\n"), HasSubstr("network.allow: expected"));
  EXPECT_THAT(error_of("network:\n  allow: tcp\n"), HasSubstr("network.allow: expected a list"));
  EXPECT_THAT(error_of("network:\n  routes: []\n"), HasSubstr("network.routes: unknown key"));
  EXPECT_THAT(error_of("network:\n  peers:\n    ghost: {allow: [all]}\n"),
              HasSubstr("network.peers.ghost: no such name in `names:`"));
  EXPECT_THAT(error_of("names:\n  a: " + laptop_id +
                       "\nnetwork:\n  address: 10.64.0.5\n  peers:\n    a: {address: 10.64.0.5}\n"),
              HasSubstr("pinned twice"));
}

}  // namespace
}  // namespace peerup::app
