// Pairing with real processes: a relay, the home daemon, and a laptop that
// runs `peerup join <code>`; then real OpenSSH through the relay with no
// other command. Refusals: a wrong code (and the lock after N), an expired
// invite, a replayed one. `invite()` takes the first code printed: the short
// one the relay keeps (docs/pairing.md), so every test here goes through it.
//
// The relay runs --open: these invites carry no relay rights
// (relay_rights_test.cpp has a closed relay). Open circuits carry 128 KiB /
// 2 min, enough for an ssh command.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <sstream>

#include "e2e/e2e_support.hpp"
#include "wire/invite.hpp"

namespace peerup::e2e {
namespace {

using ::testing::HasSubstr;

struct pairing_e2e : ::testing::Test {
  temp_dir root;
  std::optional<relay_process> relay;
  std::optional<node> home;
  std::optional<daemon_process> daemon;

  void start_home(std::uint16_t ssh_port = 22) {
    home = init_node(root.path() / "home");
    relay = start_relay(root.path() / "relay", {home->id}, {"--open"});
    write_file(home->config(),
               "identity_key: identity.key\nlisten: []\nrelays:\n  - " + relay->addr +
                   "\nservices:\n  ssh:\n    local_address: 127.0.0.1:" +
                   std::to_string(ssh_port) + "\n",
               0644);
    daemon = start_daemon(*home);
    ASSERT_TRUE(wait_for_status(*home, "\"state\":\"reserved\"")) << daemon->log_text();
  }

  // Runs `peerup invite` on home; returns the code it printed.
  std::string invite(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"invite", "--name", "laptop", "--service", "ssh", "--no-wait"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = home->peerup(args);
    EXPECT_EQ(r.code, 0) << r.err;
    std::smatch m;
    const std::regex code_re("peerup join ([a-z2-7-]+)");
    EXPECT_TRUE(std::regex_search(r.out, m, code_re)) << r.out;
    return m.size() > 1 ? m[1].str() : std::string();
  }

  // Rewrites field `index` (0-based) of the single invite line of home.
  void edit_invite_field(std::size_t index, const std::string& value) {
    const auto file = home->dir / "invites";
    std::istringstream in(read_file(file));
    std::string out, line;
    while (std::getline(in, line)) {
      if (line.rfind("v1 ", 0) == 0) {
        std::vector<std::string> f;
        std::istringstream fields(line);
        for (std::string x; fields >> x;) f.push_back(x);
        f.at(index) = value;
        line.clear();
        for (const auto& x : f) line += (line.empty() ? "" : " ") + x;
      }
      out += line + "\n";
    }
    write_file(file, out, 0600);
  }

  node laptop(const std::string& name) {
    node n = init_node(root.path() / name);
    write_file(n.config(), "identity_key: identity.key\n", 0644);
    return n;
  }
};

TEST_F(pairing_e2e, laptop_pairs_with_the_code_and_ssh_works_right_after_join) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run sshd and log in (not root)";
  if (!fs::exists("/usr/sbin/sshd")) GTEST_SKIP() << "openssh-server is not installed";
  auto sshd = start_sshd(root.path() / "ssh");
  start_home(sshd.port);
  const auto code = invite();
  node lap = laptop("laptop");

  auto joined = lap.peerup({"join", code});
  ASSERT_EQ(joined.code, 0) << joined.err << "\ndaemon:\n" << daemon->log_text();
  std::smatch m;
  const std::string out = joined.out;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("verification: (\\d{4} \\d{4} \\d{4})")))
      << out;
  // The home side printed the same verification string.
  ASSERT_TRUE(eventually([&] {
    return daemon->log_text().find("verification " + m[1].str()) != std::string::npos;
  })) << daemon->log_text();
  EXPECT_THAT(read_file(home->dir / "authorized_keys"), HasSubstr(lap.id));
  const auto cfg = read_file(lap.config());
  EXPECT_THAT(cfg, HasSubstr(relay->addr));
  EXPECT_THAT(cfg, HasSubstr(home->id));

  // ssh with nothing else run on any machine.
  const std::string proxy = sh_quote(peerup_binary) + " --config " +
                            sh_quote(lap.config().string()) + " connect home ssh";
  auto hello = shell("ssh " + sshd.client_options() + " -o ProxyCommand=" + sh_quote(proxy) +
                         " root@home echo paired and in",
                     60s);
  ASSERT_EQ(hello.code, 0) << hello.err << "\ndaemon:\n" << daemon->log_text();
  EXPECT_EQ(hello.out, "paired and in\n");

  // The same code again, from another device: used.
  node other = laptop("other");
  auto replay = other.peerup({"join", code});
  EXPECT_NE(replay.code, 0);
  EXPECT_THAT(replay.err, HasSubstr("used already")) << replay.err;
  EXPECT_THAT(read_file(home->dir / "authorized_keys"), ::testing::Not(HasSubstr(other.id)));
}

