// `limits:` in config.yaml and the host keys of relay.yaml's `limits:`
// (docs/config.md, docs/relay.md): every key reaches net::host_limits, bad
// values and unknown keys fail with file:line, and a rewrite keeps them.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config/host_limits_config.hpp"
#include "config/relay_config.hpp"

namespace peerup::app {
namespace {

using namespace std::chrono_literals;

TEST(limits_config, every_key_reaches_the_host_limits) {
  auto r = parse_config(
      "limits:\n"
      "  max_connections: 100\n"
      "  max_connections_per_ip: 5\n"
      "  max_connections_per_peer: 2\n"
      "  max_pending_handshakes: 7\n"
      "  max_streams_per_connection: 9\n"
      "  max_streams_per_peer: 11\n"
      "  max_memory_mib: 64\n"
      "  handshake_timeout: 3\n"
      "  idle_timeout: 0\n",
      "/srv/p/config.yaml");
  ASSERT_TRUE(r) << r.error().to_string();
  const auto& l = r->limits;
  EXPECT_EQ(l.max_connections, 100u);
  EXPECT_EQ(l.max_connections_per_ip, 5u);
  EXPECT_EQ(l.max_connections_per_peer, 2u);
  EXPECT_EQ(l.max_pending_handshakes, 7u);
  EXPECT_EQ(l.max_streams_per_connection, 9u);
  EXPECT_EQ(l.max_streams_per_peer, 11u);
  EXPECT_EQ(l.max_memory, std::size_t{64} << 20);
  EXPECT_EQ(l.handshake_timeout, 3s);
  EXPECT_EQ(l.idle_timeout, 0s);
}

TEST(limits_config, a_file_without_limits_keeps_the_defaults) {
  auto r = parse_config("listen: []\n", "/srv/p/config.yaml");
  ASSERT_TRUE(r);
  const net::host_limits defaults;
  EXPECT_EQ(r->limits.max_connections, defaults.max_connections);
  EXPECT_EQ(r->limits.idle_timeout, defaults.idle_timeout);
  EXPECT_EQ(render_limits_config(r->limits), "");
}

TEST(limits_config, refuses_unknown_keys_bad_values_and_duplicates_with_their_line) {
  auto unknown = parse_config("listen: []\nlimits:\n  max_conections: 5\n", "/p/config.yaml");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().line, 3);
  EXPECT_NE(unknown.error().message.find("limits.max_conections: unknown key"), std::string::npos)
      << unknown.error().message;

  for (const char* bad : {"0", "-1", "ten", "1.5", "99999999999999999999", ""}) {
    const std::string text = std::string("limits:\n  max_connections_per_ip: \"") + bad + "\"\n";
    auto r = parse_config(text, "/p/config.yaml");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().line, 2) << bad;
    EXPECT_NE(r.error().message.find("limits.max_connections_per_ip: expected an integer from 1"),
              std::string::npos)
        << r.error().message;
  }
  auto too_much = parse_config("limits:\n  max_memory_mib: 1048577\n", "/p/config.yaml");
  EXPECT_FALSE(too_much);
  auto dup = parse_config("limits:\n  idle_timeout: 1\n  idle_timeout: 2\n", "/p/config.yaml");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("duplicate key"), std::string::npos);
  auto not_a_map = parse_config("limits: 5\n", "/p/config.yaml");
  EXPECT_FALSE(not_a_map);
}

TEST(limits_config, a_rewritten_config_keeps_the_limits_that_differ_from_the_defaults) {
  auto r = parse_config("limits:\n  max_connections_per_peer: 3\n  idle_timeout: 0\n",
                        "/srv/p/config.yaml");
  ASSERT_TRUE(r);
  const std::string text = render_config(*r);
  EXPECT_NE(text.find("limits:\n  max_connections_per_peer: 3\n  idle_timeout: 0\n"),
            std::string::npos)
      << text;
  auto again = parse_config(text, "/srv/p/config.yaml");
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->limits.max_connections_per_peer, 3u);
  EXPECT_EQ(again->limits.idle_timeout, 0s);
  EXPECT_EQ(render_config(*again), text);
}

