// Crashes and restarts: the relay killed with SIGKILL in the middle of a
// transfer, and the home daemon restarted under a long-running proxy.
#include "fault/deployment.hpp"

namespace peerup::fault {
namespace {

using clock = std::chrono::steady_clock;

TEST_F(deployment, relay_killed_mid_transfer_resets_the_client_and_recovers_after_restart) {
  start_relay();
  configure("[]");
  auto d = start_home();
  auto proxy = start_proxy(client, "home", "data");

  // 1. a large download is under way through the relay
  std::atomic<std::uint64_t> progress{0};
  auto transfer = std::async(std::launch::async, [&] {
    return download(proxy.port, GiB, 7, std::chrono::seconds(60), &progress);
  });
  ASSERT_TRUE(eventually([&] { return progress >= 8 * MiB; }, std::chrono::seconds(30)));

  ASSERT_THAT(d.log_text(), ::testing::HasSubstr("(relayed) -> service data"));

  // 2. the relay dies without a word (no FIN from the process, no goodbye)
  const auto port = tcp_port_of(relay->addr);
  kill_hard(relay->proc);
  const auto killed = clock::now();

  // 3. the client sees an error promptly, not a hang and not a clean EOF
  //    (a clean EOF would pass a truncated file off as complete)
  ASSERT_EQ(transfer.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "the client still waits 20 s after the relay died";
  const auto r = transfer.get();
  const double to_error = std::chrono::duration<double>(clock::now() - killed).count();
  record("relay_kill_client_error_after_s", fixed(to_error, 2));
  EXPECT_LT(r.bytes, GiB);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.error, 0) << "clean EOF after " << r.bytes << " bytes\nproxy:\n"
                        << tail(proxy.log_text());

  // 4. the home node notices, and re-reserves once the relay is back on the
  //    same port with the same identity
  EXPECT_TRUE(wait_for_status(home, "\"state\":\"backoff\"", std::chrono::seconds(20)));
  relay.reset();
  const auto restarted = clock::now();
  relay.emplace(serve_relay_at(relay_dir(), port, "relay-restarted.log"));
  ASSERT_TRUE(wait_for_status(home, "\"state\":\"reserved\"", std::chrono::seconds(90)))
      << d.log_text();
  record("relay_restart_to_reserved_s",
         fixed(std::chrono::duration<double>(clock::now() - restarted).count(), 1));

  // 5. the same long-running proxy carries a new transfer
  const auto again = download(proxy.port, 16 * MiB, 8, std::chrono::seconds(60));
  EXPECT_TRUE(intact(again, 16 * MiB, 8)) << "proxy:\n" << tail(proxy.log_text());
}

// Restarts the home daemon (SIGKILL, then start again from the same config)
// under a running proxy whose target is `target`; the next connection
// through the proxy must work at the first attempt.
void restart_home_under_proxy(deployment& t, const std::string& target) {
  auto d = t.start_home();
  auto proxy = start_proxy(t.client, target, "data");
  ASSERT_TRUE(t.intact(download(proxy.port, 4 * MiB, 1, std::chrono::seconds(60)), 4 * MiB, 1));

  kill_hard(d.proc);
  // While home is down, a connection fails (reset), it does not hang.
  const auto down = download(proxy.port, 4 * MiB, 2, std::chrono::seconds(40));
  EXPECT_FALSE(down.timed_out);
  EXPECT_EQ(down.bytes, 0u);

  auto d2 = t.start_home();
  const auto back = clock::now();
  const auto r = download(proxy.port, 4 * MiB, 3, std::chrono::seconds(60));
  EXPECT_TRUE(t.intact(r, 4 * MiB, 3)) << "proxy:\n"
                                       << tail(proxy.log_text()) << "\nhome:\n"
                                       << tail(d2.log_text());
  record("home_restart_first_transfer_s",
         fixed(std::chrono::duration<double>(clock::now() - back).count(), 2));
  EXPECT_EQ(count(d2.log_text(), "peer " + t.client.id + " connected ("), 1u) << d2.log_text();
}

TEST_F(deployment, proxy_reconnects_through_the_relay_after_the_home_daemon_restarts) {
  start_relay();
  configure("[]");
  restart_home_under_proxy(*this, "home");
}

TEST_F(deployment, proxy_reconnects_directly_after_the_home_daemon_restarts) {
  const std::string listen = "/ip4/127.0.0.1/tcp/" + std::to_string(free_port());
  configure("[" + listen + "]");
  restart_home_under_proxy(*this, listen + "/p2p/" + home.id);
}

}  // namespace
}  // namespace peerup::fault