TEST_F(pairing_e2e, the_short_code_comes_first_and_the_full_code_works_without_the_relays_box) {
  start_home();
  auto r = home->peerup({"invite", "--name", "laptop", "--no-wait"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::smatch m;
  const std::string out = r.out;
  ASSERT_TRUE(std::regex_search(
      out, m, std::regex("peerup join ([a-z2-7-]+)\\s+or, if the relay lost it[^:]*:\\s+peerup "
                         "join ([a-z2-7-]+)")))
      << out;
  const std::string short_code = m[1].str(), full_code = m[2].str();
  EXPECT_EQ(short_code.size(), 43u);  // 36 characters for an IPv4 relay, and dashes
  EXPECT_GT(full_code.size(), 2 * short_code.size());
  // A well-formed short code for this relay whose box the relay never got:
  // named as such, before any home node is dialed.
  node lap = laptop("laptop");
  invite::short_code stranger{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
                              multiaddr::parse(relay->addr).value().without_peer()};
  auto missing = lap.peerup({"join", invite::encode_short_code(stranger).value()});
  EXPECT_EQ(missing.code, 4) << missing.err;
  EXPECT_THAT(missing.err, HasSubstr("holds no invite for this code")) << missing.err;
  // The full code pairs on its own (the relay's box is not needed).
  auto joined = lap.peerup({"join", full_code});
  ASSERT_EQ(joined.code, 0) << joined.err << "\ndaemon:\n" << daemon->log_text();
  EXPECT_THAT(read_file(home->dir / "authorized_keys"), HasSubstr(lap.id));
  // The short code of the same invite is now used up at home.
  node other = laptop("other");
  auto replay = other.peerup({"join", short_code});
  EXPECT_NE(replay.code, 0);
  EXPECT_THAT(replay.err, HasSubstr("used already")) << replay.err;
}

TEST_F(pairing_e2e, wrong_code_is_refused_and_the_invite_locks_after_n_tries) {
  start_home();
  const auto code = invite({"--max-failures", "2"});
  // The home node now expects another secret: the laptop's code is wrong,
  // with a valid check (a typo would be caught before any network use).
  edit_invite_field(2, "00112233aabb");
  node lap = laptop("laptop");
  for (int i = 0; i < 2; ++i) {
    auto r = lap.peerup({"join", code});
    EXPECT_EQ(r.code, 3) << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr("wrong code")) << r.err;
  }
  auto locked = lap.peerup({"join", code});
  EXPECT_NE(locked.code, 0);
  EXPECT_THAT(locked.err, HasSubstr("locked")) << locked.err;
  EXPECT_THAT(read_file(home->dir / "authorized_keys"), ::testing::Not(HasSubstr(lap.id)));
}

TEST_F(pairing_e2e, expired_invite_is_refused) {
  start_home();
  const auto code = invite();
  edit_invite_field(4, "1");  // expired in 1970
  node lap = laptop("laptop");
  auto r = lap.peerup({"join", code});
  EXPECT_NE(r.code, 0);
  // With no live invite the home node does not even let the laptop in.
  EXPECT_TRUE(r.err.find("expired") != std::string::npos) << r.err;
}

TEST_F(pairing_e2e, a_typo_is_caught_before_the_network_and_an_unreachable_relay_is_named) {
  node lap = laptop("laptop");
  auto typo = lap.peerup({"join", "aaaaa-bbbbb"});
  EXPECT_EQ(typo.code, 2);
  EXPECT_THAT(typo.err, HasSubstr("invite"));
  // A well-formed code for a relay where nothing listens.
  start_home();
  auto code = invite();
  daemon->proc.terminate();
  relay->proc.terminate();
  auto r = lap.peerup({"join", code}, 60s);
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("relay unreachable"));
}

}  // namespace
}  // namespace peerup::e2e
