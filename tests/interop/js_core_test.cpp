// Interop of the core stack (TCP, multistream, Noise, Yamux, identify, ping)
// with real js-libp2p 3.x nodes, in both directions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "protocols/identify.hpp"
#include "protocols/perf.hpp"
#include "protocols/ping.hpp"
#include "support/async_test.hpp"
#include "support/dial_js.hpp"
#include "support/io_thread.hpp"
#include "support/js_peer.hpp"

namespace peerup::test {
namespace {

std::vector<std::string> strings(const boost::json::value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.as_array()) out.emplace_back(s.as_string().c_str());
  return out;
}

// Our node on its own io thread, so the test thread can wait on js processes.
struct our_node {
  io_thread t;
  net::host host{t.io().get_executor(),
                 net::host_config{.identity = private_key::generate(),
                                  .listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0")}}};
  protocols::identify_service identify{host};
  our_node() {
    protocols::install_ping(host);
    protocols::install_perf(host);
    host.set_handler(echo_protocol, serve_echo);
    host.start();
    t.start();
  }
  ~our_node() {
    t.stop([this] { host.stop(); });
  }
  std::string addr() const { return host.full_addrs().front().to_string(); }
  std::string listen_addr() const { return host.listen_addrs().front().to_string(); }
};

class js_interop : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(js_peer_installed()) << "run `npm ci` in " << js_peer_dir(); }

  // Collects the dialer's result events in order and its exit code.
  static std::vector<boost::json::object> results_of(child_process& js, std::size_t n) {
    std::vector<boost::json::object> out;
    for (std::size_t i = 0; i < n; ++i) {
      auto r = wait_for_event(js, "result", 120s);
      if (!r) break;
      out.push_back(std::move(*r));
    }
    return out;
  }
};

TEST_F(js_interop, js_dials_us_for_ping_identify_10mib_echo_and_50_streams) {
  our_node ours;
  auto js = spawn_js_peer({"--dial", ours.addr(), "--ping", "3", "--identify", "--echo-bytes",
                           "10485760", "--echo-streams", "50", "--echo-stream-bytes", "65536"});
  auto connected = wait_for_event(js, "connected", 30s);
  ASSERT_TRUE(connected) << "js could not connect to " << ours.addr();
  EXPECT_EQ(connected->at("encryption").as_string(), "/noise");
  EXPECT_EQ(connected->at("multiplexer").as_string(), "/yamux/1.0.0");

  auto results = results_of(js, 4);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(js.wait(30s), 0);
  for (const auto& r : results) EXPECT_TRUE(r.at("ok").as_bool()) << boost::json::serialize(r);

  EXPECT_EQ(results[0].at("action").as_string(), "ping");
  EXPECT_EQ(results[0].at("rtt_ms").as_array().size(), 3u);

  const auto& id = results[1];
  EXPECT_EQ(id.at("action").as_string(), "identify");
  EXPECT_THAT(strings(id.at("protocols")),
              ::testing::IsSupersetOf({"/ipfs/id/1.0.0", "/ipfs/id/push/1.0.0", "/ipfs/ping/1.0.0",
                                       "/perf/1.0.0", "/peerup/echo/1.0.0"}));
  EXPECT_THAT(strings(id.at("listen_addrs")), ::testing::Contains(ours.listen_addr()));
  EXPECT_THAT(std::string(id.at("observed_addr").as_string().c_str()),
              ::testing::StartsWith("/ip4/127.0.0.1/tcp/"));
  EXPECT_EQ(id.at("protocol_version").as_string(), "ipfs/0.1.0");

  EXPECT_EQ(results[2].at("action").as_string(), "echo");
  EXPECT_EQ(results[2].at("received_bytes").to_number<std::int64_t>(), 10485760);
  EXPECT_EQ(results[3].at("action").as_string(), "echo-streams");
}

TEST_F(js_interop, we_dial_js_for_ping_identify_10mib_echo_and_50_streams) {
  auto js = spawn_js_peer({"--listen", "/ip4/127.0.0.1/tcp/0"});
  auto listening = wait_for_event(js, "listening", 30s);
  ASSERT_TRUE(listening);
  const auto js_addr = *multiaddr::parse(first_addr(*listening));

  const auto out = dial_js_and_exercise(js_addr);
  ASSERT_TRUE(out.connected);
  EXPECT_EQ(out.transport, "tcp");
  EXPECT_EQ(out.pings, 5);
  EXPECT_TRUE(out.echo_ok);
  EXPECT_EQ(out.streams_ok, 50u);
  const auto& info = out.info;
  ASSERT_TRUE(info);
  EXPECT_THAT(info->protocols, ::testing::IsSupersetOf(
                                   {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/peerup/echo/1.0.0"}));
  EXPECT_THAT(info->listen_addrs, ::testing::Contains(js_addr.without_peer()));
  ASSERT_TRUE(info->observed_addr);
  EXPECT_EQ(info->observed_addr->tcp_target()->host, "127.0.0.1");
  EXPECT_THAT(info->agent_version, ::testing::HasSubstr("js-libp2p"));
}

TEST_F(js_interop, js_perf_client_measures_our_perf_server) {
  our_node ours;
  auto js = spawn_js_peer(
      {"--dial", ours.addr(), "--perf-upload", "16777216", "--perf-download", "16777216"});
  auto results = results_of(js, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].at("ok").as_bool()) << boost::json::serialize(results[0]);
  EXPECT_EQ(js.wait(30s), 0);
}

TEST_F(js_interop, our_perf_client_measures_js_perf_server) {
  auto js = spawn_js_peer({"--listen", "/ip4/127.0.0.1/tcp/0"});
  auto listening = wait_for_event(js, "listening", 30s);
  ASSERT_TRUE(listening);
  const auto js_addr = *multiaddr::parse(first_addr(*listening));
  asio::io_context io;
  net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
  std::optional<protocols::perf_result> res;
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(js_addr);
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    auto s = co_await client.new_stream(*conn, protocols::perf_protocol);
    EXPECT_TRUE(s);
    if (!s) co_return;
    auto r = co_await protocols::run_perf(*s->stream, 16 << 20, 16 << 20);
    EXPECT_TRUE(r) << r.error().message();
    if (r) res = *r;
  });
  ASSERT_TRUE(res);
  EXPECT_EQ(res->uploaded, 16u << 20);
  EXPECT_EQ(res->downloaded, 16u << 20);
}

}  // namespace
}  // namespace peerup::test
