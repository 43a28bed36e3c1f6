#include "wire/rendezvous.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"
#include "wire/protobuf.hpp"

namespace peerup {
namespace {

using rendezvous::op;
using rendezvous::status;

peer_id peer(std::uint8_t n) { return private_key::from_seed(bytes(32, n)).value().to_peer_id(); }

rendezvous::request put(std::uint8_t handle, std::int64_t expires, std::size_t box = 120) {
  rendezvous::request r;
  r.what = op::put;
  r.handle.fill(handle);
  r.expires_unix = expires;
  r.box = bytes(box, 0x5a);
  return r;
}

TEST(rendezvous, messages_round_trip) {
  for (const auto& r : {put(1, 1800000000), rendezvous::request{op::get, {9, 9, 9, 9, 9, 9, 9, 9}, 0, {}}}) {
    auto enc = rendezvous::encode(r);
    ASSERT_TRUE(enc);
    EXPECT_EQ(rendezvous::decode_request(*enc).value(), r);
  }
  for (const auto& r : {rendezvous::response{status::ok, bytes(40, 1)},
                        rendezvous::response{status::unknown, {}},
                        rendezvous::response{status::taken, {}}}) {
    auto enc = rendezvous::encode(r);
    ASSERT_TRUE(enc);
    EXPECT_EQ(rendezvous::decode_response(*enc).value(), r);
  }
}

TEST(rendezvous, malformed_messages_are_refused) {
  const auto bad = make_error_code(errc::rendezvous_protocol);
  auto body = [](auto&& fill) {
    pb::writer w;
    fill(w);
    return w.take();
  };
  const bytes handle(8, 1);
  // A get that carries a box, a put without one, a short handle, an unknown op,
  // a repeated field, an oversized box, an oversized message.
  EXPECT_EQ(rendezvous::decode_request(body([&](pb::writer& w) {
              w.add_varint(1, 2), w.add_bytes(2, handle), w.add_bytes(4, bytes(10, 1));
            })).error(),
            bad);
  EXPECT_EQ(rendezvous::decode_request(body([&](pb::writer& w) {
              w.add_varint(1, 1), w.add_bytes(2, handle), w.add_varint(3, 1800000000);
            })).error(),
            bad);
  EXPECT_EQ(rendezvous::decode_request(body([&](pb::writer& w) {
              w.add_varint(1, 2), w.add_bytes(2, bytes(7, 1));
            })).error(),
            bad);
  EXPECT_EQ(rendezvous::decode_request(body([&](pb::writer& w) {
              w.add_varint(1, 3), w.add_bytes(2, handle);
            })).error(),
            bad);
  EXPECT_EQ(rendezvous::decode_request(body([&](pb::writer& w) {
              w.add_varint(1, 2), w.add_bytes(2, handle), w.add_bytes(2, handle);
            })).error(),
            bad);
  EXPECT_EQ(rendezvous::decode_request(body([&](pb::writer& w) {
              w.add_varint(1, 1), w.add_bytes(2, handle), w.add_varint(3, 1800000000),
                  w.add_bytes(4, bytes(invite::max_sealed_bytes + 1, 1));
            })).error(),
            bad);
  EXPECT_EQ(rendezvous::decode_request(bytes(rendezvous::max_message_bytes + 1, 0)).error(), bad);
  // A refusal that carries a box, a status out of range.
  EXPECT_EQ(rendezvous::decode_response(body([&](pb::writer& w) {
              w.add_varint(1, 1), w.add_bytes(2, bytes(4, 1));
            })).error(),
            bad);
  EXPECT_EQ(rendezvous::decode_response(body([&](pb::writer& w) { w.add_varint(1, 6); })).error(),
            bad);
  // encode refuses what decode would.
  EXPECT_EQ(rendezvous::encode(put(1, 1800000000, 0)).error(),
            make_error_code(errc::invalid_argument));
}

TEST(rendezvous, the_store_keeps_a_box_until_expiry_and_bounds_fetches) {
  rendezvous::store boxes({.max_fetches = 2});
  const auto home = peer(1);
  ASSERT_EQ(boxes.put(home, put(1, 1100), 1000), status::ok);
  EXPECT_EQ(boxes.get(put(1, 0).handle, 1000).box, bytes(120, 0x5a));
  EXPECT_EQ(boxes.get(put(1, 0).handle, 1001).code, status::ok);
  // Fetched as often as it may be: gone for a scanner.
  EXPECT_EQ(boxes.get(put(1, 0).handle, 1002).code, status::unknown);
  ASSERT_EQ(boxes.put(home, put(2, 1100), 1000), status::ok);
  EXPECT_EQ(boxes.get(put(2, 0).handle, 1100).code, status::unknown);  // expired
  EXPECT_EQ(boxes.get(put(3, 0).handle, 1000).code, status::unknown);  // never put
}

TEST(rendezvous, the_store_refuses_bad_expiry_other_owners_and_floods) {
  rendezvous::store boxes({.max_boxes = 3, .max_per_owner = 2, .max_lifetime_s = 600});
  const auto a = peer(1), b = peer(2), c = peer(3);
  EXPECT_EQ(boxes.put(a, put(1, 1000), 1000), status::bad_request);  // not ahead
  EXPECT_EQ(boxes.put(a, put(1, 1601), 1000), status::bad_request);  // too far ahead
  EXPECT_EQ(boxes.put(a, put(1, 1600), 1000), status::ok);
  EXPECT_EQ(boxes.put(b, put(1, 1600), 1000), status::taken);  // a's handle
  EXPECT_EQ(boxes.put(a, put(1, 1500, 60), 1000), status::ok);  // a replaces its own
  EXPECT_EQ(boxes.get(put(1, 0).handle, 1000).box.size(), 60u);
  EXPECT_EQ(boxes.put(a, put(2, 1600), 1000), status::ok);
  EXPECT_EQ(boxes.put(a, put(3, 1600), 1000), status::full);  // per owner
  EXPECT_EQ(boxes.put(b, put(4, 1600), 1000), status::ok);
  EXPECT_EQ(boxes.put(c, put(5, 1600), 1000), status::full);  // in total
  EXPECT_EQ(boxes.size(), 3u);
  // Expiry frees room.
  EXPECT_EQ(boxes.put(c, put(5, 1700), 1600), status::ok);
  EXPECT_EQ(boxes.size(), 1u);
}

}  // namespace
}  // namespace peerup
