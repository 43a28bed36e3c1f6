// The home node reached directly (the client names its multiaddr): proxy,
// connect, the two access layers, reloads, status and start-up errors, all
// with real processes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {
namespace {

using ::testing::HasSubstr;

std::string random_text(std::size_t n) {
  std::string s(n, '\0');
  unsigned x = 12345;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>('a' + (x >> 16) % 26);
  }
  return s;
}

struct direct : ::testing::Test {
  temp_dir root;
  node home = init_node(root.path() / "home");
  node client = init_node(root.path() / "client");
  fs::path www = root.path() / "www";
  std::string page = random_text(300 * 1024);

  void SetUp() override {
    fs::create_directories(www);
    write_file(www / "page.txt", page, 0644);
    write_file(client.config(), "identity_key: identity.key\n");
  }

  // The home config: loopback listener plus `services` (YAML under services:).
  void configure_home(const std::string& services) {
    write_file(home.config(),
               "identity_key: identity.key\n"
               "authorized_keys: authorized_keys\n"
               "listen:\n  - /ip4/127.0.0.1/tcp/0\n"
               "services:\n" +
                   services,
               0644);
  }
  void authorize(const std::string& peer, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"auth", "add", peer};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = home.peerup(args);
    ASSERT_EQ(r.code, 0) << r.err;
  }
};

TEST_F(direct, proxy_serves_an_http_file_byte_for_byte) {
  auto http = start_http_server(www, root.path() / "http.log");
  configure_home("  web:\n    local_address: 127.0.0.1:" + std::to_string(http.port) + "\n");
  authorize(client.id, {"--comment", "laptop"});
  auto d = start_daemon(home);
  auto proxy = start_proxy(client, d.listen, "web");
  const auto out = root.path() / "fetched.txt";
  for (int i = 0; i < 3; ++i) {  // three connections through one proxy
    auto curl = run({"curl", "-sS", "--max-time", "30", "-o", out.string(),
                     "http://127.0.0.1:" + std::to_string(proxy.port) + "/page.txt"});
    ASSERT_EQ(curl.code, 0) << curl.err << "\ndaemon:\n" << d.log_text();
    EXPECT_EQ(read_file(out), page);
  }
  EXPECT_THAT(d.log_text(), HasSubstr(client.id + " (direct) -> service web"));
}

TEST_F(direct, connect_pipes_a_request_and_exits_when_the_service_closes) {
  auto http = start_http_server(www, root.path() / "http.log");
  configure_home("  web:\n    local_address: 127.0.0.1:" + std::to_string(http.port) + "\n");
  authorize(client.id);
  auto d = start_daemon(home);
  // stdin EOF (after the request) half-closes the stream; the server's close
  // ends the command: both directions of the half-close are exercised.
  auto r = shell("printf 'GET /page.txt HTTP/1.0\\r\\n\\r\\n' | " + sh_quote(peerup_binary) +
                     " --config " + sh_quote(client.config().string()) + " connect " +
                     sh_quote(d.listen) + " web",
                 60s);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("200 OK"));
  EXPECT_EQ(r.out.substr(r.out.find("\r\n\r\n") + 4).size(), page.size() + 1);  // run() adds '\n'
}

TEST_F(direct, unauthorized_peer_is_cut_before_any_stream_and_the_service_never_dialed) {
  counting_server web("hello\n");
  configure_home("  web:\n    local_address: 127.0.0.1:" + std::to_string(web.port()) + "\n");
  auto d = start_daemon(home);  // authorized_keys is empty
  auto r = client.peerup({"connect", d.listen, "web"}, 30s);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("authorized_keys"));
  EXPECT_EQ(r.out, "");
  auto proxy = client.peerup({"proxy", d.listen, "web", "0"}, 30s);  // fails at start
  EXPECT_EQ(proxy.code, 2);
  EXPECT_THAT(proxy.err, HasSubstr("authorized_keys"));
  EXPECT_EQ(web.accepts(), 0);
  EXPECT_TRUE(eventually([&] {
    return d.log_text().find("refused connection from " + client.id) != std::string::npos;
  }));
}

