// The "dht" section of `peerup status --json`: the routing table size and
// buckets, stores and counters round-trip; text rendering; absent when off.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/status.hpp"

namespace peerup::app {
namespace {

using ::testing::HasSubstr;

TEST(status_dht, round_trips_and_renders_the_routing_table) {
  daemon_status s;
  s.peer_id = "12D3KooWpeer";
  dht_status d;
  d.mode = "client";
  d.protocol = "/peerup/kad/1.0.0";
  d.routing_table = 3;
  d.buckets = {0, 2, 1};
  d.records = 4;
  d.provider_records = 5;
  d.requests_served = 6;
  d.requests_refused = 7;
  d.rate_limited = 8;
  d.lookups = 9;
  d.records_published = 2;
  s.dht = d;
  auto back = parse_status(to_json(s));
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->dht);
  EXPECT_EQ(back->dht->mode, "client");
  EXPECT_EQ(back->dht->protocol, "/peerup/kad/1.0.0");
  EXPECT_EQ(back->dht->routing_table, 3u);
  EXPECT_EQ(back->dht->buckets, (std::vector<std::uint64_t>{0, 2, 1}));
  EXPECT_EQ(back->dht->records, 4u);
  EXPECT_EQ(back->dht->provider_records, 5u);
  EXPECT_EQ(back->dht->rate_limited, 8u);
  EXPECT_EQ(back->dht->records_published, 2u);
  EXPECT_THAT(render_status(*back),
              HasSubstr("dht: client (/peerup/kad/1.0.0), routing table 3 peers, 4 records held"));
  daemon_status off;
  off.peer_id = "12D3KooWpeer";
  auto none = parse_status(to_json(off));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->dht);
  EXPECT_THAT(render_status(*none), ::testing::Not(HasSubstr("dht:")));
}

TEST(status_dht, a_hostile_bucket_list_stays_bounded) {
  std::string buckets = "[";
  for (int i = 0; i < 1000; ++i) buckets += (i ? ",1" : "1");
  buckets += "]";
  auto s = parse_status(R"({"peer_id":"x","dht":{"mode":"server","buckets":)" + buckets + "}}");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->dht);
  EXPECT_EQ(s->dht->buckets.size(), 256u);
}

}  // namespace
}  // namespace peerup::app
