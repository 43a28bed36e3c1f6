#include <gtest/gtest.h>

#include <limits>

#include "wire/noise_cipher.hpp"
#include "wire/noise_symmetric.hpp"

namespace peerup::noise {
namespace {

bytes from_hex(std::string_view hex) {
  bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

key32 key_from_hex(std::string_view hex) {
  bytes b = from_hex(hex);
  key32 k{};
  std::copy_n(b.begin(), std::min(b.size(), k.size()), k.begin());
  return k;
}

key32 test_key(std::uint8_t fill) {
  key32 k;
  k.fill(fill);
  return k;
}

// Splits one encrypt_frame output into its header length and its body.
std::size_t frame_length(const bytes& frame) {
  return read_frame_length(std::span<const std::uint8_t, 2>(frame.data(), 2));
}

TEST(noise_cipher, frame_round_trips_and_carries_big_endian_length) {
  cipher_state send(test_key(7)), recv(test_key(7));
  const bytes plain(300, 0xab);
  bytes out;
  ASSERT_TRUE(send.encrypt_frame(plain, out));
  ASSERT_EQ(out.size(), 2 + 300 + tag_size);
  EXPECT_EQ(out[0], 0x01);  // 316 = 0x013c
  EXPECT_EQ(out[1], 0x3c);
  EXPECT_EQ(frame_length(out), 300 + tag_size);

  auto pt = recv.decrypt_in_place(mutable_byte_span(out).subspan(2));
  ASSERT_TRUE(pt);
  EXPECT_EQ(bytes(pt->begin(), pt->end()), plain);
  EXPECT_EQ(pt->data(), out.data() + 2);  // plaintext view is inside the input buffer
}

TEST(noise_cipher, encrypt_frame_to_matches_encrypt_frame_byte_for_byte) {
  cipher_state a(test_key(3)), b(test_key(3));
  const bytes plain(1000, 0x5a);
  bytes appended;
  ASSERT_TRUE(a.encrypt_frame(plain, appended));
  bytes direct(cipher_state::frame_size(plain.size()), 0xee);
  ASSERT_TRUE(b.encrypt_frame_to(plain, direct.data()));
  EXPECT_EQ(direct, appended);
  EXPECT_EQ(b.nonce(), 1u);
}

TEST(noise_cipher, a_frame_sealed_from_parts_matches_one_sealed_from_one_buffer) {
  // Every way of cutting one plaintext into up to three parts (empty parts
  // too) must give the same frame as the plaintext in one piece.
  bytes plain(300);
  for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<std::uint8_t>(i);
  cipher_state whole(test_key(4));
  bytes expected;
  ASSERT_TRUE(whole.encrypt_frame(plain, expected));
  for (std::size_t cut1 : {0u, 1u, 12u, 63u, 64u, 65u, 299u, 300u}) {
    for (std::size_t cut2 : {0u, 5u, 64u, 128u, 300u}) {
      if (cut2 < cut1) continue;
      cipher_state parts_state(test_key(4));
      const byte_span all(plain);
      const byte_span parts[] = {all.first(cut1), all.subspan(cut1, cut2 - cut1),
                                 all.subspan(cut2)};
      bytes out(cipher_state::frame_size(plain.size()), 0xee);
      ASSERT_TRUE(parts_state.encrypt_frame_to(parts, out.data()));
      EXPECT_EQ(out, expected) << "cuts " << cut1 << ", " << cut2;
      EXPECT_EQ(parts_state.nonce(), 1u);
    }
  }
}

TEST(noise_cipher, parts_longer_than_one_frame_in_all_are_refused_and_keep_the_nonce) {
  cipher_state s(test_key(5));
  const bytes half(max_plaintext / 2 + 1, 1);
  const byte_span parts[] = {half, half};
  bytes out(cipher_state::frame_size(2 * half.size()));
  auto r = s.encrypt_frame_to(parts, out.data());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::too_large));
  EXPECT_EQ(s.nonce(), 0u);
  cipher_state no_key;
  EXPECT_FALSE(no_key.encrypt_frame_to(std::span<const byte_span>(parts, 1), out.data()));
}

TEST(noise_cipher, decrypt_to_writes_plaintext_elsewhere_and_leaves_input_intact) {
  cipher_state send(test_key(9)), recv(test_key(9));
  const bytes plain(4000, 0x42);
  bytes frame;
  ASSERT_TRUE(send.encrypt_frame(plain, frame));
  const bytes before = frame;
  bytes out(plain.size());
  auto n = recv.decrypt_to(byte_span(frame).subspan(2), out.data());
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, plain.size());
  EXPECT_EQ(out, plain);
  EXPECT_EQ(frame, before);
}

