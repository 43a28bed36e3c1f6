#include "config/config.hpp"
#include "config/relay_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "crypto/keys.hpp"
#include "support/temp_dir.hpp"

namespace peerup::app {
namespace {

using ::testing::HasSubstr;

const std::string relay_id = private_key::generate().to_peer_id().to_string();
const std::string home_id = private_key::generate().to_peer_id().to_string();

std::string error_of(const std::string& text) {
  auto r = parse_config(text, "config.yaml");
  EXPECT_FALSE(r) << "accepted:\n" << text;
  return r ? std::string() : r.error().to_string();
}

TEST(config, parses_every_key_of_a_complete_file) {
  const std::string text =
      "identity_key: keys/node.key\n"
      "listen:\n"
      "  - /ip4/0.0.0.0/tcp/4001\n"
      "  - /ip6/::/tcp/4001\n"
      "relays:\n"
      "  - /ip4/203.0.113.7/tcp/4001/p2p/" +
      relay_id +
      "\n"
      "authorized_keys: /etc/peerup/authorized_keys\n"
      "services:\n"
      "  ssh:\n"
      "    local_address: 127.0.0.1:22\n"
      "  web:\n"
      "    local_address: \"[::1]:8080\"\n"
      "    enabled: false\n"
      "    authorized_keys: web.keys\n"
      "names:\n"
      "  home: " +
      home_id +
      "\n"
      "  lab: /ip4/192.0.2.1/tcp/4001/p2p/" +
      home_id + "\n";
  auto r = parse_config(text, "/srv/peerup/config.yaml");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->identity_key.written, "keys/node.key");
  EXPECT_EQ(r->identity_key.resolved, "/srv/peerup/keys/node.key");
  EXPECT_EQ(r->authorized_keys.resolved, "/etc/peerup/authorized_keys");
  ASSERT_EQ(r->listen.size(), 2u);
  EXPECT_EQ(r->listen[1].to_string(), "/ip6/::/tcp/4001");
  ASSERT_EQ(r->relay_peers().size(), 1u);
  EXPECT_EQ(r->relay_peers()[0].to_string(), relay_id);
  ASSERT_EQ(r->services.size(), 2u);
  const auto& ssh = r->services.at("ssh");
  EXPECT_EQ(ssh.local_address, (host_port{"127.0.0.1", 22}));
  EXPECT_TRUE(ssh.enabled);
  EXPECT_FALSE(ssh.authorized_keys);
  EXPECT_EQ(ssh.name.protocol().str(), "/peerup/ssh/1.0.0");
  const auto& web = r->services.at("web");
  EXPECT_EQ(web.local_address, (host_port{"::1", 8080}));
  EXPECT_FALSE(web.enabled);
  ASSERT_TRUE(web.authorized_keys);
  EXPECT_EQ(web.authorized_keys->resolved, "/srv/peerup/web.keys");
  EXPECT_EQ(r->names.at("home").peer.to_string(), home_id);
  EXPECT_FALSE(r->names.at("home").addr);
  ASSERT_TRUE(r->names.at("lab").addr);
  EXPECT_EQ(r->names.at("lab").peer.to_string(), home_id);
}

TEST(config, empty_file_means_defaults_next_to_the_config) {
  auto r = parse_config("", "/srv/p/config.yaml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->identity_key.resolved, "/srv/p/identity.key");
  EXPECT_EQ(r->authorized_keys.resolved, "/srv/p/authorized_keys");
  EXPECT_TRUE(r->listen.empty());
  EXPECT_TRUE(r->services.empty());
}

TEST(config, local_address_without_port_names_file_line_key_and_value) {
  EXPECT_EQ(error_of("listen: []\nservices:\n  ssh:\n    local_address: 22\n"),
            "config.yaml:4: services.ssh.local_address: expected host:port, got \"22\"");
}

TEST(config, unknown_top_level_key_is_refused_with_its_line) {
  const auto e = error_of("listen: []\n\nlisten_addrs: [/ip4/0.0.0.0/tcp/1]\n");
  EXPECT_THAT(e, HasSubstr("config.yaml:3: listen_addrs: unknown key"));
  EXPECT_THAT(e, HasSubstr("identity_key"));  // lists what is allowed
}

TEST(config, unknown_service_key_is_refused_with_its_line) {
  EXPECT_THAT(error_of("services:\n  ssh:\n    local_address: 127.0.0.1:22\n    port: 22\n"),
              HasSubstr("config.yaml:4: services.ssh.port: unknown key"));
}

TEST(config, wrong_types_say_what_was_expected) {
  EXPECT_THAT(error_of("listen: /ip4/0.0.0.0/tcp/4001\n"),
              HasSubstr("config.yaml:1: listen: expected a list of multiaddrs, got "
                        "\"/ip4/0.0.0.0/tcp/4001\""));
  EXPECT_THAT(error_of("services:\n  ssh:\n    local_address: 127.0.0.1:22\n    enabled: maybe\n"),
              HasSubstr("config.yaml:4: services.ssh.enabled: expected true or false, got "
                        "\"maybe\""));
  EXPECT_THAT(error_of("services: [ssh]\n"),
              HasSubstr("config.yaml:1: services: expected a map of service name -> settings, "
                        "got a list"));
  EXPECT_THAT(error_of("identity_key:\n  path: x\n"),
              HasSubstr("config.yaml:2: identity_key: expected a file path, got a map"));
  EXPECT_THAT(error_of("- a\n- b\n"), HasSubstr("config.yaml:1: config: expected a map"));
}

TEST(config, bad_multiaddrs_are_refused_with_their_line) {
  EXPECT_THAT(error_of("listen:\n  - /ip4/0.0.0.0/tcp/4001\n  - /ip4/999.0.0.1/tcp/1\n"),
              HasSubstr("config.yaml:3: listen[1]: expected a multiaddr"));
  EXPECT_THAT(error_of("listen:\n  - /dns4/example.com/tcp/4001\n"),
              HasSubstr("config.yaml:2: listen[0]: expected an /ip4 or /ip6"));
  EXPECT_THAT(error_of("relays:\n  - /ip4/203.0.113.7/tcp/4001\n"),
              HasSubstr("config.yaml:2: relays[0]: expected a multiaddr ending in "
                        "/p2p/<peer-id>"));
}

TEST(config, bad_names_and_peer_ids_are_refused) {
  EXPECT_THAT(error_of("names:\n  home: 12D3KooWnotapeer\n"),
              HasSubstr("config.yaml:2: names.home: expected a peer ID or a multiaddr"));
  EXPECT_THAT(error_of("names:\n  " + home_id + ": " + home_id + "\n"),
              HasSubstr("config.yaml:2: names." + home_id + ": expected a name"));
  EXPECT_THAT(error_of("services:\n  \"s s\":\n    local_address: 127.0.0.1:22\n"),
              HasSubstr("config.yaml:2: services.s s: expected a service name"));
}

TEST(config, missing_local_address_is_refused) {
  EXPECT_THAT(error_of("services:\n  ssh:\n    enabled: true\n"),
              HasSubstr("config.yaml:3: services.ssh: missing local_address"));
}

TEST(config, duplicate_keys_are_refused) {
  EXPECT_THAT(error_of("names:\n  home: " + home_id + "\n  home: " + home_id + "\n"),
              HasSubstr("config.yaml:3: names.home: duplicate key"));
}

TEST(config, yaml_syntax_errors_carry_the_line) {
  EXPECT_THAT(error_of("listen: []\nservices:\n  ssh: [unclosed\n"),
              ::testing::MatchesRegex("config.yaml:[34]: YAML syntax error: .*"));
}

TEST(config, bytes_that_are_not_yaml_text_are_refused_with_their_line) {
  EXPECT_EQ(error_of("listen: []\nidentity_key: a\xff.key\n"),
            "config.yaml:2: not UTF-8 text (byte 26)");
  EXPECT_EQ(error_of("identity_key: a" + std::string(1, '\0') + "b\n"),
            "config.yaml:1: control character U+0000 (byte 15); only tab, LF and CR are allowed");
  EXPECT_EQ(error_of("names: {}\n\nidentity_key: \x1b[1m\n"),
            "config.yaml:3: control character U+001B (byte 25); only tab, LF and CR are allowed");
  EXPECT_EQ(error_of("identity_key: a\xc2\x9b.key\n"),
            "config.yaml:1: control character U+009B (byte 15); only tab, LF and CR are allowed");
  // Tabs, CRLF line ends and real Unicode stay fine.
  EXPECT_TRUE(parse_config("identity_key: \"cl\xc3\xa9\tf\"\r\nnames: {}\r\n", "config.yaml"));
}

TEST(config, oversized_file_is_refused_before_parsing) {
  const std::string big(config_limits::max_file_size + 1, '#');
  EXPECT_THAT(error_of(big), HasSubstr("config.yaml: file larger than"));
}

TEST(config, too_many_relays_are_refused) {
  std::string text = "relays:\n";
  for (std::size_t i = 0; i <= config_limits::max_relays; ++i)
    text += "  - /ip4/203.0.113.7/tcp/4001/p2p/" + relay_id + "\n";
  EXPECT_THAT(error_of(text), HasSubstr("relays: more than 32 entries"));
}

TEST(config, rendered_config_parses_back_to_the_same_settings) {
  auto cfg = default_config("/srv/p");
  cfg.relays.push_back(*multiaddr::parse("/ip4/203.0.113.7/tcp/4001/p2p/" + relay_id));
  auto ssh = *service_name::parse("ssh");
  cfg.services.emplace("ssh", service_config{ssh, {"127.0.0.1", 22}, false, cfg.ref("ssh.keys")});
  cfg.names.emplace("home", name_target{*peer_id::parse(home_id), std::nullopt});
  auto back = parse_config(render_config(cfg), cfg.file);
  ASSERT_TRUE(back) << back.error().to_string() << "\n" << render_config(cfg);
  EXPECT_EQ(back->listen, cfg.listen);
  EXPECT_EQ(back->relays, cfg.relays);
  EXPECT_EQ(back->identity_key.resolved, cfg.identity_key.resolved);
  ASSERT_EQ(back->services.count("ssh"), 1u);
  EXPECT_FALSE(back->services.at("ssh").enabled);
  EXPECT_EQ(back->services.at("ssh").authorized_keys->written, "ssh.keys");
  EXPECT_EQ(back->names.at("home").peer.to_string(), home_id);
}

TEST(config, rate_limits_parse_render_back_and_refuse_bad_values_with_their_line) {
  auto cfg = parse_config(
      "services:\n  web:\n    local_address: 127.0.0.1:80\n    rate_limit: 1250000\n"
      "  ssh:\n    local_address: 127.0.0.1:22\n    rate_limit: 0\npeer_rate_limit: 65536\n",
      "/srv/p/config.yaml");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->services.at("web").rate_limit, 1'250'000u);
  EXPECT_EQ(cfg->services.at("ssh").rate_limit, 0u);  // 0: unlimited
  EXPECT_EQ(cfg->peer_rate_limit, 65'536u);
  auto back = parse_config(render_config(*cfg), cfg->file);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->services.at("web").rate_limit, 1'250'000u);
  EXPECT_EQ(back->peer_rate_limit, 65'536u);
  const std::string bounds = "0 (unlimited) or bytes per second from 1024 to 10000000000";
  EXPECT_EQ(error_of("services:\n  web:\n    local_address: 127.0.0.1:80\n    rate_limit: 10M\n"),
            "config.yaml:4: services.web.rate_limit: expected " + bounds + ", got \"10M\"");
  EXPECT_EQ(error_of("peer_rate_limit: 1000\n"),
            "config.yaml:1: peer_rate_limit: expected " + bounds + ", got \"1000\"");
  EXPECT_EQ(error_of("\npeer_rate_limit: 10000000001\n"),
            "config.yaml:2: peer_rate_limit: expected " + bounds + ", got \"10000000001\"");
  EXPECT_EQ(error_of("peer_rate_limit: -5\n"),
            "config.yaml:1: peer_rate_limit: expected " + bounds + ", got \"-5\"");
  EXPECT_EQ(error_of("peer_rate_limit: [1]\n"),
            "config.yaml:1: peer_rate_limit: expected " + bounds + ", got a list");
}

TEST(config, new_configs_listen_on_tcp_and_quic_on_port_4001) {
  const auto cfg = default_config("/srv/p");
  std::vector<std::string> listen;
  for (const auto& a : cfg.listen) listen.push_back(a.to_string());
  EXPECT_THAT(listen, ::testing::ElementsAre("/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001",
                                             "/ip4/0.0.0.0/udp/4001/quic-v1",
                                             "/ip6/::/udp/4001/quic-v1"));
  auto back = parse_config(render_config(cfg), cfg.file);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->listen, cfg.listen);
}

TEST(config, quic_listen_addresses_are_accepted_and_bare_udp_is_refused) {
  auto ok = parse_config("listen:\n  - /ip4/127.0.0.1/udp/0/quic-v1\n  - /ip6/::1/udp/9/quic-v1\n",
                         "config.yaml");
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->listen.size(), 2u);
  EXPECT_THAT(error_of("listen:\n  - /ip4/0.0.0.0/udp/4001\n"),
              HasSubstr("config.yaml:2: listen[0]: expected an /ip4 or /ip6 .../tcp/<port> or "
                        ".../udp/<port>/quic-v1 address"));
  EXPECT_THAT(error_of("listen:\n  - /ip4/0.0.0.0/udp/4001/quic\n"), HasSubstr("listen[0]"));
  EXPECT_THAT(error_of("listen:\n  - /dns4/example.com/udp/4001/quic-v1\n"),
              HasSubstr("listen[0]"));
}

