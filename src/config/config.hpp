// The peerup configuration file (YAML, docs/config.md): identity key,
// listen and relay addresses, authorized_keys, services and names.
//
// Loading is strict: an unknown key, a wrong type or a bad address fails with
// "<file>:<line>: <key path>: expected ..., got ...", because a daemon that
// silently ignores a typo in its access rules is worse than one that refuses
// to start. Relative paths are relative to the config file's directory.
#pragma once

#include <boost/system/result.hpp>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol_id.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"
#include "net/resource_manager.hpp"
#include "config/dht_config.hpp"
#include "config/gateway_config.hpp"
#include "config/naming_config.hpp"
#include "config/network_config.hpp"

namespace peerup::app {

// SECURITY: bounds on what a config file may make us allocate or do.
struct config_limits {
  static constexpr std::size_t max_file_size = 1 << 20;
  static constexpr std::size_t max_services = 256;
  static constexpr std::size_t max_names = 4096;
  static constexpr std::size_t max_relays = 32;
  static constexpr std::size_t max_listen = 32;
  static constexpr std::size_t max_string = 4096;
  // Bandwidth limits (bytes/s): 0 (unlimited) or from 1 KiB/s to 10 GB/s.
  static constexpr std::uint64_t min_rate = 1024;
  static constexpr std::uint64_t max_rate = 10'000'000'000;
};

// A service name: 1-64 of [A-Za-z0-9._-], starting with a letter or digit.
// It becomes part of the protocol ID, so '/' and spaces are out.
class service_name {
 public:
  static std::optional<service_name> parse(std::string_view text);
  const std::string& str() const { return name_; }
  // "/peerup/<name>/1.0.0"
  protocol_id protocol() const;
  auto operator<=>(const service_name&) const = default;

 private:
  explicit service_name(std::string n) : name_(std::move(n)) {}
  std::string name_;
};

// A TCP address as users write it: "127.0.0.1:22", "localhost:8080",
// "[::1]:22". The port is 1-65535; IPv6 needs brackets.
struct host_port {
  std::string host;
  std::uint16_t port = 0;
  static std::optional<host_port> parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const host_port&, const host_port&) = default;
};

// A path as written in the file, and what it means (absolute).
struct file_ref {
  std::string written;
  std::filesystem::path resolved;
};

struct service_config {
  service_name name;
  host_port local_address;
  bool enabled = true;
  // Extra peers allowed to use this service only (besides authorized_keys).
  std::optional<file_ref> authorized_keys;
  // `rate_limit:` bytes per second in each direction, all streams of the
  // service together (a token bucket in the splice loop). 0: unlimited.
  std::uint64_t rate_limit = 0;
};

// What a name in `names:` stands for: a peer, optionally with a direct
// address to try before the relays.
struct name_target {
  peer_id peer;
  std::optional<multiaddr> addr;  // ends in /p2p/<peer>
  std::string to_string() const;  // as written in the file
};

struct config {
  std::filesystem::path file;  // absolute path of the loaded file
  file_ref identity_key;
  std::vector<multiaddr> listen;
  std::vector<multiaddr> relays;  // each ends in /p2p/<relay peer id>
  // `relays: auto`: no fixed relays; relays are found through the DHT
  // (providers of the relay namespace) within dht.relay_policy.
  bool relays_auto = false;
  file_ref authorized_keys;
  std::map<std::string, service_config> services;  // by service name
  std::map<std::string, name_target> names;
  gateway_config gateway;  // `peerup gateway` (SOCKS5, DNS)
  naming_config naming;    // host_name, networks, names_file (docs/naming.md)
  net::host_limits limits;  // `limits:`: the daemon host's resource limits
  // `metrics: 127.0.0.1:9464`: where the daemon serves /metrics (Prometheus
  // text format). Unset: no metrics listener. An IP literal and a port.
  std::optional<host_port> metrics;
  // `status_page: 127.0.0.1:9465`: the local status page (opt-in), behind
  // the control cookie. Loopback only (127.0.0.0/8 or ::1), checked here.
  std::optional<host_port> status_page;
  network_config network;   // `network:`: the TUN network mode (docs/network-mode.md)
  // `peer_rate_limit:` bytes per second in each direction for each peer's
  // service traffic, all its services together. 0: unlimited.
  std::uint64_t peer_rate_limit = 0;
  dht_config dht;           // `dht:`: the Kademlia DHT (docs/dht.md)

  std::filesystem::path dir() const { return file.parent_path(); }
  // `written` resolved against the config directory.
  file_ref ref(std::string written) const;
  std::vector<peer_id> relay_peers() const;
  // `relays:`, then the relays of every network of `networks:`, each once:
  // the daemon reserves on all of them, and circuits to a target are built
  // through all of them.
  std::vector<multiaddr> all_relays() const;
  // dht.bootstrap, or all_relays() when it is empty.
  std::vector<multiaddr> dht_bootstrap() const;
  // The daemon looks for relays in the DHT: `relays: auto`, or no relays at
  // all and a dht.bootstrap list (docs/dht.md, "Finding relays").
  bool discovers_relays() const;
};

struct config_error {
  std::string file;
  int line = 0;  // 1-based; 0 when the error is about the whole file
  std::string message;
  std::string to_string() const;  // "<file>:<line>: <message>"
};

// Lets result<T, config_error>::value() throw std::runtime_error(to_string()).
[[noreturn]] void throw_exception_from_error(const config_error& e, const boost::source_location&);

using config_result = boost::system::result<config, config_error>;

// Reads and validates `file` (at most config_limits::max_file_size bytes).
config_result load_config(const std::filesystem::path& file);
// Validates `text` as if it were the contents of `file` (for tests and init).
config_result parse_config(std::string_view text, const std::filesystem::path& file);

// The file in canonical form, with the explanatory comments `peerup init`
// writes. Editing commands (service/name/relay add...) rewrite the file with
// this, so comments of your own are not kept (a .bak copy is).
std::string render_config(const config& cfg);
// Writes render_config(cfg) to cfg.file atomically, after copying the old
// file to <file>.bak. Throws std::runtime_error on I/O failure.
void save_config(const config& cfg);

// The config `peerup init` writes into `dir`.
config default_config(const std::filesystem::path& dir);

// Config lookup order: `flag` (--config), $PEERUP_CONFIG, ./peerup.yaml,
// ~/.config/peerup/config.yaml, /etc/peerup/config.yaml. Throws
// std::runtime_error listing the places looked at when none exists.
std::filesystem::path find_config(const std::string& flag);
// Default directory for `peerup init`: ~/.config/peerup.
std::filesystem::path default_config_dir();

// Valid names for `names:` entries: like service names, and never a peer ID
// (a target that parses as a peer ID is one).
bool valid_name(std::string_view name);

}  // namespace peerup::app
