// `peerup daemon`: the one object that owns the host, the access policy, the
// services and the relay reservations of a home node (STYLE.md #6). Their
// construction order is the member order below.
#pragma once

#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>

#include "net/host.hpp"
#include "config/authorized_keys.hpp"
#include "config/config.hpp"
#include "node/services.hpp"
#include "node/status.hpp"

namespace peerup::protocols {
class identify_service;
class kad_node;
class path_manager;
class name_registrar;
class reservation_keeper;
}  // namespace peerup::protocols

namespace peerup::app {

// What the process around the daemon learns of its life: `peerup daemon`
// turns these into sd_notify messages and starts the control socket on
// `ready` (control/ is a layer above node, so the daemon only calls out).
// Each runs on the daemon's executor; empty ones are skipped.
struct daemon_hooks {
  std::function<void()> ready;      // listening, relays started
  std::function<void()> reloading;  // a reload begins
  std::function<void()> reloaded;   // it ended (applied, or refused and logged)
  std::function<void()> stopping;   // a signal asked the daemon to stop
};

struct daemon_options {
  net::steady_clock::duration watch_interval = std::chrono::seconds(2);
  net::steady_clock::duration status_interval = std::chrono::seconds(2);
  daemon_hooks hooks;
};

// One line of the daemon's recent history (the status page shows them).
struct daemon_event {
  std::uint64_t unix_time = 0;
  std::string text;
};

class daemon {
 public:
  // Start-up checks; each failure throws std::runtime_error naming the file
  // and the fix, before anything touches the network:
  // 1. authorized_keys and per-service files exist, are 0600 and valid
  // 2. there is something to do: a listen address or a relay
  // 3. the identity key exists, is mode 0600 and parses
  daemon(net::asio::any_io_executor ex, config cfg, daemon_options opts = {});
  ~daemon();
  daemon(const daemon&) = delete;
  daemon& operator=(const daemon&) = delete;

  // Listens, serves, reserves, and prints "listen <addr>" lines and then
  // "ready" on stdout. Runs until SIGINT or SIGTERM; SIGHUP or a change of
  // the config or authorized_keys files reloads services and keys.
  // Contract: runs on the executor given to the constructor.
  net::awaitable<int> run();

  // Re-reads the config and authorized_keys; on any error keeps the current
  // state and logs why. Peers no longer authorized are disconnected.
  // Returns false when the new files were refused (the error is logged and
  // kept in last_reload_error()).
  bool reload(const std::string& why);
  const std::string& last_reload_error() const { return last_reload_error_; }
  daemon_status status() const;

  // Live edits of the main authorized_keys file (the control API's auth
  // routes), applied by a reload before they return. Throw
  // std::invalid_argument / std::runtime_error naming what was wrong.
  void authorize(const authorized_key& key);
  // Returns how many lines of `peer` were removed (0: it was not there).
  int deauthorize(const peer_id& peer);

  // What the control layer reads and drives. Contract: on the daemon's
  // executor only.
  net::host& host() { return host_; }
  const config& cfg() const { return cfg_; }
  const access_policy& policy() const { return *policy_; }
  const service_registry& services() const { return services_; }
  protocols::path_manager& paths() { return *paths_; }
  protocols::reservation_keeper& relays() { return *relays_; }
  // The DHT (docs/dht.md); null with `dht: {enabled: false}`.
  protocols::kad_node* dht() { return dht_.get(); }
  // Relays a peer record named (app::add_dht_addrs): the gater lets them
  // through so a circuit through them can be dialed. At most 64, oldest out.
  void allow_dht_relays(const std::vector<peer_id>& relays);
  bool is_relay(const peer_id& peer) const;
  std::string name_of(const peer_id& peer) const;  // from names:, "relay", or ""
  // The last max_events events, oldest first.
  const std::deque<daemon_event>& events() const { return events_; }
  void note_event(std::string text);
  static constexpr std::size_t max_events = 200;
  // For the TUN network mode (src/tun): the running config (replaced on
  // reload) and a call made when run() stops, before the host does.
  const config& running_config() const { return cfg_; }
  void on_stop(std::function<void()> f) { stop_hooks_.push_back(std::move(f)); }
  // The network mode's counters for status() (and so status.json, the
  // control API, /metrics); unset: no "network" section.
  void set_network_status(std::function<network_status()> f) { network_status_ = std::move(f); }

 private:
  bool gate(const peer_id& peer, const multiaddr& addr) const;
  // True while <dir>/invites holds an invite that is live or ended within
  // the last hour: then the gater lets unknown peers in, for
  // /peerup/pair/1.0.0 (every service still checks authorized_keys).
  bool pairing_open() const;
  void install_pairing_handler();  // daemon_pairing.cpp
  std::string label(const peer_id& peer) const;  // "<id> (<name>)"
  void disconnect_unauthorized();
  void write_status();  // warns on the first failure after a success (or start)
  // Path -> version (mtime, size, inode) of every file a reload would read.
  std::map<std::filesystem::path, std::string> watched_files() const;
  net::awaitable<void> watch_loop();
  net::awaitable<void> status_loop();
  net::awaitable<void> signal_loop();
  // dht.mode auto: server while AutoNAT says we are public, client otherwise.
  void update_dht_mode();
  // <config dir>/dht_peers: the routing table across restarts.
  void load_dht_table();
  void save_dht_table();
  // relays: auto (node/relay_finder.hpp): looks up the providers of the
  // relay namespace until dht.max_relays discovered relays are kept.
  net::awaitable<void> relay_finder_loop();

  net::asio::any_io_executor ex_;
  daemon_options opts_;
  config cfg_;
  std::shared_ptr<const access_policy> policy_;
  net::host host_;
  std::unique_ptr<protocols::identify_service> identify_;
  service_registry services_;
  std::unique_ptr<protocols::reservation_keeper> relays_;
  // Observed addresses, AutoNAT, DCUtR and the direct/relayed path per peer.
  std::unique_ptr<protocols::path_manager> paths_;
  std::unique_ptr<protocols::name_registrar> names_;  // null without host_name + networks
  std::unique_ptr<protocols::kad_node> dht_;  // null when dht.enabled is false
  std::deque<peer_id> dht_relays_;            // allow_dht_relays
  std::vector<std::function<void()>> stop_hooks_;
  std::function<network_status()> network_status_;
  std::uint64_t started_unix_ = 0;
  net::steady_clock::time_point dht_saved_{};
  bool stopping_ = false;
  bool status_write_failed_ = false;
  std::string last_reload_error_;
  std::deque<daemon_event> events_;
  // Lets detached loops still suspended after our destruction see it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::app