// A peer that goes away after the service answered is not a refusal: the
// error must say the connection went, not send the user to authorized_keys
// (it did, for a relayed proxy whose relay died).
TEST_F(direct, connect_says_the_peer_went_away_when_it_dies_after_answering) {
  const auto port = free_port();
  configure_home("  hold:\n    local_address: 127.0.0.1:" + std::to_string(port) + "\n");
  authorize(client.id);
  auto d = start_daemon(home);
  const auto out = root.path() / "out", err = root.path() / "err", rc = root.path() / "rc";
  // The service answers one line and holds the connection; stdin stays open
  // (sleep), so only the daemon's death can end the command. Each wait is
  // bounded (10 s); the exit status goes to a file (the pipeline itself
  // lasts as long as its sleep).
  auto r = shell("python3 -c 'import socket,time\ns=socket.socket()\n"
                 "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                 "s.bind((\"127.0.0.1\"," + std::to_string(port) + "))\ns.listen()\n"
                 "c,_=s.accept()\nc.sendall(b\"hi\\n\")\ntime.sleep(25)' >/dev/null 2>&1 &\n"
                 "srv=$!\n"
                 "for i in $(seq 50); do ss -ltn | grep -q ':" + std::to_string(port) +
                     " ' && break; sleep 0.1; done\n"
                 "sleep 25 2>/dev/null | { " + sh_quote(peerup_binary) + " --config " +
                     sh_quote(client.config().string()) + " connect " + sh_quote(d.listen) +
                     " hold >" + sh_quote(out.string()) + " 2>" + sh_quote(err.string()) +
                     "; echo $? >" + sh_quote(rc.string()) + "; } &\n"
                 "for i in $(seq 100); do grep -q hi " + sh_quote(out.string()) +
                     " && break; sleep 0.1; done\n"
                 "kill -9 " + std::to_string(d.proc.pid()) + "\n"
                 "for i in $(seq 100); do [ -s " + sh_quote(rc.string()) +
                     " ] && break; sleep 0.1; done\n"
                 "echo rc=$(cat " + sh_quote(rc.string()) + ")\n"
                 "kill $srv; pkill -P $$ -x sleep; true\n",
                 40s);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(out), "hi\n");
  EXPECT_THAT(r.out, HasSubstr("rc=1")) << r.out;
  const auto said = read_file(err);
  EXPECT_THAT(said, HasSubstr("went away")) << said;
  EXPECT_THAT(said, ::testing::Not(HasSubstr("authorized_keys"))) << said;
}

TEST_F(direct, per_service_keys_allow_one_service_and_not_another) {
  counting_server web("web says hi\n"), admin("admin console\n");
  configure_home("  web:\n    local_address: 127.0.0.1:" + std::to_string(web.port()) +
                 "\n    authorized_keys: web.keys\n"
                 "  admin:\n    local_address: 127.0.0.1:" +
                 std::to_string(admin.port()) + "\n");
  const node guest = init_node(root.path() / "guest");  // in web.keys only
  write_file(guest.config(), "identity_key: identity.key\n");
  write_file(home.dir / "web.keys", guest.id + " guest\n");
  authorize(client.id, {"--service", "admin"});  // main file, restricted to admin
  auto d = start_daemon(home);

  auto ok = guest.peerup({"connect", d.listen, "web"}, 30s);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "web says hi\n");
  auto denied = guest.peerup({"connect", d.listen, "admin"}, 30s);
  EXPECT_NE(denied.code, 0);
  EXPECT_THAT(denied.err, HasSubstr("refused the stream"));
  EXPECT_EQ(admin.accepts(), 0);

  auto admin_ok = client.peerup({"connect", d.listen, "admin"}, 30s);
  EXPECT_EQ(admin_ok.out, "admin console\n") << admin_ok.err;
  auto web_denied = client.peerup({"connect", d.listen, "web"}, 30s);
  EXPECT_NE(web_denied.code, 0);
  EXPECT_EQ(web.accepts(), 1);  // only the guest's
  EXPECT_THAT(d.log_text(), HasSubstr("refused, peer not authorized for this service"));
}

