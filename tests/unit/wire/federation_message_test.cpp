#include "wire/federation_message.hpp"

#include <gtest/gtest.h>

#include "crypto/signed_envelope.hpp"
#include "wire/protobuf.hpp"

namespace peerup::wire {
namespace {

private_key key_from(std::uint8_t fill) {
  const bytes seed(private_key::seed_length, fill);
  return private_key::from_seed(seed).value();
}

dns_label label(std::string_view s) { return dns_label::parse(s).value(); }

name_record_body sample_body() {
  return name_record_body{label("bob"),
                          label("server"),
                          key_from(9).to_peer_id(),
                          {multiaddr::parse("/ip4/198.51.100.9/tcp/4001").value()},
                          1700000000,
                          600};
}

TEST(federation_message, lookup_request_round_trips) {
  const federation_request r{federation_request_type::lookup, label("grewal"), label("bob"),
                             label("server"), 0};
  auto back = federation_request::decode(r.encode());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->type, federation_request_type::lookup);
  EXPECT_EQ(back->origin.str(), "grewal");
  EXPECT_EQ(back->network->str(), "bob");
  EXPECT_EQ(back->host->str(), "server");
  EXPECT_EQ(back->hops, 0u);
  EXPECT_EQ(back->encode(), r.encode());
}

TEST(federation_message, lookup_without_host_is_malformed) {
  pb::writer w;
  w.add_varint(1, 0);
  w.add_string(2, "grewal");
  w.add_string(3, "bob");
  EXPECT_EQ(federation_request::decode(w.take()).error(), errc::federation_malformed_message);
}

TEST(federation_message, ping_needs_only_origin_and_unknown_type_is_refused) {
  pb::writer w;
  w.add_varint(1, 1);
  w.add_string(2, "grewal");
  auto ping = federation_request::decode(w.take());
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->type, federation_request_type::ping);
  pb::writer bad;
  bad.add_varint(1, 7);
  bad.add_string(2, "grewal");
  EXPECT_EQ(federation_request::decode(bad.take()).error(), errc::federation_malformed_message);
}

TEST(federation_message, request_with_invalid_label_is_malformed) {
  pb::writer w;
  w.add_varint(1, 1);
  w.add_string(2, "gre wal");
  EXPECT_EQ(federation_request::decode(w.take()).error(), errc::federation_malformed_message);
}

TEST(federation_message, oversized_message_is_refused_unread) {
  const bytes big(federation_max_message_size + 1, 0);
  EXPECT_EQ(federation_request::decode(big).error(), errc::too_large);
  EXPECT_EQ(federation_response::decode(big).error(), errc::too_large);
  EXPECT_EQ(name_record_body::decode(big).error(), errc::too_large);
}

TEST(federation_message, response_round_trips_and_cuts_text) {
  federation_response r;
  r.status = federation_status::not_found;
  r.network = label("bob");
  r.text = std::string(1000, 'x');
  auto back = federation_response::decode(r.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->status, federation_status::not_found);
  EXPECT_EQ(back->network->str(), "bob");
  EXPECT_EQ(back->text.size(), federation_max_text);
  EXPECT_FALSE(federation_response::decode(bytes{}).has_value());  // no status
}

TEST(federation_message, sealed_record_opens_with_its_signer) {
  const auto relay = key_from(1);
  const auto body = sample_body();
  auto opened = open_name_record(seal_name_record(relay, body));
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(opened->signer, relay.to_peer_id());
  EXPECT_EQ(opened->body.encode(), body.encode());
  EXPECT_EQ(opened->body.addrs.size(), 1u);
}

TEST(federation_message, tampered_record_fails_signature) {
  bytes sealed = seal_name_record(key_from(1), sample_body());
  sealed[sealed.size() / 2] ^= 0x01;
  EXPECT_FALSE(open_name_record(sealed).has_value());
}

TEST(federation_message, envelope_of_another_domain_is_refused) {
  // The same payload signed for another purpose (a relay voucher's domain)
  // must not count as a name record.
  const auto relay = key_from(1);
  const auto sealed = signed_envelope::seal(relay, "libp2p-relay-rsvp",
                                            as_bytes(federation_record_payload_type),
                                            sample_body().encode());
  EXPECT_FALSE(open_name_record(sealed).has_value());
}

TEST(federation_message, record_ttl_above_an_hour_or_zero_is_malformed) {
  auto body = sample_body();
  body.ttl = federation_max_record_ttl + 1;
  EXPECT_EQ(name_record_body::decode(body.encode()).error(), errc::federation_malformed_message);
  body.ttl = 0;
  EXPECT_EQ(name_record_body::decode(body.encode()).error(), errc::federation_malformed_message);
}

TEST(federation_message, record_with_too_many_addrs_is_malformed) {
  auto body = sample_body();
  for (std::size_t i = 0; i < names_max_addrs; ++i) body.addrs.push_back(body.addrs.front());
  EXPECT_EQ(name_record_body::decode(body.encode()).error(), errc::federation_malformed_message);
}

TEST(federation_message, member_request_round_trips_and_needs_a_valid_peer) {
  const federation_request r{federation_request_type::member, label("bob"), std::nullopt,
                             std::nullopt, 0, key_from(7).to_peer_id()};
  auto back = federation_request::decode(r.encode());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->type, federation_request_type::member);
  EXPECT_EQ(back->peer, key_from(7).to_peer_id());
  EXPECT_EQ(back->encode(), r.encode());

  pb::writer no_peer;
  no_peer.add_varint(1, 2);
  no_peer.add_string(2, "bob");
  EXPECT_EQ(federation_request::decode(no_peer.take()).error(),
            errc::federation_malformed_message);
  pb::writer bad_peer;
  bad_peer.add_varint(1, 2);
  bad_peer.add_string(2, "bob");
  bad_peer.add_bytes(6, bytes{0x12, 0x20, 0x01});  // a sha2-256 multihash cut short
  EXPECT_EQ(federation_request::decode(bad_peer.take()).error(),
            errc::federation_malformed_message);
  pb::writer huge_peer;
  huge_peer.add_varint(1, 2);
  huge_peer.add_string(2, "bob");
  huge_peer.add_bytes(6, bytes(200, 0));
  EXPECT_EQ(federation_request::decode(huge_peer.take()).error(),
            errc::federation_malformed_message);
}

}  // namespace
}  // namespace peerup::wire
