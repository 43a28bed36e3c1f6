#include "wire/socks5.hpp"

#include <gtest/gtest.h>

namespace peerup::wire::socks5 {
namespace {

bool needs_more(const auto& r) { return !r && r.error() == make_error_code(errc::truncated); }
bool invalid(const auto& r) { return !r && r.error() == make_error_code(errc::socks_invalid); }

TEST(socks5, parses_the_greeting_curl_sends) {
  const bytes in{0x05, 0x02, 0x00, 0x02};  // curl offers no-auth and user/password
  auto g = parse_greeting(in);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->consumed, 4u);
  EXPECT_TRUE(g->value.offers(method::no_auth));
  EXPECT_TRUE(g->value.offers(method::username_password));
  EXPECT_FALSE(g->value.offers(method::gssapi));
}

TEST(socks5, every_prefix_of_a_message_needs_more_bytes) {
  const bytes greet = encode_greeting({method::no_auth, method::username_password});
  const bytes auth = encode_credentials("alice", "secret");
  const bytes req = encode_connect("laptop.grewal", 22);
  for (std::size_t n = 0; n < greet.size(); ++n)
    EXPECT_TRUE(needs_more(parse_greeting(byte_span(greet).first(n)))) << n;
  for (std::size_t n = 0; n < auth.size(); ++n)
    EXPECT_TRUE(needs_more(parse_credentials(byte_span(auth).first(n)))) << n;
  for (std::size_t n = 0; n < req.size(); ++n)
    EXPECT_TRUE(needs_more(parse_request(byte_span(req).first(n)))) << n;
}

TEST(socks5, consumes_only_its_message_and_leaves_early_data) {
  bytes in = encode_connect("home.p2p", 80);
  const std::size_t req_len = in.size();
  append(in, as_bytes("GET / HTTP/1.1\r\n"));
  auto r = parse_request(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, req_len);
  EXPECT_EQ(r->value.dest.domain, "home.p2p");
  EXPECT_EQ(r->value.dest.port, 80);
  EXPECT_EQ(r->value.cmd, static_cast<std::uint8_t>(command::connect));
}

TEST(socks5, parses_a_domain_connect_request_byte_for_byte) {
  const bytes in{0x05, 0x01, 0x00, 0x03, 13,  'l', 'a', 'p', 't',  'o',
                 'p',  '.',  'g',  'r',  'e', 'w', 'a', 'l', 0x00, 0x16};
  auto r = parse_request(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value.dest.type, static_cast<std::uint8_t>(address_type::domain));
  EXPECT_EQ(r->value.dest.domain, "laptop.grewal");
  EXPECT_EQ(r->value.dest.port, 22);
  EXPECT_EQ(encode_connect("laptop.grewal", 22), in);
}

TEST(socks5, parses_ipv4_and_ipv6_destinations) {
  auto v4 = parse_request(encode_connect_ipv4({127, 64, 3, 9}, 8080));
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->consumed, 10u);
  EXPECT_EQ(v4->value.dest.ip[0], 127);
  EXPECT_EQ(v4->value.dest.ip[3], 9);
  EXPECT_EQ(v4->value.dest.port, 8080);
  bytes v6{0x05, 0x01, 0x00, 0x04};
  for (int i = 0; i < 15; ++i) v6.push_back(0);
  v6.push_back(1);  // ::1
  v6.push_back(0x01);
  v6.push_back(0xbb);
  auto r = parse_request(v6);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, 22u);
  EXPECT_EQ(r->value.dest.ip[15], 1);
  EXPECT_EQ(r->value.dest.port, 443);
}

TEST(socks5, unknown_address_type_is_reported_not_rejected_so_the_server_can_reply) {
  const bytes in{0x05, 0x01, 0x00, 0x07, 1, 2, 3};
  auto r = parse_request(in);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->value.dest.known_type());
  EXPECT_EQ(r->consumed, 4u);
}

TEST(socks5, bind_and_udp_associate_parse_with_their_command) {
  bytes in = encode_connect("home", 1);
  in[1] = static_cast<std::uint8_t>(command::udp_associate);
  auto r = parse_request(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value.cmd, 0x03);
}

TEST(socks5, rejects_wrong_versions_and_zero_lengths) {
  EXPECT_TRUE(invalid(parse_greeting(bytes{0x04, 0x01, 0x00})));  // SOCKS4
  EXPECT_TRUE(invalid(parse_greeting(bytes{0x05, 0x00})));        // no methods
  EXPECT_TRUE(invalid(parse_request(bytes{0x04, 0x01, 0x00, 0x01})));
  EXPECT_TRUE(invalid(parse_request(bytes{0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x16})));
  EXPECT_TRUE(invalid(parse_credentials(bytes{0x05, 0x01, 'a', 0x01, 'b'})));
  EXPECT_TRUE(invalid(parse_credentials(bytes{0x01, 0x00, 0x01, 'b'})));
  EXPECT_TRUE(invalid(parse_credentials(bytes{0x01, 0x01, 'a', 0x00})));
}

TEST(socks5, parses_rfc1929_credentials_of_maximum_length) {
  const std::string user(255, 'u'), pass(255, 'p');
  const bytes in = encode_credentials(user, pass);
  ASSERT_EQ(in.size(), max_message_size);
  auto c = parse_credentials(in);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->consumed, max_message_size);
  EXPECT_EQ(c->value.username, user);
  EXPECT_EQ(c->value.password, pass);
  EXPECT_TRUE(encode_credentials(std::string(256, 'u'), "p").empty());
}

TEST(socks5, encodes_replies_as_rfc1928_section_6) {
  EXPECT_EQ(encode_method_choice(method::none_acceptable), (bytes{0x05, 0xff}));
  EXPECT_EQ(encode_auth_status(true), (bytes{0x01, 0x00}));
  EXPECT_EQ(encode_auth_status(false), (bytes{0x01, 0x01}));
  EXPECT_EQ(encode_reply(reply::host_unreachable),
            (bytes{0x05, 0x04, 0x00, 0x01, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode_reply(reply::succeeded, {127, 0, 0, 1}, 1080),
            (bytes{0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x04, 0x38}));
}

}  // namespace
}  // namespace peerup::wire::socks5
