#include "wire/protobuf.hpp"

#include <gtest/gtest.h>

namespace peerup {
namespace {

TEST(protobuf, round_trips_varint_and_bytes_fields) {
  pb::writer w;
  w.add_varint(1, 300);
  w.add_string(2, "hello");
  bytes data = w.take();
  pb::reader r(data);
  auto f1 = r.next();
  ASSERT_TRUE(f1 && *f1);
  EXPECT_EQ((*f1)->number, 1u);
  EXPECT_EQ((*f1)->varint, 300u);
  auto f2 = r.next();
  ASSERT_TRUE(f2 && *f2);
  EXPECT_EQ((*f2)->number, 2u);
  EXPECT_EQ(as_string_view((*f2)->bytes), "hello");
  auto end = r.next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);
}

TEST(protobuf, rejects_length_beyond_input) {
  bytes data{0x12, 0x10, 'a', 'b'};  // field 2, length 16, only 2 bytes follow
  pb::reader r(data);
  EXPECT_FALSE(r.next());
}

TEST(protobuf, rejects_field_number_zero_and_groups) {
  bytes zero{0x00, 0x01};
  EXPECT_FALSE(pb::reader(zero).next());
  bytes group{0x0b};  // field 1, wire type 3
  EXPECT_FALSE(pb::reader(group).next());
}

}  // namespace
}  // namespace peerup
