#include "wire/names_message.hpp"

#include <gtest/gtest.h>

#include "wire/protobuf.hpp"

namespace peerup::wire {
namespace {

peer_id make_peer(std::uint8_t n) {
  return peer_id::from_public_key(bytes{0x08, 0x01, 0x12, 0x01, n});
}

dns_label label(std::string_view s) { return dns_label::parse(s).value(); }

TEST(dns_label, lower_cases_and_accepts_letters_digits_and_inner_hyphens) {
  EXPECT_EQ(label("Home-01").str(), "home-01");
  EXPECT_EQ(label("a").str(), "a");
  EXPECT_EQ(label(std::string(63, 'x')).str(), std::string(63, 'x'));
}

TEST(dns_label, rejects_what_dns_does_not_allow) {
  for (std::string_view bad : {"", "-home", "home-", "ho.me", "ho_me", "h\xc3\xa9", "ho me", "a/b"})
    EXPECT_FALSE(dns_label::parse(bad)) << bad;
  EXPECT_FALSE(dns_label::parse(std::string(64, 'x')));
}

TEST(names_message, register_request_round_trips) {
  names_request r{names_request_type::register_name,
                  label("grewal"),
                  label("home"),
                  600,
                  {multiaddr::parse("/ip4/192.0.2.1/tcp/4001").value()}};
  auto back = names_request::decode(r.encode());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->type, names_request_type::register_name);
  EXPECT_EQ(back->network.str(), "grewal");
  EXPECT_EQ(back->host.str(), "home");
  EXPECT_EQ(back->ttl, 600u);
  ASSERT_EQ(back->addrs.size(), 1u);
  EXPECT_EQ(back->addrs[0].to_string(), "/ip4/192.0.2.1/tcp/4001");
}

TEST(names_message, request_fields_are_lower_cased_on_decode) {
  pb::writer w;
  w.add_varint(1, 1);
  w.add_string(2, "GREWAL");
  w.add_string(3, "Home");
  auto r = names_request::decode(w.data());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, names_request_type::lookup);
  EXPECT_EQ(r->host.str(), "home");
  EXPECT_EQ(r->network.str(), "grewal");
}

TEST(names_message, request_without_host_or_with_bad_label_is_refused) {
  pb::writer no_host;
  no_host.add_varint(1, 1);
  no_host.add_string(2, "grewal");
  EXPECT_EQ(names_request::decode(no_host.data()).error(), make_error_code(errc::invalid_argument));

  pb::writer bad;
  bad.add_varint(1, 0);
  bad.add_string(2, "grewal");
  bad.add_string(3, "home.evil");
  EXPECT_EQ(names_request::decode(bad.data()).error(), make_error_code(errc::invalid_argument));

  pb::writer bad_type;
  bad_type.add_varint(1, 7);
  bad_type.add_string(2, "grewal");
  bad_type.add_string(3, "home");
  EXPECT_FALSE(names_request::decode(bad_type.data()));
}

TEST(names_message, too_many_addresses_are_refused_before_growing) {
  pb::writer w;
  w.add_varint(1, 0);
  w.add_string(2, "grewal");
  w.add_string(3, "home");
  const auto a = multiaddr::parse("/ip4/192.0.2.1/tcp/1").value();
  for (std::size_t i = 0; i <= names_max_addrs; ++i) w.add_bytes(5, a.to_bytes());
  EXPECT_EQ(names_request::decode(w.data()).error(), make_error_code(errc::too_large));
}

TEST(names_message, oversized_message_is_refused) {
  bytes big(names_max_message_size + 1, 0);
  EXPECT_EQ(names_request::decode(big).error(), make_error_code(errc::too_large));
  EXPECT_EQ(names_response::decode(big).error(), make_error_code(errc::too_large));
}

TEST(names_message, lookup_answer_round_trips_with_peer_and_addrs) {
  names_response r;
  r.status = names_status::ok;
  r.peer = make_peer(7);
  r.addrs = {multiaddr::parse("/ip6/::1/tcp/4001").value()};
  r.ttl = 120;
  auto back = names_response::decode(r.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->status, names_status::ok);
  EXPECT_EQ(back->peer, make_peer(7));
  EXPECT_EQ(back->addrs.size(), 1u);
  EXPECT_EQ(back->ttl, 120u);
}

TEST(names_message, unknown_status_is_kept_and_text_is_bounded) {
  pb::writer w;
  w.add_varint(1, 999);
  w.add_string(5, std::string(1000, 'x'));
  auto r = names_response::decode(w.data());
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<std::uint32_t>(r->status), 999u);
  EXPECT_EQ(r->text.size(), names_max_text);
  EXPECT_EQ(to_string(r->status), "unknown status");
}

TEST(names_message, response_without_status_or_with_bad_peer_is_refused) {
  pb::writer no_status;
  no_status.add_varint(4, 10);
  EXPECT_FALSE(names_response::decode(no_status.data()));
  pb::writer bad_peer;
  bad_peer.add_varint(1, 100);
  bad_peer.add_string(2, "not a multihash");
  EXPECT_FALSE(names_response::decode(bad_peer.data()));
}

}  // namespace
}  // namespace peerup::wire
