#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/relay_config.hpp"
#include "crypto/keys.hpp"

namespace peerup::app {
namespace {

using ::testing::HasSubstr;

std::string relay_id(std::uint8_t fill) {
  return private_key::from_seed(bytes(private_key::seed_length, fill))
      .value()
      .to_peer_id()
      .to_string();
}

std::string peer(std::string_view net, std::uint8_t fill, std::string_view trust) {
  return "    - network_name: " + std::string(net) + "\n      relay: /ip4/127.0.0.1/tcp/4002/p2p/" +
         relay_id(fill) + "\n      trust_level: " + std::string(trust) + "\n";
}

std::string error_of(const std::string& text) {
  try {
    (void)parse_relay_config(text, "relay.yaml");
  } catch (const std::exception& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted:\n" << text;
  return {};
}

TEST(federation_config, peers_and_limits_are_read) {
  const auto c = parse_relay_config("federation:\n  peers:\n" + peer("bob", 2, "full") +
                                        peer("Alice", 3, "one_way") +
                                        "  cache_ttl: 120\n  stale_ttl: 600\n  max_cache: 10\n"
                                        "  lookups_per_second: 5\nnames:\n  network: grewal\n",
                                    "relay.yaml");
  ASSERT_EQ(c.federation_peers.size(), 2u);
  EXPECT_EQ(c.federation_peers[0].network.str(), "bob");
  EXPECT_EQ(c.federation_peers[0].trust, wire::federation_trust::full);
  EXPECT_EQ(c.federation_peers[0].relay_peer.to_string(), relay_id(2));
  EXPECT_EQ(c.federation_peers[1].network.str(), "alice");
  EXPECT_EQ(c.federation_peers[1].trust, wire::federation_trust::one_way);
  EXPECT_EQ(c.federation_limits.cache_ttl, std::chrono::seconds(120));
  EXPECT_EQ(c.federation_limits.stale_ttl, std::chrono::seconds(600));
  EXPECT_EQ(c.federation_limits.max_cache, 10u);
  EXPECT_EQ(c.federation_limits.lookups_per_second, 5u);
}

TEST(federation_config, needs_a_names_network_other_than_the_peers) {
  EXPECT_THAT(error_of("federation:\n  peers:\n" + peer("bob", 2, "full")),
              HasSubstr("relay.yaml:2: federation: needs names.network"));
  EXPECT_THAT(error_of("names:\n  network: bob\nfederation:\n  peers:\n" + peer("bob", 2, "full")),
              HasSubstr("federation.peers: network bob is this relay's own names.network"));
}

TEST(federation_config, peer_errors_name_the_line_the_entry_and_the_fix) {
  const std::string head = "names:\n  network: grewal\nfederation:\n  peers:\n";
  EXPECT_THAT(error_of(head + peer("bob", 2, "half")),
              HasSubstr("relay.yaml:7: federation.peers[0].trust_level: expected full or one_way, "
                        "got \"half\""));
  EXPECT_THAT(error_of(head + "    - network_name: bob\n      relay: /ip4/127.0.0.1/tcp/4002\n"
                              "      trust_level: full\n"),
              HasSubstr("relay.yaml:6: federation.peers[0].relay: expected the peer relay's "
                        "multiaddr ending in /p2p/<peer-id>"));
  EXPECT_THAT(error_of(head + "    - network_name: bob\n      trust_level: full\n"),
              HasSubstr("federation.peers[0].relay: missing"));
  EXPECT_THAT(error_of(head + peer("b.ob", 2, "full")),
              HasSubstr("relay.yaml:5: federation.peers[0].network_name: expected a DNS label"));
  EXPECT_THAT(error_of(head + peer("bob", 2, "full") + peer("bob", 3, "full")),
              HasSubstr("federation.peers[1].network_name: network bob is listed twice"));
  EXPECT_THAT(error_of(head + peer("bob", 2, "full") + peer("carol", 2, "full")),
              HasSubstr("federation.peers[1].relay: relay " + relay_id(2) +
                        " is already the relay of network bob"));
  EXPECT_THAT(error_of(head + "    - network_name: bob\n      relays: x\n"),
              HasSubstr("federation.peers[0].relays: unknown key"));
  EXPECT_THAT(error_of("names:\n  network: grewal\nfederation:\n  peers: bob\n"),
              HasSubstr("federation.peers: expected a list of peer relays"));
}

TEST(federation_config, circuit_address_is_not_a_peer_relay) {
  EXPECT_THAT(error_of("names:\n  network: grewal\nfederation:\n  peers:\n"
                       "    - network_name: bob\n      relay: /ip4/127.0.0.1/tcp/4002/p2p/" +
                       relay_id(4) + "/p2p-circuit/p2p/" + relay_id(2) +
                       "\n      trust_level: full\n"),
              HasSubstr("federation.peers[0].relay: expected the peer relay's multiaddr"));
}

TEST(federation_config, limits_are_bounded) {
  EXPECT_THAT(error_of("federation:\n  cache_ttl: 0\n"),
              HasSubstr("federation.cache_ttl: must be 1 to 3600 seconds"));
  EXPECT_THAT(error_of("federation:\n  lookups_per_second: 0\n"),
              HasSubstr("federation.lookups_per_second: must be 1 to 10000"));
  EXPECT_THAT(error_of("federation:\n  peer: []\n"), HasSubstr("federation.peer: unknown key"));
  std::string many = "names:\n  network: grewal\nfederation:\n  peers:\n";
  for (int i = 0; i < 65; ++i) many += "    - {}\n";
  EXPECT_THAT(error_of(many), HasSubstr("more than 64 peer relays"));
}

TEST(federation_config, member_ttl_ip_bound_and_forwarding_limits_are_read_and_bounded) {
  const std::string head = "names:\n  network: grewal\nfederation:\n  peers:\n" + peer("bob", 2, "full");
  const auto c = parse_relay_config(head + "  member_ttl: 30\n  unknown_connects_per_ip: 5\n"
                                           "  max_forwarded: 0\n  forwarded_duration: 0\n"
                                           "  forwarded_data: 1048576\n",
                                    "relay.yaml");
  EXPECT_EQ(c.federation_limits.member_ttl, std::chrono::seconds(30));
  EXPECT_EQ(c.federation_limits.unknown_connects_per_ip, 5u);
  EXPECT_EQ(c.federation_limits.max_forwarded, 0u);
  EXPECT_EQ(c.federation_limits.forwarded_duration, std::chrono::seconds(0));
  EXPECT_EQ(c.federation_limits.forwarded_data, 1048576u);
  // Defaults: bounded even when not written.
  const auto d = parse_relay_config(head, "relay.yaml");
  EXPECT_EQ(d.federation_limits.member_ttl, std::chrono::seconds(120));
  EXPECT_EQ(d.federation_limits.max_forwarded, 32u);
  EXPECT_EQ(d.federation_limits.forwarded_duration, std::chrono::seconds(3600));
  EXPECT_EQ(d.federation_limits.forwarded_data, std::uint64_t{1} << 30);

  EXPECT_THAT(error_of(head + "  member_ttl: 5\n"),
              HasSubstr("relay.yaml:8: federation.member_ttl: must be 10 to 3600 seconds"));
  EXPECT_THAT(error_of(head + "  member_ttl: 86400\n"), HasSubstr("must be 10 to 3600 seconds"));
  EXPECT_THAT(error_of(head + "  member_ttl: -1\n"),
              HasSubstr("expected a non-negative integer, got \"-1\""));
  EXPECT_THAT(error_of(head + "  unknown_connects_per_ip: 0\n"),
              HasSubstr("federation.unknown_connects_per_ip: must be 1 to 10000 a minute"));
  EXPECT_THAT(error_of(head + "  max_forwarded: 5000\n"),
              HasSubstr("federation.max_forwarded: must be 0 (off) to 4096 circuits"));
  // A huge number must not wrap into a short (or negative) duration.
  EXPECT_THAT(error_of(head + "  forwarded_duration: 18446744073709551615\n"),
              HasSubstr("must be 0 (none) to 604800 seconds"));
  EXPECT_THAT(error_of(head + "  stale_ttl: 9223372036854775809\n"),
              HasSubstr("must be at most 604800 seconds"));
  EXPECT_THAT(error_of(head + "  forwarded_data: 100\n"),
              HasSubstr("must be 0 (none) or at least 1024 bytes"));
  EXPECT_THAT(error_of(head + "  member_tll: 30\n"), HasSubstr("unknown key (expected peers"));
}

}  // namespace
}  // namespace peerup::app