TEST_F(direct, a_service_that_is_down_resets_the_stream_and_the_daemon_keeps_serving) {
  counting_server up("still here\n");
  configure_home("  down:\n    local_address: 127.0.0.1:" + std::to_string(free_port()) +
                 "\n  up:\n    local_address: 127.0.0.1:" + std::to_string(up.port()) + "\n");
  authorize(client.id);
  auto d = start_daemon(home);
  auto r = client.peerup({"connect", d.listen, "down"}, 30s);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("service is down"));
  EXPECT_THAT(d.log_text(), HasSubstr("unreachable"));
  auto ok = client.peerup({"connect", d.listen, "up"}, 30s);
  EXPECT_EQ(ok.out, "still here\n") << ok.err;
}

TEST_F(direct, authorizing_a_peer_takes_effect_without_restart) {
  counting_server web("welcome\n");
  configure_home("  web:\n    local_address: 127.0.0.1:" + std::to_string(web.port()) + "\n");
  auto d = start_daemon(home);
  EXPECT_NE(client.peerup({"connect", d.listen, "web"}, 30s).code, 0);
  authorize(client.id);  // the daemon polls the file
  EXPECT_TRUE(eventually(
      [&] {
        return client.peerup({"connect", d.listen, "web"}, 30s).out == "welcome\n";
      },
      15000ms))
      << d.log_text();
  // And removing it cuts the peer off again.
  ASSERT_EQ(home.peerup({"auth", "remove", client.id}).code, 0);
  EXPECT_TRUE(eventually(
      [&] {
        return client.peerup({"connect", d.listen, "web"}, 30s).code != 0;
      },
      15000ms));
}

TEST_F(direct, sighup_reloads_services) {
  counting_server first("first\n"), second("second\n");
  configure_home("  web:\n    local_address: 127.0.0.1:" + std::to_string(first.port()) + "\n");
  authorize(client.id);
  auto d = start_daemon(home);
  EXPECT_EQ(client.peerup({"connect", d.listen, "web"}, 30s).out, "first\n");
  ASSERT_EQ(
      home.peerup({"service", "add", "web", "127.0.0.1:" + std::to_string(second.port())}).code, 0);
  ::kill(d.proc.pid(), SIGHUP);
  EXPECT_TRUE(eventually([&] {
    return client.peerup({"connect", d.listen, "web"}, 30s).out == "second\n";
  }));
  ASSERT_EQ(home.peerup({"service", "disable", "web"}).code, 0);
  ::kill(d.proc.pid(), SIGHUP);
  EXPECT_TRUE(eventually([&] {
    auto r = client.peerup({"connect", d.listen, "web"}, 30s);
    return r.code != 0 && r.err.find("does not offer service") != std::string::npos;
  }));
}

TEST_F(direct, status_shows_peer_listen_addresses_services_and_connected_peers) {
  counting_server web("x\n");
  configure_home("  web:\n    local_address: 127.0.0.1:" + std::to_string(web.port()) + "\n");
  authorize(client.id);
  auto d = start_daemon(home);
  auto proxy = start_proxy(client, d.listen, "web");  // keeps a connection open
  EXPECT_TRUE(wait_for_status(home, client.id));
  auto s = home.peerup({"status"});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_THAT(s.out, HasSubstr("peer ID:   " + home.id));
  EXPECT_THAT(s.out, HasSubstr(d.listen));
  EXPECT_THAT(s.out, HasSubstr(client.id + "  direct over tcp inbound"));
  EXPECT_THAT(s.out, HasSubstr("web"));
  auto j = home.peerup({"status", "--json"});
  EXPECT_THAT(j.out, HasSubstr("\"peer_id\":\"" + home.id + "\""));
  d.proc.terminate();
  EXPECT_EQ(d.proc.wait(10000ms), 0);
  auto after = home.peerup({"status"});
  EXPECT_EQ(after.code, 3);
  EXPECT_THAT(after.err, HasSubstr("not running"));
}

