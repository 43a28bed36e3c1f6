// The "network" section of `peerup status --json` (the TUN network mode):
// totals, per-peer counts by datagram and stream, drops; text rendering; a
// hostile status file stays bounded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/status.hpp"

namespace peerup::app {
namespace {

daemon_status with_network() {
  daemon_status s;
  s.peer_id = "12D3KooWpeer";
  network_status n;
  n.interface = "peerup0";
  n.address = "10.64.1.2";
  n.mtu = 1152;
  n.packets_out = 10;
  n.bytes_out = 1000;
  n.packets_in = 7;
  n.bytes_in = 700;
  n.icmp_sent = 1;
  n.total = {8, 800, 2, 200, 6, 600, 1, 100, 2, 3, 9, 7, 5, 4};
  n.dropped = {{"malformed", 4}, {"spoofed", 0}};
  n.peers.push_back({"12D3KooWother", "laptop", "10.64.3.4", "quic", true, n.total});
  n.peers.push_back({"12D3KooWidle", "", "10.64.5.6", "", false, {}});
  s.network = n;
  return s;
}

TEST(status_network, json_round_trips_totals_per_peer_counts_and_drops) {
  const auto json = to_json(with_network());
  EXPECT_THAT(json, ::testing::HasSubstr(R"("network":{"interface":"peerup0")"));
  EXPECT_THAT(json, ::testing::HasSubstr(R"("dropped":{"malformed":4,"spoofed":0})"));
  EXPECT_THAT(json, ::testing::HasSubstr(R"("datagram_packets_out":8)"));
  auto back = parse_status(json);
  ASSERT_TRUE(back) << json;
  ASSERT_TRUE(back->network);
  const auto& n = *back->network;
  EXPECT_EQ(n.interface, "peerup0");
  EXPECT_EQ(n.address, "10.64.1.2");
  EXPECT_EQ(n.mtu, 1152u);
  EXPECT_EQ(n.packets_out, 10u);
  EXPECT_EQ(n.bytes_in, 700u);
  EXPECT_EQ(n.icmp_sent, 1u);
  EXPECT_EQ(n.total, with_network().network->total);
  ASSERT_EQ(n.dropped.size(), 2u);
  EXPECT_EQ(n.dropped[0], (std::pair<std::string, std::uint64_t>{"malformed", 4}));
  ASSERT_EQ(n.peers.size(), 2u);
  EXPECT_EQ(n.peers[0].name, "laptop");
  EXPECT_EQ(n.peers[0].transport, "quic");
  EXPECT_TRUE(n.peers[0].datagrams);
  EXPECT_EQ(n.peers[0].traffic.datagram_packets_in, 6u);
  EXPECT_EQ(n.peers[0].traffic.dropped_in, 3u);
  EXPECT_EQ(n.peers[0].traffic.quic_datagrams_sent, 9u);
  EXPECT_EQ(n.peers[0].traffic.quic_receive_dropped, 4u);
  EXPECT_FALSE(n.peers[1].datagrams);
  EXPECT_EQ(n.peers[1].traffic, network_traffic{});
}

TEST(status_network, no_network_section_without_network_mode) {
  daemon_status s;
  s.peer_id = "12D3KooWpeer";
  const auto json = to_json(s);
  EXPECT_THAT(json, ::testing::Not(::testing::HasSubstr("network")));
  auto back = parse_status(json);
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->network);
  EXPECT_THAT(render_status(s), ::testing::Not(::testing::HasSubstr("network:")));
}

TEST(status_network, text_shows_the_interface_counts_drops_and_each_peer) {
  const auto text = render_status(with_network());
  EXPECT_THAT(text, ::testing::HasSubstr("network: peerup0 10.64.1.2 mtu 1152"));
  EXPECT_THAT(text, ::testing::HasSubstr("as QUIC datagrams: out 8 in 6; on streams: out 2 in 1"));
  EXPECT_THAT(text, ::testing::HasSubstr("dropped: malformed=4\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("QUIC datagrams: sent 9, received 7, dropped: send queue 5, "
                                         "receive queue 4"));
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "12D3KooWother (laptop) 10.64.3.4  quic datagrams  out 10 (datagrams 8), "
                        "in 7 (datagrams 6), refused 3"));
  EXPECT_THAT(text, ::testing::HasSubstr("12D3KooWidle 10.64.5.6  no path yet"));
}

TEST(status_network, hostile_network_sections_are_bounded_and_typed) {
  // Wrong types are read as zero/empty, not as errors or crashes.
  auto s = parse_status(
      R"({"peer_id":"x","network":{"interface":["a"],"mtu":"big","dropped":[1,2],)"
      R"("peers":{"a":1},"total":"none"}})");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->network);
  EXPECT_EQ(s->network->interface, "");
  EXPECT_EQ(s->network->mtu, 0u);
  EXPECT_TRUE(s->network->dropped.empty());
  EXPECT_TRUE(s->network->peers.empty());
  // Past the bounds, entries are ignored.
  std::string many = R"({"peer_id":"x","network":{"dropped":{)";
  for (int i = 0; i < 100; ++i) many += (i ? "," : "") + std::string("\"r") + std::to_string(i) + "\":1";
  many += R"(},"peers":[)";
  for (int i = 0; i < 5000; ++i) many += (i ? "," : "") + std::string(R"({"peer":"p"})");
  many += "]}}";
  s = parse_status(many);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->network);
  EXPECT_EQ(s->network->dropped.size(), 64u);
  EXPECT_EQ(s->network->peers.size(), 4096u);
  // A non-number counter in a drop reason is zero.
  s = parse_status(R"({"peer_id":"x","network":{"dropped":{"malformed":"lots"}}})");
  ASSERT_TRUE(s && s->network);
  ASSERT_EQ(s->network->dropped.size(), 1u);
  EXPECT_EQ(s->network->dropped[0].second, 0u);
}

}  // namespace
}  // namespace peerup::app
