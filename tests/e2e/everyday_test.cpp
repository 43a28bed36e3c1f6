// Everyday use (issue 15): `peerup --version`, and a `peerup proxy` started
// before the home node is on the relay that serves as soon as it appears.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {
namespace {

using ::testing::HasSubstr;

TEST(everyday, version_prints_the_project_version) {
  auto r = run({peerup_binary, "--version"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::MatchesRegex("peerup [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

TEST(everyday, proxy_started_before_the_home_daemon_serves_once_home_appears) {
  temp_dir root;
  counting_server banner("hello from home\n");
  node home = init_node(root.path() / "home");
  node client = init_node(root.path() / "client");
  auto relay = start_relay(root.path() / "relay", {home.id, client.id});
  write_file(home.config(),
             "identity_key: identity.key\nlisten: []\nrelays:\n  - " + relay.addr +
                 "\nservices:\n  banner:\n    local_address: 127.0.0.1:" +
                 std::to_string(banner.port()) + "\n",
             0644);
  write_file(client.config(),
             "identity_key: identity.key\nrelays:\n  - " + relay.addr + "\nnames:\n  home: " +
                 home.id + "\n",
             0644);
  ASSERT_EQ(home.peerup({"auth", "add", client.id}).code, 0);

  // --once keeps the fail-fast behaviour: home holds no reservation yet.
  auto once = client.peerup({"proxy", "home", "banner", "0", "--once", "--no-hole-punch"}, 30s);
  EXPECT_EQ(once.code, 2) << once.err;

  // Without it the proxy listens anyway.
  auto proxy = start_proxy(client, "home", "banner");
  const std::string fetch = "timeout 20 bash -c 'exec 3<>/dev/tcp/127.0.0.1/" +
                            std::to_string(proxy.port) + "; head -c 16 <&3'";
  auto before = shell(fetch, 30s);
  EXPECT_NE(before.out, "hello from home\n");  // nothing to reach yet
  EXPECT_THAT(proxy.log_text(), HasSubstr("proxy:"));  // one line per failed connection

  auto d = start_daemon(home);
  ASSERT_TRUE(wait_for_status(home, "\"state\":\"reserved\"")) << d.log_text();
  auto after = shell(fetch, 30s);
  EXPECT_EQ(after.out, "hello from home\n") << after.err << "\nproxy:\n" << proxy.log_text();
}

}  // namespace
}  // namespace peerup::e2e
