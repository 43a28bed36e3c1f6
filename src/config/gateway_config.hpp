// The `gateway:` section of the config (docs/config.md, docs/gateway.md):
// where `peerup gateway` listens for SOCKS5 and DNS, its DNS zone, the
// virtual IP range and its limits. Command-line flags override the listen
// addresses and the zone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace YAML {
class Node;
}

namespace peerup::app {

std::string ipv4_to_string(std::uint32_t ip);  // host order
// "127.64.1.2" -> host-order address; nullopt unless four decimal octets.
std::optional<std::uint32_t> parse_ipv4(std::string_view text);

// An IPv4 network such as 127.64.0.0/16 (host order).
struct ipv4_network {
  std::uint32_t base = 0;
  unsigned prefix = 32;
  static std::optional<ipv4_network> parse(std::string_view text);
  std::string to_string() const;
  std::uint64_t size() const { return std::uint64_t{1} << (32 - prefix); }
  bool contains(std::uint32_t ip) const { return size() > 0 && (ip - base) < size(); }
  friend bool operator==(const ipv4_network&, const ipv4_network&) = default;
};

struct gateway_config {
  // SECURITY: bounds on what the section may ask for.
  static constexpr std::size_t max_users = 64;
  static constexpr std::size_t max_connections_limit = 65536;
  static constexpr std::uint32_t max_ttl = 86400;

  std::optional<std::string> socks;  // host:port to listen on, e.g. 127.0.0.1:1080
  std::optional<std::string> dns;    // host:port (UDP and TCP), e.g. 127.0.0.1:5353
  std::string zone = "p2p";          // lower case, no leading or trailing dot
  std::uint32_t ttl = 60;            // seconds, in A/AAAA answers
  bool aaaa = false;                 // answer AAAA with ::ffff:<virtual IPv4>
  ipv4_network virtual_network = *ipv4_network::parse("127.64.0.0/16");
  std::size_t max_connections = 256;
  std::uint32_t dns_queries_per_second = 200;
  std::uint32_t catalog_ttl = 30;  // seconds a peer's service list is cached
  // RFC 1929 user -> password. When set, SOCKS clients must log in.
  std::map<std::string, std::string> users;

  bool is_default() const;
  friend bool operator==(const gateway_config&, const gateway_config&) = default;
};

struct gateway_config_error {
  int line = 0;         // 1-based, 0 when unknown
  std::string message;  // "gateway.<key>: ..."
};

// Reads the `gateway:` node into `out`; unknown keys and bad values fail.
std::optional<gateway_config_error> read_gateway_config(const YAML::Node& node,
                                                        gateway_config& out);
// The section as render_config writes it ("" when every value is the default).
std::string render_gateway_config(const gateway_config& g);
// A listen address: host_port, but port 0 ("any free port") is allowed.
struct host_port;
std::optional<host_port> parse_listen_address(std::string_view text);
// True for a zone such as "p2p" or "peerup.internal": DNS labels, lower case.
bool valid_zone(std::string_view zone);

}  // namespace peerup::app
