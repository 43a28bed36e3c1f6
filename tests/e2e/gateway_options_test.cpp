// `peerup gateway` options and edge cases with real clients (issue 6): RFC 1929
// logins from gateway.users with curl, the DNS server's configured TTL and
// AAAA, EDNS0, truncation to 512 bytes and the TCP retry with dig, and the
// SOCKS reply codes for everything the gateway must not or cannot reach.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>

#include "e2e/gateway_support.hpp"

namespace peerup::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// curl's exit code for a proxy handshake failure (CURLE_PROXY, curl >= 7.73).
constexpr int curl_proxy_error = 97;

std::vector<std::string> dig_args(std::uint16_t port, std::vector<std::string> more) {
  std::vector<std::string> argv{"dig",     "@127.0.0.1", "-p", std::to_string(port),
                                "+time=5", "+tries=1"};
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

TEST_F(gateway_e2e, socks_users_from_the_config_must_log_in_with_rfc1929) {
  auto http = serve_page();
  const std::string port = std::to_string(http.port);
  auto d = start_home("  web:\n    local_address: 127.0.0.1:" + port + "\n",
                      "gateway:\n  users:\n    alice: \"s3cret:x\"\n    bob: hunter2\n");
  auto gw = start_gateway(client);
  const std::string url = "http://laptop.grewal:" + port + "/page.txt";
  const std::string proxy = "127.0.0.1:" + std::to_string(gw.socks);

  // Both ways curl takes credentials: --proxy-user, and user:pass@ in the proxy.
  auto alice = curl_socks(gw.socks, url, {"--proxy-user", "alice:s3cret:x"});
  ASSERT_EQ(alice.code, 0) << alice.err << "\n" << gw.log_text();
  EXPECT_EQ(alice.out, page);
  auto bob = curl_socks(gw.socks, url, {"--socks5-hostname", "bob:hunter2@" + proxy});
  ASSERT_EQ(bob.code, 0) << bob.err << "\n" << gw.log_text();
  EXPECT_EQ(bob.out, page);

  auto wrong = curl_socks(gw.socks, url, {"--proxy-user", "alice:s3cret"});
  EXPECT_EQ(wrong.code, curl_proxy_error) << wrong.err;
  auto stranger = curl_socks(gw.socks, url, {"--proxy-user", "mallory:hunter2"});
  EXPECT_EQ(stranger.code, curl_proxy_error) << stranger.err;
  auto anonymous = curl_socks(gw.socks, url);  // offers no-auth only
  EXPECT_EQ(anonymous.code, curl_proxy_error) << anonymous.err;
  EXPECT_THAT(anonymous.err, HasSubstr("authentication method"));

  // On the wire: of no-auth and username/password, the gateway picks the
  // latter, answers a bad password with a non-zero status and closes.
  const int fd = connect_to(gw.socks);
  ASSERT_GE(fd, 0);
  const std::string greet("\x05\x02\x00\x02", 4);
  const std::string login = std::string("\x01\x05", 2) + "alice" + "\x04" + "nope";
  (void)::send(fd, greet.data(), greet.size(), MSG_NOSIGNAL);
  EXPECT_EQ(receive(fd, 2, 5000ms), std::string("\x05\x02", 2));
  (void)::send(fd, login.data(), login.size(), MSG_NOSIGNAL);
  const std::string status = receive(fd, 2, 5000ms);
  ASSERT_EQ(status.size(), 2u);
  EXPECT_EQ(status[0], '\x01');
  EXPECT_NE(status[1], '\x00');
  EXPECT_TRUE(closed_by_peer(fd, 5000ms));
  ::close(fd);
}

TEST_F(gateway_e2e, socks_users_in_a_config_others_can_read_stop_the_gateway) {
  auto d = start_home("  web:\n    local_address: 127.0.0.1:1\n",
                      "gateway:\n  users:\n    alice: s3cret\n");
  fs::permissions(client.config(), fs::perms(0644));
  auto r = client.peerup({"gateway", "--socks", "127.0.0.1:0"}, 20s);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("gateway.users"));
}

