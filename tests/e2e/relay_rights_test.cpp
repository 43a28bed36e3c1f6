// Relay rights in invites, with a relay that is NOT open (issue 15):
//   1. the relay operator runs `peerup relay invite`; the home node joins
//      with that code and is authorized on the relay, so its daemon reserves;
//   2. a plain home invite cannot get a laptop through that relay;
//   3. `peerup invite --relay-rights` gets the laptop authorized on the relay
//      by the same code, and real ssh works right after join;
//   4. a node authorized with --no-invite cannot make such invites.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string code_in(const std::string& out) {
  std::smatch m;
  const std::regex code_re("peerup join ([a-z2-7-]+)");
  return std::regex_search(out, m, code_re) ? m[1].str() : std::string();
}

// The relay's transport address: its printed address without /p2p/<id>.
std::string transport_of(const std::string& addr) { return addr.substr(0, addr.find("/p2p/")); }

TEST(relay_rights, a_closed_relay_admits_home_and_laptop_by_their_codes_and_ssh_works) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run sshd and log in (not root)";
  if (!fs::exists("/usr/sbin/sshd")) GTEST_SKIP() << "openssh-server is not installed";
  temp_dir root;
  auto sshd = start_sshd(root.path() / "ssh");
  const auto relay_dir = root.path() / "relay";
  auto relay = start_relay(relay_dir, {});  // nobody authorized, not --open
  ASSERT_THAT(relay.log_text() + relay.lines.front(), HasSubstr("authorized peers only"));

  // 1. Home joins the relay with the operator's code.
  auto rinv = run({peerup_binary, "relay", "invite", "--dir", relay_dir.string(), "--address",
                   transport_of(relay.addr), "--name", "home", "--expires", "10m"});
  ASSERT_EQ(rinv.code, 0) << rinv.err;
  const auto relay_code = code_in(rinv.out);
  ASSERT_FALSE(relay_code.empty()) << rinv.out;
  struct stat st {};
  ASSERT_EQ(::stat((relay_dir / "invites").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  node home = init_node(root.path() / "home");
  write_file(home.config(),
             "identity_key: identity.key\nlisten: []\nservices:\n  ssh:\n    local_address: "
             "127.0.0.1:" +
                 std::to_string(sshd.port) + "\n",
             0644);
  auto hjoin = home.peerup({"join", relay_code});
  ASSERT_EQ(hjoin.code, 0) << hjoin.out << hjoin.err << "\nrelay:\n" << relay.log_text();
  EXPECT_THAT(hjoin.out, HasSubstr("authorized on relay"));
  EXPECT_THAT(read_file(relay_dir / "authorized_keys"), HasSubstr(home.id));
  EXPECT_THAT(read_file(home.config()), HasSubstr(relay.addr));
  // The code is single use.
  node intruder = init_node(root.path() / "intruder");
  write_file(intruder.config(), "identity_key: identity.key\n", 0644);
  auto again = intruder.peerup({"join", relay_code});
  EXPECT_NE(again.code, 0);
  EXPECT_THAT(again.err, HasSubstr("used already"));
  EXPECT_THAT(read_file(relay_dir / "authorized_keys"), Not(HasSubstr(intruder.id)));

  auto d = start_daemon(home);
  ASSERT_TRUE(wait_for_status(home, "\"state\":\"reserved\"")) << d.log_text();

  // 2. A plain invite: the relay refuses the laptop's circuit.
  node lap = init_node(root.path() / "laptop");
  write_file(lap.config(), "identity_key: identity.key\n", 0644);
  auto plain = home.peerup({"invite", "--name", "laptop", "--service", "ssh", "--no-wait"});
  ASSERT_EQ(plain.code, 0) << plain.err;
  auto refused = lap.peerup({"join", code_in(plain.out)});
  EXPECT_EQ(refused.code, 5) << refused.out << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("not authorized on the relay"));

  // 3. With relay rights the same laptop gets in with one command.
  auto rich = home.peerup(
      {"invite", "--name", "laptop", "--service", "ssh", "--relay-rights", "--no-wait"});
  ASSERT_EQ(rich.code, 0) << rich.err << "\nrelay:\n" << relay.log_text();
  EXPECT_THAT(rich.out, HasSubstr("the relay lets the device in"));
  auto joined = lap.peerup({"join", code_in(rich.out)});
  ASSERT_EQ(joined.code, 0) << joined.out << joined.err << "\nrelay:\n"
                            << relay.log_text() << "\ndaemon:\n"
                            << d.log_text();
  EXPECT_THAT(joined.out, HasSubstr("authorized on relay"));
  EXPECT_THAT(joined.out, HasSubstr("paired with"));
  // The laptop is on the relay with relay rights only: it cannot invite in turn.
  EXPECT_THAT(read_file(relay_dir / "authorized_keys"), HasSubstr("service=relay " + lap.id));
  const std::string proxy = sh_quote(peerup_binary) + " --config " +
                            sh_quote(lap.config().string()) + " connect home ssh";
  auto hello = shell("ssh " + sshd.client_options() + " -o ProxyCommand=" + sh_quote(proxy) +
                         " root@home echo through a closed relay",
                     60s);
  ASSERT_EQ(hello.code, 0) << hello.err << "\ndaemon:\n" << d.log_text();
  EXPECT_EQ(hello.out, "through a closed relay\n");

  // 4. A node the operator authorized with --no-invite may not invite devices.
  node guest = init_node(root.path() / "guest");
  auto auth = run(
      {peerup_binary, "relay", "authorize", "--dir", relay_dir.string(), "--no-invite", guest.id});
  ASSERT_EQ(auth.code, 0) << auth.err;
  write_file(guest.config(), "identity_key: identity.key\nrelays:\n  - " + relay.addr + "\n", 0644);
  auto denied = guest.peerup({"invite", "--relay-rights", "--no-wait"});
  EXPECT_NE(denied.code, 0);
  EXPECT_THAT(denied.err, HasSubstr("may not invite devices")) << denied.err;
}

}  // namespace
}  // namespace peerup::e2e
