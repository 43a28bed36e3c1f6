#include <gtest/gtest.h>

#include "wire/noise_handshake.hpp"
#include "wire/noise_payload.hpp"

namespace peerup::noise {
namespace {

using role = handshake::role;

private_key key_from_byte(std::uint8_t b) {
  const bytes seed(32, b);
  return private_key::from_seed(seed).value();
}

// Drives both sides in memory; `tamper(i, msg)` may alter message i in flight.
// Returns the first error, or success once both sides are complete.
template <class Tamper>
result<void> run(handshake& init, handshake& resp, Tamper tamper) {
  for (int i = 0; i < 3; ++i) {
    handshake& writer = i % 2 == 0 ? init : resp;
    handshake& reader = i % 2 == 0 ? resp : init;
    auto msg = writer.write_message();
    if (!msg) return msg.error();
    tamper(i, *msg);
    if (auto r = reader.read_message(*msg); !r) return r;
  }
  return {};
}
result<void> run(handshake& init, handshake& resp) {
  return run(init, resp, [](int, bytes&) {});
}

// A responder assembled from the raw XX state, so tests can put any payload
// in message 2 (as a man in the middle or a buggy peer would).
struct raw_responder {
  x25519_keypair static_key = x25519_keypair::generate();
  xx_state xx{xx_state::role::responder, {}, static_key};
};

bytes signed_payload(const private_key& signer, const public_key& claimed,
                     const key32& static_pub) {
  handshake_payload p;
  p.identity_key = claimed.to_protobuf();
  p.identity_sig = signer.sign(static_key_signing_input(static_pub));
  return encode_payload(p);
}

// Runs message 1 and a message 2 carrying `payload`; returns the initiator's verdict.
result<void> initiator_reads_payload(handshake& init, raw_responder& resp, byte_span payload) {
  auto m1 = init.write_message();
  if (!m1) return m1.error();
  bytes ignored, m2;
  if (auto r = resp.xx.read_message(*m1, ignored); !r) return r;
  if (auto r = resp.xx.write_message(payload, m2); !r) return r;
  return init.read_message(m2);
}

TEST(noise_handshake, peers_authenticate_each_other_and_exchange_frames_both_ways) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2);
  handshake init(role::initiator, alice, bob.to_peer_id(), {"/yamux/1.0.0"});
  handshake resp(role::responder, bob, std::nullopt, {"/yamux/1.0.0", "/mplex/6.7.0"});
  EXPECT_TRUE(init.wants_write());
  EXPECT_FALSE(resp.wants_write());
  ASSERT_TRUE(run(init, resp));
  ASSERT_TRUE(init.is_complete());
  ASSERT_TRUE(resp.is_complete());

  auto a = init.finish();
  auto b = resp.finish();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->remote_peer, bob.to_peer_id());
  EXPECT_EQ(b->remote_peer, alice.to_peer_id());
  EXPECT_EQ(a->remote_key, bob.get_public_key());
  EXPECT_EQ(b->remote_key, alice.get_public_key());
  EXPECT_EQ(a->remote_muxers, (std::vector<std::string>{"/yamux/1.0.0", "/mplex/6.7.0"}));
  EXPECT_EQ(b->remote_muxers, (std::vector<std::string>{"/yamux/1.0.0"}));

  for (int round = 0; round < 3; ++round) {
    bytes to_bob, to_alice;
    ASSERT_TRUE(a->send.encrypt_frame(as_bytes("ping"), to_bob));
    ASSERT_TRUE(b->send.encrypt_frame(as_bytes("pong"), to_alice));
    auto at_bob = b->recv.decrypt_in_place(mutable_byte_span(to_bob).subspan(2));
    auto at_alice = a->recv.decrypt_in_place(mutable_byte_span(to_alice).subspan(2));
    ASSERT_TRUE(at_bob && at_alice);
    EXPECT_EQ(as_string_view(*at_bob), "ping");
    EXPECT_EQ(as_string_view(*at_alice), "pong");
  }
}

TEST(noise_handshake, send_and_receive_keys_differ_per_direction) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2);
  handshake init(role::initiator, alice, std::nullopt);
  handshake resp(role::responder, bob, std::nullopt);
  ASSERT_TRUE(run(init, resp));
  auto a = init.finish();
  ASSERT_TRUE(a);
  bytes frame;
  ASSERT_TRUE(a->send.encrypt_frame(as_bytes("reflected"), frame));
  // A frame reflected back at its sender must not decrypt.
  EXPECT_FALSE(a->recv.decrypt_in_place(mutable_byte_span(frame).subspan(2)));
}