TEST(relay_config, relay_init_listens_on_tcp_and_quic_and_quic_addresses_parse) {
  const auto text = default_relay_yaml("");
  EXPECT_THAT(text, HasSubstr("  - /ip4/0.0.0.0/udp/4001/quic-v1\n"));
  const auto cfg = parse_relay_config(text, "/srv/r/relay.yaml");
  std::vector<std::string> listen;
  for (const auto& a : cfg.listen) listen.push_back(a.to_string());
  EXPECT_THAT(listen, ::testing::ElementsAre("/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001",
                                             "/ip4/0.0.0.0/udp/4001/quic-v1",
                                             "/ip6/::/udp/4001/quic-v1"));
  EXPECT_THROW(parse_relay_config("listen:\n  - /ip4/0.0.0.0/udp/4001\n", "/srv/r/relay.yaml"),
               std::exception);
}

TEST(config, paths_with_line_break_or_tab_characters_survive_a_rewrite) {
  // A plain scalar would carry the CR before the line end, where YAML reads it
  // as part of the line break (regressions/config/cr_in_path).
  for (const std::string written : {"id.key\r\r", "a\rb", "tab\there", "~/x\r"}) {
    auto cfg = default_config("/srv/p");
    cfg.identity_key = cfg.ref(written);
    const auto text = render_config(cfg);
    auto back = parse_config(text, cfg.file);
    ASSERT_TRUE(back) << back.error().to_string() << "\n" << text;
    EXPECT_EQ(back->identity_key.written, written);
    EXPECT_EQ(render_config(*back), text);
  }
}

