// RSA, ECDSA and secp256k1 verification: signatures are made with OpenSSL
// directly (the spec's private keys, or fresh keys) and checked through
// public_key, so the two sides share no code of ours.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>

#include "crypto/keys.hpp"
#include "unit/multiformats/test_hex.hpp"

namespace peerup {
namespace {

using namespace test;

constexpr std::string_view spec_ecdsa_private_key =
    "08031279307702010104203E5B1FE9712E6C314942A750BD67485DE3C1EFE85B1BFB520AE8F9AE3DFA4A4CA00A0608"
    "2A"
    "8648CE3D030107A14403420004DE3D300FA36AE0E8F5D530899D83ABAB44ABF3161F162A4BC901D8E6ECDA020E8B6D"
    "5F"
    "8DA30525E71D6851510C098E5C47C646A597FB4DCEC034E9F77C409E62";
constexpr std::string_view spec_secp256k1_private_key =
    "0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB";
constexpr std::string_view spec_rsa_private_key =
    "080012ae123082092a0201000282020100e1beab071d08200bde24eef00d049449b07770ff9910257b2d7d5dda242c"
    "e8"
    "f0e2f12e1af4b32d9efd2c090f66b0f29986dbb645dae9880089704a94e5066d594162ae6ee8892e6ec70701db0a6c"
    "44"
    "5c04778eb3de1293aa1a23c3825b85c6620a2bc3f82f9b0c309bc0ab3aeb1873282bebd3da03c33e76c21e9beb172f"
    "d4"
    "4c9e43be32e2c99827033cf8d0f0c606f4579326c930eb4e854395ad941256542c793902185153c474bed109d6ff51"
    "41"
    "ebf9cd256cf58893a37f83729f97e7cb435ec679d2e33901d27bb35aa0d7e20561da08885ef0abbf8e2fb48d6a5487"
    "04"
    "7a9ecb1ad41fa7ed84f6e3e8ecd5d98b3982d2a901b4454991766da295ab78822add5612a2df83bcee814cf50973e8"
    "0d"
    "7ef38111b1bd87da2ae92438a2c8cbcc70b31ee319939a3b9c761dbc13b5c086d6b64bf7ae7dacc14622375d92a8ff"
    "9a"
    "f7eb962162bbddebf90acb32adb5e4e4029f1c96019949ecfbfeffd7ac1e3fbcc6b6168c34be3d5a2e5999fcbb39bb"
    "a7"
    "adbca78eab09b9bc39f7fa4b93411f4cc175e70c0a083e96bfaefb04a9580b4753c1738a6a760ae1afd851a1a4bdad"
    "23"
    "1cf56e9284d832483df215a46c1c21bdf0c6cfe951c18f1ee4078c79c13d63edb6e14feaeffabc90ad317e4875fe64"
    "81"
    "01b0864097e998f0ca3025ef9638cd2b0caecd3770ab54a1d9c6ca959b0f5dcbc90caeefc4135baca6fd475224269b"
    "be"
    "1b02030100010282020100a472ffa858efd8588ce59ee264b957452f3673acdf5631d7bfd5ba0ef59779c231b0bc83"
    "8a"
    "8b14cae367b6d9ef572c03c7883b0a3c652f5c24c316b1ccfd979f13d0cd7da20c7d34d9ec32dfdc81ee7292167e70"
    "6d"
    "705efde5b8f3edfcba41409e642f8897357df5d320d21c43b33600a7ae4e505db957c1afbc189d73f0b5d972d9aaae"
    "eb"
    "232ca20eebd5de6fe7f29d01470354413cc9a0af1154b7af7c1029adcd67c74b4798afeb69e09f2cb387305e73a1b5"
    "f4"
    "50202d54f0ef096fe1bde340219a1194d1ac9026e90b366cce0c59b239d10e4888f52ca1780824d39ae01a6b9f4dd6"
    "05"
    "9191a7f12b2a3d8db3c2868cd4e5a5862b8b625a4197d52c6ac77710116ebd3ced81c4d91ad5fdfbed68312ebce7ee"
    "a4"
    "5c1833ca3acf7da2052820eacf5c6b07d086dabeb893391c71417fd8a4b1829ae2cf60d1749d0e25da19530d889461"
    "c2"
    "1da3492a8dc6ccac7de83ac1c2185262c7473c8cc42f547cc9864b02a8073b6aa54a037d8c0de3914784e6205e83d9"
    "79"
    "18b944f11b877b12084c0dd1d36592f8a4f8b8da5bb404c3d2c079b22b6ceabfbcb637c0dbe0201f0909d533f8bf30"
    "8a"
    "da47aee641a012a494d31b54c974e58b87f140258258bb82f31692659db7aa07e17a5b2a0832c24e122d3a8babcc9e"
    "e7"
    "4cbb07d3058bb85b15f6f6b2674aba9fd34367be9782d444335fbed31e3c4086c652597c27104938b47fa102820101"
    "00"
    "e9fdf843c1550070ca711cb8ff28411466198f0e212511c3186623890c0071bf6561219682fe7dbdfd81176eba7c4f"
    "ab"
    "a21614a20721e0fcd63768e6d925688ecc90992059ac89256e0524de90bf3d8a052ce6a9f6adafa712f3107a016e20"
    "c8"
    "0255c9e37d8206d1bc327e06e66eb24288da866b55904fd8b59e6b2ab31bc5eab47e597093c63fab7872102d57b4c5"
    "89"
    "c66077f534a61f5f65127459a33c91f6db61fc431b1ae90be92b4149a3255291baf94304e3efb77b1107b5a3bda911"
    "35"
    "9c40a53c347ff9100baf8f36dc5cd991066b5bdc28b39ed644f404afe9213f4d31c9d4e40f3a5f5e3c39bebeb244e8"
    "41"
    "37544e1a1839c1c8aaebf0c78a7fad590282010100f6fa1f1e6b803742d5490b7441152f500970f46feb0b73a6e4ba"
    "ba"
    "2aaf3c0e245ed852fc31d86a8e46eb48e90fac409989dfee45238f97e8f1f8e83a136488c1b04b8a7fb695f37b8616"
    "30"
    "7ff8a8d63e8cfa0b4fb9b9167ffaebabf111aa5a4344afbabd002ae8961c38c02da76a9149abdde93eb389eb32595c"
    "29"
    "ba30d8283a7885218a5a9d33f7f01dbdf85f3aad016c071395491338ec318d39220e1c7bd69d3d6b520a13a30d745c"
    "10"
    "2b827ad9984b0dd6aed73916ffa82a06c1c111e7047dcd2668f988a0570a71474992eecf416e068f029ec323d5d635"
    "fd"
    "24694fc9bf96973c255d26c772a95bf8b7f876547a5beabf86f06cd21b67994f944e7a5493028201010095b02fd300"
    "69"
    "e547426a8bea58e8a2816f33688dac6c6f6974415af8402244a22133baedf34ce499d7036f3f19b38eb00897c18949"
    "b0"
    "c5a25953c71aeeccfc8f6594173157cc854bd98f16dffe8f28ca13b77eb43a2730585c49fc3f608cd811bb54b03b84"
    "bd"
    "daa8ef910988567f783012266199667a546a18fd88271fbf63a45ae4fd4884706da8befb9117c0a4d73de5172f8640"
    "b1"
    "091ed8a4aea3ed4641463f5ff6a5e3401ad7d0c92811f87956d1fd5f9a1d15c7f3839a08698d9f35f9d966e5000f7c"
    "b2"
    "655d7b6c4adcd8a9d950ea5f61bb7c9a33c17508f9baa313eecfee4ae493249ebe05a5d7770bbd3551b2eeb752e364"
    "9e"
    "0636de08e3d672e66cb90282010100ad93e4c31072b063fc5ab5fe22afacece775c795d0efdf7c704cfc027bde0d62"
    "6a"
    "7646fc905bb5a80117e3ca49059af14e0160089f9190065be9bfecf12c3b2145b211c8e89e42dd91c38e9aa23ca736"
    "97"
    "063564f6f6aa6590088a738722df056004d18d7bccac62b3bafef6172fc2a4b071ea37f31eff7a076bcab7dd144e51"
    "a9"
    "da8754219352aef2c73478971539fa41de4759285ea626fa3c72e7085be47d554d915bbb5149cb6ef835351f231043"
    "04"
    "9cd941506a034bf2f8767f3e1e42ead92f91cb3d75549b57ef7d56ac39c2d80d67f6a2b4ca192974bfc5060e2dd171"
    "21"
    "7971002193dba12e7e4133ab201f07500a90495a38610279b13a48d54f0c99028201003e3a1ac0c2b67d54ed5c4bbe"
    "04"
    "a7db99103659d33a4f9d35809e1f60c282e5988dddc964527f3b05e6cc890eab3dcb571d66debf3a5527704c87264b"
    "39"
    "54d7265f4e8d2c637dd89b491b9cf23f264801f804b90454d65af0c4c830d1aef76f597ef61b26ca857ecce9cb78d4"
    "f6"
    "c2218c00d2975d46c2b013fbf59b750c3b92d8d3ed9e6d1fd0ef1ec091a5c286a3fe2dead292f40f380065731e2079"
    "eb"
    "b9f2a7ef2c415ecbb488da98f3a12609ca1b6ec8c734032c8bd513292ff842c375d4acd1b02dfb206b24cd815f8e2f"
    "9d"
    "4af8e7dea0370b19c1b23cc531d78b40e06e1119ee2e08f6f31c6e2e8444c568d13c5d451a291ae0c9f1d4f27d23b3"
    "a0"
    "0d60ad";

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

// The Data field of a PrivateKey protobuf whose Data length is `prefix` bytes in.
bytes private_data(std::string_view hex, std::size_t prefix) {
  auto all = from_hex(hex);
  return bytes(all.begin() + static_cast<std::ptrdiff_t>(prefix), all.end());
}

pkey_ptr load_der_private(const bytes& der) {
  const unsigned char* p = der.data();
  return pkey_ptr(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
}

pkey_ptr load_secp256k1_private(const bytes& scalar, const bytes& point) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> priv(
      BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), nullptr), BN_free);
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "secp256k1", 0);
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get());
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                 OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return nullptr;
  }
  return pkey_ptr(key);
}

