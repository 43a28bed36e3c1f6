#include "crypto/signed_envelope.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "multiformats/varint.hpp"
#include "unit/multiformats/test_hex.hpp"

namespace peerup {
namespace {

using namespace test;

constexpr std::string_view relay_domain = "libp2p-relay-rsvp";
const bytes voucher_type{0x03, 0x02};

private_key spec_key() {
  return private_key::from_protobuf(from_hex(spec_ed25519_private)).value();
}

// Flips the byte `offset` into the first occurrence of `needle` in `haystack`.
bytes tamper(bytes haystack, byte_span needle, std::size_t offset = 0) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end());
  EXPECT_NE(it, haystack.end());
  if (it != haystack.end()) *(it + static_cast<std::ptrdiff_t>(offset)) ^= 0x01;
  return haystack;
}

TEST(signed_envelope, opens_what_it_seals) {
  const auto key = spec_key();
  const auto sealed = signed_envelope::seal(key, relay_domain, voucher_type, as_bytes("voucher"));
  auto env = signed_envelope::open(sealed, relay_domain);
  ASSERT_TRUE(env) << env.error().message();
  EXPECT_EQ(env->key, key.get_public_key());
  EXPECT_EQ(env->signer().to_string(), spec_ed25519_peer);
  EXPECT_EQ(env->payload_type, voucher_type);
  EXPECT_EQ(env->payload, bytes(as_bytes("voucher").begin(), as_bytes("voucher").end()));
  EXPECT_EQ(env->signature.size(), 64u);
}

TEST(signed_envelope, signs_the_rfc0002_buffer) {
  // varint(len) || domain || varint(len) || payload_type || varint(len) || payload
  const auto key = spec_key();
  const auto sealed = signed_envelope::seal(key, relay_domain, voucher_type, as_bytes("abc"));
  const auto env = signed_envelope::open(sealed, relay_domain).value();
  bytes expected{static_cast<std::uint8_t>(relay_domain.size())};
  append(expected, as_bytes(relay_domain));
  append(expected, bytes{0x02, 0x03, 0x02, 0x03, 'a', 'b', 'c'});
  EXPECT_TRUE(key.get_public_key().verify(expected, env.signature));
}

TEST(signed_envelope, rejects_wrong_domain) {
  const auto sealed =
      signed_envelope::seal(spec_key(), relay_domain, voucher_type, as_bytes("voucher"));
  EXPECT_EQ(signed_envelope::open(sealed, "libp2p-routing-state").error(), errc::bad_signature);
}

TEST(signed_envelope, rejects_tampered_payload_type_payload_or_signature) {
  const auto key = spec_key();
  const auto sealed = signed_envelope::seal(key, relay_domain, voucher_type, as_bytes("voucher"));
  const auto signature = signed_envelope::open(sealed, relay_domain).value().signature;
  // Field 2 (payload type) is tag 0x12, length 2, then the type bytes.
  for (const auto& bad : {tamper(sealed, as_bytes("voucher")), tamper(sealed, signature, 63),
                          tamper(sealed, bytes{0x12, 0x02, 0x03, 0x02}, 3)}) {
    EXPECT_EQ(signed_envelope::open(bad, relay_domain).error(), errc::bad_signature);
  }
}

TEST(signed_envelope, rejects_a_swapped_key) {
  const auto sealed =
      signed_envelope::seal(spec_key(), relay_domain, voucher_type, as_bytes("voucher"));
  const auto other = private_key::generate().get_public_key().to_protobuf();
  bytes forged{0x0a, static_cast<std::uint8_t>(other.size())};
  append(forged, other);
  const auto original_key = spec_key().get_public_key().to_protobuf();
  append(forged, byte_span(sealed).subspan(2 + original_key.size()));
  EXPECT_EQ(signed_envelope::open(forged, relay_domain).error(), errc::bad_signature);
}

TEST(signed_envelope, accepts_any_field_order_and_skips_unknown_fields) {
  const auto key = spec_key();
  const auto sealed = signed_envelope::seal(key, relay_domain, voucher_type, as_bytes("p"));
  const auto env = signed_envelope::open(sealed, relay_domain).value();
  auto field = [](std::uint8_t tag, byte_span v) {
    bytes out{tag};
    varint::encode(v.size(), out);
    append(out, v);
    return out;
  };
  bytes reordered = field(0x2a, env.signature);                        // 5: signature
  append(reordered, bytes{0x20, 0x07});                                // 4: unknown varint
  append(reordered, field(0x1a, env.payload));                         // 3: payload
  append(reordered, field(0x0a, key.get_public_key().to_protobuf()));  // 1: key
  append(reordered, field(0x12, env.payload_type));                    // 2: payload type
  EXPECT_TRUE(signed_envelope::open(reordered, relay_domain));
}

TEST(signed_envelope, rejects_missing_or_repeated_fields_and_truncation) {
  const auto key = spec_key();
  const auto sealed = signed_envelope::seal(key, relay_domain, voucher_type, as_bytes("p"));
  const auto pub = key.get_public_key().to_protobuf();
  bytes only_key{0x0a, static_cast<std::uint8_t>(pub.size())};
  append(only_key, pub);
  EXPECT_EQ(signed_envelope::open(only_key, relay_domain).error(), errc::invalid_protobuf);
  bytes twice = sealed;
  append(twice, only_key);
  EXPECT_EQ(signed_envelope::open(twice, relay_domain).error(), errc::invalid_protobuf);
  EXPECT_EQ(signed_envelope::open(byte_span(sealed).first(sealed.size() - 1), relay_domain).error(),
            errc::invalid_protobuf);
  EXPECT_EQ(signed_envelope::open(bytes{}, relay_domain).error(), errc::invalid_protobuf);
}

TEST(signed_envelope, refuses_oversized_input_unread) {
  const bytes huge(signed_envelope::max_envelope_length + 1, 0);
  EXPECT_EQ(signed_envelope::open(huge, relay_domain).error(), errc::too_large);
}

TEST(signed_envelope, round_trips_empty_payload_and_type) {
  const auto sealed = signed_envelope::seal(spec_key(), relay_domain, bytes{}, bytes{});
  auto env = signed_envelope::open(sealed, relay_domain);
  ASSERT_TRUE(env);
  EXPECT_TRUE(env->payload.empty());
  EXPECT_TRUE(env->payload_type.empty());
}

}  // namespace
}  // namespace peerup
