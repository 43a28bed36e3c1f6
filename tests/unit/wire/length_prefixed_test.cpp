#include "wire/length_prefixed.hpp"

#include <gtest/gtest.h>

namespace peerup::wire {
namespace {

TEST(length_prefixed, frames_with_unsigned_varint_prefix) {
  EXPECT_EQ(frame_length_prefixed(as_bytes("abc")), (bytes{3, 'a', 'b', 'c'}));
  const bytes big(300, 0x55);
  const bytes framed = frame_length_prefixed(big);
  ASSERT_EQ(framed.size(), 302u);
  EXPECT_EQ(framed[0], 0xac);  // 300 = 0b10_0101100
  EXPECT_EQ(framed[1], 0x02);
}

TEST(length_prefixed, reassembles_messages_fed_byte_by_byte) {
  const bytes msg(200, 0x42);
  bytes stream = frame_length_prefixed(msg);
  append(stream, frame_length_prefixed(as_bytes("xy")));
  length_prefixed_reader reader(4096);
  std::vector<bytes> out;
  for (std::uint8_t b : stream) {
    std::size_t consumed = 0;
    auto r = reader.feed(byte_span(&b, 1), consumed);
    ASSERT_TRUE(r);
    EXPECT_EQ(consumed, 1u);
    if (*r) out.push_back(std::move(**r));
  }
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], msg);
  EXPECT_EQ(out[1], (bytes{'x', 'y'}));
  EXPECT_TRUE(reader.idle());
}

TEST(length_prefixed, stops_after_one_message_and_reports_consumed) {
  bytes stream = frame_length_prefixed(as_bytes("one"));
  append(stream, frame_length_prefixed(as_bytes("two")));
  length_prefixed_reader reader(16);
  std::size_t consumed = 0;
  auto first = reader.feed(stream, consumed);
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(as_string_view(**first), "one");
  EXPECT_EQ(consumed, 4u);
  auto second = reader.feed(byte_span(stream).subspan(consumed), consumed);
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(as_string_view(**second), "two");
  EXPECT_EQ(consumed, 4u);
}

TEST(length_prefixed, delivers_empty_message) {
  const bytes stream{0x00};
  length_prefixed_reader reader(16);
  std::size_t consumed = 0;
  auto r = reader.feed(stream, consumed);
  ASSERT_TRUE(r && *r);
  EXPECT_TRUE((*r)->empty());
}

TEST(length_prefixed, rejects_declared_length_above_max_before_body_arrives) {
  length_prefixed_reader reader(4096);
  const bytes header = varint::encode(4097);
  std::size_t consumed = 0;
  auto r = reader.feed(header, consumed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
  // A reader that failed stays failed: the stream is out of sync.
  const bytes more{0x01, 0x00};
  EXPECT_FALSE(reader.feed(more, consumed));
}

TEST(length_prefixed, rejects_huge_declared_length_without_allocating) {
  length_prefixed_reader reader(8192);
  const bytes header = varint::encode(std::uint64_t{1} << 62);
  std::size_t consumed = 0;
  auto r = reader.feed(header, consumed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(length_prefixed, rejects_overlong_varint_header) {
  length_prefixed_reader reader(8192);
  const bytes header(10, 0x80);
  std::size_t consumed = 0;
  auto r = reader.feed(header, consumed);
  ASSERT_FALSE(r);
  EXPECT_LE(consumed, varint::max_length);
}

TEST(length_prefixed, waits_for_rest_of_truncated_body) {
  length_prefixed_reader reader(16);
  const bytes partial{0x05, 'a', 'b'};
  std::size_t consumed = 0;
  auto r = reader.feed(partial, consumed);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_EQ(consumed, 3u);
  EXPECT_FALSE(reader.idle());
  const bytes rest{'c', 'd', 'e'};
  r = reader.feed(rest, consumed);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(as_string_view(**r), "abcde");
}

}  // namespace
}  // namespace peerup::wire
