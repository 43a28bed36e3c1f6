#include "multiformats/peer_id.hpp"

#include <gtest/gtest.h>

#include <unordered_set>

#include "multiformats/multihash.hpp"
#include "unit/multiformats/test_hex.hpp"

namespace peerup {
namespace {

using namespace test;

struct vector {
  std::string_view key_hex;
  std::string_view base58;
  std::string_view cid;
};

TEST(peer_id, derives_ids_of_spec_key_vectors) {
  const vector vectors[] = {
      {spec_ed25519_public, spec_ed25519_peer, spec_ed25519_cid},
      {spec_secp256k1_public, spec_secp256k1_peer, spec_secp256k1_cid},
      {spec_ecdsa_public, spec_ecdsa_peer, spec_ecdsa_cid},
  };
  for (const auto& v : vectors) {
    const auto id = peer_id::from_public_key(from_hex(v.key_hex));
    EXPECT_EQ(id.to_string(), v.base58);
    EXPECT_EQ(id.to_cid_string(), v.cid);
  }
  EXPECT_EQ(peer_id::from_public_key(from_hex(spec_rsa_public)).to_string(), spec_rsa_peer);
}

TEST(peer_id, inlines_keys_up_to_42_bytes_and_hashes_longer_ones) {
  const bytes key42(42, 0xab), key43(43, 0xab);
  EXPECT_EQ(multihash::decode(peer_id::from_public_key(key42).to_bytes())->code,
            multihash::identity);
  EXPECT_EQ(multihash::decode(peer_id::from_public_key(key43).to_bytes())->code,
            multihash::sha2_256);
}

TEST(peer_id, parses_both_text_forms_to_the_same_id) {
  const vector vectors[] = {
      {spec_ed25519_public, spec_ed25519_peer, spec_ed25519_cid},
      {spec_ecdsa_public, spec_ecdsa_peer, spec_ecdsa_cid},
      // The two examples in the spec's "Decoding" section are the same key.
      {"", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
       "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"},
  };
  for (const auto& v : vectors) {
    auto from_b58 = peer_id::parse(v.base58);
    auto from_cid = peer_id::parse(v.cid);
    ASSERT_TRUE(from_b58) << v.base58;
    ASSERT_TRUE(from_cid) << v.cid;
    EXPECT_EQ(*from_b58, *from_cid);
    EXPECT_EQ(from_b58->to_string(), v.base58);
    EXPECT_EQ(from_cid->to_cid_string(), v.cid);
  }
  EXPECT_TRUE(peer_id::parse("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"));
}

TEST(peer_id, exposes_inlined_public_key_only_for_identity_ids) {
  auto ed = peer_id::parse(spec_ed25519_peer).value();
  EXPECT_EQ(ed.embedded_public_key(), from_hex(spec_ed25519_public));
  auto ecdsa = peer_id::parse(spec_ecdsa_peer).value();
  EXPECT_FALSE(ecdsa.embedded_public_key());
}

TEST(peer_id, rejects_malformed_text) {
  for (std::string_view bad : {
           "", "hello",
           "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5",                // one char short
           "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5NN",              // one char long
           "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5S0",         // '0' not base58
           "bafybeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe",  // codec dag-pb
           "f01721220",                                                    // base16 multibase
       }) {
    EXPECT_EQ(peer_id::parse(bad).error(), errc::invalid_peer_id) << bad;
  }
  EXPECT_EQ(peer_id::parse(std::string(300, '1')).error(), errc::invalid_peer_id);
}

TEST(peer_id, rejects_multihash_bytes_that_are_not_identity_or_sha256) {
  EXPECT_EQ(peer_id::from_bytes(from_hex("1300")).error(), errc::invalid_peer_id);
  EXPECT_EQ(peer_id::from_bytes(from_hex("1201aa")).error(), errc::invalid_peer_id);
  EXPECT_EQ(peer_id::from_bytes(bytes{}).error(), errc::invalid_peer_id);
}

TEST(peer_id, orders_compares_and_hashes_by_multihash) {
  const auto a = peer_id::parse(spec_ed25519_peer).value();
  const auto b = peer_id::parse(spec_ecdsa_peer).value();
  EXPECT_NE(a, b);
  EXPECT_TRUE(a < b || b < a);
  std::unordered_set<peer_id> set{a, b, peer_id::parse(spec_ed25519_cid).value()};
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace
}  // namespace peerup
