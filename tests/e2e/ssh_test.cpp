// Real OpenSSH through peerup: sshd on a loopback high port (its own host key
// and config), the home node behind a relay, and ssh/scp on the client using
// `peerup connect home ssh` as ProxyCommand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <sstream>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {
namespace {

struct openssh : ::testing::Test {
  temp_dir root;
  fs::path ssh_dir = root.path() / "ssh";
  std::optional<service_process> sshd;
  std::uint16_t sshd_port = 0;

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run sshd and log in (not root)";
    if (!fs::exists("/usr/sbin/sshd")) GTEST_SKIP() << "openssh-server is not installed";
    fs::create_directories(ssh_dir);
    for (const char* k : {"host_key", "user_key"}) {
      auto r = run(
          {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", (ssh_dir / k).string()});
      ASSERT_EQ(r.code, 0) << r.err;
    }
    write_file(ssh_dir / "authorized_keys", read_file(ssh_dir / "user_key.pub"));
    // sshd refuses to start without its privilege separation directory.
    fs::create_directories("/run/sshd");
    sshd_port = free_port();
    write_file(ssh_dir / "sshd_config",
               "Port " + std::to_string(sshd_port) +
                   "\n"
                   "ListenAddress 127.0.0.1\n"
                   "HostKey " +
                   (ssh_dir / "host_key").string() +
                   "\n"
                   "PidFile " +
                   (ssh_dir / "sshd.pid").string() +
                   "\n"
                   "AuthorizedKeysFile " +
                   (ssh_dir / "authorized_keys").string() +
                   "\n"
                   "PermitRootLogin prohibit-password\n"
                   "PasswordAuthentication no\n"
                   "KbdInteractiveAuthentication no\n"
                   "UsePAM no\n"
                   "Subsystem sftp internal-sftp\n",
               0600);
    test::spawn_options opts;
    opts.stderr_file = test::stderr_to_file{(ssh_dir / "sshd.log").string()};
    sshd.emplace(
        service_process{test::child_process::spawn(
                            {"/usr/sbin/sshd", "-D", "-e", "-f", (ssh_dir / "sshd_config").string(),
                             "-h", (ssh_dir / "host_key").string(), "-o", "StrictModes=no"},
                            opts),
                        ssh_dir / "sshd.log",
                        {}});
    ASSERT_TRUE(eventually([&] { return port_open(sshd_port); }))
        << read_file(ssh_dir / "sshd.log");
  }

  // ssh/scp options: no user config, no known_hosts, our key, peerup as the transport.
  std::string ssh_options(const node& client) const {
    const std::string proxy = sh_quote(peerup_binary) + " --config " +
                              sh_quote(client.config().string()) + " connect home ssh";
    return "-F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i " +
           sh_quote((ssh_dir / "user_key").string()) +
           " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
           " -o ProxyCommand=" +
           sh_quote(proxy);
  }
};

TEST_F(openssh, ssh_command_and_50_mib_scp_both_ways_through_the_relay) {
  node home = init_node(root.path() / "home");
  node client = init_node(root.path() / "client");
  auto relay = start_relay(root.path() / "relay", {home.id, client.id});
  write_file(home.config(),
             "identity_key: identity.key\nlisten: []\nrelays:\n  - " + relay.addr +
                 "\nservices:\n  ssh:\n    local_address: 127.0.0.1:" + std::to_string(sshd_port) +
                 "\n",
             0644);
  write_file(client.config(),
             "identity_key: identity.key\nrelays:\n  - " + relay.addr +
                 "\nnames:\n  home: " + home.id + "\n",
             0644);
  ASSERT_EQ(home.peerup({"auth", "add", client.id, "--service", "ssh"}).code, 0);
  auto d = start_daemon(home);
  ASSERT_TRUE(wait_for_status(home, "\"state\":\"reserved\"")) << d.log_text();

  auto hello = shell("ssh " + ssh_options(client) + " root@home echo hello over peerup", 60s);
  ASSERT_EQ(hello.code, 0) << hello.err << "\nsshd:\n"
                           << read_file(ssh_dir / "sshd.log") << "\ndaemon:\n"
                           << d.log_text();
  EXPECT_EQ(hello.out, "hello over peerup\n");

  const auto src = root.path() / "payload.bin";
  auto mk = run({"dd", "if=/dev/urandom", "of=" + src.string(), "bs=1M", "count=50"});
  ASSERT_EQ(mk.code, 0) << mk.err;
  const auto up = root.path() / "uploaded.bin", down = root.path() / "downloaded.bin";
  auto scp_up = shell("scp " + ssh_options(client) + " " + sh_quote(src.string()) +
                          " root@home:" + sh_quote(up.string()),
                      240s);
  ASSERT_EQ(scp_up.code, 0) << scp_up.err;
  auto scp_down = shell("scp " + ssh_options(client) + " root@home:" + sh_quote(up.string()) + " " +
                            sh_quote(down.string()),
                        240s);
  ASSERT_EQ(scp_down.code, 0) << scp_down.err;
  auto sums = run({"sha256sum", src.string(), up.string(), down.string()});
  ASSERT_EQ(sums.code, 0);
  std::vector<std::string> hashes;
  std::istringstream lines(sums.out);
  for (std::string line; std::getline(lines, line);) hashes.push_back(line.substr(0, 64));
  ASSERT_EQ(hashes.size(), 3u);
  EXPECT_EQ(hashes[1], hashes[0]) << "upload corrupted";
  EXPECT_EQ(hashes[2], hashes[0]) << "download corrupted";
  EXPECT_EQ(fs::file_size(down), 50u * 1024 * 1024);
  EXPECT_THAT(d.log_text(), ::testing::HasSubstr(client.id + " (relayed) -> service ssh"));
}

}  // namespace
}  // namespace peerup::e2e
