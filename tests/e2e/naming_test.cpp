// `peerup resolve` with real processes (issue 6): a relay serving names for
// network "grewal", a home daemon registering host_name "home" there, and a
// client resolving through each tier.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct naming : ::testing::Test {
  temp_dir root;
  node home = init_node(root.path() / "home");
  node client = init_node(root.path() / "client");
  node outsider = init_node(root.path() / "outsider");  // not on the relay's list
  relay_process relay =
      start_relay(root.path() / "relay", {home.id, client.id}, {"--network", "grewal"});

  std::string network_section() const { return "networks:\n  grewal:\n    - " + relay.addr + "\n"; }
  void configure_client(const node& n) {
    write_file(
        n.config(),
        "identity_key: identity.key\n" + network_section() + "names:\n  nas: " + home.id + "\n",
        0644);
  }
  daemon_process start_home(const std::string& services = "") {
    write_file(home.config(),
               "identity_key: identity.key\nlisten: []\nhost_name: home\n" + network_section() +
                   services,
               0644);
    auto d = start_daemon(home);
    EXPECT_TRUE(eventually([&] {
      return d.log_text().find("names: registered home.grewal") != std::string::npos;
    })) << d.log_text();
    return d;
  }
};

TEST_F(naming, resolve_shows_each_tier_and_lists_the_tiers_tried_when_not_found) {
  configure_client(client);
  auto d = start_home();

  auto by_relay = client.peerup({"resolve", "home.grewal"}, 30s);
  EXPECT_EQ(by_relay.code, 0) << by_relay.err << d.log_text();
  EXPECT_THAT(by_relay.out, HasSubstr("home.grewal -> " + home.id));
  EXPECT_THAT(by_relay.out, HasSubstr("tier:   relay"));
  EXPECT_THAT(by_relay.out, HasSubstr("source: relay grewal (" + relay.addr + ")"));
  EXPECT_THAT(by_relay.out, HasSubstr(relay.addr + "/p2p-circuit/p2p/" + home.id));

  auto json = client.peerup({"resolve", "home.grewal.p2p", "--json"}, 30s);
  EXPECT_EQ(json.code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"peer\":\"" + home.id + "\""));
  EXPECT_THAT(json.out, HasSubstr("\"tier\":\"relay\""));
  EXPECT_THAT(json.out, HasSubstr("\"cached\":false"));

  auto local = client.peerup({"resolve", "nas", "--json"}, 30s);
  EXPECT_EQ(local.code, 0) << local.err;
  EXPECT_THAT(local.out, HasSubstr("\"tier\":\"local\",\"source\":\"names:\""));

  auto literal = client.peerup({"resolve", home.id}, 30s);
  EXPECT_EQ(literal.code, 0) << literal.err;
  EXPECT_THAT(literal.out, HasSubstr("tier:   peer-id"));

  auto missing = client.peerup({"resolve", "ghost.grewal"}, 30s);
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err,
              HasSubstr("name \"ghost.grewal\" not found (tried local: not in names:"));
  EXPECT_THAT(missing.err, HasSubstr("relay grewal: " + relay.addr + " says not registered"));
  EXPECT_THAT(missing.err, HasSubstr("peer-id: not a peer ID)"));
  EXPECT_THAT(missing.out, Not(HasSubstr(home.id)));
}

// Issue 21, defect 1: connect, ping and proxy take every name resolve takes,
// and a client with only `networks:` (no `relays:`) reaches a peer through
// the network's relay.
TEST_F(naming, connect_ping_and_proxy_resolve_every_tier_like_resolve) {
  write_file(client.dir / "names.txt", "attic " + home.id + "\n", 0644);
  write_file(client.config(),
             "identity_key: identity.key\n" + network_section() + "names:\n  nas: " + home.id +
                 "\nnames_file: names.txt\n",
             0644);
  EXPECT_EQ(home.peerup({"auth", "add", client.id}).code, 0);
  counting_server hello("hello by name\n");
  auto d = start_home("services:\n  hello:\n    local_address: 127.0.0.1:" +
                      std::to_string(hello.port()) + "\n");
  ASSERT_TRUE(wait_for_status(home, "\"state\":\"reserved\"")) << d.log_text();

  for (const std::string& target :
       std::vector<std::string>{"home.grewal", "HOME.grewal.p2p", "NAS", "attic", home.id}) {
    auto r = client.peerup({"connect", target, "hello", "--no-hole-punch"}, 30s);
    EXPECT_EQ(r.code, 0) << target << ": " << r.err << d.log_text();
    EXPECT_EQ(r.out, "hello by name\n") << target;
  }
  auto ping = client.peerup({"ping", "home.grewal", "-c", "1"}, 30s);
  EXPECT_EQ(ping.code, 0) << ping.err;
  EXPECT_THAT(ping.out, HasSubstr("path=relayed"));

  auto proxy = start_proxy(client, "home.grewal", "hello");
  auto got = shell("timeout 20 bash -c 'cat < /dev/tcp/127.0.0.1/" + std::to_string(proxy.port) +
                   "'");
  EXPECT_EQ(got.out, "hello by name\n") << got.err;

  auto missing = client.peerup({"connect", "ghost.grewal", "hello"}, 30s);
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("name \"ghost.grewal\" not found (tried local:"));
  EXPECT_THAT(missing.err, HasSubstr("relay grewal: " + relay.addr + " says not registered"));
}

TEST_F(naming, relay_refuses_lookups_from_a_peer_it_does_not_know) {
  configure_client(outsider);
  auto d = start_home();
  auto r = outsider.peerup({"resolve", "home.grewal", "--json"}, 30s);
  EXPECT_EQ(r.code, 1);
  // The relay refused to say: the name may exist (SERVFAIL, not NXDOMAIN).
  EXPECT_THAT(r.out, HasSubstr("\"error\":\"lookup_failed\""));
  EXPECT_THAT(r.err, HasSubstr("refused: permission denied"));
  EXPECT_THAT(relay.log_text(),
              HasSubstr("names: refused request from unauthorized peer " + outsider.id));
}

}  // namespace
}  // namespace peerup::e2e
