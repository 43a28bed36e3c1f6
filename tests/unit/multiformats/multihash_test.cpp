#include "multiformats/multihash.hpp"

#include <gtest/gtest.h>

#include "unit/multiformats/test_hex.hpp"

namespace peerup {
namespace {

using test::from_hex;

TEST(sha256, matches_fips_180_vector) {
  const auto d = sha256_digest(as_bytes("abc"));
  EXPECT_EQ(to_hex(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(multihash, encodes_sha256_of_abc) {
  const auto mh = multihash::of_sha256(as_bytes("abc"));
  EXPECT_EQ(to_hex(mh.encode()),
            "1220ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(multihash, round_trips_identity_and_sha256) {
  for (const auto& mh : {multihash::of_identity(as_bytes("key")), multihash::of_sha256(bytes{})}) {
    auto back = multihash::decode(mh.encode());
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, mh);
  }
}

TEST(multihash, rejects_sha256_with_wrong_length) {
  EXPECT_EQ(multihash::decode(from_hex("121f" + std::string(62, '0'))).error(),
            errc::multihash_length);
}

TEST(multihash, rejects_trailing_bytes) {
  EXPECT_EQ(multihash::decode(from_hex("000161ff")).error(), errc::multihash_length);
}

TEST(multihash, reports_truncated_digest) {
  EXPECT_EQ(multihash::decode(from_hex("00026100")).value().digest, (bytes{0x61, 0x00}));
  EXPECT_EQ(multihash::decode(from_hex("000261")).error(), errc::truncated);
  EXPECT_EQ(multihash::decode(from_hex("00")).error(), errc::truncated);
}

TEST(multihash, rejects_codes_peer_ids_never_use) {
  // sha2-512 (0x13) and sha3-256 (0x16) are real multihashes, but not peer IDs.
  EXPECT_EQ(multihash::decode(from_hex("1300")).error(), errc::unknown_multihash);
  EXPECT_EQ(multihash::decode(from_hex("1600")).error(), errc::unknown_multihash);
}

TEST(multihash, bounds_identity_digest_before_copying) {
  bytes big = from_hex("008101");  // identity, length 129
  big.resize(big.size() + 129, 0);
  EXPECT_EQ(multihash::decode(big).error(), errc::too_large);
}

}  // namespace
}  // namespace peerup
