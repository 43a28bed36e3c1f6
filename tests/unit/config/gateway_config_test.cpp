#include "config/gateway_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace peerup::app {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::string& text) {
  auto r = parse_config(text, "config.yaml");
  EXPECT_FALSE(r) << "accepted:\n" << text;
  return r ? std::string() : r.error().to_string();
}

TEST(gateway_config, defaults_when_the_section_is_absent) {
  auto r = parse_config("identity_key: identity.key\n", "config.yaml");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->gateway.is_default());
  EXPECT_EQ(r->gateway.zone, "p2p");
  EXPECT_EQ(r->gateway.virtual_network.to_string(), "127.64.0.0/16");
  EXPECT_EQ(render_gateway_config(r->gateway), "");
}

TEST(gateway_config, parses_every_key) {
  const std::string text =
      "gateway:\n"
      "  socks: 127.0.0.1:1080\n"
      "  dns: 127.0.0.1:5353\n"
      "  zone: peerup.internal\n"
      "  ttl: 30\n"
      "  aaaa: true\n"
      "  virtual_network: 127.65.1.0/24\n"
      "  max_connections: 10\n"
      "  dns_queries_per_second: 50\n"
      "  catalog_ttl: 5\n"
      "  users:\n"
      "    alice: \"s3cret\"\n";
  auto r = parse_config(text, "config.yaml");
  ASSERT_TRUE(r) << r.error().to_string();
  const auto& g = r->gateway;
  EXPECT_EQ(g.socks, "127.0.0.1:1080");
  EXPECT_EQ(g.dns, "127.0.0.1:5353");
  EXPECT_EQ(g.zone, "peerup.internal");
  EXPECT_EQ(g.ttl, 30u);
  EXPECT_TRUE(g.aaaa);
  EXPECT_EQ(g.virtual_network.to_string(), "127.65.1.0/24");
  EXPECT_EQ(g.max_connections, 10u);
  EXPECT_EQ(g.dns_queries_per_second, 50u);
  EXPECT_EQ(g.catalog_ttl, 5u);
  EXPECT_EQ(g.users.at("alice"), "s3cret");
}

TEST(gateway_config, survives_render_and_parse_unchanged) {
  auto r = parse_config(
      "gateway:\n  dns: 127.0.0.1:53\n  ttl: 5\n  users:\n    \"bob: x\": \"p#w\"\n", "c.yaml");
  ASSERT_TRUE(r) << r.error().to_string();
  auto again = parse_config(render_config(*r), "c.yaml");
  ASSERT_TRUE(again) << again.error().to_string() << "\n" << render_config(*r);
  EXPECT_EQ(again->gateway, r->gateway);
}

TEST(gateway_config, names_file_line_and_key_of_each_error) {
  EXPECT_EQ(error_of("gateway:\n  sock: 127.0.0.1:1080\n"),
            "config.yaml:2: gateway.sock: unknown key (expected one of: aaaa, catalog_ttl, dns, "
            "dns_queries_per_second, max_connections, socks, ttl, users, virtual_network, "
            "zone)");
  EXPECT_THAT(error_of("gateway:\n  socks: 1080\n"),
              HasSubstr("config.yaml:2: gateway.socks: expected host:port"));
  EXPECT_THAT(error_of("gateway:\n  ttl: 100000\n"),
              HasSubstr("gateway.ttl: expected a number from 0 to 86400"));
  EXPECT_THAT(error_of("gateway:\n  ttl: -1\n"), HasSubstr("gateway.ttl: expected a number"));
  EXPECT_THAT(error_of("gateway:\n  zone: .p2p\n"), HasSubstr("gateway.zone: expected"));
  EXPECT_THAT(error_of("gateway:\n  zone: P2P\n"), HasSubstr("gateway.zone: expected"));
  EXPECT_THAT(error_of("gateway:\n  aaaa: maybe\n"), HasSubstr("gateway.aaaa: expected true"));
  EXPECT_THAT(error_of("gateway:\n  max_connections: 0\n"),
              HasSubstr("gateway.max_connections"));
  EXPECT_THAT(error_of("gateway:\n  users: [a]\n"), HasSubstr("gateway.users: expected a map"));
  EXPECT_THAT(error_of("gateway:\n  ttl: 1\n  ttl: 2\n"), HasSubstr("gateway.ttl: duplicate key"));
  EXPECT_THAT(error_of("gateway: 5\n"), HasSubstr("config.yaml:1: gateway: expected a map"));
}

TEST(gateway_config, virtual_network_must_be_loopback_and_avoid_127_0_0_1) {
  EXPECT_THAT(error_of("gateway:\n  virtual_network: 10.64.0.0/16\n"),
              HasSubstr("gateway.virtual_network: expected an IPv4 network inside 127.0.0.0/8"));
  EXPECT_THAT(error_of("gateway:\n  virtual_network: 127.0.0.0/16\n"),
              HasSubstr("without 127.0.0.1"));
  EXPECT_THAT(error_of("gateway:\n  virtual_network: 127.64.0.0/8\n"), HasSubstr("expected"));
  EXPECT_THAT(error_of("gateway:\n  virtual_network: 127.64.0.1/16\n"), HasSubstr("expected"));
}

TEST(gateway_config, ipv4_network_parses_only_canonical_networks) {
  auto n = ipv4_network::parse("127.64.0.0/16");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->base, 0x7f400000u);
  EXPECT_EQ(n->size(), 65536u);
  EXPECT_TRUE(n->contains(0x7f40ffffu));
  EXPECT_FALSE(n->contains(0x7f410000u));
  EXPECT_FALSE(n->contains(0x7f3fffffu));
  for (auto bad : {"127.64.0.0", "127.64.0/16", "127.64.0.0/33", "256.0.0.0/8", "1.2.3.4/",
                   "127.64.0.0/16x", "127.064.0.0.0/16"})
    EXPECT_FALSE(ipv4_network::parse(bad)) << bad;
}

TEST(gateway_config, valid_zone_accepts_dns_labels_only) {
  for (auto ok : {"p2p", "peerup.internal", "a-b.c0"}) EXPECT_TRUE(valid_zone(ok)) << ok;
  for (auto bad : {"", ".", "p2p.", ".p2p", "a..b", "-a", "a-", "a_b", "P2P", "a b"})
    EXPECT_FALSE(valid_zone(bad)) << bad;
}

}  // namespace
}  // namespace peerup::app
