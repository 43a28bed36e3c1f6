#include "multiformats/base58.hpp"

#include <gtest/gtest.h>

#include "unit/multiformats/test_hex.hpp"

namespace peerup {
namespace {

using test::from_hex;

// Vectors from the IETF base58 draft (draft-msporny-base58).
TEST(base58, encodes_draft_vectors) {
  EXPECT_EQ(base58::encode(as_bytes("Hello World!")), "2NEpo7TZRRrLZSi2U");
  EXPECT_EQ(base58::encode(as_bytes("The quick brown fox jumps over the lazy dog.")),
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z");
  EXPECT_EQ(base58::encode(from_hex("0000287fb4cd")), "11233QC4");
}

TEST(base58, decodes_draft_vectors) {
  EXPECT_EQ(base58::decode("2NEpo7TZRRrLZSi2U").value(),
            bytes(as_bytes("Hello World!").begin(), as_bytes("Hello World!").end()));
  EXPECT_EQ(base58::decode("11233QC4").value(), from_hex("0000287fb4cd"));
}

TEST(base58, maps_leading_zero_bytes_to_ones) {
  EXPECT_EQ(base58::encode(bytes{}), "");
  EXPECT_EQ(base58::encode(bytes{0}), "1");
  EXPECT_EQ(base58::encode(bytes{0, 0, 0}), "111");
  EXPECT_EQ(base58::decode("").value(), bytes{});
  EXPECT_EQ(base58::decode("111").value(), (bytes{0, 0, 0}));
}

TEST(base58, round_trips_every_byte_value) {
  bytes all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(255 - i));
  for (std::size_t n = 0; n <= all.size(); n += 17) {
    const byte_span in(all.data(), n);
    auto back = base58::decode(base58::encode(in));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, bytes(in.begin(), in.end()));
  }
}

TEST(base58, rejects_characters_outside_alphabet) {
  for (std::string_view bad : {"0", "O", "I", "l", "2NEpo7TZ+RrLZSi2U", "abc\x80", "a b"}) {
    EXPECT_EQ(base58::decode(bad).error(), errc::invalid_base58) << bad;
  }
}

TEST(base58, rejects_text_longer_than_bound) {
  const std::string huge(base58::max_text_length + 1, '2');
  EXPECT_EQ(base58::decode(huge).error(), errc::too_large);
  EXPECT_TRUE(base58::decode(std::string(base58::max_text_length, '2')));
}

}  // namespace
}  // namespace peerup