TEST_F(direct, config_errors_name_the_file_and_line) {
  write_file(home.config(),
             "identity_key: identity.key\n"
             "listen:\n  - /ip4/127.0.0.1/tcp/0\n"
             "services:\n  ssh:\n    local_address: 22\n",
             0644);
  auto r = home.peerup({"daemon"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(home.config().string() +
                               ":6: services.ssh.local_address: expected host:port, got \"22\""));
  write_file(home.config(), "listen:\n  - /ip4/127.0.0.1/tcp/0\nrelay:\n  - x\n", 0644);
  r = home.peerup({"daemon"});
  EXPECT_THAT(r.err, HasSubstr(home.config().string() + ":3: relay: unknown key"));
}

TEST_F(direct, refuses_to_start_with_a_group_readable_key_or_authorized_keys) {
  configure_home("  web:\n    local_address: 127.0.0.1:80\n");
  ::chmod((home.dir / "authorized_keys").c_str(), 0640);
  auto r = home.peerup({"daemon"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("chmod 600 " + (home.dir / "authorized_keys").string()));
  ::chmod((home.dir / "authorized_keys").c_str(), 0600);
  ::chmod((home.dir / "identity.key").c_str(), 0644);
  r = home.peerup({"daemon"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("chmod 600 " + (home.dir / "identity.key").string()));
}

TEST_F(direct, client_commands_and_the_relay_refuse_a_world_readable_identity_key) {
  const auto key = (client.dir / "identity.key").string();
  ::chmod(key.c_str(), 0644);
  const std::string target =
      "/ip4/127.0.0.1/tcp/" + std::to_string(free_port()) + "/p2p/" + home.id;
  const std::vector<std::vector<std::string>> commands{
      {"proxy", target, "web", "0"}, {"connect", target, "web"}, {"ping", target, "-c", "1"}};
  for (const auto& args : commands) {
    auto r = client.peerup(args, 30s);
    EXPECT_EQ(r.code, 1) << args[0] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("mode 0644")) << args[0];
    EXPECT_THAT(r.err, HasSubstr("chmod 600 " + key)) << args[0];
  }
  const auto relay_dir = root.path() / "relay";
  ASSERT_EQ(run({peerup_binary, "keygen", "--key", (relay_dir / "identity.key").string()}).code, 0);
  ::chmod((relay_dir / "identity.key").c_str(), 0644);
  auto relay = run({peerup_binary, "relay", "serve", "--dir", relay_dir.string(), "--listen",
                    "/ip4/127.0.0.1/tcp/0"},
                   30s);
  EXPECT_EQ(relay.code, 1);
  EXPECT_THAT(relay.err, HasSubstr("chmod 600 " + (relay_dir / "identity.key").string()));
}

TEST_F(direct, auth_validate_reports_bad_lines_with_numbers) {
  write_file(home.dir / "authorized_keys",
             "# ok\n" + client.id + "\nnot-a-peer-id\nservice= " + client.id + "\n");
  auto r = home.peerup({"auth", "validate"});
  EXPECT_EQ(r.code, 1);
  const auto file = (home.dir / "authorized_keys").string();
  EXPECT_THAT(r.out, HasSubstr(file + ":3: expected a peer ID"));
  EXPECT_THAT(r.out, HasSubstr(file + ":4: service= needs at least one service name"));
}

TEST_F(direct, auth_add_refuses_a_comment_that_would_break_the_file_and_writes_nothing) {
  const auto file = home.dir / "authorized_keys";
  const auto before = read_file(file);
  auto long_comment = home.peerup({"auth", "add", client.id, "--comment", std::string(5000, 'x')});
  EXPECT_EQ(long_comment.code, 1);
  EXPECT_THAT(long_comment.err, HasSubstr("over the 4096-byte line limit; shorten the comment"));
  auto escape = home.peerup({"auth", "add", client.id, "--comment", "red \x1b[31m"});
  EXPECT_EQ(escape.code, 1);
  EXPECT_THAT(escape.err, HasSubstr("control character U+001B (byte 4)"));
  EXPECT_EQ(read_file(file), before);
  EXPECT_EQ(home.peerup({"auth", "validate"}).code, 0);
}

TEST_F(direct, init_never_overwrites_a_key_without_force) {
  const auto before = read_file(home.dir / "identity.key");
  auto r = run({peerup_binary, "init", "--dir", home.dir.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("use --force"));
  EXPECT_EQ(read_file(home.dir / "identity.key"), before);
  EXPECT_EQ(home.peerup({"whoami"}).out, home.id + "\n");
  r = run({peerup_binary, "init", "--dir", home.dir.string(), "--force"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out, home.id + "\n");
}

// Issue 21, defect 2: an editing command used to write the config with the
// umask (0644), so SOCKS passwords in gateway.users became world-readable.
TEST_F(direct, editing_commands_keep_the_config_mode_and_init_writes_it_0600) {
  auto mode_of = [](const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<unsigned>(st.st_mode & 07777) : 0u;
  };
  write_file(home.config(), "identity_key: identity.key\n", 0600);
  const std::string relay = "/ip4/127.0.0.1/tcp/4001/p2p/" + client.id;
  const std::vector<std::vector<std::string>> edits{{"name", "add", "laptop", client.id},
                                                    {"service", "add", "ssh", "127.0.0.1:22"},
                                                    {"relay", "add", relay}};
  for (const auto& args : edits) {
    auto r = run({"sh", "-c", "umask 022; exec " + sh_quote(peerup_binary) + " --config " +
                                  sh_quote(home.config().string()) + " " + args[0] + " " +
                                  args[1] + " " + args[2] + (args.size() > 3 ? " " + args[3] : "")});
    EXPECT_EQ(r.code, 0) << args[0] << ": " << r.err;
    EXPECT_EQ(mode_of(home.config()), 0600u) << args[0];
    EXPECT_EQ(mode_of(home.dir / "config.yaml.bak"), 0600u) << args[0];
  }
  EXPECT_THAT(read_file(home.config()), HasSubstr("laptop: " + client.id));
  const auto fresh = root.path() / "fresh";
  auto init = shell("umask 022; " + sh_quote(peerup_binary) + " init --dir " +
                    sh_quote(fresh.string()));
  ASSERT_EQ(init.code, 0) << init.err;
  EXPECT_EQ(mode_of(fresh / "config.yaml"), 0600u);
}

// Issue 21, defect 5: ping to a multiaddr without /p2p/ pinged whichever
// peer answered there; it is refused like connect refuses it.
TEST_F(direct, ping_refuses_a_multiaddr_without_p2p_like_connect) {
  configure_home("  web:\n    local_address: 127.0.0.1:80\n");
  authorize(client.id);
  auto d = start_daemon(home);
  const std::string bare = d.listen.substr(0, d.listen.find("/p2p/"));
  ASSERT_NE(bare, d.listen);
  for (const auto& args : std::vector<std::vector<std::string>>{{"ping", bare, "-c", "1"},
                                                                {"connect", bare, "web"}}) {
    auto r = client.peerup(args, 30s);
    EXPECT_EQ(r.code, 1) << args[0] << ": " << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr("must end in /p2p/<peer-id>")) << args[0];
    EXPECT_EQ(r.out, "") << args[0];
  }
  // Without any config (an ephemeral key) too.
  auto bare_ping = run({peerup_binary, "ping", bare, "-c", "1"}, 30s);
  EXPECT_EQ(bare_ping.code, 1);
  EXPECT_THAT(bare_ping.err, HasSubstr("must end in /p2p/<peer-id>"));
  EXPECT_THAT(d.log_text(), ::testing::Not(HasSubstr("peer " + client.id + " connected")));
  auto ok = client.peerup({"ping", d.listen, "-c", "1"}, 30s);
  EXPECT_EQ(ok.code, 0) << ok.err;
}

}  // namespace
}  // namespace peerup::e2e
