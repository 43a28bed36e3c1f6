// relay.yaml: the configuration of `peerup relay serve` (docs/relay.md).
#pragma once

#include <filesystem>
#include <stdexcept>
#include <vector>

#include "multiformats/multiaddr.hpp"
#include "wire/relay_server_state.hpp"

namespace peerup::app {

struct relay_config {
  std::filesystem::path file;  // empty when no file was given
  std::filesystem::path identity_key = "identity.key";
  std::filesystem::path authorized_keys = "authorized_keys";
  std::vector<multiaddr> listen;
  bool open = false;  // public relay: anyone may reserve, under the open_* limits
  wire::relay_limits limits;
};

// Loads and validates `file`. Throws std::runtime_error("<file>:<line>: <key>:
// expected ..., got ...") on unknown keys, wrong types or bad multiaddrs.
// Relative paths are resolved against the file's directory.
relay_config load_relay_config(const std::filesystem::path& file);

// Defaults for a relay whose files live in `dir`.
relay_config default_relay_config(const std::filesystem::path& dir);

}  // namespace peerup::app
