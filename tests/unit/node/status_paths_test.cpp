// The path and hole punching fields of `peerup status --json`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/status.hpp"

namespace peerup::app {
namespace {

daemon_status with_a_punched_peer() {
  daemon_status s;
  s.peer_id = "12D3KooWpeer";
  s.updated_unix = 1000;
  s.reachability = "private";
  s.public_addrs = {"/ip4/203.0.113.7/tcp/4001"};
  connection_status c{"12D3KooWother", "laptop", "direct", "/ip4/198.51.100.2/tcp/5000",
                      "outbound"};
  c.path_changed_unix = 940;
  c.holepunch = {3, 2, "hole punching failed"};
  s.connections = {c};
  return s;
}

TEST(status_paths, json_carries_path_change_time_holepunch_counters_and_reachability) {
  const auto json = to_json(with_a_punched_peer());
  EXPECT_THAT(json, ::testing::HasSubstr(R"("path":"direct")"));
  EXPECT_THAT(json, ::testing::HasSubstr(R"("path_changed_unix":940)"));
  EXPECT_THAT(
      json, ::testing::HasSubstr(
                R"("holepunch":{"attempts":3,"successes":2,"last_error":"hole punching failed","method":""})"));
  EXPECT_THAT(json, ::testing::HasSubstr(R"("reachability":"private")"));
  auto back = parse_status(json);
  ASSERT_TRUE(back) << json;
  EXPECT_EQ(back->reachability, "private");
  EXPECT_EQ(back->public_addrs, std::vector<std::string>{"/ip4/203.0.113.7/tcp/4001"});
  ASSERT_EQ(back->connections.size(), 1u);
  EXPECT_EQ(back->connections[0].path_changed_unix, 940u);
  EXPECT_EQ(back->connections[0].holepunch.attempts, 3u);
  EXPECT_EQ(back->connections[0].holepunch.successes, 2u);
  EXPECT_EQ(back->connections[0].holepunch.last_error, "hole punching failed");
}

TEST(status_paths, a_status_file_without_the_new_fields_still_parses) {
  auto back =
      parse_status(R"({"pid":1,"peer_id":"p","connections":[{"peer":"x","path":"relayed"}]})");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->reachability, "unknown");
  ASSERT_EQ(back->connections.size(), 1u);
  EXPECT_EQ(back->connections[0].holepunch.attempts, 0u);
}

TEST(status_paths, text_shows_how_long_the_path_held_and_the_holepunch_record) {
  const auto text = render_status(with_a_punched_peer());
  EXPECT_THAT(text, ::testing::HasSubstr("12D3KooWother (laptop)  direct outbound"));
  EXPECT_THAT(text, ::testing::HasSubstr("(direct for 60 s) hole punch 2/3 ok"));
  EXPECT_THAT(text, ::testing::HasSubstr("reachability: private"));
  EXPECT_THAT(text, ::testing::HasSubstr("/ip4/203.0.113.7/tcp/4001 (observed)"));
}

TEST(status_paths, each_path_names_its_transport_in_json_and_text) {
  auto s = with_a_punched_peer();
  s.connections[0].transport = "quic";
  connection_status relayed{"12D3KooWthird", "", "relayed", "/p2p-circuit", "inbound"};
  relayed.transport = "tcp";
  s.connections.push_back(relayed);
  const auto json = to_json(s);
  EXPECT_THAT(json, ::testing::HasSubstr(R"("path":"direct","transport":"quic")"));
  auto back = parse_status(json);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->connections.size(), 2u);
  EXPECT_EQ(back->connections[0].transport, "quic");
  EXPECT_EQ(back->connections[1].transport, "tcp");
  const auto text = render_status(s);
  EXPECT_THAT(text, ::testing::HasSubstr("12D3KooWother (laptop)  direct over quic outbound"));
  EXPECT_THAT(text, ::testing::HasSubstr("12D3KooWthird  relayed via tcp inbound"));
}

}  // namespace
}  // namespace peerup::app
