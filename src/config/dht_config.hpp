// The `dht:` section of config.yaml and of relay.yaml (docs/dht.md): the
// Kademlia DHT (src/protocols/kad) that lets peers find each other's
// addresses when they use different relays.
//
//   dht:
//     enabled: true                 # default true
//     protocol: /peerup/kad/1.0.0   # /ipfs/kad/1.0.0 joins the public Amino DHT
//     mode: auto                    # auto | client | server (config.yaml only)
//     bootstrap:                    # default: the relays (config.yaml)
//       - /ip4/198.51.100.7/tcp/4001/p2p/12D3KooW...
//     refresh_interval: 600         # seconds between bootstraps, 60-86400
//     open: false                   # relay.yaml only: answer everyone, not only members
//     relay_policy: authorized      # relays found in the DHT: authorized | any (config.yaml)
//     relay_peers:                  # the relays `authorized` accepts (peer IDs), at most 64
//       - 12D3KooW...
//     max_relays: 2                 # reservations on discovered relays, 1-8
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace YAML {
class Node;
}

namespace peerup::app {

// Which relays found through the DHT (providers of the relay namespace) a
// node with `relays: auto` may reserve on.
enum class relay_policy {
  authorized,  // only those listed in dht.relay_peers (the default)
  any,         // any provider of the namespace (public relays, the public DHT)
};
std::string_view to_string(relay_policy p);

enum class dht_mode {
  auto_mode,  // client until AutoNAT says we are publicly reachable, then server
  client,     // never answers, never advertised (NATed nodes)
  server,     // always answers and is advertised in identify (relays, public nodes)
};
std::string_view to_string(dht_mode m);

struct dht_config {
  // SECURITY: bounds on what the section may ask for.
  static constexpr std::size_t max_bootstrap = 64;
  static constexpr std::size_t max_protocol = 128;
  static constexpr std::chrono::seconds min_refresh{60};
  static constexpr std::chrono::seconds max_refresh{86400};
  static constexpr std::size_t max_relay_peers = 64;
  static constexpr std::size_t max_max_relays = 8;

  bool enabled = true;
  std::string protocol = "/peerup/kad/1.0.0";
  dht_mode mode = dht_mode::auto_mode;
  // Each ends in /p2p/<peer-id>. Empty: the relays of the config.
  std::vector<multiaddr> bootstrap;
  std::chrono::seconds refresh_interval{600};
  // relay.yaml: answer every peer. Default (false): a closed relay answers its
  // authorized peers and its bootstrap peers (the other relays) only.
  std::optional<bool> open;
  // config.yaml: relay discovery (`relays: auto`, or no relays and a
  // bootstrap list). Only relays this policy accepts are reserved on.
  relay_policy relays_from = relay_policy::authorized;
  std::vector<peer_id> relay_peers;
  std::size_t max_relays = 2;

  bool is_default() const;
  friend bool operator==(const dht_config&, const dht_config&) = default;
};

struct dht_config_error {
  int line = 0;
  std::string message;  // "dht.<key>: ..."
};

// Reads the `dht:` node into `out`; unknown keys and bad values fail.
// `relay`: the relay.yaml flavour (`open` allowed, `mode` refused: a relay
// is always a server).
std::optional<dht_config_error> read_dht_config(const YAML::Node& node, dht_config& out,
                                                bool relay = false);
std::string render_dht_config(const dht_config& d);
// A protocol ID for the DHT: starts with '/', 2-128 printable ASCII
// characters without spaces.
bool valid_dht_protocol(std::string_view p);

}  // namespace peerup::app
