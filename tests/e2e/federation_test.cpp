// Connections across networks (issue 18, docs/federation.md) with real
// processes on loopback: three relays (grewal, bob, alice) serving names and
// federation, bob's home node "server" registered at the bob relay, and a
// grewal member ("laptop") dialing server.bob through the bob relay, which
// asks the grewal relay whether laptop is its member. Peerings are made with
// `peerup relay federation add|remove` on running relays (applied in 2 s).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct federation : ::testing::Test {
  temp_dir root;
  node laptop = init_node(root.path() / "laptop");      // member of grewal
  node server = init_node(root.path() / "server");      // bob's home node
  node visitor = init_node(root.path() / "visitor");    // member of alice
  node stranger = init_node(root.path() / "stranger");  // member of nothing
  relay_process grewal = start_network_relay(root.path() / "grewal", "grewal", {laptop.id});
  relay_process bob = start_network_relay(root.path() / "bob", "bob", {server.id});
  relay_process alice = start_network_relay(root.path() / "alice", "alice", {visitor.id});
  counting_server hello{"hello across networks\n"};

  fs::path dir(const std::string& relay) const { return root.path() / relay; }
  void peer(const std::string& at, const std::string& network, const relay_process& r,
            const std::string& trust) {
    auto a = run({peerup_binary, "relay", "federation", "add", "--dir", dir(at).string(), network,
                  r.addr, "--trust", trust});
    ASSERT_EQ(a.code, 0) << a.err;
  }
  void member_of(const node& n, const std::string& network, const relay_process& r) {
    write_file(n.config(),
               "identity_key: identity.key\nnetworks:\n  " + network + ":\n    - " + r.addr + "\n",
               0644);
  }
  daemon_process start_server() {
    write_file(server.config(),
               "identity_key: identity.key\nlisten: []\nhost_name: server\nnetworks:\n  bob:\n    - " +
                   bob.addr + "\nservices:\n  hello:\n    local_address: 127.0.0.1:" +
                   std::to_string(hello.port()) + "\n",
               0644);
    auto d = start_daemon(server);
    EXPECT_TRUE(wait_for_status(server, "\"state\":\"reserved\"")) << d.log_text();
    EXPECT_TRUE(eventually([&] {
      return d.log_text().find("names: registered server.bob") != std::string::npos;
    })) << d.log_text();
    return d;
  }
  static std::string id_of(const relay_process& r) {
    return r.addr.substr(r.addr.rfind("/p2p/") + 5);
  }
  std::string circuit() const { return bob.addr + "/p2p-circuit/p2p/" + server.id; }
  // Waits until `n` resolves server.bob (the peerings are applied).
  bool resolves(const node& n) {
    return eventually([&] { return n.peerup({"resolve", "server.bob"}, 20s).code == 0; }, 15000ms);
  }
  run_result dial(const node& n, const std::string& target) {
    return n.peerup({"connect", target, "hello", "--no-hole-punch"}, 40s);
  }
};

// grewal's members reach bob's hosts: grewal lists bob full (it asks bob and
// vouches for its members), bob lists grewal one_way (grewal's members reach
// bob, bob's never reach grewal). Bob's home authorizes laptop.
TEST_F(federation, member_of_another_network_reaches_a_host_that_authorizes_it) {
  peer("grewal", "bob", bob, "full");
  peer("bob", "grewal", grewal, "one_way");
  member_of(laptop, "grewal", grewal);
  ASSERT_EQ(server.peerup({"auth", "add", laptop.id}).code, 0);
  auto d = start_server();
  ASSERT_TRUE(resolves(laptop)) << grewal.log_text() << bob.log_text();

  auto r = dial(laptop, "server.bob");
  EXPECT_EQ(r.code, 0) << r.err << bob.log_text() << d.log_text();
  EXPECT_EQ(r.out, "hello across networks\n");
  EXPECT_THAT(bob.log_text(),
              HasSubstr(laptop.id + " is a member of network grewal (its relay says so)"));
  EXPECT_THAT(grewal.log_text(), HasSubstr("network bob asked whether " + laptop.id +
                                           " is our member: yes"));
  // The proxy goes the same way.
  auto proxy = start_proxy(laptop, "server.bob", "hello");
  auto got = shell("timeout 20 bash -c 'cat < /dev/tcp/127.0.0.1/" + std::to_string(proxy.port) +
                   "'");
  EXPECT_EQ(got.out, "hello across networks\n") << got.err << proxy.log_text();

  // `federation list` reads the running relay's state.
  run_result list;
  EXPECT_TRUE(eventually([&] {
    list = run({peerup_binary, "relay", "federation", "list", "--dir", dir("grewal").string()});
    return list.out.find("names known 1") != std::string::npos;
  })) << list.out << list.err;
  EXPECT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("relay running; federation of network grewal: 1 peerings"));
  EXPECT_THAT(list.out, HasSubstr("bob  full  up  last refresh "));
  EXPECT_THAT(list.out, HasSubstr("names known 1  " + bob.addr));
}