TEST_F(gateway_e2e, dns_answers_carry_the_configured_ttl_aaaa_and_edns_and_never_recursion) {
  auto http = serve_page();
  const std::string port = std::to_string(http.port);
  auto d = start_home("  web:\n    local_address: 127.0.0.1:" + port + "\n",
                      "gateway:\n  ttl: 123\n  aaaa: true\n");
  auto gw = start_gateway(client);

  auto a = run(dig_args(gw.dns, {"laptop.grewal.p2p"}));
  ASSERT_EQ(a.code, 0) << a.err;
  std::smatch m;
  const std::regex a_line(R"(laptop\.grewal\.p2p\.\s+123\s+IN\s+A\s+(127\.64\.\d+\.\d+))");
  ASSERT_TRUE(std::regex_search(a.out, m, a_line)) << a.out << gw.log_text();
  const std::string ip = m[1];
  // Authoritative, recursion asked for (dig's default) but not available.
  EXPECT_THAT(a.out, HasSubstr("flags: qr aa rd;"));
  EXPECT_THAT(a.out, HasSubstr("recursion requested but not available"));
  EXPECT_THAT(a.out, HasSubstr("EDNS: version: 0, flags:; udp: 1232"));

  auto aaaa = run(dig_args(gw.dns, {"AAAA", "laptop.grewal.p2p"}));
  EXPECT_TRUE(std::regex_search(
      aaaa.out, std::regex(R"(laptop\.grewal\.p2p\.\s+123\s+IN\s+AAAA\s+::ffff:)" + ip)))
      << aaaa.out;
  // The IPv4-mapped address reaches the same listener (where the kernel has IPv6).
  if (fs::exists("/proc/net/if_inet6")) {
    const auto out = root.path() / "via-aaaa.txt";
    auto curl = run({"curl", "-sS", "--max-time", "30", "-o", out.string(),
                     "http://[::ffff:" + ip + "]:" + port + "/page.txt"});
    EXPECT_EQ(curl.code, 0) << curl.err << "\n" << gw.log_text();
    if (curl.code == 0) {
      EXPECT_EQ(read_file(out), page);
    }
  }

  // A service label in front of the name: the same peer, the same address.
  auto by_service = run(dig_args(gw.dns, {"+short", "web.laptop.grewal.p2p"}));
  EXPECT_EQ(by_service.out, ip + "\n");

  // A miss is NXDOMAIN with the zone's SOA at the configured TTL, so
  // resolvers cache the miss that long.
  auto missing = run(dig_args(gw.dns, {"nobody.p2p"}));
  EXPECT_THAT(missing.out, HasSubstr("status: NXDOMAIN"));
  EXPECT_TRUE(std::regex_search(missing.out, std::regex(R"(\np2p\.\s+123\s+IN\s+SOA\s)")))
      << missing.out;
  // Outside the zone: REFUSED, nothing forwarded anywhere, even when asked to recurse.
  auto outside = run(dig_args(gw.dns, {"+recurse", "debian.org"}));
  EXPECT_THAT(outside.out, HasSubstr("status: REFUSED"));
  EXPECT_THAT(outside.out, HasSubstr("ANSWER: 0, AUTHORITY: 0"));

  // EDNS versions above 0 get BADVERS; without EDNS no OPT record comes back.
  auto v1 = run(dig_args(gw.dns, {"+edns=1", "+noednsnegotiation", "laptop.grewal.p2p"}));
  EXPECT_THAT(v1.out, HasSubstr("status: BADVERS")) << v1.out;
  auto plain = run(dig_args(gw.dns, {"+noedns", "laptop.grewal.p2p"}));
  EXPECT_THAT(plain.out, HasSubstr("status: NOERROR"));
  EXPECT_THAT(plain.out, Not(HasSubstr("OPT PSEUDOSECTION")));
}

