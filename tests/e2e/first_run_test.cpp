// What a new user meets first (issue 21, defects 6 and 7): errors that point
// at the real cause (a key of another owner, a folder the daemon cannot write,
// a relay's authorized_keys others can read), and the relay's own files
// (`peerup relay init`, no guessing of the current folder).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr unsigned nobody = 65534;

// `argv` run as user nobody (setpriv), for the checks that need a user other
// than the file's owner. Skips unless we are root and setpriv exists. The
// build tree may sit where nobody cannot reach it (a clone under /root), so
// the peerup binary runs from a copy in `dir` (a 0755 folder of the test).
std::vector<std::string> as_nobody(const fs::path& dir, std::vector<std::string> argv) {
  const auto bin = dir / "bin" / "peerup";
  if (!fs::exists(bin)) {
    fs::create_directories(bin.parent_path());
    ::chmod(bin.parent_path().c_str(), 0755);
    fs::copy_file(peerup_binary, bin);
    ::chmod(bin.c_str(), 0755);
  }
  std::vector<std::string> out{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  for (auto& a : argv) out.push_back(a == std::string(peerup_binary) ? bin.string() : a);
  return out;
}
bool can_switch_user() { return ::geteuid() == 0 && fs::exists("/usr/bin/setpriv"); }

struct first_run : ::testing::Test {
  temp_dir root;
  void SetUp() override {
    // nobody must be able to reach the files under test.
    ::chmod(root.path().c_str(), 0755);
  }
};

TEST_F(first_run, a_key_of_another_owner_says_permission_denied_names_the_owner_and_the_fix) {
  if (!can_switch_user()) GTEST_SKIP() << "needs root and setpriv";
  const auto dir = root.path() / "keys";
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  const auto key = dir / "identity.key";
  ASSERT_EQ(run({peerup_binary, "keygen", "--key", key.string()}).code, 0);  // root, 0600
  auto r = run(as_nobody(root.path(), {peerup_binary, "whoami", "--key", key.string()}));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.err, HasSubstr("identity key " + key.string() + ": permission denied"));
  EXPECT_THAT(r.err, HasSubstr("owned by root (uid 0)"));
  EXPECT_THAT(r.err, HasSubstr("runs as nobody (uid 65534)"));
  EXPECT_THAT(r.err, HasSubstr("chown nobody " + key.string()));
  EXPECT_THAT(r.err, Not(HasSubstr("malformed")));
  // The fix it names works.
  ASSERT_EQ(::chown(key.c_str(), nobody, nobody), 0);
  auto fixed = run(as_nobody(root.path(), {peerup_binary, "whoami", "--key", key.string()}));
  EXPECT_EQ(fixed.code, 0) << fixed.err;
}

TEST_F(first_run, a_daemon_that_cannot_write_status_json_warns_once_at_start) {
  if (!can_switch_user()) GTEST_SKIP() << "needs root and setpriv";
  node home = init_node(root.path() / "home");
  ::chmod(home.dir.c_str(), 0755);  // owned by root: nobody cannot write status.json
  write_file(home.config(),
             "identity_key: identity.key\nlisten:\n  - /ip4/127.0.0.1/tcp/0\nservices: {}\n", 0644);
  for (const char* f : {"identity.key", "authorized_keys"})
    ASSERT_EQ(::chown((home.dir / f).c_str(), nobody, nobody), 0);
  // The status file is rewritten every 2 s: five seconds give several
  // failed writes, and must give one warning.
  auto d = run(as_nobody(root.path(), {"timeout", "-s", "INT", "5", peerup_binary, "--config",
                                       home.config().string(), "daemon"}),
               30s);
  EXPECT_THAT(d.out, HasSubstr("ready")) << d.err;
  const std::string warning = "cannot write status file " + (home.dir / "status.json").string();
  const auto first = d.err.find(warning);
  ASSERT_NE(first, std::string::npos) << d.err;
  EXPECT_EQ(d.err.find(warning, first + 1), std::string::npos) << "warned more than once:\n"
                                                               << d.err;
  EXPECT_THAT(d.err, HasSubstr("`peerup status` will report the daemon as not running"));
}