TEST(limits_config, relay_yaml_takes_relay_and_host_limits_in_one_map) {
  auto c = parse_relay_config(
      "limits:\n"
      "  max_reservations: 50\n"
      "  max_connections_per_ip: 4\n"
      "  max_memory_mib: 128\n"
      "  idle_timeout: 60\n",
      "/etc/relay/relay.yaml");
  EXPECT_EQ(c.limits.max_reservations, 50u);
  EXPECT_EQ(c.host_limits.max_connections_per_ip, 4u);
  EXPECT_EQ(c.host_limits.max_memory, std::size_t{128} << 20);
  EXPECT_EQ(c.host_limits.idle_timeout, 60s);
}

// The message parse_relay_config throws for `text`, or "" when it loads.
std::string message_of(const std::string& text) {
  try {
    parse_relay_config(text, "/etc/relay/relay.yaml");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(limits_config, relay_yaml_errors_name_the_file_line_and_key) {
  EXPECT_EQ(message_of("limits:\n  max_streams_per_peer: 0\n"),
            "/etc/relay/relay.yaml:2: limits.max_streams_per_peer: expected an integer from 1 to "
            "1000000, got \"0\"");
  EXPECT_EQ(message_of("limits:\n  max_streams: 3\n"),
            "/etc/relay/relay.yaml:2: limits.max_streams: unknown key");
  EXPECT_EQ(message_of("limits:\n  handshake_timeout: [1]\n"),
            "/etc/relay/relay.yaml:2: limits.handshake_timeout: expected an integer");
  // A list or map used as a key (YAML's "? ..." form) is named, not a yaml-cpp leak.
  EXPECT_EQ(message_of("? [x]\n: y\n"),
            "/etc/relay/relay.yaml:1: (top level): expected a setting name as key, got a list or "
            "map");
  EXPECT_EQ(message_of("limits:\n  ? {a: b}\n  : 1\n"),
            "/etc/relay/relay.yaml:2: limits: expected a setting name as key, got a list or map");
  EXPECT_EQ(message_of("names:\n  ? - n\n  : 1\n"),
            "/etc/relay/relay.yaml:2: names: expected a setting name as key, got a list or map");
}

TEST(limits_config, relay_reservation_rate_is_bounded) {
  auto c = parse_relay_config("limits:\n  reservation_rate: 500000\n", "/etc/relay/relay.yaml");
  EXPECT_EQ(c.limits.reservation_rate, 500'000u);
  EXPECT_EQ(parse_relay_config("", "/etc/relay/relay.yaml").limits.reservation_rate, 0u);
  EXPECT_EQ(message_of("limits:\n  reservation_rate: 100\n"),
            "/etc/relay/relay.yaml:2: limits.reservation_rate: expected 0 (unlimited) or bytes "
            "per second from 1024 to 10000000000, got \"100\"");
  EXPECT_NE(message_of("limits:\n  reservation_rate: fast\n")
                .find("relay.yaml:2: limits.reservation_rate: expected a non-negative integer"),
            std::string::npos);
}

TEST(limits_config, relay_yaml_sets_per_ip_and_per_peer_limits_for_a_large_relay) {
  // What bench/relay_capacity.cpp writes for 100,000 peers (docs/benchmarks.md).
  auto c = parse_relay_config(
      "limits:\n"
      "  max_connections: 120000\n"
      "  max_reservations: 100000\n"
      "  max_reservations_per_ip: 200\n"
      "  max_connections_per_ip: 200\n"
      "  max_connections_per_peer: 2\n"
      "  max_circuits: 10000\n"
      "  max_circuits_per_peer: 4\n"
      "  max_streams_per_peer: 64\n",
      "/etc/relay/relay.yaml");
  EXPECT_EQ(c.host_limits.max_connections, 120'000u);
  EXPECT_EQ(c.limits.max_reservations, 100'000u);
  EXPECT_EQ(c.limits.max_reservations_per_ip, 200u);
  EXPECT_EQ(c.host_limits.max_connections_per_ip, 200u);
  EXPECT_EQ(c.host_limits.max_connections_per_peer, 2u);
  EXPECT_EQ(c.limits.max_circuits, 10'000u);
  EXPECT_EQ(c.limits.max_circuits_per_peer, 4u);
  EXPECT_EQ(c.host_limits.max_streams_per_peer, 64u);
}

TEST(limits_config, relay_limits_are_bounded_and_name_the_key) {
  EXPECT_EQ(message_of("limits:\n  max_reservations: 0\n"),
            "/etc/relay/relay.yaml:2: limits.max_reservations: expected an integer from 1 to "
            "1000000, got \"0\"");
  EXPECT_EQ(message_of("limits:\n  max_reservations_per_ip: 1000001\n"),
            "/etc/relay/relay.yaml:2: limits.max_reservations_per_ip: expected an integer from 1 "
            "to 1000000, got \"1000001\"");
  EXPECT_EQ(message_of("limits:\n  max_circuits_per_peer: 0\n"),
            "/etc/relay/relay.yaml:2: limits.max_circuits_per_peer: expected an integer from 1 to "
            "1000000, got \"0\"");
  EXPECT_EQ(message_of("limits:\n  max_connections_per_ip: 0\n"),
            "/etc/relay/relay.yaml:2: limits.max_connections_per_ip: expected an integer from 1 "
            "to 1000000, got \"0\"");
  EXPECT_EQ(message_of("limits:\n  max_connections_per_peer: 99999999999999999999\n"),
            "/etc/relay/relay.yaml:2: limits.max_connections_per_peer: expected an integer from 1 "
            "to 1000000, got \"99999999999999999999\"");
  // A TTL or duration of centuries would overflow the expiry arithmetic.
  EXPECT_EQ(message_of("limits:\n  reservation_ttl: 31536001\n"),
            "/etc/relay/relay.yaml:2: limits.reservation_ttl: expected an integer from 1 to "
            "31536000 seconds, got \"31536001\"");
  EXPECT_EQ(message_of("limits:\n  open_circuit_duration: 99999999999\n"),
            "/etc/relay/relay.yaml:2: limits.open_circuit_duration: expected an integer from 0 to "
            "31536000 seconds, got \"99999999999\"");
  EXPECT_EQ(message_of("limits:\n  circuit_data: 1125899906842625\n"),
            "/etc/relay/relay.yaml:2: limits.circuit_data: expected an integer from 0 to "
            "1125899906842624 bytes, got \"1125899906842625\"");
  EXPECT_NE(message_of("limits:\n  max_circuits: -5\n")
                .find("relay.yaml:2: limits.max_circuits: expected a non-negative integer"),
            std::string::npos);
  // 0 stays "unlimited" where it meant that before.
  auto c = parse_relay_config("limits:\n  circuit_duration: 0\n  open_circuit_data: 0\n",
                              "/etc/relay/relay.yaml");
  EXPECT_EQ(c.limits.circuit_duration, 0s);
  EXPECT_EQ(c.limits.open_circuit_data, 0u);
}

TEST(limits_config, more_reservations_than_connections_is_refused_when_set) {
  EXPECT_EQ(message_of("limits:\n  max_reservations: 5000\n  max_connections: 4000\n"),
            "/etc/relay/relay.yaml:2: limits.max_reservations: 5000 is above "
            "limits.max_connections (4000): each reservation holds a connection; raise "
            "max_connections too");
  // Against the default max_connections (4096) as well.
  EXPECT_NE(message_of("limits:\n  max_reservations: 5000\n").find("is above"), std::string::npos);
  // Lowering max_connections alone keeps the default max_reservations valid.
  EXPECT_EQ(message_of("limits:\n  max_connections: 500\n"), "");
  EXPECT_EQ(message_of("limits:\n  max_reservations: 4096\n"), "");
}

TEST(limits_config, knows_each_host_limit_key_once) {
  const auto& keys = host_limit_keys();
  EXPECT_EQ(keys.size(), 9u);
  for (auto k : keys) EXPECT_TRUE(is_host_limit(k)) << k;
  EXPECT_FALSE(is_host_limit("max_reservations"));
  // The names in log lines are the config keys.
  for (int i = 0; i < static_cast<int>(net::resource_limit_count); ++i)
    EXPECT_TRUE(is_host_limit(net::to_string(static_cast<net::resource_limit>(i)))) << i;
}

}  // namespace
}  // namespace peerup::app