// Federation grants reachability, never access: the bob relay lets laptop
// through, and bob's home node refuses it.
TEST_F(federation, home_that_does_not_authorize_the_member_refuses_it) {
  peer("grewal", "bob", bob, "full");
  peer("bob", "grewal", grewal, "full");
  member_of(laptop, "grewal", grewal);
  auto d = start_server();
  ASSERT_TRUE(resolves(laptop));
  auto r = dial(laptop, "server.bob");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_EQ(hello.accepts(), 0);
  EXPECT_THAT(bob.log_text(), HasSubstr(laptop.id + " is a member of network grewal"));
  EXPECT_THAT(bob.log_text(), Not(HasSubstr("circuit " + laptop.id + " -> " + server.id +
                                            " refused")));
}

// one_way the wrong way: grewal lists bob one_way (bob's members reach
// grewal, never the reverse), so grewal neither resolves server.bob for
// laptop nor vouches for it; bob lists grewal full and asks. Then bob drops
// the peering: it has nobody to ask. A member of alice (peered with bob)
// still gets through; a stranger never does.
TEST_F(federation, wrong_way_absent_peering_and_strangers_are_refused_by_the_relay) {
  peer("grewal", "bob", bob, "one_way");
  peer("bob", "grewal", grewal, "full");
  peer("bob", "alice", alice, "full");
  peer("alice", "bob", bob, "full");
  member_of(laptop, "grewal", grewal);
  member_of(visitor, "alice", alice);
  ASSERT_EQ(server.peerup({"auth", "add", laptop.id}).code, 0);
  ASSERT_EQ(server.peerup({"auth", "add", visitor.id}).code, 0);
  ASSERT_EQ(server.peerup({"auth", "add", stranger.id}).code, 0);
  auto d = start_server();
  ASSERT_TRUE(resolves(visitor)) << alice.log_text() << bob.log_text();

  auto by_name = laptop.peerup({"resolve", "server.bob"}, 20s);
  EXPECT_NE(by_name.code, 0);
  EXPECT_THAT(by_name.err, HasSubstr("one_way"));
  auto wrong_way = dial(laptop, circuit());
  EXPECT_NE(wrong_way.code, 0) << wrong_way.out;
  EXPECT_THAT(wrong_way.err, HasSubstr("permission")) << wrong_way.err;
  EXPECT_THAT(grewal.log_text(), HasSubstr("not trusted in this direction"));
  EXPECT_THAT(bob.log_text(),
              HasSubstr("circuit " + laptop.id + " -> " + server.id + " refused: status 202"));
  // Nor does its own relay forward it: grewal never asked bob for server, so
  // it has no route (a one_way peering is never a route), and the circuit
  // ends at grewal with NO_RESERVATION.
  auto forwarded = dial(laptop, grewal.addr + "/p2p-circuit/p2p/" + server.id);
  EXPECT_NE(forwarded.code, 0) << forwarded.out;
  EXPECT_THAT(grewal.log_text(),
              HasSubstr("circuit " + laptop.id + " -> " + server.id + " refused: status 204"));
  EXPECT_THAT(bob.log_text(), Not(HasSubstr("forwarded by peer relay")));

  auto stranger_dial = dial(stranger, circuit());
  EXPECT_NE(stranger_dial.code, 0) << stranger_dial.out;
  // grewal's peering with bob is one_way: it does not even answer for strangers.
  EXPECT_THAT(grewal.log_text(), HasSubstr("refused member " + stranger.id));
  EXPECT_THAT(alice.log_text(), HasSubstr("whether " + stranger.id + " is our member: no"));
  EXPECT_THAT(bob.log_text(),
              HasSubstr("circuit " + stranger.id + " -> " + server.id + " refused: status 202"));
  EXPECT_EQ(hello.accepts(), 0);

  auto ok = dial(visitor, "server.bob");
  EXPECT_EQ(ok.code, 0) << ok.err << bob.log_text();
  EXPECT_EQ(ok.out, "hello across networks\n");

  // No peering at bob: laptop is refused without grewal being asked again.
  auto rm = run({peerup_binary, "relay", "federation", "remove", "--dir", dir("bob").string(),
                 "grewal"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  ASSERT_TRUE(eventually([&] {
    auto l = run({peerup_binary, "relay", "federation", "list", "--dir", dir("bob").string()});
    return l.out.find("network bob: 1 peerings") != std::string::npos;
  }));
  auto absent = dial(laptop, circuit());
  EXPECT_NE(absent.code, 0) << absent.out;
  EXPECT_EQ(hello.accepts(), 1);  // the visitor's only
}

// The forwarded path: laptop dials server through its own relay only
// (`<grewal relay>/p2p-circuit/p2p/<server>`, the last address the resolver
// gives for server.bob); the grewal relay forwards the circuit to the bob
// relay (HOP CONNECT naming laptop), so data crosses two relays and the
// bob relay needs no MEMBER question. Removing the peering at bob stops new
// forwarded circuits with no restart.
TEST_F(federation, member_that_reaches_only_its_own_relay_goes_through_two_relays) {
  peer("grewal", "bob", bob, "full");
  peer("bob", "grewal", grewal, "one_way");
  member_of(laptop, "grewal", grewal);
  ASSERT_EQ(server.peerup({"auth", "add", laptop.id}).code, 0);
  auto d = start_server();
  ASSERT_TRUE(resolves(laptop)) << grewal.log_text() << bob.log_text();
  auto plan = laptop.peerup({"resolve", "server.bob"}, 20s);
  EXPECT_THAT(plan.out, HasSubstr(grewal.addr + "/p2p-circuit/p2p/" + server.id)) << plan.out;

  const auto via_grewal = grewal.addr + "/p2p-circuit/p2p/" + server.id;
  auto r = dial(laptop, via_grewal);
  EXPECT_EQ(r.code, 0) << r.err << grewal.log_text() << bob.log_text() << d.log_text();
  EXPECT_EQ(r.out, "hello across networks\n");
  EXPECT_THAT(grewal.log_text(), HasSubstr("forwarded circuit " + laptop.id + " -> " + server.id +
                                           " open via peer relay " + bob.addr));
  EXPECT_THAT(bob.log_text(), HasSubstr("circuit " + laptop.id + " -> " + server.id +
                                        " open (forwarded by peer relay " + id_of(grewal) + ")"));
  EXPECT_THAT(bob.log_text(), Not(HasSubstr(laptop.id + " is a member of network grewal")));

  // A member of nobody cannot use grewal's relay, forwarded or not.
  auto stranger_dial = dial(stranger, via_grewal);
  EXPECT_NE(stranger_dial.code, 0) << stranger_dial.out;

  // bob drops the peering: grewal still knows the route, bob refuses it.
  auto rm = run({peerup_binary, "relay", "federation", "remove", "--dir", dir("bob").string(),
                 "grewal"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  ASSERT_TRUE(eventually([&] {
    auto l = run({peerup_binary, "relay", "federation", "list", "--dir", dir("bob").string()});
    return l.out.find("network bob: 0 peerings") != std::string::npos;
  }));
  auto refused = dial(laptop, via_grewal);
  EXPECT_NE(refused.code, 0) << refused.out;
  EXPECT_THAT(refused.err, HasSubstr("permission")) << refused.err;
  EXPECT_THAT(bob.log_text(), HasSubstr("forwarded circuit from " + id_of(grewal) +
                                        " refused: not a peer relay of a federation"));
  EXPECT_THAT(grewal.log_text(), HasSubstr("forwarded circuit " + laptop.id + " -> " + server.id +
                                           " via " + bob.addr + " refused: status 202"));
  EXPECT_EQ(hello.accepts(), 1);
}

TEST_F(federation, add_remove_and_list_validate_and_work_without_a_running_relay) {
  const auto yaml = dir("grewal") / "relay.yaml";
  auto bad_trust = run({peerup_binary, "relay", "federation", "add", "--dir",
                        dir("grewal").string(), "bob", bob.addr, "--trust", "sideways"});
  EXPECT_NE(bad_trust.code, 0);
  EXPECT_THAT(bad_trust.err, HasSubstr("--trust: expected full or one_way, got \"sideways\""));
  auto no_id = run({peerup_binary, "relay", "federation", "add", "--dir", dir("grewal").string(),
                    "bob", "/ip4/127.0.0.1/tcp/1"});
  EXPECT_NE(no_id.code, 0);
  EXPECT_THAT(no_id.err, HasSubstr("ending in /p2p/<peer-id>"));
  auto own = run({peerup_binary, "relay", "federation", "add", "--dir", dir("grewal").string(),
                  "grewal", bob.addr});
  EXPECT_NE(own.code, 0);
  EXPECT_THAT(own.err, HasSubstr("own network"));
  peer("grewal", "bob", bob, "full");
  auto twice = run({peerup_binary, "relay", "federation", "add", "--dir", dir("grewal").string(),
                    "bob", alice.addr});
  EXPECT_NE(twice.code, 0);
  EXPECT_THAT(twice.err, HasSubstr("network bob is already a peering"));
  EXPECT_THAT(read_file(yaml), HasSubstr("# peerup relay configuration"));  // comments kept
  auto missing = run({peerup_binary, "relay", "federation", "remove", "--dir",
                      dir("grewal").string(), "carol"});
  EXPECT_NE(missing.code, 0);
  EXPECT_THAT(missing.err, HasSubstr("no peering with network carol"));

  // A relay that stops removes its status file; list then shows the config.
  grewal.proc.terminate();
  EXPECT_EQ(grewal.proc.wait(10000ms), 0) << grewal.log_text();
  auto list = run({peerup_binary, "relay", "federation", "list", "--dir", dir("grewal").string()});
  EXPECT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("relay not running"));
  EXPECT_THAT(list.out, HasSubstr("bob  full  " + bob.addr));
}

}  // namespace
}  // namespace peerup::e2e