TEST_F(first_run, a_relay_whose_authorized_keys_others_can_read_refuses_to_start) {
  const auto dir = root.path() / "relay";
  ASSERT_EQ(run({peerup_binary, "relay", "init", "--dir", dir.string()}).code, 0);
  ::chmod((dir / "authorized_keys").c_str(), 0644);
  auto r = run(
      {peerup_binary, "relay", "serve", "--dir", dir.string(), "--listen", "/ip4/127.0.0.1/tcp/0"},
      20s);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("chmod 600 " + (dir / "authorized_keys").string()));
  EXPECT_THAT(r.out, Not(HasSubstr("/ip4/")));  // never listened
}

TEST_F(first_run, relay_commands_without_dir_or_config_refuse_and_write_nothing) {
  const auto cwd = root.path() / "cwd";
  fs::create_directories(cwd);
  const std::string id = run({peerup_binary, "keygen", "--key", (cwd / "k").string()}).out;
  fs::remove(cwd / "k");
  const std::string peer = id.substr(0, id.find('\n'));
  for (const std::string& cmd :
       std::vector<std::string>{"authorize " + peer, "deauthorize " + peer, "list-peers",
                                "serve --listen /ip4/127.0.0.1/tcp/0"}) {
    auto r = shell(
        "cd " + sh_quote(cwd.string()) + " && " + sh_quote(peerup_binary) + " relay " + cmd, 20s);
    EXPECT_NE(r.code, 0) << cmd;
    EXPECT_THAT(r.err, HasSubstr("--dir <folder>")) << cmd;
    EXPECT_THAT(r.err, HasSubstr("peerup relay init --dir")) << cmd;
  }
  EXPECT_TRUE(fs::is_empty(cwd)) << "a relay command wrote into the current folder";
}

TEST_F(first_run, relay_init_writes_a_relay_yaml_that_serve_and_authorize_accept) {
  const auto dir = root.path() / "relay";
  auto init = run({peerup_binary, "relay", "init", "--dir", dir.string(), "--network", "grewal"});
  ASSERT_EQ(init.code, 0) << init.err;
  const std::string id = init.out.substr(0, init.out.find('\n'));
  EXPECT_EQ(id.rfind("12D3KooW", 0), 0u) << init.out;
  for (const char* f : {"identity.key", "authorized_keys", "relay.yaml"}) {
    struct stat st {};
    ASSERT_EQ(::stat((dir / f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << f;
  }
  EXPECT_FALSE(fs::exists(dir / "config.yaml"));  // not a home node
  const auto yaml = (dir / "relay.yaml").string();
  node client = init_node(root.path() / "client");
  auto auth = run({peerup_binary, "relay", "authorize", client.id, "--config", yaml});
  EXPECT_EQ(auth.code, 0) << auth.err;
  auto list = run({peerup_binary, "relay", "list-peers", "--config", yaml});
  EXPECT_THAT(list.out, HasSubstr(client.id));
  // Never overwrites the key without --force.
  auto again = run({peerup_binary, "relay", "init", "--dir", dir.string()});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("use --force"));
  EXPECT_THAT(read_file(dir / "authorized_keys"), HasSubstr(client.id));

  auto serve = test::child_process::spawn(
      {peerup_binary, "relay", "serve", "--config", yaml, "--listen", "/ip4/127.0.0.1/tcp/0"});
  std::optional<std::string> line;
  while ((line = serve.read_line(20000ms)) && line->rfind("/ip4/", 0) != 0) {
  }
  ASSERT_TRUE(line) << "relay serve --config relay.yaml did not start";
  EXPECT_THAT(*line, HasSubstr("/p2p/" + id));
  // The names network from --network is served: a client of it resolves.
  write_file(client.config(),
             "identity_key: identity.key\nnetworks:\n  grewal:\n    - " + *line + "\n", 0600);
  auto missing = client.peerup({"resolve", "nobody.grewal"}, 30s);
  EXPECT_THAT(missing.err, HasSubstr("says not registered")) << missing.err;
}

}  // namespace
}  // namespace peerup::e2e
