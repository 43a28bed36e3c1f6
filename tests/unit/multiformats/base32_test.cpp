#include "multiformats/base32.hpp"

#include <gtest/gtest.h>

#include "multiformats/multibase.hpp"
#include "unit/multiformats/test_hex.hpp"

namespace peerup {
namespace {

bytes b(std::string_view s) { return {s.begin(), s.end()}; }

// RFC 4648 section 10, lower-cased and without padding.
TEST(base32, matches_rfc4648_vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},
      {"f", "my"},
      {"fo", "mzxq"},
      {"foo", "mzxw6"},
      {"foob", "mzxw6yq"},
      {"fooba", "mzxw6ytb"},
      {"foobar", "mzxw6ytboi"},
  };
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(base32::encode(as_bytes(plain)), encoded);
    EXPECT_EQ(base32::decode(encoded).value(), b(plain)) << encoded;
  }
}

TEST(base32, rejects_upper_case_padding_and_foreign_characters) {
  for (std::string_view bad : {"MZXW6", "mzxw6===", "mzxw1", "mzxw8", "mz xq"}) {
    EXPECT_EQ(base32::decode(bad).error(), errc::invalid_base32) << bad;
  }
}

TEST(base32, rejects_lengths_no_byte_string_encodes_to) {
  // A final group of 1, 3 or 6 characters leaves a partial byte.
  for (std::string_view bad : {"m", "mzx", "mzxw6y", "mzxw6ytbo"}) {
    EXPECT_EQ(base32::decode(bad).error(), errc::invalid_base32) << bad;
  }
}

TEST(base32, rejects_non_zero_trailing_bits) {
  // "my" is "f"; "mz" has a stray bit set after the 8 data bits.
  EXPECT_EQ(base32::decode("mz").error(), errc::invalid_base32);
}

TEST(base32, rejects_text_longer_than_bound) {
  EXPECT_EQ(base32::decode(std::string(base32::max_text_length + 8, 'a')).error(), errc::too_large);
}

TEST(multibase, decodes_base32_and_base58btc_prefixes) {
  EXPECT_EQ(multibase::decode("bmzxw6").value(), b("foo"));
  EXPECT_EQ(multibase::decode("z2NEpo7TZRRrLZSi2U").value(), b("Hello World!"));
}

TEST(multibase, rejects_unknown_or_missing_prefix) {
  EXPECT_EQ(multibase::decode("").error(), errc::unknown_multibase);
  EXPECT_EQ(multibase::decode("f666f6f").error(), errc::unknown_multibase);  // base16
  EXPECT_EQ(multibase::decode("BMZXW6").error(), errc::unknown_multibase);
}

TEST(multibase, encodes_with_prefix) {
  EXPECT_EQ(multibase::encode_base32(as_bytes("foobar")), "bmzxw6ytboi");
  EXPECT_EQ(multibase::encode_base58btc(as_bytes("Hello World!")), "z2NEpo7TZRRrLZSi2U");
}

}  // namespace
}  // namespace peerup

namespace peerup {
namespace {

// RFC 4648 section 10 base64 vectors in the URL-safe alphabet, unpadded.
TEST(multibase, reads_and_writes_base64url) {
  EXPECT_EQ(multibase::encode_base64url(as_bytes("foobar")), "uZm9vYmFy");
  EXPECT_EQ(multibase::encode_base64url(as_bytes("fo")), "uZm8");
  EXPECT_EQ(multibase::encode_base64url(bytes{0xfb, 0xff}), "u-_8");
  EXPECT_EQ(multibase::decode("uZm9vYg").value(), b("foob"));
  EXPECT_EQ(multibase::decode("u-_8").value(), (bytes{0xfb, 0xff}));
}

TEST(multibase, rejects_malformed_base64url) {
  EXPECT_EQ(multibase::decode("uZm9vYg==").error(), errc::invalid_base64);  // padding
  EXPECT_EQ(multibase::decode("uZm+v").error(), errc::invalid_base64);      // standard alphabet
  EXPECT_EQ(multibase::decode("uZ").error(), errc::invalid_base64);         // 1 mod 4
  EXPECT_EQ(multibase::decode("uZn").error(), errc::invalid_base64);        // stray bits
}

}  // namespace
}  // namespace peerup
