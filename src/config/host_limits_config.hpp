// The host resource limits as config keys: the `limits:` section of
// config.yaml (the daemon) and the host keys of relay.yaml's `limits:`
// (docs/config.md, docs/relay.md). One table, so both files spell and check
// them alike.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/resource_manager.hpp"

namespace YAML {
class Node;
}

namespace peerup::app {

enum class limit_key { applied, unknown, invalid };

// Sets the limit named `key` from its YAML scalar text. unknown: not a host
// limit (the caller may know it); invalid: `error` says what was expected.
limit_key set_host_limit(net::host_limits& limits, std::string_view key, std::string_view value,
                         std::string& error);

// The keys set_host_limit knows, in documentation order.
const std::vector<std::string_view>& host_limit_keys();
bool is_host_limit(std::string_view key);

struct limits_config_error {
  int line = 0;         // 1-based, 0 when unknown
  std::string message;  // "limits.<key>: ..."
};

// Reads config.yaml's `limits:` node into `out`; unknown keys, duplicates
// and bad values fail.
std::optional<limits_config_error> read_limits_config(const YAML::Node& node,
                                                      net::host_limits& out);
// The section as render_config writes it ("" when every value is the default).
std::string render_limits_config(const net::host_limits& l);

// key -> value text of every limit that differs from net::host_limits{}, for
// writing a config file back without losing them.
std::vector<std::pair<std::string, std::string>> changed_host_limits(const net::host_limits& l);

}  // namespace peerup::app
