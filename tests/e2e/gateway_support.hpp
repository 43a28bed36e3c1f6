// Helpers for the `peerup gateway` end-to-end tests (gateway_test.cpp,
// gateway_options_test.cpp): raw SOCKS5 and DNS exchanges bounded in time,
// the gateway process, and a fixture with a relay that serves names for
// network "grewal", a home daemon behind it registered as "laptop", and a
// client node that runs the gateway.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {

// A TCP (or, with SOCK_DGRAM, connected UDP) socket to 127.0.0.1:port; -1 on failure.
int connect_to(std::uint16_t port, int type = SOCK_STREAM);
// Reads until `want` bytes, EOF or `limit`.
std::string receive(int fd, std::size_t want, std::chrono::milliseconds limit);
// True when the other side closes `fd` within `limit`.
bool closed_by_peer(int fd, std::chrono::milliseconds limit);
// A SOCKS5 CONNECT request (RFC 1928 section 4) to host:port by name.
std::string socks_connect_bytes(const std::string& host, std::uint16_t port);
// The REP byte the gateway answers a no-auth CONNECT to host:port with, -1 if none.
int socks_reply(std::uint16_t proxy, const std::string& host, std::uint16_t port,
                std::uint8_t command = 0x01);
// One UDP exchange with the DNS server; "" when nothing came back.
std::string dns_exchange(std::uint16_t port, const std::string& packet);

struct gateway_process {
  test::child_process proc;
  fs::path log;
  std::uint16_t socks = 0, dns = 0;
  std::string log_text() const { return read_file(log); }
};

// `peerup gateway --socks 127.0.0.1:0 --dns 127.0.0.1:0 <extra>` for `n`,
// once it printed both ports.
gateway_process start_gateway(const node& n, std::vector<std::string> extra = {});

struct gateway_e2e : ::testing::Test {
  temp_dir root;
  node home = init_node(root.path() / "home");
  node client = init_node(root.path() / "client");
  relay_process relay =
      start_relay(root.path() / "relay", {home.id, client.id}, {"--network", "grewal"});
  std::string page = make_page();

  static std::string make_page();
  std::string network() const;

  // The home node: behind the relay only, registered as laptop.grewal, with
  // `services` (YAML lines under services:). The client names it "home";
  // `client_extra` is appended to the client's config (e.g. a gateway:
  // section). Unless `authorize_client` is false, home authorizes the client.
  daemon_process start_home(const std::string& services, const std::string& client_extra = "",
                            bool authorize_client = true);
  http_server serve_page();
  // curl --socks5-hostname through `proxy`; `extra` goes before the URL.
  run_result curl_socks(std::uint16_t proxy, const std::string& url,
                        std::vector<std::string> extra = {});
};

}  // namespace peerup::e2e
