// XOR metric vectors: the hashes and distances below were computed outside
// the project (Python hashlib over the base58-decoded peer IDs).
#include <gtest/gtest.h>

#include "dht/key.hpp"

namespace peerup::dht {
namespace {

kad_key::digest digest_with(std::size_t byte, std::uint8_t value) {
  kad_key::digest d{};
  d[byte] = value;
  return d;
}

TEST(kad_key, peer_key_is_sha256_of_the_multihash) {
  auto ed = *peer_id::parse("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA");
  auto rsa = *peer_id::parse("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");
  EXPECT_EQ(kad_key::of(ed).to_hex(),
            "a9fb3b592b9e6cee5658eaf7de67433434163a081d97cc77e303b300c816251e");
  EXPECT_EQ(kad_key::of(rsa).to_hex(),
            "e41c99e231bc8c569bdbb2bb67fd760a2bd41b44cf8910ec7a93aefc14031896");
  auto d = xor_distance(kad_key::of(ed), kad_key::of(rsa));
  EXPECT_EQ(to_hex(d.d), "4de7a2bb1a22e0b8cd83584cb99a353e1fc2214cd21edc9b99901dfcdc153d88");
  EXPECT_EQ(common_prefix_length(kad_key::of(ed), kad_key::of(rsa)), 1U);
}

TEST(kad_key, raw_key_hash) {
  // sha256("") and sha256("abc"), FIPS 180-2.
  EXPECT_EQ(kad_key::of(byte_span{}).to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(kad_key::of(as_bytes("abc")).to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(kad_key, distance_orders_as_big_endian_number) {
  auto zero = kad_key::from_digest({});
  auto high = kad_key::from_digest(digest_with(0, 0x01));  // 2^248
  auto low = kad_key::from_digest(digest_with(31, 0xFF));  // 255
  EXPECT_LT(xor_distance(zero, low), xor_distance(zero, high));
  EXPECT_EQ(xor_distance(high, high), distance{});
  EXPECT_EQ(xor_distance(zero, high), xor_distance(high, zero));
}

TEST(kad_key, common_prefix_length_counts_leading_equal_bits) {
  auto zero = kad_key::from_digest({});
  EXPECT_EQ(common_prefix_length(zero, zero), 256U);
  EXPECT_EQ(common_prefix_length(zero, kad_key::from_digest(digest_with(0, 0x80))), 0U);
  EXPECT_EQ(common_prefix_length(zero, kad_key::from_digest(digest_with(0, 0x01))), 7U);
  EXPECT_EQ(common_prefix_length(zero, kad_key::from_digest(digest_with(1, 0x40))), 9U);
  EXPECT_EQ(common_prefix_length(zero, kad_key::from_digest(digest_with(31, 0x01))), 255U);
}

TEST(kad_key, key_in_bucket_has_exactly_that_prefix) {
  auto base = kad_key::of(as_bytes("base"));
  for (std::size_t cpl = 0; cpl < 256; ++cpl) {
    for (std::uint8_t fill : {0x00, 0x5A, 0xFF}) {
      kad_key::digest random{};
      random.fill(fill);
      auto k = key_in_bucket(base, cpl, random);
      ASSERT_EQ(common_prefix_length(base, k), cpl) << "cpl " << cpl << " fill " << int(fill);
    }
  }
}

}  // namespace
}  // namespace peerup::dht
