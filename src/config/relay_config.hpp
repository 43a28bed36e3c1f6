// relay.yaml: the configuration of `peerup relay serve` (docs/relay.md).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "config/dht_config.hpp"
#include "multiformats/multiaddr.hpp"
#include "net/resource_manager.hpp"
#include "wire/federation_state.hpp"
#include "wire/name_registry.hpp"
#include "wire/relay_server_state.hpp"

namespace peerup::app {

struct relay_config {
  std::filesystem::path file;  // empty when no file was given
  std::filesystem::path identity_key = "identity.key";
  std::filesystem::path authorized_keys = "authorized_keys";
  std::vector<multiaddr> listen;
  bool open = false;  // public relay: anyone may reserve, under the open_* limits
  wire::relay_limits limits;
  // Connections, streams, memory and timeouts of the relay's host; set in the
  // same `limits:` map (peerup/host_limits_config.hpp).
  net::host_limits host_limits;
  // `names:` (docs/naming.md): /peerup/names/1.0.0 is served for this network
  // (a DNS label) when it is set, to authorized peers only.
  std::optional<std::string> names_network;
  wire::name_registry_limits names_limits;
  // `federation:` (docs/federation.md): the relays of other networks that
  // may ask ours for names, and that we ask (trust `full`). Needs
  // names_network; no two peerings share a network or a relay peer ID.
  std::vector<wire::federation_peering> federation_peers;
  wire::federation_limits federation_limits;
  // `dht:` (docs/dht.md): a relay is always a DHT server. `bootstrap` names
  // the other relays; `open` (default: the relay's `open`) answers everyone.
  dht_config dht;
  // Whether the DHT answers peers that are not authorized here.
  bool dht_open() const { return dht.open.value_or(open); }
};

// Loads and validates `file`. Throws std::runtime_error("<file>:<line>: <key>:
// expected ..., got ...") on unknown keys, wrong types or bad multiaddrs.
// Relative paths are resolved against the file's directory.
relay_config load_relay_config(const std::filesystem::path& file);
// Validates `text` as if it were the contents of `file` (for tests and the
// fuzzer); throws like load_relay_config.
relay_config parse_relay_config(std::string_view text, const std::filesystem::path& file);

// Defaults for a relay whose files live in `dir`.
relay_config default_relay_config(const std::filesystem::path& dir);

// The relay.yaml `peerup relay init` writes: the files next to it, the
// default listen addresses, closed (authorized peers only), and the limits
// as comments. `network` (a DNS label, or empty) sets names.network.
std::string default_relay_yaml(std::string_view network = {});

}  // namespace peerup::app
