#include "wire/relay_voucher.hpp"

#include <gtest/gtest.h>

#include "crypto/signed_envelope.hpp"

namespace peerup::wire {
namespace {

private_key key_from(std::uint8_t fill) {
  const bytes seed(private_key::seed_length, fill);
  return private_key::from_seed(seed).value();
}

TEST(relay_voucher, seal_then_open_returns_voucher_signed_by_relay) {
  const private_key relay = key_from(1);
  const peer_id client = key_from(2).to_peer_id();
  const bytes sealed = seal_relay_voucher(relay, relay_voucher{{}, client.to_bytes(), 1700003600});
  auto v = open_relay_voucher(sealed);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->relay, relay.to_peer_id().to_bytes());
  EXPECT_EQ(v->peer, client.to_bytes());
  EXPECT_EQ(v->expiration, 1700003600u);
}

TEST(relay_voucher, rejects_tampered_envelope) {
  const private_key relay = key_from(1);
  bytes sealed =
      seal_relay_voucher(relay, relay_voucher{{}, key_from(2).to_peer_id().to_bytes(), 5});
  sealed[sealed.size() / 2] ^= 0x01;
  EXPECT_FALSE(open_relay_voucher(sealed));
}

TEST(relay_voucher, rejects_voucher_naming_a_relay_other_than_the_signer) {
  const private_key relay = key_from(1);
  const private_key impostor = key_from(3);
  const relay_voucher v{relay.to_peer_id().to_bytes(), key_from(2).to_peer_id().to_bytes(), 5};
  const bytes sealed =
      signed_envelope::seal(impostor, relay_voucher_domain, relay_voucher_payload_type, v.encode());
  auto r = open_relay_voucher(sealed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::bad_signature);
}

TEST(relay_voucher, rejects_other_domain_and_payload_type) {
  const private_key relay = key_from(1);
  const relay_voucher v{relay.to_peer_id().to_bytes(), key_from(2).to_peer_id().to_bytes(), 5};
  const bytes peer_record_type{0x03, 0x01};
  const bytes wrong_domain =
      signed_envelope::seal(relay, "libp2p-routing-state", relay_voucher_payload_type, v.encode());
  EXPECT_FALSE(open_relay_voucher(wrong_domain));
  const bytes wrong_type =
      signed_envelope::seal(relay, relay_voucher_domain, peer_record_type, v.encode());
  auto r = open_relay_voucher(wrong_type);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::relay_malformed_message);
}

}  // namespace
}  // namespace peerup::wire