TEST(noise_cipher, decrypt_to_rejects_a_flipped_bit_and_keeps_the_nonce) {
  cipher_state send(test_key(9)), recv(test_key(9));
  bytes frame;
  ASSERT_TRUE(send.encrypt_frame(as_bytes("attack at dawn"), frame));
  frame[5] ^= 1;
  bytes out(64);
  auto n = recv.decrypt_to(byte_span(frame).subspan(2), out.data());
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error(), make_error_code(errc::decrypt_failed));
  EXPECT_EQ(recv.nonce(), 0u);
}

TEST(noise_cipher, encrypt_frame_appends_without_touching_existing_bytes) {
  cipher_state send(test_key(1)), recv(test_key(1));
  bytes out{0xde, 0xad};
  ASSERT_TRUE(send.encrypt_frame(as_bytes("one"), out));
  ASSERT_TRUE(send.encrypt_frame(as_bytes("two!"), out));
  ASSERT_EQ(out.size(), 2 + (2 + 3 + 16) + (2 + 4 + 16));
  EXPECT_EQ(out[0], 0xde);
  EXPECT_EQ(out[1], 0xad);
  auto first = recv.decrypt_in_place(mutable_byte_span(out).subspan(4, 19));
  auto second = recv.decrypt_in_place(mutable_byte_span(out).subspan(25, 20));
  ASSERT_TRUE(first && second);
  EXPECT_EQ(as_string_view(*first), "one");
  EXPECT_EQ(as_string_view(*second), "two!");
}

TEST(noise_cipher, encrypt_frame_does_not_reallocate_when_capacity_suffices) {
  cipher_state send(test_key(2));
  bytes out;
  out.reserve(2 + max_plaintext + tag_size);
  const std::uint8_t* before = out.data();
  const bytes plain(max_plaintext, 0x11);
  ASSERT_TRUE(send.encrypt_frame(plain, out));
  EXPECT_EQ(out.data(), before);
  EXPECT_EQ(frame_length(out), max_frame);
}

TEST(noise_cipher, in_place_frame_matches_encrypt_frame) {
  cipher_state a(test_key(3)), b(test_key(3));
  bytes expected;
  ASSERT_TRUE(a.encrypt_frame(as_bytes("hello"), expected));
  bytes frame(2 + 5 + tag_size);
  std::copy_n(as_bytes("hello").begin(), 5, frame.begin() + 2);
  ASSERT_TRUE(b.encrypt_frame_in_place(frame));
  EXPECT_EQ(frame, expected);
}

TEST(noise_cipher, rejects_plaintext_larger_than_one_frame) {
  cipher_state send(test_key(4));
  bytes out;
  const bytes plain(max_plaintext + 1);
  auto r = send.encrypt_frame(plain, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(send.nonce(), 0u);
}

TEST(noise_cipher, tampered_frame_fails_to_decrypt) {
  for (std::size_t flip : {0u, 4u, 20u}) {  // ciphertext start, middle, inside the tag
    cipher_state send(test_key(5)), recv(test_key(5));
    bytes out;
    ASSERT_TRUE(send.encrypt_frame(as_bytes("attack at dawn"), out));
    out[2 + flip] ^= 0x01;
    auto r = recv.decrypt_in_place(mutable_byte_span(out).subspan(2));
    ASSERT_FALSE(r) << flip;
    EXPECT_EQ(r.error(), errc::decrypt_failed);
    EXPECT_EQ(recv.nonce(), 0u);  // a failed frame does not consume a nonce
  }
}

TEST(noise_cipher, replayed_or_reordered_frame_fails) {
  cipher_state send(test_key(6)), recv(test_key(6));
  bytes f1, f2;
  ASSERT_TRUE(send.encrypt_frame(as_bytes("first"), f1));
  ASSERT_TRUE(send.encrypt_frame(as_bytes("second"), f2));
  bytes f1_copy = f1;
  bytes f2_early = f2;
  // Delivered out of order: frame 2 under nonce 0 fails.
  EXPECT_FALSE(recv.decrypt_in_place(mutable_byte_span(f2_early).subspan(2)));
  ASSERT_TRUE(recv.decrypt_in_place(mutable_byte_span(f1).subspan(2)));
  // Replayed: frame 1 again under nonce 1 fails.
  auto replay = recv.decrypt_in_place(mutable_byte_span(f1_copy).subspan(2));
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error(), errc::decrypt_failed);
  EXPECT_TRUE(recv.decrypt_in_place(mutable_byte_span(f2).subspan(2)));
}

TEST(noise_cipher, frame_under_wrong_key_fails) {
  cipher_state send(test_key(8)), recv(test_key(9));
  bytes out;
  ASSERT_TRUE(send.encrypt_frame(as_bytes("x"), out));
  EXPECT_FALSE(recv.decrypt_in_place(mutable_byte_span(out).subspan(2)));
}

