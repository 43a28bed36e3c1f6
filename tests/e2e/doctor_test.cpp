// `peerup doctor` (issue 15): one line per check with ok/warn/fail and a fix,
// or --json. Real processes: a relay, the home daemon, files with bad modes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The line of `out` that starts with `prefix` ("" if none).
std::string line_of(const std::string& out, const std::string& prefix) {
  std::size_t at = 0;
  while (at < out.size()) {
    const auto end = out.find('\n', at);
    const auto line = out.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.rfind(prefix, 0) == 0) return line;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return {};
}

TEST(doctor, a_healthy_node_reports_its_relay_reservation_agent_and_nat) {
  temp_dir root;
  node home = init_node(root.path() / "home");
  // The relay listens on QUIC too (its second line), so doctor can ask over UDP.
  auto relay = start_relay(root.path() / "relay", {home.id},
                           {"--listen", "/ip4/127.0.0.1/udp/0/quic-v1"});
  write_file(home.config(),
             "identity_key: identity.key\nlisten: []\nrelays:\n  - " + relay.addr +
                 "\nnames:\n  laptop: 12D3KooWAwhPAXA4eG8q1QSR9AmTebGSdGhnWT2skUNaQimmyUgY\n",
             0644);
  ASSERT_EQ(
      home.peerup({"auth", "add", "12D3KooWAwhPAXA4eG8q1QSR9AmTebGSdGhnWT2skUNaQimmyUgY"}).code, 0);
  auto d = start_daemon(home);
  ASSERT_TRUE(wait_for_status(home, "\"state\":\"reserved\"")) << d.log_text();

  auto version = run({peerup_binary, "--version"});
  ASSERT_EQ(version.code, 0);
  const auto v = version.out.substr(std::string("peerup ").size(),
                                    version.out.find('\n') - std::string("peerup ").size());

  auto r = home.peerup({"doctor"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(line_of(r.out, "ok   config:"), HasSubstr("parsed")) << r.out;
  EXPECT_THAT(line_of(r.out, "ok   identity key:"), HasSubstr(home.id)) << r.out;
  EXPECT_THAT(line_of(r.out, "ok   authorized_keys:"), HasSubstr("1 peers")) << r.out;
  const auto relay_line = line_of(r.out, "ok   relay " + relay.addr);
  EXPECT_THAT(relay_line, HasSubstr("reachable in")) << r.out;
  // The relay's identify agent carries the one CMake version.
  EXPECT_THAT(relay_line, HasSubstr("agent peerup/" + v)) << r.out;
  EXPECT_THAT(relay_line, HasSubstr("sees us at /ip4/127.0.0.1/tcp/")) << r.out;
  EXPECT_THAT(relay_line, HasSubstr("reserved until")) << r.out;
  EXPECT_THAT(r.out, HasSubstr(" nat: TCP: ")) << r.out;
  // The same relay over QUIC from one UDP port: on loopback nothing
  // translates, so the port it sees is ours.
  EXPECT_THAT(relay_line, HasSubstr("over QUIC at /ip4/127.0.0.1/udp/")) << r.out;
  EXPECT_THAT(line_of(r.out, "ok   nat: UDP:"), HasSubstr("no port translation")) << r.out;
  EXPECT_THAT(r.out, HasSubstr(" peer laptop: direct path")) << r.out;

  auto j = home.peerup({"doctor", "--json"});
  EXPECT_EQ(j.code, 0) << j.err;
  EXPECT_EQ(j.out.rfind("{\"checks\":[", 0), 0u) << j.out;
  EXPECT_THAT(j.out, HasSubstr("\"check\":\"relay " + relay.addr + "\",\"status\":\"ok\""));
  EXPECT_THAT(j.out, HasSubstr("\"fail\":0}"));
}

TEST(doctor, bad_modes_and_a_dead_relay_fail_with_a_fix) {
  temp_dir root;
  node home = init_node(root.path() / "home");
  // A relay address nobody listens on (a port just freed).
  const auto port = free_port();
  node other = init_node(root.path() / "other");
  write_file(home.config(),
             "identity_key: identity.key\nrelays:\n  - /ip4/127.0.0.1/tcp/" + std::to_string(port) +
                 "/p2p/" + other.id + "\n",
             0666);
  ASSERT_EQ(::chmod((home.dir / "identity.key").c_str(), 0644), 0);
  ASSERT_EQ(::chmod(home.config().c_str(), 0666), 0);

  auto r = home.peerup({"doctor", "--timeout", "2"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_THAT(line_of(r.out, "warn config:"), HasSubstr("chmod 644")) << r.out;
  EXPECT_THAT(line_of(r.out, "fail identity key:"), HasSubstr("-> fix: chmod 600")) << r.out;
  EXPECT_THAT(line_of(r.out, "warn daemon:"), HasSubstr("not running")) << r.out;
  // With the key unreadable for safety, relays are not dialed as this node.
  EXPECT_THAT(r.out, Not(HasSubstr("ok   relay")));

  ASSERT_EQ(::chmod((home.dir / "identity.key").c_str(), 0600), 0);
  auto r2 = home.peerup({"doctor", "--timeout", "2"});
  EXPECT_EQ(r2.code, 1) << r2.out << r2.err;
  EXPECT_THAT(line_of(r2.out, "fail relay /ip4/127.0.0.1/tcp/" + std::to_string(port)),
              HasSubstr("unreachable"))
      << r2.out;
  EXPECT_THAT(r2.out, HasSubstr("-> fix: check the address")) << r2.out;
}

}  // namespace
}  // namespace peerup::e2e
