// Issue 17, end to end: home and laptop use different relays. The two relays
// are DHT servers (relay A bootstraps from relay B); home reserves on A only
// and publishes its signed peer record; the laptop, configured with B only,
// finds home's circuit address through A in the DHT and connects by peer ID.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {
namespace {

using ::testing::HasSubstr;

// Home's record, as the DHT hands it out, names its circuit through a relay
// (the first record may predate the reservation; the next one follows it).
bool published(const node& n) {
  auto st = n.peerup({"status", "--json"}, 10s);
  if (st.code != 0 || !std::regex_search(st.out, std::regex(R"("records_published":[1-9])")))
    return false;
  auto r = n.peerup({"dht", "find-peer", n.id}, 30s);
  return r.code == 0 && r.out.find("/p2p-circuit") != std::string::npos;
}

struct two_relays : ::testing::Test {
  temp_dir root;
  node home = init_node(root.path() / "home");
  node laptop = init_node(root.path() / "laptop");
  // Both relays serve the same members (one organisation's relays); B's DHT
  // answers everyone (dht.open), A bootstraps from B.
  relay_process relay_b = start_relay_with(root.path() / "relay-b", "dht:\n  open: true\n");
  relay_process relay_a = start_relay_with(
      root.path() / "relay-a", "dht:\n  bootstrap:\n    - " + relay_b.addr + "\n");

