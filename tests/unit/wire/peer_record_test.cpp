#include "wire/peer_record.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "crypto/signed_envelope.hpp"

namespace peerup::wire {
namespace {

const multiaddr direct = *multiaddr::parse("/ip4/192.0.2.7/tcp/4001");
const multiaddr circuit = *multiaddr::parse(
    "/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/"
    "p2p-circuit");

TEST(peer_record, seals_and_opens_with_the_signers_peer_id) {
  const auto key = private_key::generate();
  const auto other = private_key::generate();
  // The peer named in the record is replaced by the signer.
  auto env = seal_peer_record(key, {other.to_peer_id(), 42, {direct, circuit}});
  auto r = open_peer_record(env);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->peer, key.to_peer_id());
  EXPECT_EQ(r->seq, 42u);
  ASSERT_EQ(r->addrs.size(), 2u);
  EXPECT_EQ(r->addrs[1], circuit);
}

TEST(peer_record, refuses_a_record_signed_by_another_peer) {
  const auto key = private_key::generate();
  const auto mallory = private_key::generate();
  // Mallory signs a record that names `key`'s peer with her own addresses.
  const peer_record forged{key.to_peer_id(), 99, {direct}};
  auto env = signed_envelope::seal(mallory, peer_record_domain, peer_record_payload_type,
                                   forged.encode());
  EXPECT_EQ(open_peer_record(env).error(), make_error_code(errc::kad_record_invalid));
}

TEST(peer_record, refuses_another_domain_or_payload_type) {
  const auto key = private_key::generate();
  const peer_record rec{key.to_peer_id(), 1, {direct}};
  auto wrong_domain = signed_envelope::seal(key, "libp2p-relay-rsvp", peer_record_payload_type,
                                            rec.encode());
  EXPECT_FALSE(open_peer_record(wrong_domain));
  const std::uint8_t voucher_type[] = {0x03, 0x02};
  auto wrong_type = signed_envelope::seal(key, peer_record_domain, voucher_type, rec.encode());
  EXPECT_EQ(open_peer_record(wrong_type).error(), make_error_code(errc::kad_record_invalid));
}

TEST(peer_record, bounds_addresses_and_size) {
  const auto key = private_key::generate();
  peer_record rec{key.to_peer_id(), 1, {}};
  for (std::size_t i = 0; i < peer_record_max_addrs; ++i) rec.addrs.push_back(direct);
  EXPECT_TRUE(peer_record::decode(rec.encode()));
  rec.addrs.push_back(direct);
  // SECURITY: one over the bound is refused, not truncated.
  EXPECT_EQ(peer_record::decode(rec.encode()).error(), make_error_code(errc::kad_record_invalid));
  bytes huge(peer_record_max_size + 1, 0);
  EXPECT_EQ(open_peer_record(huge).error(), make_error_code(errc::too_large));
  EXPECT_EQ(peer_record::decode(huge).error(), make_error_code(errc::too_large));
}

TEST(peer_record, refuses_missing_or_bad_fields) {
  EXPECT_FALSE(peer_record::decode(bytes{}));                  // no peer ID
  EXPECT_FALSE(peer_record::decode(bytes{0x0a, 0x01, 0x00}));  // a peer ID that is no multihash
  const auto key = private_key::generate();
  bytes rec = peer_record{key.to_peer_id(), 1, {}}.encode();
  // An address entry whose multiaddr does not parse.
  const bytes bad_addr{0x1a, 0x04, 0x0a, 0x02, 0xff, 0xff};
  rec.insert(rec.end(), bad_addr.begin(), bad_addr.end());
  EXPECT_FALSE(peer_record::decode(rec));
}

// The fuzz seed was sealed by an independent encoder (Python's cryptography
// and a hand-written protobuf, seed 00..1f): our reader accepts its bytes.
TEST(peer_record, opens_a_record_sealed_by_another_implementation) {
  std::ifstream f(std::string(PEERUP_TESTS_DIR) + "/fuzz/corpus/peer_record/envelope",
                  std::ios::binary);
  ASSERT_TRUE(f);
  const bytes env((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  bytes seed(32);
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i);
  const auto key = private_key::from_seed(seed).value();
  auto r = validate_peer_record(peer_record_key(key.to_peer_id()), env);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->seq, 1700000000000000u);
  ASSERT_EQ(r->addrs.size(), 1u);
  EXPECT_EQ(r->addrs[0].to_string(), "/ip4/192.0.2.7/tcp/4001");
  // And ours is byte for byte the same envelope (Ed25519 is deterministic).
  EXPECT_EQ(seal_peer_record(key, *r), env);
}

TEST(peer_record, keys_name_their_peer) {
  const auto id = private_key::generate().to_peer_id();
  auto k = peer_record_key(id);
  EXPECT_EQ(peer_of_record_key(k), id);
  EXPECT_FALSE(peer_of_record_key(as_bytes("/peerup-peer/")));
  EXPECT_FALSE(peer_of_record_key(as_bytes("/pk/whatever")));
  bytes ipns(k);
  ipns[1] = 'x';
  EXPECT_FALSE(peer_of_record_key(ipns));
}

}  // namespace
}  // namespace peerup::wire
