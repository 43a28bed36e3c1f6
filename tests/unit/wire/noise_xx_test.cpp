#include <gtest/gtest.h>

#include "wire/noise_xx.hpp"

namespace peerup::noise {
namespace {

bytes from_hex(std::string_view hex) {
  bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

x25519_keypair keypair_from_hex(std::string_view hex) {
  bytes b = from_hex(hex);
  key32 k{};
  std::copy_n(b.begin(), std::min(b.size(), k.size()), k.begin());
  return x25519_keypair::from_secret(k);
}

// The Noise_XX_25519_ChaChaPoly_SHA256 vector from the cacophony test suite
// (as redistributed in the snow crate's tests/vectors/cacophony.txt).
// Messages 0-2 are the handshake; 3-5 are transport messages, continuing to
// alternate senders (3 from the responder).
struct vector_message {
  std::string_view payload;
  std::string_view ciphertext;
};
constexpr std::string_view kat_prologue = "4a6f686e2047616c74";  // "John Galt"
constexpr std::string_view kat_init_static =
    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
constexpr std::string_view kat_init_ephemeral =
    "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
constexpr std::string_view kat_resp_static =
    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
constexpr std::string_view kat_resp_ephemeral =
    "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
constexpr std::string_view kat_handshake_hash =
    "c8e5f64e846193be2a834104c2a009868d6c9f3bd3c186299888b488b2f1f58e";
constexpr vector_message kat_messages[] = {
    {"4c756477696720766f6e204d69736573",
     "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69"
     "736573"},
    {"4d757272617920526f746862617264",
     "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2"
     "b65285e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c"
     "412f8a0db50f8814c7194e83f23dbd8d162c9326ad"},
    {"462e20412e20486179656b",
     "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae80a89be08"
     "65b57f58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49b25030"},
    {"4361726c204d656e676572", "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df"},
    {"4a65616e2d426170746973746520536179",
     "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5"},
    {"457567656e2042f6686d20766f6e2042617765726b",
     "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f"},
};

TEST(noise_xx, matches_cacophony_known_answer_vector) {
  const bytes prologue = from_hex(kat_prologue);
  xx_state init(xx_state::role::initiator, prologue, keypair_from_hex(kat_init_static),
                keypair_from_hex(kat_init_ephemeral));
  xx_state resp(xx_state::role::responder, prologue, keypair_from_hex(kat_resp_static),
                keypair_from_hex(kat_resp_ephemeral));

  for (int i = 0; i < 3; ++i) {
    xx_state& writer = i % 2 == 0 ? init : resp;
    xx_state& reader = i % 2 == 0 ? resp : init;
    const bytes payload = from_hex(kat_messages[i].payload);
    bytes msg;
    ASSERT_TRUE(writer.write_message(payload, msg)) << i;
    EXPECT_EQ(to_hex(msg), kat_messages[i].ciphertext) << i;
    bytes got;
    ASSERT_TRUE(reader.read_message(msg, got)) << i;
    EXPECT_EQ(got, payload) << i;
  }
  ASSERT_TRUE(init.is_complete());
  ASSERT_TRUE(resp.is_complete());
  EXPECT_EQ(to_hex(init.handshake_hash()), kat_handshake_hash);
  EXPECT_EQ(to_hex(resp.handshake_hash()), kat_handshake_hash);
  EXPECT_EQ(init.remote_static(), resp.local_static_public());
  EXPECT_EQ(resp.remote_static(), init.local_static_public());

  auto ic = init.split();
  auto rc = resp.split();
  ASSERT_TRUE(ic && rc);
  for (int i = 3; i < 6; ++i) {
    const bool from_initiator = i % 2 == 0;
    cipher_state& send = from_initiator ? ic->first : rc->first;
    cipher_state& recv = from_initiator ? rc->second : ic->second;
    const bytes payload = from_hex(kat_messages[i].payload);
    bytes frame;
    ASSERT_TRUE(send.encrypt_frame(payload, frame)) << i;
    EXPECT_EQ(to_hex(byte_span(frame).subspan(2)), kat_messages[i].ciphertext) << i;
    auto plain = recv.decrypt_in_place(mutable_byte_span(frame).subspan(2));
    ASSERT_TRUE(plain) << i;
    EXPECT_EQ(bytes(plain->begin(), plain->end()), payload) << i;
  }
}

TEST(noise_xx, out_of_order_calls_fail_without_side_effects) {
  auto s = x25519_keypair::generate();
  xx_state init(xx_state::role::initiator, {}, s);
  xx_state resp(xx_state::role::responder, {}, x25519_keypair::generate());
  bytes out, payload;
  // The responder cannot write first; the initiator cannot read first.
  auto w = resp.write_message({}, out);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error(), errc::noise_out_of_order);
  EXPECT_TRUE(out.empty());
  const bytes junk(64);
  auto r = init.read_message(junk, payload);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::noise_out_of_order);
  // Split before completion is refused too.
  EXPECT_FALSE(init.split());
  // A proper run still works afterwards: the refusals changed no state.
  ASSERT_TRUE(init.write_message({}, out));
  ASSERT_TRUE(resp.read_message(out, payload));
}

TEST(noise_xx, rejects_messages_shorter_than_the_pattern_requires) {
  xx_state resp(xx_state::role::responder, {}, x25519_keypair::generate());
  bytes payload;
  const bytes too_short(31);
  auto r = resp.read_message(too_short, payload);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::noise_handshake_failed);
  // Failure is final.
  bytes msg(32, 9);
  EXPECT_EQ(resp.read_message(msg, payload).error(), errc::noise_out_of_order);
}

TEST(noise_xx, rejects_second_message_of_minimal_size_minus_one) {
  xx_state init(xx_state::role::initiator, {}, x25519_keypair::generate());
  bytes m1, payload;
  ASSERT_TRUE(init.write_message({}, m1));
  const bytes m2(32 + 48 + 16 - 1);
  auto r = init.read_message(m2, payload);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::noise_handshake_failed);
}

TEST(noise_xx, rejects_message_larger_than_a_frame) {
  xx_state resp(xx_state::role::responder, {}, x25519_keypair::generate());
  bytes payload;
  bytes huge(max_frame + 1, 0x09);
  auto r = resp.read_message(huge, payload);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::noise_handshake_failed);
}

TEST(noise_xx, refuses_to_write_a_payload_that_would_overflow_a_frame) {
  xx_state init(xx_state::role::initiator, {}, x25519_keypair::generate());
  bytes out;
  const bytes payload(max_frame - 32 + 1);
  auto r = init.write_message(payload, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
  EXPECT_TRUE(out.empty());
}

TEST(noise_xx, low_order_ephemeral_from_initiator_is_rejected) {
  xx_state init(xx_state::role::initiator, {}, x25519_keypair::generate());
  xx_state resp(xx_state::role::responder, {}, x25519_keypair::generate());
  bytes m1, payload, m2;
  ASSERT_TRUE(init.write_message({}, m1));
  std::fill(m1.begin(), m1.begin() + 32, 0);    // the all-zero point has order 1
  ASSERT_TRUE(resp.read_message(m1, payload));  // "e" alone involves no DH yet
  auto r = resp.write_message({}, m2);          // "ee" does
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::invalid_key);
  EXPECT_TRUE(m2.empty());
}

}  // namespace
}  // namespace peerup::noise
