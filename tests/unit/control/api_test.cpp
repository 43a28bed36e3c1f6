#include <gtest/gtest.h>

#include "control/api.hpp"

using namespace peerup::control;

namespace {

const std::string peer = "12D3KooWD3WpebHUpGgLnzhepRChjQueq857XiVEGSUiBpDBBtCh";

command ok(std::string_view m, std::string_view t, std::string_view b = {}) {
  auto r = parse_command(m, t, b);
  if (auto* e = std::get_if<api_error>(&r)) ADD_FAILURE() << e->status << " " << e->message;
  return std::get<command>(r);
}

api_error err(std::string_view m, std::string_view t, std::string_view b = {}) {
  auto r = parse_command(m, t, b);
  EXPECT_TRUE(std::holds_alternative<api_error>(r)) << m << " " << t << " " << b;
  return std::holds_alternative<api_error>(r) ? std::get<api_error>(r) : api_error{};
}

}  // namespace

TEST(api, routes_each_method_and_path) {
  EXPECT_EQ(ok("GET", "/v1/status").what, route::status);
  EXPECT_EQ(ok("GET", "/v1/peers").what, route::peers);
  EXPECT_EQ(ok("GET", "/v1/auth").what, route::auth_list);
  EXPECT_EQ(ok("POST", "/v1/reload").what, route::reload);
  auto rm = ok("DELETE", "/v1/auth/" + peer);
  EXPECT_EQ(rm.what, route::auth_remove);
  EXPECT_EQ(rm.peer->to_string(), peer);
  auto p = ok("POST", "/v1/ping", R"({"peer":"home","count":3})");
  EXPECT_EQ(p.target, "home");
  EXPECT_EQ(p.count, 3);
  auto c = ok("POST", "/v1/connect", R"({"addr":"/ip4/127.0.0.1/tcp/1/p2p/)" + peer + "\"}");
  EXPECT_TRUE(c.addr.has_value());
  EXPECT_EQ(c.target, peer);
  auto a = ok("POST", "/v1/auth", R"({"peer":")" + peer + R"(","services":["web","ssh"],"comment":"me"})");
  EXPECT_EQ(a.services.size(), 2u);
  EXPECT_EQ(a.comment, "me");
}

TEST(api, wrong_method_is_405_naming_the_allowed_ones) {
  auto e = err("POST", "/v1/status");
  EXPECT_EQ(e.status, 405u);
  EXPECT_EQ(e.allow, "GET");
  e = err("PUT", "/v1/auth");
  EXPECT_EQ(e.status, 405u);
  EXPECT_EQ(e.allow, "GET, POST");
  EXPECT_EQ(err("GET", "/v1/auth/" + peer).status, 405u);
}

TEST(api, bad_bodies_say_what_was_wrong) {
  EXPECT_NE(err("POST", "/v1/ping", "{x").message.find("not JSON"), std::string::npos);
  EXPECT_NE(err("POST", "/v1/ping", "[]").message.find("JSON object"), std::string::npos);
  EXPECT_NE(err("POST", "/v1/ping", R"({"peer":"home","cnt":1})").message.find("unknown field \"cnt\""),
            std::string::npos);
  EXPECT_NE(err("POST", "/v1/ping", R"({"peer":"home","count":0})").message.find("1 to 10"),
            std::string::npos);
  EXPECT_NE(err("POST", "/v1/ping", R"({"peer":"Not Valid"})").message.find("peer:"),
            std::string::npos);
  EXPECT_NE(err("POST", "/v1/connect", R"({"peer":"a","addr":"/ip4/1.1.1.1"})").message.find("exactly one"),
            std::string::npos);
  EXPECT_NE(err("POST", "/v1/auth", R"({"peer":")" + peer + R"(","services":["A B"]})").message.find("not a service name"),
            std::string::npos);
  EXPECT_NE(err("POST", "/v1/reload", R"({"x":1})").message.find("takes no body"),
            std::string::npos);
  // SECURITY: nesting deeper than max_json_depth is refused by the parser
  EXPECT_EQ(err("POST", "/v1/ping", std::string(50, '[') + std::string(50, ']')).status, 400u);
}

TEST(api, unknown_paths_queries_and_long_targets) {
  EXPECT_EQ(err("GET", "/v1/nothing").status, 404u);
  EXPECT_EQ(err("GET", "/v1/status?verbose=1").status, 400u);
  EXPECT_EQ(err("GET", "/" + std::string(600, 'a')).status, 414u);
  EXPECT_EQ(err("DELETE", "/v1/auth/nope").status, 400u);
}

TEST(api, http_parser_bounds_headers_and_body) {
  auto big_body = "POST /v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" +
                  std::string(20000, 'a');
  auto r = parse_http_request(big_body);
  ASSERT_TRUE(std::holds_alternative<api_error>(r));
  EXPECT_EQ(std::get<api_error>(r).status, 413u);
  auto big_head = "GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n";
  r = parse_http_request(big_head);
  ASSERT_TRUE(std::holds_alternative<api_error>(r));
  EXPECT_EQ(std::get<api_error>(r).status, 431u);
  r = parse_http_request("GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n");
  ASSERT_TRUE(std::holds_alternative<http_request>(r));
  EXPECT_EQ(std::get<http_request>(r).authorization, "Bearer t");
  EXPECT_EQ(std::get<api_error>(parse_http_request("\x01\x02 garbage\r\n\r\n")).status, 400u);
}

TEST(api, cookie_is_accepted_as_bearer_or_session_cookie_only_when_equal) {
  const std::string c(64, 'b');
  EXPECT_TRUE(cookie_matches(c, "Bearer " + c, ""));
  EXPECT_TRUE(cookie_matches(c, "", "a=1; peerup_session=" + c + "; z=2"));
  EXPECT_FALSE(cookie_matches(c, "Bearer " + std::string(64, 'c'), ""));
  EXPECT_FALSE(cookie_matches(c, "Bearer " + c.substr(1), ""));
  EXPECT_FALSE(cookie_matches(c, "", "peerup_session=" + c + "x"));
  EXPECT_FALSE(cookie_matches("", "Bearer ", ""));  // no cookie yet: nothing matches
}

TEST(api, dht_routes_take_a_peer_id_or_a_bounded_key) {
  EXPECT_EQ(ok("GET", "/v1/dht").what, route::dht_status);
  auto f = ok("POST", "/v1/dht/find-peer", R"({"peer":")" + peer + "\"}");
  EXPECT_EQ(f.what, route::dht_find_peer);
  EXPECT_EQ(f.peer->to_string(), peer);
  auto p = ok("POST", "/v1/dht/providers", R"({"key":"/peerup/relays"})");
  EXPECT_EQ(p.what, route::dht_providers);
  EXPECT_EQ(p.key, "/peerup/relays");
  // A name is not enough: the DHT is keyed by peer ID.
  EXPECT_NE(err("POST", "/v1/dht/find-peer", R"({"peer":"home"})").message.find("peer ID"),
            std::string::npos);
  EXPECT_EQ(err("POST", "/v1/dht/providers", R"({"key":""})").status, 400u);
  EXPECT_NE(err("POST", "/v1/dht/providers", R"({"key":")" + std::string(257, 'x') + "\"}")
                .message.find("1 to 256 bytes"),
            std::string::npos);
  EXPECT_NE(err("POST", "/v1/dht/providers", R"({"key":"a\u0001b"})").message.find("control"),
            std::string::npos);
  EXPECT_EQ(err("POST", "/v1/dht").status, 405u);
  EXPECT_NE(err("GET", "/v1/dht", R"({"x":1})").message.find("takes no body"), std::string::npos);
}
