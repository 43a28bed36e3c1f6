#include "wire/autonat_message.hpp"

#include <gtest/gtest.h>

#include "wire/protobuf.hpp"

namespace peerup::wire {
namespace {

const bytes loopback_addr{0x04, 0x7f, 0x00, 0x00, 0x01, 0x06, 0x0f, 0xa1};
const bytes peer{0x00, 0x02, 0xaa, 0xbb};  // identity multihash, 2-byte digest

TEST(autonat_message, round_trips_dial_and_response) {
  const auto dial = autonat_message::dial_request(peer, {loopback_addr});
  auto d = autonat_message::decode(dial.encode());
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, dial);
  const auto resp =
      autonat_message::response(autonat_response_status::e_dial_error, loopback_addr, "no route");
  auto r = autonat_message::decode(resp.encode());
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, resp);
}

TEST(autonat_message, encodes_dial_with_spec_field_numbers) {
  // Message{type=1 DIAL=0, dial=2{peer=1{id=1, addrs=2}}}
  bytes expected{0x08, 0x00, 0x12, 0x12, 0x0a, 0x10, 0x0a, 0x04};
  append(expected, peer);
  expected.insert(expected.end(), {0x12, 0x08});
  append(expected, loopback_addr);
  EXPECT_EQ(autonat_message::dial_request(peer, {loopback_addr}).encode(), expected);
}

TEST(autonat_message, decodes_hand_built_dial_response) {
  // Message{type=DIAL_RESPONSE, dialResponse=3{status=1 E_DIAL_REFUSED=101,
  // statusText=2 "no", addr=3}}
  bytes in{0x08, 0x01, 0x1a, 0x10, 0x08, 0x65, 0x12, 0x02, 'n', 'o', 0x1a, 0x08};
  append(in, loopback_addr);
  auto m = autonat_message::decode(in);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, autonat_message_type::dial_response);
  ASSERT_TRUE(m->dial_response);
  EXPECT_EQ(m->dial_response->status, autonat_response_status::e_dial_refused);
  EXPECT_EQ(m->dial_response->status_text, "no");
  EXPECT_EQ(m->dial_response->addr, loopback_addr);
}

TEST(autonat_message, keeps_unknown_response_status_for_logging) {
  const bytes in{0x08, 0x01, 0x1a, 0x03, 0x08, 0xf4, 0x03};  // status 500
  auto m = autonat_message::decode(in);
  ASSERT_TRUE(m && m->dial_response && m->dial_response->status);
  EXPECT_EQ(static_cast<std::uint32_t>(*m->dial_response->status), 500u);
}

TEST(autonat_message, decodes_all_spec_status_values) {
  for (std::uint32_t v : {0u, 100u, 101u, 200u, 300u}) {
    const auto in = autonat_message::response(static_cast<autonat_response_status>(v)).encode();
    auto m = autonat_message::decode(in);
    ASSERT_TRUE(m && m->dial_response && m->dial_response->status);
    EXPECT_EQ(static_cast<std::uint32_t>(*m->dial_response->status), v);
  }
}

TEST(autonat_message, rejects_truncated_nested_message) {
  bytes in = autonat_message::dial_request(peer, {loopback_addr}).encode();
  in.pop_back();
  EXPECT_FALSE(autonat_message::decode(in));
}

TEST(autonat_message, rejects_message_above_max_size) {
  const auto m = autonat_message::dial_request(bytes(autonat_max_message_size, 0x01), {});
  auto r = autonat_message::decode(m.encode());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(autonat_message, rejects_too_many_addrs) {
  std::vector<bytes> addrs(autonat_max_addrs + 1, bytes{0x01});
  auto r = autonat_message::decode(autonat_message::dial_request(peer, addrs).encode());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(autonat_message, typed_dial_request_matches_raw_form) {
  const peer_id id = peer_id::from_public_key(bytes{0x08, 0x01, 0x12, 0x01, 0x07});
  const auto addr = multiaddr::parse("/ip4/127.0.0.1/tcp/4001");
  ASSERT_TRUE(addr);
  const auto typed = autonat_message::dial_request(id, {*addr});
  EXPECT_EQ(typed, autonat_message::dial_request(id.to_bytes(), {loopback_addr}));
  EXPECT_EQ(typed.dial->peer->multiaddrs(), std::vector<multiaddr>{*addr});
}

}  // namespace
}  // namespace peerup::wire
