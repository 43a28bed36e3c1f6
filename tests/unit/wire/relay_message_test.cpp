#include "wire/relay_message.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "wire/protobuf.hpp"

namespace peerup::wire {
namespace {

const bytes loopback_addr{0x04, 0x7f, 0x00, 0x00, 0x01, 0x06, 0x0f, 0xa1};
const bytes peer_a{0x00, 0x02, 0xaa, 0xbb};  // identity multihash, 2-byte digest

TEST(relay_message, encodes_reserve_as_type_zero_explicitly) {
  // type is required: RESERVE (0) must be on the wire, not left as default.
  EXPECT_EQ(hop_message::reserve().encode(), (bytes{0x08, 0x00}));
}

TEST(relay_message, decodes_hand_built_reservation_ok) {
  // HopMessage{type=STATUS(2), reservation=3{expire=1, addrs=2, voucher=3},
  //            limit=4{duration=1 120, data=2 131072}, status=5 OK(100)}
  bytes in{0x08, 0x02, 0x1a, 0x11, 0x08, 0xe8, 0x07, 0x12, 0x08};
  append(in, loopback_addr);
  in.insert(in.end(), {0x1a, 0x02, 0xc0, 0xde,                          // voucher
                       0x22, 0x06, 0x08, 0x78, 0x10, 0x80, 0x80, 0x08,  // limit
                       0x28, 0x64});                                    // status OK
  auto m = hop_message::decode(in);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, hop_type::status);
  EXPECT_EQ(m->status, relay_status::ok);
  ASSERT_TRUE(m->reservation);
  EXPECT_EQ(m->reservation->expire, 1000u);
  EXPECT_EQ(m->reservation->addrs, std::vector<bytes>{loopback_addr});
  EXPECT_EQ(m->reservation->voucher, (bytes{0xc0, 0xde}));
  ASSERT_TRUE(m->limit);
  EXPECT_EQ(m->limit->duration, 120u);
  EXPECT_EQ(m->limit->data, 131072u);
  EXPECT_EQ(m->encode(), in);  // and we write the same canonical bytes
}

TEST(relay_message, encodes_connect_with_peer_field_two) {
  bytes expected{0x08, 0x01, 0x12, 0x10, 0x0a, 0x04};
  append(expected, peer_a);
  expected.insert(expected.end(), {0x12, 0x08});
  append(expected, loopback_addr);
  EXPECT_EQ(hop_message::connect({peer_a, {loopback_addr}}).encode(), expected);
}

TEST(relay_message, stop_message_uses_its_own_field_numbers) {
  // StopMessage{type=CONNECT(0), peer=2, limit=3{duration=60}}, then STATUS(1) with status=4.
  bytes expected{0x08, 0x00, 0x12, 0x06, 0x0a, 0x04};
  append(expected, peer_a);
  expected.insert(expected.end(), {0x1a, 0x02, 0x08, 0x3c});
  const auto connect = stop_message::connect({peer_a, {}}, relay_limit{60, std::nullopt});
  EXPECT_EQ(connect.encode(), expected);
  auto decoded = stop_message::decode(expected);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, connect);

  const bytes status{0x08, 0x01, 0x20, 0xcb, 0x01};  // CONNECTION_FAILED = 203
  EXPECT_EQ(stop_message::status_reply(relay_status::connection_failed).encode(), status);
  auto s = stop_message::decode(status);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, relay_status::connection_failed);
}

TEST(relay_message, round_trips_every_hop_field) {
  hop_message m;
  m.type = hop_type::status;
  m.peer = relay_peer{peer_a, {loopback_addr, loopback_addr}};
  m.reservation = relay_reservation{1700000000, {loopback_addr}, bytes{1, 2, 3}};
  m.limit = relay_limit{std::nullopt, 1u << 20};
  m.status = relay_status::reservation_refused;
  auto decoded = hop_message::decode(m.encode());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, m);
}

TEST(relay_message, status_codes_match_spec_numbers) {
  EXPECT_EQ(static_cast<int>(relay_status::ok), 100);
  EXPECT_EQ(static_cast<int>(relay_status::reservation_refused), 200);
  EXPECT_EQ(static_cast<int>(relay_status::resource_limit_exceeded), 201);
  EXPECT_EQ(static_cast<int>(relay_status::permission_denied), 202);
  EXPECT_EQ(static_cast<int>(relay_status::connection_failed), 203);
  EXPECT_EQ(static_cast<int>(relay_status::no_reservation), 204);
  EXPECT_EQ(static_cast<int>(relay_status::malformed_message), 400);
  EXPECT_EQ(static_cast<int>(relay_status::unexpected_message), 401);
}

TEST(relay_message, maps_status_to_project_errors) {
  EXPECT_EQ(to_errc(relay_status::ok), errc::ok);
  EXPECT_EQ(to_errc(relay_status::reservation_refused), errc::relay_reservation_refused);
  EXPECT_EQ(to_errc(relay_status::resource_limit_exceeded), errc::relay_resource_limit);
  EXPECT_EQ(to_errc(relay_status::permission_denied), errc::relay_permission_denied);
  EXPECT_EQ(to_errc(relay_status::connection_failed), errc::relay_connection_failed);
  EXPECT_EQ(to_errc(relay_status::no_reservation), errc::relay_no_reservation);
  EXPECT_EQ(to_errc(relay_status::malformed_message), errc::relay_malformed_message);
  EXPECT_EQ(to_errc(relay_status::unexpected_message), errc::relay_unexpected_message);
  EXPECT_EQ(to_errc(static_cast<relay_status>(999)), errc::relay_malformed_message);
  EXPECT_EQ(to_errc(relay_status::unused), errc::relay_malformed_message);
}