bytes spki_of(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

// SHA-256 then the key's default scheme: PKCS#1 v1.5 for RSA, DER ECDSA for EC.
bytes openssl_sign(EVP_PKEY* key, byte_span message) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()), 1);
  bytes sig(len);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()), 1);
  sig.resize(len);
  return sig;
}

void expect_verifies_only_the_signed_message(const public_key& pub, EVP_PKEY* priv) {
  const auto message = as_bytes("libp2p signature test");
  auto sig = openssl_sign(priv, message);
  EXPECT_TRUE(pub.verify(message, sig));
  EXPECT_FALSE(pub.verify(as_bytes("libp2p signature tesT"), sig));
  sig[sig.size() / 2] ^= 0x40;
  EXPECT_FALSE(pub.verify(message, sig));
  EXPECT_FALSE(pub.verify(message, bytes{}));
  EXPECT_FALSE(pub.verify(message, bytes(2000, 0x30)));
}

TEST(key_types, decode_spec_public_keys_and_derive_their_peer_ids) {
  const struct {
    std::string_view hex;
    key_type type;
    std::string_view peer;
  } vectors[] = {
      {spec_rsa_public, key_type::rsa, spec_rsa_peer},
      {spec_ecdsa_public, key_type::ecdsa, spec_ecdsa_peer},
      {spec_secp256k1_public, key_type::secp256k1, spec_secp256k1_peer},
      {spec_ed25519_public, key_type::ed25519, spec_ed25519_peer},
  };
  for (const auto& v : vectors) {
    auto key = public_key::from_protobuf(from_hex(v.hex));
    ASSERT_TRUE(key) << v.peer << ": " << key.error().message();
    EXPECT_EQ(key->type(), v.type);
    EXPECT_EQ(key->to_protobuf(), from_hex(v.hex));
    EXPECT_EQ(key->to_peer_id().to_string(), v.peer);
  }
}

