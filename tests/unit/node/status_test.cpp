// The daemon status file: JSON round trip and refusal of anything else.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/status.hpp"

namespace peerup::app {
namespace {

TEST(status, json_round_trips_including_characters_that_need_escaping) {
  daemon_status s;
  s.pid = 1234;
  s.peer_id = "12D3KooWpeer";
  s.config_file = "/home/a \"b\"\\c/config.yaml";
  s.started_unix = 100;
  s.updated_unix = 160;
  s.authorized_peers = 3;
  s.listen = {"/ip4/0.0.0.0/tcp/4001"};
  s.relays = {{"/ip4/1.2.3.4/tcp/1/p2p/R", "reserved", 4000, ""},
              {"/ip4/5.6.7.8/tcp/1/p2p/S", "backoff", 0, "cannot reach\nrelay"}};
  s.connections = {{"12D3KooWother", "laptop", "relayed", "/p2p-circuit", "inbound"}};
  s.services = {{"ssh", "127.0.0.1:22", true, 5, 1, 2, 3}};
  auto back = parse_status(to_json(s));
  ASSERT_TRUE(back) << to_json(s);
  EXPECT_EQ(back->pid, 1234);
  EXPECT_EQ(back->config_file, s.config_file);
  EXPECT_EQ(back->updated_unix, 160u);
  EXPECT_EQ(back->authorized_peers, 3u);
  ASSERT_EQ(back->relays.size(), 2u);
  EXPECT_EQ(back->relays[0].expires_unix, 4000u);
  EXPECT_EQ(back->relays[1].error, "cannot reach\nrelay");
  ASSERT_EQ(back->connections.size(), 1u);
  EXPECT_EQ(back->connections[0].path, "relayed");
  EXPECT_EQ(back->connections[0].name, "laptop");
  ASSERT_EQ(back->services.size(), 1u);
  EXPECT_TRUE(back->services[0].enabled);
  EXPECT_EQ(back->services[0].failed, 3u);
  EXPECT_THAT(render_status(*back), ::testing::HasSubstr("reserved (expires in 3840 s)"));
}

TEST(status, rejects_documents_that_are_not_status) {
  EXPECT_FALSE(parse_status("[1, 2]"));
  EXPECT_FALSE(parse_status("{\"pid\": 1"));
  EXPECT_FALSE(parse_status(std::string(max_status_file + 1, ' ')));
}
}  // namespace
}  // namespace peerup::app

