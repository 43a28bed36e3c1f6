// Target plans: how a name, a peer ID or a multiaddr becomes addresses to
// dial for connect/proxy/ping. Names go through the name_resolver, so every
// tier `peerup resolve` knows works here too (issue 21, defect 1).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "crypto/keys.hpp"
#include "naming/target.hpp"
#include "support/async_test.hpp"
#include "support/temp_dir.hpp"

namespace peerup::app {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct targets : ::testing::Test {
  peer_id home = private_key::generate().to_peer_id();
  peer_id relay = private_key::generate().to_peer_id();
  peer_id net_relay = private_key::generate().to_peer_id();
  net::asio::io_context io;
  net::host h{io.get_executor(), net::host_config{.identity = private_key::generate()}};
  test::temp_dir dir;
  config cfg;

  std::string relay_addr() const { return "/ip4/203.0.113.7/tcp/4001/p2p/" + relay.to_string(); }
  std::string net_relay_addr() const {
    return "/ip4/198.51.100.3/tcp/4001/p2p/" + net_relay.to_string();
  }
  void load(const std::string& text) {
    auto c = load_config(dir.write("config.yaml", text));
    ASSERT_TRUE(c) << c.error().to_string();
    cfg = std::move(*c);
  }
  void load_default() {
    load("relays:\n  - " + relay_addr() + "\nnames:\n  home: " + home.to_string() +
         "\n  lab: /ip4/192.0.2.1/tcp/4001/p2p/" + home.to_string() + "\n");
  }
  target_result plan(const std::string& text) {
    name_resolver r(h, cfg);
    std::optional<target_result> out;
    test::run_async(
        io,
        [&]() -> net::awaitable<void> {
          auto got = co_await resolve_target(r, text);
          out = std::move(got);
        },
        30s);
    return std::move(*out);
  }
};

TEST_F(targets, a_name_dials_through_every_configured_relay) {
  load_default();
  auto p = plan("home");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->peer, home);
  EXPECT_FALSE(p->exact);
  EXPECT_EQ(p->source, "names:");
  ASSERT_EQ(p->addrs.size(), 1u);
  EXPECT_EQ(p->addrs[0].to_string(), relay_addr() + "/p2p-circuit/p2p/" + home.to_string());
}

TEST_F(targets, a_name_with_an_address_tries_it_before_the_relays) {
  load_default();
  auto p = plan("lab");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->addrs.size(), 2u);
  EXPECT_FALSE(p->addrs[0].is_relayed());
  EXPECT_TRUE(p->addrs[1].is_relayed());
}

TEST_F(targets, names_match_case_insensitively_like_resolve) {
  load_default();
  auto p = plan("HOME");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->peer, home);
  auto suffixed = plan("Home.p2p.");
  ASSERT_TRUE(suffixed) << suffixed.error().message;
  EXPECT_EQ(suffixed->peer, home);
}

TEST_F(targets, a_name_only_in_the_names_file_resolves) {
  dir.write("names.txt", "attic " + home.to_string() + "\n");
  load("relays:\n  - " + relay_addr() + "\nnames_file: names.txt\n");
  auto p = plan("attic");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->peer, home);
  EXPECT_THAT(p->source, HasSubstr("names file"));
  ASSERT_EQ(p->addrs.size(), 1u);
}

TEST_F(targets, the_relays_of_networks_build_circuits_when_there_is_no_relays_key) {
  load("networks:\n  grewal:\n    - " + net_relay_addr() + "\nnames:\n  home: " +
       home.to_string() + "\n");
  auto by_name = plan("home");
  ASSERT_TRUE(by_name) << by_name.error().message;
  ASSERT_EQ(by_name->addrs.size(), 1u);
  EXPECT_EQ(by_name->addrs[0].to_string(),
            net_relay_addr() + "/p2p-circuit/p2p/" + home.to_string());
  auto by_id = plan(home.to_string());
  ASSERT_TRUE(by_id) << by_id.error().message;
  ASSERT_EQ(by_id->addrs.size(), 1u);
  EXPECT_TRUE(by_id->addrs[0].is_relayed());
}

TEST_F(targets, relays_and_network_relays_both_give_circuits_each_once) {
  load("relays:\n  - " + relay_addr() + "\nnetworks:\n  a:\n    - " + net_relay_addr() +
       "\n  b:\n    - " + net_relay_addr() + "\n    - " + relay_addr() + "\n");
  auto p = plan(home.to_string());
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->addrs.size(), 2u);
  EXPECT_EQ(p->addrs[0].to_string(), relay_addr() + "/p2p-circuit/p2p/" + home.to_string());
  EXPECT_EQ(p->addrs[1].to_string(), net_relay_addr() + "/p2p-circuit/p2p/" + home.to_string());
}

TEST_F(targets, a_peer_id_works_without_a_name) {
  load_default();
  auto p = plan(home.to_string());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->peer, home);
  EXPECT_EQ(p->addrs.size(), 1u);
}

TEST_F(targets, a_multiaddr_is_dialed_exactly_and_must_name_the_peer) {
  load_default();
  auto p = plan("/ip4/127.0.0.1/tcp/4001/p2p/" + home.to_string());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->exact);
  EXPECT_TRUE(p->addrs.empty());
  auto bad = plan("/ip4/127.0.0.1/tcp/4001");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("must end in /p2p/<peer-id>"));
  auto direct = plan_multiaddr("/ip4/127.0.0.1/tcp/4001");
  ASSERT_FALSE(direct);
  EXPECT_THAT(direct.error().message, HasSubstr("must end in /p2p/<peer-id>"));
}

TEST_F(targets, unknown_names_and_unreachable_peers_are_explained_like_resolve) {
  load_default();
  auto unknown = plan("nas");
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message, HasSubstr("name \"nas\" not found (tried local:"));
  load("names:\n  home: " + home.to_string() + "\n");
  auto no_relays = plan("home");
  ASSERT_FALSE(no_relays);
  EXPECT_THAT(no_relays.error().message, HasSubstr("no address for " + home.to_string()));
  EXPECT_THAT(no_relays.error().message, HasSubstr("add a relay"));
}

}  // namespace
}  // namespace peerup::app
