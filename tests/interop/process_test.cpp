// Proves the test harness itself: child_process (spawn, line reads with
// timeouts, exit codes, cleanup) and the js-libp2p peer driven through it.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "support/js_peer.hpp"
#include "support/process.hpp"

namespace peerup::test {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

child_process sh(const std::string& script) { return child_process::spawn({"sh", "-c", script}); }

bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

TEST(ChildProcess, ReadsStdoutLineByLineAndReportsExitCode) {
  auto child = sh("printf 'first\\nsecond\\nno-newline'; exit 7");
  EXPECT_EQ(child.read_line(5s), "first");
  EXPECT_EQ(child.read_line(5s), "second");
  EXPECT_EQ(child.read_line(5s), "no-newline");
  EXPECT_EQ(child.read_line(1s), std::nullopt);
  EXPECT_EQ(child.wait(5s), 7);
}

TEST(ChildProcess, ReadLineTimesOutOnSilentChild) {
  auto child = sh("sleep 30");
  auto start = clock::now();
  EXPECT_EQ(child.read_line(200ms), std::nullopt);
  auto elapsed = clock::now() - start;
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_EQ(child.wait(100ms), -1);
}

TEST(ChildProcess, PassesCwdAndExtraEnvironment) {
  auto child = child_process::spawn({"sh", "-c", "pwd; echo \"$PEERUP_TEST_VAR\""}, "/tmp",
                                    {{"PEERUP_TEST_VAR", "hello"}});
  EXPECT_EQ(child.read_line(5s), "/tmp");
  EXPECT_EQ(child.read_line(5s), "hello");
  EXPECT_EQ(child.wait(5s), 0);
}

TEST(ChildProcess, CloseStdinDeliversEofToChild) {
  auto child = sh("cat; echo done");
  child.close_stdin();
  EXPECT_EQ(child.read_line(5s), "done");
  EXPECT_EQ(child.wait(5s), 0);
}

TEST(ChildProcess, TruncatesOverLongLines) {
  spawn_options opts;
  opts.max_line = 16;
  auto child = child_process::spawn(
      {"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; echo; echo short"}, opts);
  EXPECT_EQ(child.read_line(5s), std::string(16, 'x'));
  EXPECT_EQ(child.read_line(5s), "short");
  EXPECT_EQ(child.wait(5s), 0);
}

TEST(ChildProcess, ThrowsWhenProgramDoesNotExist) {
  EXPECT_THROW(child_process::spawn({"/nonexistent/peerup-no-such-program"}), std::system_error);
}

TEST(ChildProcess, TerminateEndsChildWithSigterm) {
  auto child = sh("sleep 30");
  child.terminate();
  EXPECT_EQ(child.wait(5s), 128 + SIGTERM);
}

TEST(ChildProcess, DestructorKillsChildThatIgnoresSigterm) {
  pid_t pid;
  auto start = clock::now();
  {
    auto child = sh("trap '' TERM; echo ready; while :; do sleep 1; done");
    ASSERT_EQ(child.read_line(5s), "ready");
    pid = child.pid();
  }
  EXPECT_TRUE(process_gone(pid));
  EXPECT_LT(clock::now() - start, 5s);
}

// The end-to-end proof that CI can run js peers: a js listener serves a js
// dialer doing ping + echo, and every result line says ok.
class JsPeer : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(js_peer_installed()) << "run `npm ci` in " << js_peer_dir(); }
};

TEST_F(JsPeer, ListenerServesPingAndEchoToDialer) {
  auto listener = spawn_js_peer({"--listen", "/ip4/127.0.0.1/tcp/0"});
  auto listening = wait_for_event(listener, "listening", 30s);
  ASSERT_TRUE(listening);
  std::string addr = first_addr(*listening);
  ASSERT_EQ(addr.rfind("/ip4/127.0.0.1/tcp/", 0), 0u) << addr;
  ASSERT_NE(addr.find("/p2p/12D3KooW"), std::string::npos) << addr;

  auto dialer = spawn_js_peer({"--dial", addr, "--ping", "3", "--echo-bytes", "1048576",
                               "--echo-streams", "8", "--echo-stream-bytes", "65536"});
  std::vector<boost::json::object> results;
  for (int i = 0; i < 3; ++i) {
    auto r = wait_for_event(dialer, "result", 60s);
    ASSERT_TRUE(r) << "missing result " << i;
    results.push_back(std::move(*r));
  }
  EXPECT_EQ(dialer.wait(30s), 0);

  EXPECT_EQ(results[0].at("action").as_string(), "ping");
  EXPECT_TRUE(results[0].at("ok").as_bool());
  EXPECT_EQ(results[0].at("rtt_ms").as_array().size(), 3u);

  EXPECT_EQ(results[1].at("action").as_string(), "echo");
  EXPECT_TRUE(results[1].at("ok").as_bool());
  EXPECT_EQ(results[1].at("received_bytes").to_number<int64_t>(), 1048576);
  EXPECT_EQ(results[1].at("sha256_sent"), results[1].at("sha256_received"));

  EXPECT_EQ(results[2].at("action").as_string(), "echo-streams");
  EXPECT_TRUE(results[2].at("ok").as_bool());
  EXPECT_EQ(results[2].at("streams_ok").to_number<int64_t>(), 8);

  // The listener reports what it served.
  auto inbound = wait_for_event(listener, "inbound", 10s);
  ASSERT_TRUE(inbound);
  EXPECT_EQ(inbound->at("kind").as_string(), "connection");

  // Listeners exit by themselves when their stdin closes (no orphans).
  listener.close_stdin();
  EXPECT_EQ(listener.wait(10s), 0);
}

TEST_F(JsPeer, DialerExitsNonZeroWhenNobodyListens) {
  // Port 1 on loopback is closed; the dial must fail and say so.
  auto dialer = spawn_js_peer({"--dial",
                               "/ip4/127.0.0.1/tcp/1/p2p/"
                               "12D3KooWDAcF4qUAvT7gepV4La4rKHC38DTbhY4TCUeLzbDhLJpy",
                               "--ping", "1"});
  auto result = wait_for_event(dialer, "result", 60s);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->at("action").as_string(), "dial");
  EXPECT_FALSE(result->at("ok").as_bool());
  EXPECT_EQ(dialer.wait(30s), 1);
}

}  // namespace
}  // namespace peerup::test
