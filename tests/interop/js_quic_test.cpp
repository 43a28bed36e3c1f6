// Interop over QUIC (quic-v1, the libp2p TLS handshake, QUIC streams as
// libp2p streams) with real js-libp2p 2.x nodes using @chainsafe/libp2p-quic
// (quinn inside), in both directions (tests/interop/js-quic).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "protocols/identify.hpp"
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

// Our node on its own io thread, listening on QUIC only.
struct our_quic_node {
  io_thread t;
  net::host host{t.io().get_executor(),
                 net::host_config{.identity = private_key::generate(),
                                  .listen = {*multiaddr::parse("/ip4/127.0.0.1/udp/0/quic-v1")}}};
  protocols::identify_service identify{host};
  our_quic_node() {
    protocols::install_ping(host);
    host.set_handler(echo_protocol, serve_echo);
    host.start();
    t.start();
  }
  ~our_quic_node() {
    t.stop([this] { host.stop(); });
  }
  std::string addr() const { return host.full_addrs().front().to_string(); }
  std::string listen_addr() const { return host.listen_addrs().front().to_string(); }
};

class js_quic_interop : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(js_quic_peer_installed()) << "run `npm ci` in " << js_quic_peer_dir();
  }
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

TEST_F(js_quic_interop, js_dials_us_over_quic_for_ping_identify_10mib_echo_and_50_streams) {
  our_quic_node ours;
  auto js =
      spawn_js_quic_peer({"--dial", ours.addr(), "--ping", "3", "--identify", "--echo-bytes",
                          "10485760", "--echo-streams", "50", "--echo-stream-bytes", "65536"});
  auto connected = wait_for_event(js, "connected", 30s);
  ASSERT_TRUE(connected) << "js could not connect to " << ours.addr();
  EXPECT_THAT(std::string(connected->at("remote_addr").as_string().c_str()),
              ::testing::HasSubstr("/quic-v1"));
  auto results = results_of(js, 4);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(js.wait(30s), 0);
  for (const auto& r : results) EXPECT_TRUE(r.at("ok").as_bool()) << boost::json::serialize(r);
  EXPECT_EQ(results[0].at("action").as_string(), "ping");
  const auto& id = results[1];
  EXPECT_EQ(id.at("action").as_string(), "identify");
  EXPECT_THAT(
      strings(id.at("protocols")),
      ::testing::IsSupersetOf({"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/peerup/echo/1.0.0"}));
  EXPECT_THAT(strings(id.at("listen_addrs")), ::testing::Contains(ours.listen_addr()));
  EXPECT_THAT(std::string(id.at("observed_addr").as_string().c_str()),
              ::testing::MatchesRegex("/ip4/127.0.0.1/udp/[0-9]+/quic-v1"));
  EXPECT_EQ(results[2].at("received_bytes").to_number<std::int64_t>(), 10485760);
  EXPECT_EQ(results[3].at("streams_ok").to_number<std::int64_t>(), 50);
}

TEST_F(js_quic_interop, we_dial_js_over_quic_for_ping_identify_10mib_echo_and_50_streams) {
  auto js = spawn_js_quic_peer({"--listen", "/ip4/127.0.0.1/udp/0/quic-v1"});
  auto listening = wait_for_event(js, "listening", 30s);
  ASSERT_TRUE(listening);
  const auto js_addr = *multiaddr::parse(first_addr(*listening));
  ASSERT_TRUE(net::is_quic_addr(js_addr)) << js_addr.to_string();

  const auto out = dial_js_and_exercise(js_addr);
  ASSERT_TRUE(out.connected);
  EXPECT_EQ(out.transport, "quic");
  EXPECT_EQ(out.pings, 5);
  EXPECT_TRUE(out.echo_ok);
  EXPECT_EQ(out.streams_ok, 50u);
  const auto& info = out.info;
  ASSERT_TRUE(info);
  EXPECT_THAT(info->protocols, ::testing::IsSupersetOf(
                                   {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/peerup/echo/1.0.0"}));
  EXPECT_THAT(info->listen_addrs, ::testing::Contains(js_addr.without_peer()));
  ASSERT_TRUE(info->observed_addr);
  EXPECT_TRUE(net::is_quic_addr(*info->observed_addr)) << info->observed_addr->to_string();
}

}  // namespace
}  // namespace peerup::test