TEST(noise_handshake, initiator_rejects_responder_that_is_not_the_dialed_peer) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2), carol = key_from_byte(3);
  handshake init(role::initiator, alice, carol.to_peer_id());
  handshake resp(role::responder, bob, std::nullopt);
  auto m1 = init.write_message();
  ASSERT_TRUE(m1);
  ASSERT_TRUE(resp.read_message(*m1));
  auto m2 = resp.write_message();
  ASSERT_TRUE(m2);
  auto r = init.read_message(*m2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::peer_id_mismatch);
  // The initiator never sends message 3, so bob never learns who dialed.
  EXPECT_EQ(init.write_message().error(), errc::noise_out_of_order);
  EXPECT_FALSE(init.is_complete());
}

TEST(noise_handshake, responder_checks_expected_initiator_when_given) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2), carol = key_from_byte(3);
  handshake init(role::initiator, alice, std::nullopt);
  handshake resp(role::responder, bob, carol.to_peer_id());
  auto r = run(init, resp);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::peer_id_mismatch);
  EXPECT_FALSE(resp.is_complete());
  EXPECT_EQ(resp.finish().error(), errc::noise_out_of_order);
}

TEST(noise_handshake, a_flipped_bit_in_any_message_fails_the_handshake) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2);
  for (int target = 0; target < 3; ++target) {
    int flips = 0;
    for (std::size_t pos : {std::size_t{0}, std::size_t{31}, std::size_t{40}, std::size_t{1000}}) {
      handshake init(role::initiator, alice, bob.to_peer_id());
      handshake resp(role::responder, bob, std::nullopt);
      bool flipped = false;
      auto r = run(init, resp, [&](int i, bytes& msg) {
        if (i == target && pos < msg.size()) {
          msg[pos] ^= 0x01;
          flipped = true;
        }
      });
      if (!flipped) continue;  // message shorter than pos
      ++flips;
      EXPECT_FALSE(r) << "message " << target << " byte " << pos;
      EXPECT_FALSE(init.is_complete() && resp.is_complete());
    }
    EXPECT_GE(flips, 2) << "message " << target;
  }
}

TEST(noise_handshake, a_truncated_or_extended_message_fails) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2);
  for (int target = 1; target < 3; ++target) {
    for (bool extend : {false, true}) {
      handshake init(role::initiator, alice, std::nullopt);
      handshake resp(role::responder, bob, std::nullopt);
      auto r = run(init, resp, [&](int i, bytes& msg) {
        if (i != target) return;
        if (extend) {
          msg.push_back(0);
        } else {
          msg.pop_back();
        }
      });
      EXPECT_FALSE(r) << target << extend;
    }
  }
}

TEST(noise_handshake, rejects_signature_made_by_a_different_identity_key) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2), mallory = key_from_byte(4);
  handshake init(role::initiator, alice, std::nullopt);
  raw_responder resp;
  // Claims to be bob but signs with mallory's key.
  const bytes payload = signed_payload(mallory, bob.get_public_key(), resp.static_key.public_key);
  auto r = initiator_reads_payload(init, resp, payload);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::bad_signature);
}

TEST(noise_handshake, rejects_payload_signed_for_a_different_static_key) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2);
  handshake init(role::initiator, alice, std::nullopt);
  raw_responder resp;
  // A genuine bob payload lifted from another session (other static key).
  const auto other_static = x25519_keypair::generate();
  const bytes payload = signed_payload(bob, bob.get_public_key(), other_static.public_key);
  auto r = initiator_reads_payload(init, resp, payload);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::bad_signature);
}

TEST(noise_handshake, accepts_a_correctly_signed_raw_payload) {
  // Control for the two tests above: the raw responder path itself works.
  const auto alice = key_from_byte(1), bob = key_from_byte(2);
  handshake init(role::initiator, alice, bob.to_peer_id());
  raw_responder resp;
  const bytes payload = signed_payload(bob, bob.get_public_key(), resp.static_key.public_key);
  EXPECT_TRUE(initiator_reads_payload(init, resp, payload));
}

TEST(noise_handshake, rejects_payload_without_identity_key) {
  const auto alice = key_from_byte(1);
  handshake init(role::initiator, alice, std::nullopt);
  raw_responder resp;
  EXPECT_FALSE(initiator_reads_payload(init, resp, {}));
}

TEST(noise_handshake, ignores_a_payload_in_message_one) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2);
  x25519_keypair s = x25519_keypair::generate();
  xx_state raw_init(xx_state::role::initiator, {}, s);
  handshake resp(role::responder, bob, std::nullopt);
  bytes m1;
  ASSERT_TRUE(raw_init.write_message(as_bytes("early"), m1));
  EXPECT_TRUE(resp.read_message(m1));
  EXPECT_TRUE(resp.wants_write());
}

TEST(noise_handshake, out_of_order_calls_are_errors) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2);
  handshake init(role::initiator, alice, std::nullopt);
  handshake resp(role::responder, bob, std::nullopt);
  EXPECT_EQ(resp.write_message().error(), errc::noise_out_of_order);
  EXPECT_EQ(init.read_message(bytes(96)).error(), errc::noise_out_of_order);
  EXPECT_EQ(init.finish().error(), errc::noise_out_of_order);

  ASSERT_TRUE(run(init, resp));
  EXPECT_EQ(init.write_message().error(), errc::noise_out_of_order);
  EXPECT_EQ(resp.read_message(bytes(64)).error(), errc::noise_out_of_order);
  ASSERT_TRUE(init.finish());
  EXPECT_EQ(init.finish().error(), errc::noise_out_of_order);  // only once
}

