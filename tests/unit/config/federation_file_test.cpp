// `peerup relay federation add|remove` edits and the status file `list` reads.
#include "config/federation_file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/relay_config.hpp"
#include "crypto/keys.hpp"

namespace peerup::app {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

peer_id relay_id(std::uint8_t fill) {
  return private_key::from_seed(bytes(private_key::seed_length, fill)).value().to_peer_id();
}

wire::federation_peering peering(std::string_view net, std::uint8_t fill,
                                 wire::federation_trust t = wire::federation_trust::full) {
  auto a = multiaddr::parse("/ip4/127.0.0.1/tcp/4002").value().with_peer(relay_id(fill));
  return wire::federation_peering::make(wire::dns_label::parse(net).value(), a, t).value();
}

const std::string base =
    "# my relay\nidentity_key: identity.key\nnames:\n  network: grewal\n# trailing comment\n";

TEST(federation_file, add_appends_a_block_and_keeps_the_rest) {
  const auto one = add_federation_peer(base, "relay.yaml", peering("bob", 2));
  EXPECT_THAT(one, HasSubstr("# my relay\n"));
  EXPECT_THAT(one, HasSubstr("# trailing comment\n"));
  const auto two =
      add_federation_peer(one, "relay.yaml", peering("alice", 3, wire::federation_trust::one_way));
  const auto c = parse_relay_config(two, "relay.yaml");
  ASSERT_EQ(c.federation_peers.size(), 2u);
  EXPECT_EQ(c.federation_peers[0], peering("bob", 2));
  EXPECT_EQ(c.federation_peers[1], peering("alice", 3, wire::federation_trust::one_way));
  EXPECT_EQ(two.find("federation:"), two.rfind("federation:"));  // one block
}

TEST(federation_file, block_in_the_middle_is_replaced_with_its_limits_kept) {
  const std::string yaml = "names:\n  network: grewal\nfederation:\n  peers: []\n  cache_ttl: 120\n"
                           "# about open\nopen: false\n";
  const auto out = add_federation_peer(yaml, "relay.yaml", peering("bob", 2));
  const auto c = parse_relay_config(out, "relay.yaml");
  EXPECT_EQ(c.federation_peers.size(), 1u);
  EXPECT_EQ(c.federation_limits.cache_ttl.count(), 120);
  EXPECT_THAT(out, HasSubstr("# about open\nopen: false\n"));
  const auto back = remove_federation_peer(out, "relay.yaml", peering("bob", 2).network);
  EXPECT_TRUE(parse_relay_config(back, "relay.yaml").federation_peers.empty());
  EXPECT_THAT(back, HasSubstr("cache_ttl: 120"));
}

TEST(federation_file, conflicts_and_broken_files_are_refused_with_the_reason) {
  const auto one = add_federation_peer(base, "relay.yaml", peering("bob", 2));
  auto msg = [](auto f) -> std::string {
    try {
      f();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_THAT(msg([&] { add_federation_peer(one, "relay.yaml", peering("bob", 4)); }),
              HasSubstr("network bob is already a peering"));
  EXPECT_THAT(msg([&] { add_federation_peer(one, "relay.yaml", peering("carol", 2)); }),
              HasSubstr("is already the relay of network bob"));
  EXPECT_THAT(msg([&] { add_federation_peer(one, "relay.yaml", peering("grewal", 5)); }),
              HasSubstr("own network"));
  EXPECT_THAT(msg([&] { remove_federation_peer(one, "relay.yaml", peering("carol", 2).network); }),
              HasSubstr("no peering with network carol"));
  // A relay without names.network cannot federate: the edit is refused.
  EXPECT_THAT(msg([&] { add_federation_peer("open: false\n", "relay.yaml", peering("bob", 2)); }),
              HasSubstr("names.network"));
  EXPECT_THAT(msg([&] { add_federation_peer("open: [\n", "relay.yaml", peering("bob", 2)); }),
              HasSubstr("relay.yaml"));
}

TEST(federation_file, status_round_trips_and_rejects_what_it_did_not_write) {
  federation_status_file s;
  s.written_unix = 1700000000;
  federation_peer_status up{.network = peering("bob", 2).network};
  up.st = federation_peer_status::state::up;
  up.last_ok_unix = 1699999990;
  up.names_known = 3;
  up.relay = peering("bob", 2).relay.to_string();
  federation_peer_status down{.network = peering("alice", 3).network,
                              .trust = wire::federation_trust::one_way};
  down.st = federation_peer_status::state::down;
  down.relay = peering("alice", 3).relay.to_string();
  down.last_error = "connection refused\nby peer";
  s.peers = {up, down};
  const auto text = render_federation_status(s);
  const auto back = parse_federation_status(text, "federation.status");
  EXPECT_EQ(back.written_unix, 1700000000u);
  ASSERT_EQ(back.peers.size(), 2u);
  EXPECT_EQ(back.peers[0].last_ok_unix, 1699999990u);
  EXPECT_EQ(back.peers[0].names_known, 3u);
  EXPECT_EQ(back.peers[1].st, federation_peer_status::state::down);
  EXPECT_EQ(back.peers[1].last_error, "connection refused?by peer");
  EXPECT_THAT(text, Not(HasSubstr("refused\nby")));

  auto err = [](std::string_view t) -> std::string {
    try {
      (void)parse_federation_status(t, "federation.status");
    } catch (const std::exception& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_THAT(err("# only a comment\n"), HasSubstr("no \"written\""));
  EXPECT_THAT(err("written 1\npeering bob full sideways - 0 x\n"),
              HasSubstr("federation.status:2: expected up, down or unknown"));
  EXPECT_THAT(err("written x\n"), HasSubstr("expected a number for written"));
  EXPECT_THAT(err("written 1\nsomething\n"), HasSubstr("unknown line"));
  EXPECT_THAT(err(std::string(federation_status_max_size + 1, '#')), HasSubstr("larger than"));
  std::string many = "written 1\n";
  for (int i = 0; i < 65; ++i) many += text.substr(text.find("peering bob"), text.find('\n', text.find("peering bob")) - text.find("peering bob") + 1);
  EXPECT_THAT(err(many), HasSubstr("more than 64 peerings"));
}

}  // namespace
}  // namespace peerup::app
