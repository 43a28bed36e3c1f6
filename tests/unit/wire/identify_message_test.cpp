#include "wire/identify_message.hpp"

#include <gtest/gtest.h>

#include "wire/protobuf.hpp"

namespace peerup::wire {
namespace {

// /ip4/127.0.0.1/tcp/4001 in binary form.
const bytes loopback_addr{0x04, 0x7f, 0x00, 0x00, 0x01, 0x06, 0x0f, 0xa1};

identify_message full_message() {
  identify_message m;
  m.protocol_version = "ipfs/0.1.0";
  m.agent_version = "peerup/0.1.0";
  m.public_key = bytes{0x08, 0x01, 0x12, 0x02, 0xaa, 0xbb};
  m.listen_addrs = {loopback_addr, loopback_addr};
  m.observed_addr = loopback_addr;
  m.protocols = {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"};
  m.signed_peer_record = bytes{0x01, 0x02, 0x03};
  return m;
}

TEST(identify_message, round_trips_every_field) {
  const identify_message m = full_message();
  auto decoded = identify_message::decode(m.encode());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, m);
}

TEST(identify_message, round_trips_empty_message_as_zero_bytes) {
  const identify_message m;
  EXPECT_TRUE(m.encode().empty());
  auto decoded = identify_message::decode({});
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, m);
}

TEST(identify_message, decodes_hand_built_bytes_with_spec_field_numbers) {
  // publicKey=1, listenAddrs=2, protocols=3, observedAddr=4,
  // protocolVersion=5, agentVersion=6, signedPeerRecord=8; plus unknown field 7.
  bytes in{0x2a, 0x03, 'p',  '/',  '1',       // protocolVersion
           0x32, 0x02, 'a',  'g',             // agentVersion
           0x0a, 0x02, 0x08, 0x01,            // publicKey
           0x1a, 0x04, '/',  'x',  '/', '1',  // protocols
           0x3a, 0x01, 0x00,                  // field 7 (unknown), skipped
           0x42, 0x01, 0x99,                  // signedPeerRecord
           0x22, 0x08};                       // observedAddr
  append(in, loopback_addr);
  in.insert(in.end(), {0x12, 0x08});  // listenAddrs
  append(in, loopback_addr);
  auto m = identify_message::decode(in);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->protocol_version, "p/1");
  EXPECT_EQ(m->agent_version, "ag");
  EXPECT_EQ(m->public_key, (bytes{0x08, 0x01}));
  EXPECT_EQ(m->protocols, std::vector<std::string>{"/x/1"});
  EXPECT_EQ(m->signed_peer_record, bytes{0x99});
  EXPECT_EQ(m->observed_addr, loopback_addr);
  EXPECT_EQ(m->listen_addrs, std::vector<bytes>{loopback_addr});
}

TEST(identify_message, encodes_fields_in_field_number_order) {
  identify_message m;
  m.agent_version = "a";
  m.public_key = bytes{0x01};
  EXPECT_EQ(m.encode(), (bytes{0x0a, 0x01, 0x01, 0x32, 0x01, 'a'}));
}

TEST(identify_message, merges_chunked_messages_like_go_libp2p) {
  // go-libp2p sends the signed peer record in a second message when the
  // whole identify would be too large.
  identify_message first = full_message();
  first.signed_peer_record.reset();
  identify_message second;
  second.signed_peer_record = bytes{0x07};
  second.protocols = {"/extra/1"};

  identify_message merged;
  ASSERT_TRUE(merged.merge(first.encode()));
  ASSERT_TRUE(merged.merge(second.encode()));
  EXPECT_EQ(merged.signed_peer_record, bytes{0x07});
  EXPECT_EQ(merged.agent_version, first.agent_version);
  ASSERT_EQ(merged.protocols.size(), 3u);
  EXPECT_EQ(merged.protocols[2], "/extra/1");
}

TEST(identify_message, rejects_truncated_field) {
  bytes in = full_message().encode();
  in.pop_back();
  EXPECT_FALSE(identify_message::decode(in));
}

TEST(identify_message, rejects_message_above_max_size) {
  identify_message m;
  m.agent_version = std::string(identify_max_message_size, 'a');
  auto r = identify_message::decode(m.encode());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(identify_message, rejects_too_many_protocols_across_merges) {
  identify_message chunk;
  for (int i = 0; i < 600; ++i) chunk.protocols.push_back("/p");
  const bytes encoded = chunk.encode();
  ASSERT_LE(encoded.size(), identify_max_message_size);
  identify_message merged;
  ASSERT_TRUE(merged.merge(encoded));
  auto r = merged.merge(encoded);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(identify_message, rejects_too_many_listen_addrs) {
  pb::writer w;
  for (std::size_t i = 0; i <= identify_max_listen_addrs; ++i) w.add_bytes(2, bytes{0x01});
  auto r = identify_message::decode(w.take());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(identify_message, rejects_known_field_with_wrong_wire_type) {
  const bytes in{0x08, 0x01};  // publicKey as a varint
  auto r = identify_message::decode(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::invalid_protobuf);
}

TEST(identify_message, typed_views_parse_addrs_and_skip_garbage) {
  const auto addr = multiaddr::parse("/ip4/127.0.0.1/tcp/4001");
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->to_bytes(), loopback_addr);  // the binary form used in these tests
  identify_message m;
  m.set_listen_addrs({*addr});
  m.listen_addrs.push_back(bytes{0xff, 0xff});  // not a multiaddr
  m.observed_addr = loopback_addr;
  const auto listen = m.listen_multiaddrs();
  ASSERT_EQ(listen.size(), 1u);
  EXPECT_EQ(listen[0], *addr);
  EXPECT_EQ(m.observed_multiaddr(), *addr);
  m.observed_addr = bytes{0xff};
  EXPECT_FALSE(m.observed_multiaddr());
}

}  // namespace
}  // namespace peerup::wire
