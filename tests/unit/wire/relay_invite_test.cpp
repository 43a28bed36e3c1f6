#include "wire/relay_invite.hpp"

#include <gtest/gtest.h>

#include "wire/protobuf.hpp"

namespace peerup {
namespace {

TEST(relay_invite, request_and_response_round_trip) {
  const relay_invite::request req{1796515817, "laptop"};
  auto b = relay_invite::encode(req);
  ASSERT_TRUE(b);
  EXPECT_EQ(relay_invite::decode_request(*b).value(), req);

  const relay_invite::response ok{relay_invite::status::ok, {1, 2}, {3, 4, 5, 6, 7, 8}};
  auto r = relay_invite::encode(ok);
  ASSERT_TRUE(r);
  EXPECT_EQ(relay_invite::decode_response(*r).value(), ok);

  const relay_invite::response no{relay_invite::status::not_sponsor, {}, {}};
  EXPECT_EQ(relay_invite::decode_response(relay_invite::encode(no).value()).value(), no);
}

TEST(relay_invite, bad_names_are_not_encoded_or_accepted) {
  EXPECT_FALSE(relay_invite::encode(relay_invite::request{1, ""}));
  EXPECT_FALSE(relay_invite::encode(relay_invite::request{1, std::string(65, 'a')}));
  pb::writer w;
  w.add_varint(1, 100);
  w.add_string(2, "bad\nname");
  EXPECT_EQ(relay_invite::decode_request(w.data()).error(), errc::relay_invite_protocol);
}

TEST(relay_invite, malformed_messages_are_protocol_errors) {
  // Missing fields.
  pb::writer only_name;
  only_name.add_string(2, "laptop");
  EXPECT_EQ(relay_invite::decode_request(only_name.data()).error(), errc::relay_invite_protocol);
  // A repeated field.
  pb::writer twice;
  twice.add_varint(1, 5);
  twice.add_varint(1, 6);
  twice.add_string(2, "x");
  EXPECT_FALSE(relay_invite::decode_request(twice.data()));
  // An expiry beyond 2^40 seconds.
  pb::writer far;
  far.add_varint(1, (std::uint64_t{1} << 40) + 1);
  far.add_string(2, "x");
  EXPECT_FALSE(relay_invite::decode_request(far.data()));
  // ok without the invite, a refusal with one, a short secret, an unknown status.
  pb::writer ok_empty;
  ok_empty.add_varint(1, 0);
  EXPECT_FALSE(relay_invite::decode_response(ok_empty.data()));
  pb::writer refused_with_id;
  refused_with_id.add_varint(1, 1);
  refused_with_id.add_bytes(2, bytes{1, 2});
  EXPECT_FALSE(relay_invite::decode_response(refused_with_id.data()));
  pb::writer short_secret;
  short_secret.add_varint(1, 0);
  short_secret.add_bytes(2, bytes{1, 2});
  short_secret.add_bytes(3, bytes{1, 2, 3});
  EXPECT_FALSE(relay_invite::decode_response(short_secret.data()));
  pb::writer unknown;
  unknown.add_varint(1, 9);
  EXPECT_FALSE(relay_invite::decode_response(unknown.data()));
  // Over the size bound.
  EXPECT_FALSE(relay_invite::decode_request(bytes(relay_invite::max_message_bytes + 1, 0)));
}

}  // namespace
}  // namespace peerup