TEST(key_types, rsa_spec_private_key_matches_public_key_and_its_signatures_verify) {
  auto priv = load_der_private(private_data(spec_rsa_private_key, 5));  // 08 00 12 ae 12
  ASSERT_TRUE(priv);
  const auto pub = public_key::from_protobuf(from_hex(spec_rsa_public)).value();
  EXPECT_EQ(spki_of(priv.get()), pub.raw());
  expect_verifies_only_the_signed_message(pub, priv.get());
}

TEST(key_types, ecdsa_spec_private_key_matches_public_key_and_its_signatures_verify) {
  auto priv = load_der_private(private_data(spec_ecdsa_private_key, 4));  // 08 03 12 79
  ASSERT_TRUE(priv);
  const auto pub = public_key::from_protobuf(from_hex(spec_ecdsa_public)).value();
  EXPECT_EQ(spki_of(priv.get()), pub.raw());
  expect_verifies_only_the_signed_message(pub, priv.get());
}

TEST(key_types, secp256k1_spec_private_key_signatures_verify_under_spec_public_key) {
  const auto pub = public_key::from_protobuf(from_hex(spec_secp256k1_public)).value();
  auto priv = load_secp256k1_private(private_data(spec_secp256k1_private_key, 4), pub.raw());
  ASSERT_TRUE(priv);
  expect_verifies_only_the_signed_message(pub, priv.get());
}