TEST(relay_message, rejects_missing_type) {
  const bytes in{0x28, 0x64};  // status only
  auto r = hop_message::decode(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::relay_malformed_message);
  EXPECT_FALSE(stop_message::decode(in));
}

TEST(relay_message, rejects_unknown_type_value_as_missing) {
  const bytes in{0x08, 0x03};  // HopMessage.Type has no 3
  auto r = hop_message::decode(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::relay_malformed_message);
  const bytes stop{0x08, 0x02};  // StopMessage.Type has no 2
  EXPECT_FALSE(stop_message::decode(stop));
}

TEST(relay_message, rejects_peer_without_id) {
  bytes in{0x08, 0x01, 0x12, 0x0a, 0x12, 0x08};  // CONNECT, peer{addrs} only
  append(in, loopback_addr);
  auto r = hop_message::decode(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::relay_malformed_message);
}

TEST(relay_message, rejects_truncated_nested_message) {
  bytes in = hop_message::connect({peer_a, {loopback_addr}}).encode();
  in.pop_back();
  EXPECT_FALSE(hop_message::decode(in));
}

TEST(relay_message, rejects_message_above_4_kib) {
  const auto m = hop_message::connect({bytes(relay_max_message_size, 0x01), {}});
  auto r = hop_message::decode(m.encode());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(relay_message, rejects_too_many_addrs) {
  std::vector<bytes> addrs(relay_max_addrs + 1, bytes{0x01});
  auto r = hop_message::decode(hop_message::connect({peer_a, addrs}).encode());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(relay_message, rejects_limit_duration_above_uint32) {
  pb::writer limit;
  limit.add_varint(1, std::uint64_t{1} << 32);
  pb::writer w;
  w.add_varint(1, 2);
  w.add_bytes(4, limit.take());
  EXPECT_FALSE(hop_message::decode(w.take()));
}

TEST(relay_message, skips_unknown_fields) {
  const bytes in{0x08, 0x00, 0x30, 0x01, 0x3a, 0x01, 0xff};  // fields 6 and 7
  auto r = hop_message::decode(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, hop_message::reserve());
}

TEST(relay_message, forwarded_for_extension_round_trips_and_needs_an_id) {
  auto m = hop_message::connect(relay_peer{peer_a, {}});
  m.forwarded_for = relay_peer{peer_a, {}};
  const auto encoded = m.encode();
  // Field 100, length-delimited: tag 0xa2 0x06, after the standard fields.
  const bytes tag{0xa2, 0x06};
  EXPECT_NE(std::search(encoded.begin(), encoded.end(), tag.begin(), tag.end()), encoded.end());
  auto back = hop_message::decode(encoded);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, m);
  // Without the extension the message is a plain CONNECT (other
  // implementations see exactly that).
  auto plain = hop_message::connect(relay_peer{peer_a, {}});
  EXPECT_FALSE(hop_message::decode(plain.encode())->forwarded_for);
  // An empty forwarded_for is malformed, like an empty peer.
  bytes bad = plain.encode();
  bad.insert(bad.end(), {0xa2, 0x06, 0x00});
  EXPECT_FALSE(hop_message::decode(bad));
}

TEST(relay_voucher, encodes_fields_in_canonical_order) {
  const relay_voucher v{peer_a, bytes{0x00, 0x01, 0x09}, 1700000000};
  bytes expected{0x0a, 0x04};
  append(expected, peer_a);
  expected.insert(expected.end(),
                  {0x12, 0x03, 0x00, 0x01, 0x09, 0x18, 0x80, 0xe2, 0xcf, 0xaa, 0x06});
  EXPECT_EQ(v.encode(), expected);
  auto decoded = relay_voucher::decode(expected);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, v);
}

TEST(relay_voucher, rejects_missing_required_field) {
  const relay_voucher v{peer_a, peer_a, 5};
  const bytes full = v.encode();
  // Drop the expiration (last two bytes: tag 0x18, value 5).
  const bytes no_expiration(full.begin(), full.end() - 2);
  auto r = relay_voucher::decode(no_expiration);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::relay_malformed_message);
  const bytes only_expiration{0x18, 0x05};
  EXPECT_FALSE(relay_voucher::decode(only_expiration));
}

TEST(relay_message, typed_peer_round_trips_through_bytes) {
  const peer_id id = peer_id::from_public_key(bytes{0x08, 0x01, 0x12, 0x01, 0x07});
  const auto addr = multiaddr::parse("/ip4/127.0.0.1/tcp/4001");
  ASSERT_TRUE(addr);
  const relay_peer p = relay_peer::from(id, {*addr});
  EXPECT_EQ(p.id, id.to_bytes());
  EXPECT_EQ(p.addrs, std::vector<bytes>{loopback_addr});
  auto parsed = p.parsed_id();
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, id);
  EXPECT_EQ(p.multiaddrs(), std::vector<multiaddr>{*addr});
  EXPECT_FALSE((relay_peer{bytes{0x12, 0x05}, {}}.parsed_id()));  // truncated multihash
}

}  // namespace
}  // namespace peerup::wire