TEST(noise_cipher, message_shorter_than_tag_fails) {
  cipher_state recv(test_key(1));
  bytes short_msg(tag_size - 1);
  auto r = recv.decrypt_in_place(short_msg);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::decrypt_failed);
}

TEST(noise_cipher, nonce_exhausts_at_2_pow_64_minus_1) {
  cipher_state send(test_key(1)), recv(test_key(1));
  const std::uint64_t last = std::numeric_limits<std::uint64_t>::max() - 1;
  send.set_nonce_for_testing(last);
  recv.set_nonce_for_testing(last);
  bytes out;
  ASSERT_TRUE(send.encrypt_frame(as_bytes("last"), out));  // nonce 2^64-2 is the final one
  ASSERT_TRUE(recv.decrypt_in_place(mutable_byte_span(out).subspan(2)));

  bytes more;
  auto r = send.encrypt_frame(as_bytes("one too many"), more);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::nonce_exhausted);
  EXPECT_TRUE(more.empty());
  bytes junk(32);
  auto d = recv.decrypt_in_place(junk);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), errc::nonce_exhausted);
}

TEST(noise_cipher, keyless_state_refuses_transport_frames) {
  cipher_state none;
  bytes out, buf(32);
  EXPECT_EQ(none.encrypt_frame(as_bytes("x"), out).error(), errc::invalid_argument);
  EXPECT_EQ(none.decrypt_in_place(buf).error(), errc::invalid_argument);
}

TEST(noise_cipher, move_transfers_key_and_leaves_source_keyless) {
  cipher_state a(test_key(3)), b(test_key(3));
  bytes out;
  ASSERT_TRUE(a.encrypt_frame(as_bytes("x"), out));
  cipher_state moved(std::move(a));
  EXPECT_FALSE(a.has_key());  // NOLINT(bugprone-use-after-move): asserting the wipe
  EXPECT_EQ(moved.nonce(), 1u);
  ASSERT_TRUE(b.decrypt_in_place(mutable_byte_span(out).subspan(2)));
  bytes out2;
  ASSERT_TRUE(moved.encrypt_frame(as_bytes("y"), out2));
  EXPECT_TRUE(b.decrypt_in_place(mutable_byte_span(out2).subspan(2)));
}

// Noise's HKDF is RFC 5869 HKDF-SHA256 with salt = chaining key and empty
// info; an all-zero 32-byte HMAC key equals the empty salt of RFC 5869 test
// case 3, whose first 42 output bytes are published.
TEST(noise_symmetric, hkdf_matches_rfc5869_test_case_3) {
  const key32 zero_salt{};
  const bytes ikm(22, 0x0b);
  auto [o1, o2] = hkdf2(zero_salt, ikm);
  bytes okm(42);
  std::copy_n(o1.begin(), 32, okm.begin());
  std::copy_n(o2.begin(), 10, okm.begin() + 32);
  EXPECT_EQ(to_hex(okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

// RFC 7748 section 6.1.
TEST(noise_symmetric, x25519_matches_rfc7748) {
  auto alice = x25519_keypair::from_secret(
      key_from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  auto bob = x25519_keypair::from_secret(
      key_from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  EXPECT_EQ(to_hex(alice.public_key),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(to_hex(bob.public_key),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  auto shared = dh(alice, bob.public_key);
  ASSERT_TRUE(shared);
  EXPECT_EQ(to_hex(*shared), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
}

TEST(noise_symmetric, dh_rejects_low_order_points) {
  auto kp = x25519_keypair::generate();
  const key32 zero{};
  key32 one{};
  one[0] = 1;
  // A point of order 8 on Curve25519.
  const key32 order8 =
      key_from_hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
  for (const key32& bad : {zero, one, order8}) {
    auto r = dh(kp, bad);
    ASSERT_FALSE(r) << to_hex(bad);
    EXPECT_EQ(r.error(), errc::invalid_key);
  }
}

TEST(noise_symmetric, short_protocol_name_is_zero_padded_into_the_hash) {
  symmetric_state ss("Noise_XX_25519_ChaChaPoly_SHA256");  // exactly 32 bytes
  EXPECT_EQ(as_string_view(ss.handshake_hash()), "Noise_XX_25519_ChaChaPoly_SHA256");
  symmetric_state shorter("abc");
  key32 expected{};
  expected[0] = 'a';
  expected[1] = 'b';
  expected[2] = 'c';
  EXPECT_EQ(shorter.handshake_hash(), expected);
}

}  // namespace
}  // namespace peerup::noise
