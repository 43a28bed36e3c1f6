#include "wire/kad_message.hpp"

#include <gtest/gtest.h>

#include "wire/protobuf.hpp"

namespace peerup::wire {
namespace {

const bytes loopback_addr{0x04, 0x7f, 0x00, 0x00,
                          0x01, 0x06, 0x0f, 0xa1};  // /ip4/127.0.0.1/tcp/4001
const bytes peer_a{0x00, 0x02, 0xaa, 0xbb};         // identity multihash, 2-byte digest

bytes peer_field(std::uint32_t number, const bytes& id, std::size_t addrs) {
  pb::writer p;
  p.add_bytes(1, id);
  for (std::size_t i = 0; i < addrs; ++i) p.add_bytes(2, loopback_addr);
  pb::writer w;
  w.add_bytes(number, p.data());
  return w.take();
}

TEST(kad_message, find_node_request_bytes) {
  // Message{type=FIND_NODE(4), key=2 "ab"}: what go-libp2p sends.
  auto m = kad_message::find_node(as_bytes("ab"));
  EXPECT_EQ(m.encode(), (bytes{0x08, 0x04, 0x12, 0x02, 'a', 'b'}));
  auto back = kad_message::decode(m.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, m);
}

TEST(kad_message, missing_type_is_put_value_as_proto3_writes_it) {
  // go-libp2p (proto3) omits type=PUT_VALUE(0): key=2 "k", record=3{key "k", value "v"}
  bytes in{0x12, 0x01, 'k', 0x1a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v'};
  auto m = kad_message::decode(in);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, kad_type::put_value);
  ASSERT_TRUE(m->record);
  EXPECT_EQ(m->record->value, (bytes{'v'}));
  EXPECT_TRUE(m->record->time_received.empty());
}

TEST(kad_message, decodes_a_find_node_answer_with_peers) {
  // type=FIND_NODE, closerPeers=8{id, addrs, connection=CONNECTED(1)},
  // clusterLevelRaw=10 0 (ignored), an unknown field 20 (skipped).
  bytes in{0x08, 0x04};
  pb::writer p;
  p.add_bytes(1, peer_a);
  p.add_bytes(2, loopback_addr);
  p.add_varint(3, 1);
  pb::writer w;
  w.add_bytes(8, p.data());
  w.add_varint(10, 0);
  w.add_varint(20, 5);
  append(in, w.data());
  auto m = kad_message::decode(in);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->closer_peers.size(), 1U);
  EXPECT_EQ(m->closer_peers[0].id, peer_a);
  EXPECT_EQ(m->closer_peers[0].connection, kad_connection::connected);
  ASSERT_EQ(m->closer_peers[0].multiaddrs().size(), 1U);
  EXPECT_EQ(m->closer_peers[0].multiaddrs()[0].to_string(), "/ip4/127.0.0.1/tcp/4001");
  EXPECT_EQ(m->dropped, 0U);
}

TEST(kad_message, round_trips_every_field) {
  kad_message m;
  m.type = kad_type::get_providers;
  m.key = bytes{0x12, 0x20, 1, 2, 3};
  m.record = kad_record{bytes{'k'}, bytes{'v', 'v'}, "2026-12-05T23:00:00Z"};
  m.closer_peers.push_back(kad_peer{peer_a, {loopback_addr}, kad_connection::can_connect});
  m.provider_peers.push_back(kad_peer{peer_a, {}, kad_connection::not_connected});
  auto back = kad_message::decode(m.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, m);
}

TEST(kad_message, long_lists_are_truncated_and_counted) {
  bytes in{0x08, 0x03};
  for (std::size_t i = 0; i < kad_max_peers + 5; ++i) append(in, peer_field(9, peer_a, 1));
  append(in, peer_field(8, peer_a, kad_max_addrs + 3));
  auto m = kad_message::decode(in);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->provider_peers.size(), kad_max_peers);
  ASSERT_EQ(m->closer_peers.size(), 1U);
  EXPECT_EQ(m->closer_peers[0].addrs.size(), kad_max_addrs);
  EXPECT_EQ(m->dropped, 5U + 3U);
}

TEST(kad_message, refuses_bad_input_with_the_reason) {
  // Over the frame bound.
  EXPECT_EQ(kad_message::decode(bytes(kad_max_message_size + 1, 0)).error(), errc::too_large);
  // A type outside the enum.
  EXPECT_EQ(kad_message::decode(bytes{0x08, 0x06}).error(), errc::kad_malformed_message);
  // type as a length-delimited field.
  EXPECT_EQ(kad_message::decode(bytes{0x0a, 0x00}).error(), errc::invalid_protobuf);
  // A peer with no ID.
  pb::writer empty_peer;
  empty_peer.add_bytes(8, bytes{0x12, 0x01, 0x00});
  EXPECT_EQ(kad_message::decode(empty_peer.data()).error(), errc::kad_malformed_message);
  // A key over its bound.
  pb::writer big_key;
  big_key.add_bytes(2, bytes(kad_max_key_size + 1, 'k'));
  EXPECT_EQ(kad_message::decode(big_key.data()).error(), errc::kad_malformed_message);
  // A record value over its bound.
  pb::writer rec;
  rec.add_bytes(2, bytes(kad_max_value_size + 1, 'v'));
  pb::writer big_value;
  big_value.add_bytes(3, rec.data());
  EXPECT_EQ(kad_message::decode(big_value.data()).error(), errc::kad_malformed_message);
  // A peer ID over its bound.
  EXPECT_EQ(kad_message::decode(peer_field(8, bytes(kad_max_peer_id_size + 1, 1), 0)).error(),
            errc::kad_malformed_message);
  // Truncated input.
  EXPECT_FALSE(kad_message::decode(bytes{0x12, 0x05, 'a'}));
}

TEST(kad_message, add_provider_carries_our_peer) {
  auto self = kad_peer{peer_a, {loopback_addr}, kad_connection::not_connected};
  auto m = kad_message::add_provider(bytes{0x12, 0x20}, self);
  auto back = kad_message::decode(m.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type, kad_type::add_provider);
  ASSERT_EQ(back->provider_peers.size(), 1U);
  EXPECT_EQ(back->provider_peers[0], self);
}

}  // namespace
}  // namespace peerup::wire