TEST(host_port, parses_ipv4_names_and_bracketed_ipv6) {
  EXPECT_EQ(host_port::parse("127.0.0.1:22"), (host_port{"127.0.0.1", 22}));
  EXPECT_EQ(host_port::parse("localhost:65535"), (host_port{"localhost", 65535}));
  EXPECT_EQ(host_port::parse("[::1]:8080"), (host_port{"::1", 8080}));
  EXPECT_EQ(host_port::parse("[::1]:8080")->to_string(), "[::1]:8080");
  for (const char* bad :
       {"22", "::1:22", "host:0", "host:65536", ":22", "host:", "a b:1", "[::1]8080", "host:22x"})
    EXPECT_FALSE(host_port::parse(bad)) << bad;
}

TEST(config_lookup, flag_then_environment_then_working_directory) {
  test::temp_dir dir;
  const auto flagged = dir.write("flag.yaml", "");
  const auto env = dir.write("env.yaml", "");
  dir.write("peerup.yaml", "");
  ::setenv("PEERUP_CONFIG", env.c_str(), 1);
  EXPECT_EQ(find_config(flagged.string()), flagged);
  EXPECT_EQ(find_config(""), env);
  ::unsetenv("PEERUP_CONFIG");
  const auto old = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  EXPECT_EQ(std::filesystem::absolute(find_config("")), dir.path() / "peerup.yaml");
  std::filesystem::current_path(old);
  EXPECT_THROW(find_config((dir.path() / "missing.yaml").string()), std::runtime_error);
}

TEST(config_file, load_config_reports_the_path_it_was_given) {
  test::temp_dir dir;
  const auto p = dir.write("c.yaml", "services:\n  web:\n    local_address: nope\n");
  auto r = load_config(p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(),
            p.string() + ":3: services.web.local_address: expected host:port, got \"nope\"");
}

}  // namespace
}  // namespace peerup::app
