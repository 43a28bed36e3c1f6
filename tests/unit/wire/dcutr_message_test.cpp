#include "wire/dcutr_message.hpp"

#include <gtest/gtest.h>

#include "wire/protobuf.hpp"

namespace peerup::wire {
namespace {

const bytes loopback_addr{0x04, 0x7f, 0x00, 0x00, 0x01, 0x06, 0x0f, 0xa1};

TEST(dcutr_message, round_trips_connect_and_sync) {
  const auto connect = hole_punch_message::connect({loopback_addr, loopback_addr});
  auto c = hole_punch_message::decode(connect.encode());
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, connect);
  const auto sync = hole_punch_message::sync();
  auto s = hole_punch_message::decode(sync.encode());
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, sync);
}

TEST(dcutr_message, encodes_spec_type_values_and_field_numbers) {
  // type=1 CONNECT=100 (0x64), ObsAddrs=2; SYNC=300 (0xac 0x02).
  bytes expected{0x08, 0x64, 0x12, 0x08};
  append(expected, loopback_addr);
  EXPECT_EQ(hole_punch_message::connect({loopback_addr}).encode(), expected);
  EXPECT_EQ(hole_punch_message::sync().encode(), (bytes{0x08, 0xac, 0x02}));
}

TEST(dcutr_message, decodes_hand_built_sync_and_skips_unknown_fields) {
  const bytes in{0x08, 0xac, 0x02, 0x18, 0x05};  // SYNC, then unknown field 3
  auto m = hole_punch_message::decode(in);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, hole_punch_type::sync);
  EXPECT_TRUE(m->obs_addrs.empty());
}

TEST(dcutr_message, decodes_unknown_type_value_as_absent) {
  const bytes in{0x08, 0x65};  // 101 is not a HolePunch.Type
  auto m = hole_punch_message::decode(in);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->type);
}

TEST(dcutr_message, rejects_truncated_input) {
  bytes in = hole_punch_message::connect({loopback_addr}).encode();
  in.pop_back();
  EXPECT_FALSE(hole_punch_message::decode(in));
}

TEST(dcutr_message, rejects_message_above_4_kib) {
  const auto m = hole_punch_message::connect({bytes(dcutr_max_message_size, 0x01)});
  auto r = hole_punch_message::decode(m.encode());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(dcutr_message, rejects_too_many_observed_addrs) {
  pb::writer w;
  for (std::size_t i = 0; i <= dcutr_max_obs_addrs; ++i) w.add_bytes(2, bytes{0x01});
  auto r = hole_punch_message::decode(w.take());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(dcutr_message, typed_connect_carries_binary_multiaddrs) {
  const auto addr = multiaddr::parse("/ip4/127.0.0.1/tcp/4001");
  ASSERT_TRUE(addr);
  const auto m = hole_punch_message::connect(std::vector<multiaddr>{*addr});
  EXPECT_EQ(m.obs_addrs, std::vector<bytes>{loopback_addr});
  EXPECT_EQ(m.obs_multiaddrs(), std::vector<multiaddr>{*addr});
}

}  // namespace
}  // namespace peerup::wire
