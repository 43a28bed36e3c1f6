// The naming keys of the config and the names file (the name syntax is in
// tests/unit/naming, the service catalog policy in tests/unit/node).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/keys.hpp"
#include "config/config.hpp"
#include "config/names_file.hpp"
#include "config/relay_config.hpp"

namespace peerup::app {
namespace {

using ::testing::HasSubstr;

const std::string relay_id = private_key::generate().to_peer_id().to_string();
const std::string home_id = private_key::generate().to_peer_id().to_string();
const std::string relay_addr = "/ip4/203.0.113.7/tcp/4001/p2p/" + relay_id;

std::string error_of(const std::string& text) {
  auto r = parse_config(text, "config.yaml");
  EXPECT_FALSE(r) << "accepted:\n" << text;
  return r ? std::string() : r.error().to_string();
}

TEST(naming_config, reads_host_name_networks_and_names_file) {
  const std::string text =
      "host_name: Home\n"
      "networks:\n"
      "  grewal:\n"
      "    - " +
      relay_addr +
      "\n"
      "names_file: names.txt\n";
  auto cfg = parse_config(text, "/etc/peerup/config.yaml");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->naming.host_name, "home");
  ASSERT_EQ(cfg->naming.networks.count("grewal"), 1u);
  EXPECT_EQ(cfg->naming.networks.at("grewal").front().to_string(), relay_addr);
  EXPECT_EQ(cfg->naming.names_file, "names.txt");
  EXPECT_EQ(cfg->naming.network_relays().size(), 1u);
}

TEST(naming_config, render_and_parse_round_trip) {
  const std::string text = "host_name: home\nnetworks:\n  grewal:\n    - " + relay_addr +
                           "\nnames_file: \"my names.txt\\r\"\n";  // a CR must survive too
  auto cfg = parse_config(text, "/tmp/config.yaml");
  ASSERT_TRUE(cfg);
  auto again = parse_config(render_config(*cfg), "/tmp/config.yaml");
  ASSERT_TRUE(again) << again.error().to_string() << "\n" << render_config(*cfg);
  EXPECT_EQ(again->naming, cfg->naming);
  EXPECT_EQ(cfg->naming.names_file, "my names.txt\r");
}

TEST(naming_config, bad_values_name_the_line_and_key) {
  EXPECT_THAT(error_of("host_name: home_1\n"),
              HasSubstr("config.yaml:1: host_name: expected a DNS label"));
  EXPECT_THAT(error_of("host_name: -home\n"), HasSubstr("host_name: expected a DNS label"));
  EXPECT_THAT(error_of("networks:\n  grewal: /ip4/1.2.3.4/tcp/1\n"),
              HasSubstr("config.yaml:2: networks.grewal: expected a list of relay multiaddrs"));
  EXPECT_THAT(error_of("networks:\n  grewal:\n    - /ip4/1.2.3.4/tcp/1\n"),
              HasSubstr("config.yaml:3: networks.grewal[0]: expected a multiaddr ending in /p2p/"));
  EXPECT_THAT(error_of("networks:\n  gre.wal:\n    - " + relay_addr + "\n"),
              HasSubstr("networks: expected a DNS label"));
  EXPECT_THAT(error_of("networks: [a]\n"), HasSubstr("networks: expected a map"));
}

TEST(naming_config, unknown_key_message_lists_the_naming_keys) {
  EXPECT_THAT(error_of("hostname: home\n"), HasSubstr("host_name"));
  EXPECT_THAT(error_of("hostname: home\n"), HasSubstr("networks"));
}

TEST(names_file, parses_names_comments_and_multiaddrs) {
  const auto f = parse_names_file(
      "# my peers\n"
      "home " +
      home_id +
      "   # the NAS\n"
      "\n"
      "  lab\t/ip4/192.0.2.1/tcp/4001/p2p/" +
      home_id + "\n");
  EXPECT_TRUE(f.problems.empty());
  ASSERT_EQ(f.names.size(), 2u);
  EXPECT_EQ(f.names.at("home").peer.to_string(), home_id);
  ASSERT_TRUE(f.names.at("lab").addr);
}

TEST(names_file, bad_lines_are_problems_with_their_line_numbers) {
  const auto f = parse_names_file("ok " + home_id +
                                  "\n"
                                  "lonely\n"
                                  "bad/name " +
                                  home_id +
                                  "\n"
                                  "x /ip4/1.2.3.4/tcp/1\n"
                                  "ok " +
                                  home_id +
                                  "\n"
                                  "a b c\n" +
                                  home_id + " " + home_id + "\n");
  ASSERT_EQ(f.problems.size(), 6u);
  EXPECT_EQ(f.problems[0].line, 2);
  EXPECT_EQ(f.problems[1].line, 3);
  EXPECT_EQ(f.problems[2].line, 4);
  EXPECT_THAT(f.problems[3].message, HasSubstr("twice"));
  EXPECT_EQ(f.problems[4].line, 6);
  EXPECT_EQ(f.problems[5].line, 7);  // a peer ID is never a name
  EXPECT_EQ(f.names.size(), 1u);
}

TEST(names_file, refuses_oversized_files_and_lines) {
  EXPECT_EQ(
      parse_names_file(std::string(names_file_limits::max_file_size + 1, '#')).problems.size(), 1u);
  const auto f = parse_names_file(std::string(names_file_limits::max_line + 1, '#') + "\n");
  ASSERT_EQ(f.problems.size(), 1u);
  EXPECT_EQ(f.problems[0].line, 1);
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

TEST(relay_config, names_section_sets_the_network_ttl_bounds_and_caps) {
  const auto c = parse_relay_config(
      "names:\n  network: Grewal\n  min_ttl: 30\n  max_ttl: 600\n  max_names: 10\n"
      "  max_names_per_peer: 2\n",
      "relay.yaml");
  EXPECT_EQ(c.names_network, "grewal");
  EXPECT_EQ(c.names_limits.min_ttl, std::chrono::seconds(30));
  EXPECT_EQ(c.names_limits.max_ttl, std::chrono::seconds(600));
  EXPECT_EQ(c.names_limits.max_names, 10u);
  EXPECT_EQ(c.names_limits.max_names_per_peer, 2u);
  EXPECT_FALSE(parse_relay_config("open: false\n", "relay.yaml").names_network);
}

TEST(relay_config, names_section_errors_name_the_line_and_key) {
  EXPECT_THAT(relay_error_of("names:\n  network: gre.wal\n"),
              HasSubstr("relay.yaml:2: names.network: expected a DNS label"));
  EXPECT_THAT(relay_error_of("names:\n  netwrok: grewal\n"),
              HasSubstr("relay.yaml:2: names.netwrok: unknown key"));
  EXPECT_THAT(relay_error_of("names:\n  min_ttl: 100\n  max_ttl: 50\n"),
              HasSubstr("names.max_ttl: must not be below names.min_ttl"));
  EXPECT_THAT(relay_error_of("names:\n  min_ttl: 0\n"),
              HasSubstr("names.min_ttl: must be at least"));
  EXPECT_THAT(relay_error_of("names: grewal\n"), HasSubstr("names: expected a map"));
}

}  // namespace
}  // namespace peerup::app
