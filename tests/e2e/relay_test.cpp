// The real deployment shape: the home node has no listener at all (as behind
// CGNAT) and is reached only through a `peerup relay serve` process, by name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {
namespace {

using ::testing::HasSubstr;

struct via_relay : ::testing::Test {
  temp_dir root;
  node home = init_node(root.path() / "home");
  node client = init_node(root.path() / "client");
  node stranger = init_node(root.path() / "stranger");  // known to the relay, not to home
  relay_process relay = start_relay(root.path() / "relay", {home.id, client.id, stranger.id});

  void configure_home(const std::string& services) {
    write_file(home.config(),
               "identity_key: identity.key\n"
               "listen: []\n"
               "relays:\n  - " +
                   relay.addr +
                   "\n"
                   "services:\n" +
                   services,
               0644);
  }
  void configure_client(const node& n) {
    write_file(n.config(),
               "identity_key: identity.key\n"
               "relays:\n  - " +
                   relay.addr +
                   "\n"
                   "names:\n  home: " +
                   home.id + "\n",
               0644);
  }
  daemon_process start_home(const std::string& services) {
    configure_home(services);
    configure_client(client);
    configure_client(stranger);
    EXPECT_EQ(home.peerup({"auth", "add", client.id}).code, 0);
    auto d = start_daemon(home);
    EXPECT_TRUE(wait_for_status(home, "\"state\":\"reserved\"")) << d.log_text();
    return d;
  }
};

TEST_F(via_relay, proxy_by_name_serves_an_http_file_byte_for_byte) {
  const auto www = root.path() / "www";
  fs::create_directories(www);
  std::string page(2 * 1024 * 1024, 'x');
  for (std::size_t i = 0; i < page.size(); i += 7) page[i] = static_cast<char>('a' + i % 26);
  write_file(www / "big.txt", page, 0644);
  auto http = start_http_server(www, root.path() / "http.log");
  auto d = start_home("  web:\n    local_address: 127.0.0.1:" + std::to_string(http.port) + "\n");
  auto proxy = start_proxy(client, "home", "web");
  const auto out = root.path() / "fetched.txt";
  auto curl = run({"curl", "-sS", "--max-time", "60", "-o", out.string(),
                   "http://127.0.0.1:" + std::to_string(proxy.port) + "/big.txt"});
  ASSERT_EQ(curl.code, 0) << curl.err << "\n" << d.log_text();
  EXPECT_EQ(read_file(out), page);
  EXPECT_THAT(d.log_text(), HasSubstr(client.id + " (relayed) -> service web"));
}

// The relay dies under a relayed proxy mid-stream: the proxy's log says the
// connection went away, not "is this node's peer ID in its authorized_keys?"
// (session 11's soak saw that hint at every relay restart).
TEST_F(via_relay, a_relay_that_dies_under_the_proxy_is_not_called_a_refusal) {
  const auto port = free_port();
  auto d = start_home("  hold:\n    local_address: 127.0.0.1:" + std::to_string(port) + "\n");
  auto proxy = start_proxy(client, "home", "hold", {"--log-level", "info"});
  // One python process: the service (a thread that answers one line and
  // holds the connection), and a local client of the proxy that reads the
  // line, kills the relay while it holds the stream, and reads again (its
  // end; bounded: 15 s).
  auto got = run({"python3", "-c",
                  "import socket,os,signal,threading,time\n"
                  "s=socket.socket()\n"
                  "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                  "s.bind(('127.0.0.1'," + std::to_string(port) + "))\ns.listen()\n"
                  "def serve():\n"
                  "  c,_=s.accept()\n  c.sendall(b'hi\\n')\n  time.sleep(20)\n"
                  "threading.Thread(target=serve,daemon=True).start()\n"
                  "c=socket.create_connection(('127.0.0.1'," + std::to_string(proxy.port) +
                      "))\nc.settimeout(15)\nprint(c.recv(3).decode(),end='')\n"
                  "os.kill(" + std::to_string(relay.proc.pid()) + ",signal.SIGKILL)\n"
                  "try:\n  print('|',c.recv(3))\nexcept OSError as e:\n  print('|',e)\n"},
                 30s);
  ASSERT_EQ(got.code, 0) << got.err << proxy.log_text();
  EXPECT_THAT(got.out, HasSubstr("hi\n|"));
  EXPECT_TRUE(eventually(
      [&] { return proxy.log_text().find("stream ended") != std::string::npos; }))
      << proxy.log_text();
  EXPECT_THAT(proxy.log_text(), HasSubstr("went away"));
  EXPECT_THAT(proxy.log_text(), ::testing::Not(HasSubstr("authorized_keys")));
}

TEST_F(via_relay, connect_and_ping_by_name_go_through_the_relay) {
  counting_server echo("hello through the relay\n");
  auto d =
      start_home("  hello:\n    local_address: 127.0.0.1:" + std::to_string(echo.port()) + "\n");
  auto r = client.peerup({"connect", "home", "hello"}, 30s);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello through the relay\n");
  auto by_id = client.peerup({"connect", home.id, "hello"}, 30s);
  EXPECT_EQ(by_id.out, "hello through the relay\n") << by_id.err;
  auto ping = client.peerup({"ping", "home", "-c", "2", "-i", "0.1"}, 30s);
  EXPECT_EQ(ping.code, 0) << ping.err;
  EXPECT_THAT(ping.out, HasSubstr("seq=1"));
  EXPECT_THAT(ping.out, HasSubstr("path=relayed"));
  EXPECT_THAT(ping.out, ::testing::Not(HasSubstr("path=direct")));
}

TEST_F(via_relay, a_peer_the_relay_knows_but_home_does_not_is_refused) {
  counting_server secret("secret\n");
  auto d =
      start_home("  secret:\n    local_address: 127.0.0.1:" + std::to_string(secret.port()) + "\n");
  auto r = stranger.peerup({"connect", "home", "secret"}, 30s);
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(secret.accepts(), 0);
  EXPECT_TRUE(eventually([&] {
    return d.log_text().find("refused connection from " + stranger.id) != std::string::npos;
  }));
}

TEST_F(via_relay, status_shows_the_reservation_and_the_relayed_client) {
  counting_server svc("s\n");
  auto d = start_home("  s:\n    local_address: 127.0.0.1:" + std::to_string(svc.port()) + "\n");
  auto proxy = start_proxy(client, "home", "s");  // holds a relayed connection
  EXPECT_TRUE(wait_for_status(home, client.id));
  auto s = home.peerup({"status"});
  EXPECT_THAT(s.out, HasSubstr(relay.addr + "  reserved (expires in"));
  // The relayed path names what carries the hop to the relay (TCP here).
  EXPECT_THAT(s.out, HasSubstr(client.id + "  relayed via tcp inbound"));
  EXPECT_THAT(s.out, HasSubstr("/p2p-circuit/p2p/" + home.id));
}

}  // namespace
}  // namespace peerup::e2e
