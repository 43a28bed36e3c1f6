#include "crypto/sealed.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include "unit/multiformats/test_hex.hpp"

namespace peerup {
namespace {

bytes hex(std::string_view h) { return test::from_hex(h); }

// The primitive, against draft-irtf-cfrg-xchacha-03, A.3.1: libsodium's
// XChaCha20-Poly1305-IETF is the one seal_once calls.
TEST(sealed, the_aead_primitive_matches_the_xchacha_draft_vector) {
  const std::string plain =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  const auto aad = hex("50515253c0c1c2c3c4c5c6c7");
  const auto key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  const auto nonce = hex("404142434445464748494a4b4c4d4e4f5051525354555657");
  const auto expected = hex(
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e"
      "39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565"
      "d3fff921f9664c97637da9768812f615c68b13b52e"
      "c0875924c1c7987947deafd8780acf49");
  bytes out(plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long n = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data(), &n, reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
      aad.data(), aad.size(), nullptr, nonce.data(), key.data());
  out.resize(n);
  EXPECT_EQ(to_hex(out), to_hex(expected));
}

// The construction of sealed.hpp, rebuilt here from its description.
TEST(sealed, seal_once_is_the_documented_construction) {
  const bytes secret{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  const std::string context = "peerup-test-context";
  const bytes plain{'h', 'e', 'l', 'l', 'o'};
  bytes in{static_cast<std::uint8_t>(context.size())};
  in.insert(in.end(), context.begin(), context.end());
  in.insert(in.end(), secret.begin(), secret.end());
  std::array<std::uint8_t, 32> key{};
  crypto_generichash(key.data(), key.size(), in.data(), in.size(), nullptr, 0);
  const std::array<std::uint8_t, 24> nonce{};
  bytes expected(plain.size() + 16);
  unsigned long long n = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      expected.data(), &n, plain.data(), plain.size(),
      reinterpret_cast<const unsigned char*>(context.data()), context.size(), nullptr,
      nonce.data(), key.data());
  EXPECT_EQ(crypto::seal_once(secret, context, plain), expected);
  EXPECT_EQ(crypto::open_once(secret, context, expected).value(), plain);
  // The handle is the same hash's first 8 bytes.
  const auto handle = crypto::derive_handle(secret, context);
  EXPECT_TRUE(std::equal(handle.begin(), handle.end(), key.begin()));
}

TEST(sealed, a_changed_box_a_wrong_secret_or_another_context_does_not_open) {
  const bytes secret(10, 0x42), other(10, 0x43);
  const bytes plain(100, 0x17);
  auto box = crypto::seal_once(secret, "ctx-a", plain);
  ASSERT_EQ(box.size(), plain.size() + crypto::sealed_overhead);
  EXPECT_EQ(crypto::open_once(other, "ctx-a", box).error(), make_error_code(errc::decrypt_failed));
  EXPECT_EQ(crypto::open_once(secret, "ctx-b", box).error(), make_error_code(errc::decrypt_failed));
  for (std::size_t i : {std::size_t{0}, box.size() / 2, box.size() - 1}) {
    auto changed = box;
    changed[i] ^= 0x01;
    EXPECT_FALSE(crypto::open_once(secret, "ctx-a", changed)) << "byte " << i;
  }
  EXPECT_FALSE(crypto::open_once(secret, "ctx-a", byte_span(box).first(15)));
  EXPECT_FALSE(crypto::open_once(secret, "ctx-a", bytes{}));
  // Different contexts give unrelated handles.
  EXPECT_NE(crypto::derive_handle(secret, "ctx-a"), crypto::derive_handle(secret, "ctx-b"));
}

}  // namespace
}  // namespace peerup