TEST(noise_handshake, survives_being_moved_mid_handshake) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2);
  handshake init0(role::initiator, alice, bob.to_peer_id());
  handshake resp(role::responder, bob, std::nullopt);
  auto m1 = init0.write_message();
  ASSERT_TRUE(m1);
  handshake init(std::move(init0));
  ASSERT_TRUE(resp.read_message(*m1));
  auto m2 = resp.write_message();
  ASSERT_TRUE(m2 && init.read_message(*m2));
  auto m3 = init.write_message();
  ASSERT_TRUE(m3 && resp.read_message(*m3));
  EXPECT_TRUE(init.finish() && resp.finish());
}

TEST(noise_handshake, fixed_keys_make_the_handshake_deterministic) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2);
  fixed_keys ik, rk;
  ik.static_secret.fill(0x11);
  ik.ephemeral_secret.fill(0x12);
  rk.static_secret.fill(0x21);
  rk.ephemeral_secret.fill(0x22);
  std::vector<bytes> transcripts[2];
  for (auto& transcript : transcripts) {
    handshake init(role::initiator, alice, std::nullopt, {"/yamux/1.0.0"}, ik);
    handshake resp(role::responder, bob, std::nullopt, {}, rk);
    ASSERT_TRUE(run(init, resp, [&](int, bytes& msg) { transcript.push_back(msg); }));
  }
  EXPECT_EQ(transcripts[0], transcripts[1]);
  // Message 1 is exactly the fixed ephemeral public key.
  const auto e = x25519_keypair::from_secret(ik.ephemeral_secret);
  EXPECT_EQ(transcripts[0][0], bytes(e.public_key.begin(), e.public_key.end()));
}

TEST(noise_handshake, a_shared_static_key_serves_many_sessions_with_distinct_keys) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2);
  // Bob's host makes its static key and signed payload once (as the relay does).
  const auto bob_static = local_static::make(bob, {"/yamux/1.0.0"});
  auto decoded = decode_payload(bob_static->payload);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->identity_key, bob.get_public_key().to_protobuf());
  EXPECT_TRUE(bob.get_public_key().verify(static_key_signing_input(bob_static->key.public_key),
                                          decoded->identity_sig));
  std::vector<handshake_result> at_alice, at_bob;
  std::vector<bytes> second_messages;
  for (int session = 0; session < 2; ++session) {
    handshake init(role::initiator, alice, bob.to_peer_id(), {"/yamux/1.0.0"});
    handshake resp(role::responder, bob_static, std::nullopt);
    ASSERT_TRUE(run(init, resp, [&](int i, bytes& msg) {
      if (i == 1) second_messages.push_back(msg);
    }));
    auto a = init.finish();
    auto b = resp.finish();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->remote_peer, bob.to_peer_id());
    EXPECT_EQ(b->remote_peer, alice.to_peer_id());
    EXPECT_EQ(a->remote_muxers, (std::vector<std::string>{"/yamux/1.0.0"}));
    at_alice.push_back(std::move(*a));
    at_bob.push_back(std::move(*b));
  }
  // Fresh ephemerals: message 2 (e, ee, s, es) differs from the first byte on.
  EXPECT_NE(second_messages[0], second_messages[1]);
  // Each session's frames open in that session only.
  bytes frame, again;
  ASSERT_TRUE(at_alice[0].send.encrypt_frame(as_bytes("hello"), frame));
  again = frame;
  EXPECT_FALSE(at_bob[1].recv.decrypt_in_place(mutable_byte_span(again).subspan(2)));
  auto opened = at_bob[0].recv.decrypt_in_place(mutable_byte_span(frame).subspan(2));
  ASSERT_TRUE(opened);
  EXPECT_EQ(as_string_view(*opened), "hello");
}

TEST(noise_handshake, an_initiator_with_a_shared_static_key_is_checked_like_any_other) {
  const auto alice = key_from_byte(1), bob = key_from_byte(2), mallory = key_from_byte(3);
  const auto alice_static = local_static::make(alice, {});
  handshake init(role::initiator, alice_static, mallory.to_peer_id());
  handshake resp(role::responder, bob, std::nullopt);
  auto refused = run(init, resp);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::peer_id_mismatch);
  handshake init2(role::initiator, alice_static, bob.to_peer_id());
  handshake resp2(role::responder, bob, alice.to_peer_id());
  ASSERT_TRUE(run(init2, resp2));
  auto b = resp2.finish();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->remote_peer, alice.to_peer_id());
}

}  // namespace
}  // namespace peerup::noise