  relay_process start_relay_with(const fs::path& dir, const std::string& yaml) {
    fs::create_directories(dir);
    write_file(dir / "relay.yaml",
               "identity_key: identity.key\nauthorized_keys: authorized_keys\n" + yaml, 0644);
    return start_relay(dir, {home.id, laptop.id}, {"--config", (dir / "relay.yaml").string()});
  }
  void configure(const node& n, const relay_process& relay, const std::string& extra) {
    write_file(n.config(),
               "identity_key: identity.key\nlisten: []\nrelays:\n  - " + relay.addr + "\n" + extra,
               0644);
  }
  // Home on relay A with `service` on `port`, the laptop on relay B (with
  // `laptop_extra`); returns home's daemon once its record is in the DHT.
  daemon_process start_home(std::uint16_t port, const std::string& laptop_extra = "") {
    configure(home, relay_a,
              "services:\n  hello:\n    local_address: 127.0.0.1:" + std::to_string(port) + "\n");
    configure(laptop, relay_b, laptop_extra);
    EXPECT_EQ(home.peerup({"auth", "add", laptop.id}).code, 0);
    auto d = start_daemon(home);
    EXPECT_TRUE(wait_for_status(home, "\"state\":\"reserved\"")) << d.log_text();
    // Its record (with the circuit address through A) reached a DHT server.
    EXPECT_TRUE(eventually([&] { return published(home); }, 30000ms)) << d.log_text();
    return d;
  }
};

TEST_F(two_relays, laptop_finds_home_through_the_dht_and_connects_by_peer_id) {
  counting_server hello("hello across relays\n");
  auto d = start_home(hello.port());
  auto r = laptop.peerup({"connect", home.id, "hello"}, 60s);
  EXPECT_EQ(r.code, 0) << r.err << "\n--- home\n" << d.log_text();
  EXPECT_EQ(r.out, "hello across relays\n");
  EXPECT_EQ(hello.accepts(), 1);
  // The status shows the routing table: home knows the relays as servers.
  auto st = home.peerup({"status"}, 10s);
  EXPECT_THAT(st.out, HasSubstr("dht: client"));
  EXPECT_THAT(st.out, ::testing::ContainsRegex("routing table [12] peers"));
  auto ds = home.peerup({"dht", "status"}, 10s);  // through the control socket
  EXPECT_EQ(ds.code, 0) << ds.err;
  EXPECT_THAT(ds.out, HasSubstr(relay_a.addr.substr(relay_a.addr.rfind('/') + 1)));
}

TEST_F(two_relays, dht_commands_without_a_daemon_find_the_record_and_the_relays) {
  counting_server unused("x\n");
  auto d = start_home(unused.port());
  // A one-shot DHT client from the laptop's relay: home's signed record names
  // its circuit through relay A.
  auto fp = laptop.peerup({"dht", "find-peer", home.id}, 60s);
  ASSERT_EQ(fp.code, 0) << fp.err;
  const auto a_id = relay_a.addr.substr(relay_a.addr.rfind('/') + 1);
  const auto b_id = relay_b.addr.substr(relay_b.addr.rfind('/') + 1);
  EXPECT_THAT(fp.out, HasSubstr("/p2p/" + a_id + "/p2p-circuit"));
  // Both relays provide the relay namespace.
  EXPECT_TRUE(eventually(
      [&] {
        auto pr = laptop.peerup({"dht", "providers", "/peerup/relays"}, 60s);
        return pr.code == 0 && pr.out.find(a_id) != std::string::npos &&
               pr.out.find(b_id) != std::string::npos;
      },
      30000ms));
  auto bad = laptop.peerup({"dht", "find-peer", "not-a-peer"}, 10s);
  EXPECT_NE(bad.code, 0);
  EXPECT_THAT(bad.err, HasSubstr("is not a peer ID"));
}

TEST_F(two_relays, without_the_dht_the_laptop_cannot_reach_home) {
  counting_server hello("hello\n");
  auto d = start_home(hello.port(), "dht:\n  enabled: false\n");
  auto r = laptop.peerup({"connect", home.id, "hello"}, 60s);
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(hello.accepts(), 0);
}

// relays: auto (issue 17, "Relay discovery"): home knows no relay, only a
// bootstrap peer (relay A) and the relay it trusts by peer ID (relay B,
// dht.relay_peers). It finds B as a provider of /peerup/relays through the
// DHT, reserves on it and not on A (A provides the namespace too, but the
// policy does not name it), publishes its circuit through B, and the laptop,
// which knows relay A only, reaches it by peer ID.
TEST_F(two_relays, home_with_relays_auto_finds_relay_b_in_the_dht_and_the_laptop_reaches_it) {
  counting_server hello("hello through a relay found in the DHT\n");
  const auto a_id = relay_a.addr.substr(relay_a.addr.rfind('/') + 1);
  const auto b_id = relay_b.addr.substr(relay_b.addr.rfind('/') + 1);
  write_file(home.config(),
             "identity_key: identity.key\nlisten: []\nrelays: auto\nservices:\n  hello:\n"
             "    local_address: 127.0.0.1:" + std::to_string(hello.port()) +
                 "\ndht:\n  bootstrap:\n    - " + relay_a.addr +
                 "\n  relay_peers:\n    - " + b_id + "\n  max_relays: 1\n",
             0644);
  configure(laptop, relay_a, "");
  ASSERT_EQ(home.peerup({"auth", "add", laptop.id}).code, 0);
  auto d = start_daemon(home);
  // Reserved on B, found through the DHT.
  ASSERT_TRUE(wait_for_status(home, "/p2p/" + b_id + "\",\"state\":\"reserved\"", 60s))
      << d.log_text();
  EXPECT_THAT(d.log_text(), HasSubstr("found through the DHT: reserving"));
  // A was offered too and refused by the policy, never reserved on.
  EXPECT_THAT(d.log_text(), HasSubstr(a_id + ": not in dht.relay_peers"));
  EXPECT_THAT(home.peerup({"status", "--json"}, 10s).out,
              ::testing::Not(HasSubstr("/p2p/" + a_id + "\",\"state\"")));
  EXPECT_TRUE(eventually([&] { return published(home); }, 30000ms)) << d.log_text();
  auto r = laptop.peerup({"connect", home.id, "hello"}, 60s);
  EXPECT_EQ(r.code, 0) << r.err << "\n--- home\n" << d.log_text();
  EXPECT_EQ(r.out, "hello through a relay found in the DHT\n");
  EXPECT_EQ(hello.accepts(), 1);
  // A daemon with no relay at all (only a bootstrap peer) pings home by peer
  // ID: its resolver has no plan, so it asks the DHT instead of refusing.
  write_file(laptop.config(),
             "identity_key: identity.key\nlisten: []\nrelays: []\ndht:\n  bootstrap:\n    - " +
                 relay_a.addr + "\n",
             0644);
  // The laptop's daemon authorizes home (its gater refuses unknown peers).
  ASSERT_EQ(laptop.peerup({"auth", "add", home.id}).code, 0);
  auto ld = start_daemon(laptop);
  auto p = laptop.peerup({"ping", home.id, "-c", "1"}, 60s);
  EXPECT_EQ(p.code, 0) << p.out << p.err << "\n--- laptop daemon\n" << ld.log_text();
  EXPECT_THAT(p.out, HasSubstr("relayed"));
}

// The policy is enforced: with relays: auto and relay_peers naming a relay
// that does not exist, home reserves on nothing although both relays are in
// the DHT.
TEST_F(two_relays, relays_auto_reserves_only_on_relays_the_policy_names) {
  const auto a_id = relay_a.addr.substr(relay_a.addr.rfind('/') + 1);
  const auto b_id = relay_b.addr.substr(relay_b.addr.rfind('/') + 1);
  const node stranger = init_node(root.path() / "stranger");
  write_file(home.config(),
             "identity_key: identity.key\nlisten: []\nrelays: auto\ndht:\n  bootstrap:\n    - " +
                 relay_a.addr + "\n  relay_peers:\n    - " + stranger.id + "\n",
             0644);
  auto d = start_daemon(home);
  EXPECT_TRUE(eventually(
      [&] {
        const auto log = d.log_text();
        return log.find(a_id + ": not in dht.relay_peers") != std::string::npos &&
               log.find(b_id + ": not in dht.relay_peers") != std::string::npos;
      },
      60000ms))
      << d.log_text();
  EXPECT_THAT(d.log_text(), ::testing::Not(HasSubstr("reserved on relay")));
}

}  // namespace
}  // namespace peerup::e2e