// A zone of three 63-byte labels makes an NXDOMAIN answer (question + SOA
// with three names in the zone) about 850 bytes: too big for plain DNS over
// UDP (512), small enough for dig's EDNS0 size (1232).
TEST_F(gateway_e2e, dns_answers_over_512_bytes_are_truncated_and_whole_over_tcp) {
  const std::string label(63, 'z');
  const std::string zone = label + "." + label + "." + label;
  auto d = start_home("  web:\n    local_address: 127.0.0.1:1\n");
  auto gw = start_gateway(client, {"--zone", zone});
  const std::string miss = "nobody." + zone;

  auto cut = run(dig_args(gw.dns, {"+noedns", "+ignore", miss}));
  EXPECT_TRUE(std::regex_search(cut.out, std::regex(R"(flags: qr aa tc rd;)"))) << cut.out;
  EXPECT_THAT(cut.out, HasSubstr("AUTHORITY: 0"));
  auto retried = run(dig_args(gw.dns, {"+noedns", miss}));  // dig retries over TCP
  EXPECT_THAT(retried.out, HasSubstr("Truncated, retrying in TCP mode"));
  EXPECT_THAT(retried.out, HasSubstr("status: NXDOMAIN"));
  EXPECT_THAT(retried.out, HasSubstr("AUTHORITY: 1"));
  auto edns = run(dig_args(gw.dns, {miss}));
  EXPECT_THAT(edns.out, Not(HasSubstr("Truncated")));
  EXPECT_THAT(edns.out, HasSubstr("flags: qr aa rd;"));
  EXPECT_THAT(edns.out, HasSubstr("AUTHORITY: 1"));

  // Names in the long zone resolve as in p2p.
  auto found = run(dig_args(gw.dns, {"+short", "laptop.grewal." + zone}));
  EXPECT_TRUE(std::regex_match(found.out, std::regex(R"(127\.64\.\d+\.\d+\n)")))
      << found.out << gw.log_text();
}

TEST_F(gateway_e2e, socks_never_dials_anything_but_peers_even_on_this_machine) {
  counting_server svc("must not be reached directly\n");
  const std::uint16_t p = svc.port();
  auto d = start_home("  hello:\n    local_address: 127.0.0.1:" + std::to_string(p) + "\n");
  auto gw = start_gateway(client);
  EXPECT_EQ(socks_reply(gw.socks, "localhost", p), 0x02);
  EXPECT_EQ(socks_reply(gw.socks, "127.0.0.1", p), 0x02);
  EXPECT_EQ(socks_reply(gw.socks, "127.64.0.7", p), 0x02);  // a virtual IP never handed out
  EXPECT_EQ(socks_reply(gw.socks, "debian.org", 443), 0x02);

  // An IPv6 destination (ATYP 4, ::1) is refused the same way.
  const int fd = connect_to(gw.socks);
  ASSERT_GE(fd, 0);
  std::string req("\x05\x01\x00\x05\x01\x00\x04", 7);
  req += std::string(15, '\0') + '\x01';
  req += static_cast<char>(p >> 8);
  req += static_cast<char>(p & 0xff);
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  const std::string got = receive(fd, 12, 10000ms);
  ::close(fd);
  ASSERT_EQ(got.size(), 12u);
  EXPECT_EQ(got[3], '\x02');

  // curl reports the refusal as a proxy error and fetches nothing.
  auto curl = curl_socks(gw.socks, "http://localhost:" + std::to_string(p) + "/");
  EXPECT_EQ(curl.code, curl_proxy_error) << curl.err;
  EXPECT_EQ(svc.accepts(), 0);
  // Through the peer, the same service is reached.
  EXPECT_EQ(socks_reply(gw.socks, "home", p), 0x00);
  EXPECT_TRUE(eventually([&] { return svc.accepts() == 1; }));
}

TEST_F(gateway_e2e,
       socks_reports_not_allowed_and_host_unreachable_for_peers_that_refuse_or_are_gone) {
  counting_server svc("hello\n");
  const node ghost = init_node(root.path() / "ghost");  // a peer ID that never runs
  // Appended to the client's names: map: "ghost" names the peer that never runs.
  auto d = start_home("  hello:\n    local_address: 127.0.0.1:" + std::to_string(svc.port()) + "\n",
                      "  ghost: " + ghost.id + "\n", /*authorize_client=*/false);
  auto gw = start_gateway(client);
  // home does not have the gateway's peer ID in its authorized_keys.
  EXPECT_EQ(socks_reply(gw.socks, "laptop.grewal", svc.port()), 0x02) << gw.log_text();
  EXPECT_EQ(socks_reply(gw.socks, "hello.home", 1), 0x02);
  EXPECT_EQ(socks_reply(gw.socks, "ghost", svc.port()), 0x04) << gw.log_text();
  EXPECT_EQ(svc.accepts(), 0);
}

}  // namespace
}  // namespace peerup::e2e
