#include "multiformats/varint.hpp"

#include <gtest/gtest.h>

namespace peerup {
namespace {

TEST(varint, encodes_spec_examples) {
  // Vectors from multiformats/unsigned-varint README.
  EXPECT_EQ(varint::encode(1), (bytes{0x01}));
  EXPECT_EQ(varint::encode(127), (bytes{0x7f}));
  EXPECT_EQ(varint::encode(128), (bytes{0x80, 0x01}));
  EXPECT_EQ(varint::encode(255), (bytes{0xff, 0x01}));
  EXPECT_EQ(varint::encode(300), (bytes{0xac, 0x02}));
  EXPECT_EQ(varint::encode(16384), (bytes{0x80, 0x80, 0x01}));
}

TEST(varint, round_trips_boundaries) {
  for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 16383ull, 16384ull, (1ull << 63) - 1}) {
    auto enc = varint::encode(v);
    EXPECT_EQ(enc.size(), varint::encoded_size(v));
    auto dec = varint::decode(enc);
    ASSERT_TRUE(dec) << v;
    EXPECT_EQ(dec->value, v);
    EXPECT_EQ(dec->length, enc.size());
  }
}

TEST(varint, reports_truncation_so_callers_can_wait_for_more) {
  bytes in{0x80, 0x80};
  EXPECT_EQ(varint::decode(in).error(), make_error_code(errc::truncated));
  EXPECT_EQ(varint::decode({}).error(), make_error_code(errc::truncated));
}

TEST(varint, rejects_ten_byte_values) {
  bytes in(9, 0xff);
  in.push_back(0x01);
  EXPECT_EQ(varint::decode(in).error(), make_error_code(errc::varint_overflow));
  bytes nine_continuations(9, 0x80);
  EXPECT_EQ(varint::decode(nine_continuations).error(), make_error_code(errc::varint_overflow));
}

TEST(varint, rejects_non_minimal_encoding) {
  bytes in{0x81, 0x00};
  EXPECT_EQ(varint::decode(in).error(), make_error_code(errc::varint_not_minimal));
}

}  // namespace
}  // namespace peerup
