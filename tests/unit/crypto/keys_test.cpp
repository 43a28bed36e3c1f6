#include "crypto/keys.hpp"

#include <gtest/gtest.h>

#include "crypto/sha256.hpp"
#include "unit/multiformats/test_hex.hpp"

namespace peerup {
namespace {

using namespace test;

// RFC 8032 section 7.1, TEST 1 (empty message).
constexpr std::string_view rfc8032_seed =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr std::string_view rfc8032_public =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view rfc8032_signature =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
    "6bd25bf5f0595bbe24655141438e7a100b";

TEST(sha256, crypto_alias_matches_fips_180_vector) {
  EXPECT_EQ(to_hex(sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ed25519, signs_rfc8032_test_1) {
  auto key = private_key::from_seed(from_hex(rfc8032_seed)).value();
  EXPECT_EQ(to_hex(key.get_public_key().raw()), rfc8032_public);
  EXPECT_EQ(to_hex(key.sign(bytes{})), rfc8032_signature);
}

TEST(ed25519, verifies_rfc8032_test_1_and_rejects_a_flipped_bit) {
  const auto pub = public_key::from_raw(key_type::ed25519, from_hex(rfc8032_public)).value();
  auto sig = from_hex(rfc8032_signature);
  EXPECT_TRUE(pub.verify(bytes{}, sig));
  EXPECT_FALSE(pub.verify(as_bytes("x"), sig));
  sig[10] ^= 0x01;
  EXPECT_FALSE(pub.verify(bytes{}, sig));
  EXPECT_FALSE(pub.verify(bytes{}, byte_span(sig).first(63)));
}

TEST(ed25519, loads_spec_private_key_and_derives_its_public_key_and_peer_id) {
  auto key = private_key::from_protobuf(from_hex(spec_ed25519_private)).value();
  EXPECT_EQ(key.get_public_key().to_protobuf(), from_hex(spec_ed25519_public));
  EXPECT_EQ(key.to_peer_id().to_string(), spec_ed25519_peer);
  EXPECT_EQ(key.to_protobuf(), from_hex(spec_ed25519_private));
}

TEST(ed25519, decodes_spec_public_key) {
  auto pub = public_key::from_protobuf(from_hex(spec_ed25519_public)).value();
  EXPECT_EQ(pub.type(), key_type::ed25519);
  EXPECT_EQ(to_hex(pub.raw()), spec_ed25519_public.substr(8));
  EXPECT_EQ(pub.to_peer_id().to_string(), spec_ed25519_peer);
}

TEST(ed25519, accepts_legacy_96_byte_private_key_only_when_copies_agree) {
  bytes legacy = from_hex(spec_ed25519_private);
  legacy[3] = 96;  // Data length
  append(legacy, byte_span(legacy).subspan(4 + 32, 32));
  auto key = private_key::from_protobuf(legacy);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->to_peer_id().to_string(), spec_ed25519_peer);

  legacy.back() ^= 1;
  EXPECT_EQ(private_key::from_protobuf(legacy).error(), errc::invalid_key);
}

TEST(ed25519, rejects_private_key_whose_public_half_does_not_match_seed) {
  bytes bad = from_hex(spec_ed25519_private);
  bad.back() ^= 1;
  EXPECT_EQ(private_key::from_protobuf(bad).error(), errc::invalid_key);
}

TEST(ed25519, generated_keys_sign_verifiably_and_differ) {
  const auto a = private_key::generate();
  const auto b = private_key::generate();
  EXPECT_NE(a.get_public_key(), b.get_public_key());
  const auto sig = a.sign(as_bytes("hello"));
  EXPECT_TRUE(a.get_public_key().verify(as_bytes("hello"), sig));
  EXPECT_FALSE(b.get_public_key().verify(as_bytes("hello"), sig));
}

TEST(public_key, round_trips_through_peer_id_when_inlined) {
  const auto key = private_key::generate();
  const auto id = key.to_peer_id();
  EXPECT_TRUE(id.to_string().starts_with("12D3KooW"));
  EXPECT_EQ(public_key::from_peer_id(id).value(), key.get_public_key());
  const auto hashed = peer_id::parse(spec_ecdsa_peer).value();
  EXPECT_EQ(public_key::from_peer_id(hashed).error(), errc::invalid_key);
}

TEST(public_key, rejects_non_canonical_or_incomplete_protobuf) {
  const bytes good = from_hex(spec_ed25519_public);
  // Data before Type.
  bytes swapped(good.begin() + 2, good.end());
  append(swapped, byte_span(good).first(2));
  EXPECT_EQ(public_key::from_protobuf(swapped).error(), errc::invalid_protobuf);
  // Missing Data, missing Type.
  EXPECT_EQ(public_key::from_protobuf(byte_span(good).first(2)).error(), errc::invalid_protobuf);
  EXPECT_EQ(public_key::from_protobuf(byte_span(good).subspan(2)).error(), errc::invalid_protobuf);
  // Trailing field, truncated Data.
  bytes extra = good;
  append(extra, bytes{0x18, 0x01});
  EXPECT_EQ(public_key::from_protobuf(extra).error(), errc::invalid_protobuf);
  EXPECT_EQ(public_key::from_protobuf(byte_span(good).first(good.size() - 1)).error(),
            errc::invalid_protobuf);
  // Non-minimal Type varint (0x81 0x00 for 1).
  bytes padded{0x08, 0x81, 0x00};
  append(padded, byte_span(good).subspan(2));
  EXPECT_EQ(public_key::from_protobuf(padded).error(), errc::invalid_protobuf);
}

TEST(public_key, rejects_unknown_type_and_wrong_ed25519_length) {
  bytes unknown = from_hex(spec_ed25519_public);
  unknown[1] = 4;
  EXPECT_EQ(public_key::from_protobuf(unknown).error(), errc::unsupported_key_type);
  EXPECT_EQ(public_key::from_protobuf(from_hex("0801121f" + std::string(62, '0'))).error(),
            errc::invalid_key);
  EXPECT_EQ(private_key::from_seed(bytes(31, 1)).error(), errc::invalid_key);
}

TEST(public_key, rejects_oversized_protobuf_before_parsing) {
  bytes huge(public_key::max_protobuf_length + 1, 0);
  EXPECT_EQ(public_key::from_protobuf(huge).error(), errc::too_large);
}

TEST(private_key, rejects_non_ed25519_private_keys) {
  EXPECT_EQ(
      private_key::from_protobuf(
          from_hex("0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB"))
          .error(),
      errc::unsupported_key_type);
}

}  // namespace
}  // namespace peerup
