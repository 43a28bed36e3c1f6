// Volume: 1 GiB through the relay and 1 GiB direct (SHA-256 checked, bytes
// generated as they go), and 1,000 concurrent proxied TCP connections over
// one libp2p connection.
#include "fault/deployment.hpp"

namespace peerup::fault {
namespace {

TEST_F(deployment, one_gib_download_through_the_relay_arrives_intact) {
  start_relay();
  configure("[]");
  auto d = start_home();
  auto proxy = start_proxy(client, "home", "data");
  const auto r = download(proxy.port, GiB, 41, std::chrono::seconds(150));
  EXPECT_TRUE(intact(r, GiB, 41)) << d.log_text();
  EXPECT_THAT(d.log_text(), ::testing::HasSubstr("(relayed) -> service data"));
  record("relayed_1gib_download_seconds", fixed(r.seconds));
  record("relayed_1gib_download_mib_per_s", fixed(r.mib_per_s()));
}

TEST_F(deployment, one_gib_upload_direct_arrives_intact_and_the_half_close_carries_the_answer) {
  configure("[/ip4/127.0.0.1/tcp/0]");
  auto d = start_home();
  auto proxy = start_proxy(client, d.listen, "data");
  // The service answers with its digest only after EOF, so the client's
  // half-close must cross the proxy and the daemon without closing the
  // way back.
  const auto r = upload(proxy.port, GiB, 42, std::chrono::seconds(150));
  EXPECT_TRUE(intact(r, GiB, 42)) << d.log_text();
  EXPECT_THAT(d.log_text(), ::testing::HasSubstr("(direct) -> service data"));
  record("direct_1gib_upload_seconds", fixed(r.seconds));
  record("direct_1gib_upload_mib_per_s", fixed(r.mib_per_s()));
}

TEST_F(deployment, a_thousand_concurrent_proxied_connections_share_one_libp2p_connection) {
  constexpr std::size_t connections = 1000;
  constexpr std::size_t size = 64 * 1024;
  // Test process: 1000 client + 1000 echo sockets; proxy and daemon inherit.
  ASSERT_TRUE(raise_fd_limit(8192));
  echo_service echo;
  // The default host limits admit 256 inbound streams per connection and
  // 512 per peer (net/resource_manager.hpp); 1,000 need the limits raised.
  write_file(home.config(),
             "identity_key: identity.key\nlisten: [/ip4/127.0.0.1/tcp/0]\n"
             "limits:\n  max_streams_per_connection: 1024\n  max_streams_per_peer: 1024\n"
             "services:\n  echo:\n    local_address: 127.0.0.1:" +
                 std::to_string(echo.port()) + "\n",
             0644);
  write_file(client.config(), "identity_key: identity.key\n");
  ASSERT_EQ(home.peerup({"auth", "add", client.id}).code, 0);
  auto d = start_daemon(home);
  auto proxy = start_proxy(client, d.listen, "echo");

  const auto rep = echo_many(proxy.port, connections, size, std::chrono::seconds(90));
  record("echo_1000x64kib_seconds", fixed(rep.seconds, 2));
  EXPECT_EQ(rep.ok, connections) << rep.mismatched << " mismatched, " << rep.failed
                                 << " failed; first: " << rep.first_error << "\nproxy:\n"
                                 << tail(proxy.log_text()) << "\ndaemon:\n"
                                 << tail(d.log_text());
  // All streams were open at once (the clients wait for each other before
  // sending, and each service connection lives until its client's EOF).
  EXPECT_EQ(echo.peak_sessions(), connections);
  EXPECT_EQ(echo.accepted(), connections);
  // One libp2p connection carried them all: the daemon saw the client connect once.
  EXPECT_EQ(count(d.log_text(), "peer " + client.id + " connected ("), 1u);
}

}  // namespace
}  // namespace peerup::fault