TEST(key_types, verifies_fresh_rsa_2048_and_ecdsa_p384_keys) {
  pkey_ptr rsa(EVP_RSA_gen(2048));
  pkey_ptr p384(EVP_EC_gen("P-384"));
  ASSERT_TRUE(rsa && p384);
  expect_verifies_only_the_signed_message(
      public_key::from_raw(key_type::rsa, spki_of(rsa.get())).value(), rsa.get());
  expect_verifies_only_the_signed_message(
      public_key::from_raw(key_type::ecdsa, spki_of(p384.get())).value(), p384.get());
}

TEST(key_types, rejects_rsa_keys_below_2048_bits) {
  pkey_ptr small(EVP_RSA_gen(1024));
  ASSERT_TRUE(small);
  EXPECT_EQ(public_key::from_raw(key_type::rsa, spki_of(small.get())).error(), errc::invalid_key);
}

TEST(key_types, rejects_ecdsa_curves_other_than_p256_p384_p521) {
  pkey_ptr p224(EVP_EC_gen("P-224"));
  ASSERT_TRUE(p224);
  EXPECT_EQ(public_key::from_raw(key_type::ecdsa, spki_of(p224.get())).error(), errc::invalid_key);
}

TEST(key_types, rejects_keys_filed_under_the_wrong_type) {
  const auto rsa = public_key::from_protobuf(from_hex(spec_rsa_public)).value();
  const auto ecdsa = public_key::from_protobuf(from_hex(spec_ecdsa_public)).value();
  EXPECT_EQ(public_key::from_raw(key_type::ecdsa, rsa.raw()).error(), errc::invalid_key);
  EXPECT_EQ(public_key::from_raw(key_type::rsa, ecdsa.raw()).error(), errc::invalid_key);
  EXPECT_EQ(public_key::from_raw(key_type::secp256k1, ecdsa.raw()).error(), errc::invalid_key);
}

TEST(key_types, rejects_non_canonical_or_trailing_der) {
  auto der = public_key::from_protobuf(from_hex(spec_ecdsa_public)).value().raw();
  der.push_back(0x00);
  EXPECT_EQ(public_key::from_raw(key_type::ecdsa, der).error(), errc::invalid_key);
  // SEQUENCE length written in long form (0x81 0x59 instead of 0x59).
  auto long_form = public_key::from_protobuf(from_hex(spec_ecdsa_public)).value().raw();
  long_form[1] = 0x59;
  long_form.insert(long_form.begin() + 1, 0x81);
  EXPECT_EQ(public_key::from_raw(key_type::ecdsa, long_form).error(), errc::invalid_key);
}

TEST(key_types, rejects_uncompressed_or_off_curve_secp256k1_points) {
  const auto pub = public_key::from_protobuf(from_hex(spec_secp256k1_public)).value();
  bytes bad_prefix = pub.raw();
  bad_prefix[0] = 0x04;
  EXPECT_EQ(public_key::from_raw(key_type::secp256k1, bad_prefix).error(), errc::invalid_key);
  bytes uncompressed(65, 0x01);
  uncompressed[0] = 0x04;
  EXPECT_EQ(public_key::from_raw(key_type::secp256k1, uncompressed).error(), errc::invalid_key);
  bytes beyond_field(33, 0xff);  // x >= p is no coordinate at all
  beyond_field[0] = 0x02;
  EXPECT_EQ(public_key::from_raw(key_type::secp256k1, beyond_field).error(), errc::invalid_key);
}

}  // namespace
}  // namespace peerup
