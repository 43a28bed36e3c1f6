// The naming keys of the config (docs/config.md, docs/naming.md):
//
//   host_name: home                 # this node's name in its networks
//   networks:                       # network name -> its relays
//     grewal:
//       - /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW...
//   names_file: names.txt           # more local names, one per line
//
// The daemon registers host_name with every relay of every network; clients
// resolve "<host>.<network>" by asking that network's relays.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "multiformats/multiaddr.hpp"

namespace YAML {
class Node;
}

namespace peerup::app {

struct naming_config {
  // SECURITY: bounds on what the keys may ask for.
  static constexpr std::size_t max_networks = 32;
  static constexpr std::size_t max_relays_per_network = 8;

  std::optional<std::string> host_name;  // one DNS label, lower case
  // Network label (lower case) -> relays, each ending in /p2p/<relay>.
  std::map<std::string, std::vector<multiaddr>> networks;
  std::optional<std::string> names_file;  // as written; relative to the config

  // Every relay of every network, each once, in config order.
  std::vector<multiaddr> network_relays() const;
  friend bool operator==(const naming_config&, const naming_config&) = default;
};

// The top-level keys this file reads.
inline constexpr const char* naming_keys[] = {"host_name", "networks", "names_file"};

struct naming_config_error {
  int line = 0;         // 1-based, 0 when unknown
  std::string message;  // "<key>: expected ..., got ..."
};

// Reads the value of one naming key into `out`; bad values fail.
std::optional<naming_config_error> read_naming_key(const std::string& key, const YAML::Node& value,
                                                   naming_config& out);
// The keys as render_config writes them ("" when none is set).
std::string render_naming_config(const naming_config& n);

}  // namespace peerup::app
