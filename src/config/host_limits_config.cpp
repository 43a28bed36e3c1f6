#include "config/host_limits_config.hpp"
#include "config/yaml_read.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <chrono>
#include <set>

namespace peerup::app {

namespace {

using duration = std::chrono::steady_clock::duration;

// SECURITY: values come from a config file; bounded so that no shift or
// conversion overflows (MiB -> bytes, seconds -> steady_clock ticks).
constexpr std::uint64_t max_count = 1'000'000;
constexpr std::uint64_t max_mib = 1 << 20;  // 1 TiB
constexpr std::uint64_t max_seconds = 365ull * 24 * 3600;

// One key: an integer in the file, a count, a byte size written in MiB, or a
// duration written in seconds.
struct key_spec {
  std::string_view name;
  std::size_t net::host_limits::*size = nullptr;
  duration net::host_limits::*time = nullptr;
  bool mib = false;
  std::uint64_t min = 1;

  std::uint64_t max() const { return time ? max_seconds : mib ? max_mib : max_count; }
  std::uint64_t get(const net::host_limits& l) const {
    if (time) return std::chrono::duration_cast<std::chrono::seconds>(l.*time).count();
    return mib ? l.*size >> 20 : l.*size;
  }
  void set(net::host_limits& l, std::uint64_t v) const {
    if (time)
      l.*time = std::chrono::seconds(v);
    else
      l.*size = mib ? std::size_t(v) << 20 : std::size_t(v);
  }
  const char* unit() const { return time ? " seconds" : mib ? " MiB" : ""; }
};

const std::vector<key_spec>& specs() {
  using L = net::host_limits;
  static const std::vector<key_spec> table{
      {.name = "max_connections", .size = &L::max_connections},
      {.name = "max_connections_per_ip", .size = &L::max_connections_per_ip},
      {.name = "max_connections_per_peer", .size = &L::max_connections_per_peer},
      {.name = "max_pending_handshakes", .size = &L::max_pending_handshakes},
      {.name = "max_streams_per_connection", .size = &L::max_streams_per_connection},
      {.name = "max_streams_per_peer", .size = &L::max_streams_per_peer},
      {.name = "max_memory_mib", .size = &L::max_memory, .mib = true},
      {.name = "handshake_timeout", .time = &L::handshake_timeout},
      {.name = "idle_timeout", .time = &L::idle_timeout, .min = 0},  // 0: never
  };
  return table;
}

}  // namespace

limit_key set_host_limit(net::host_limits& limits, std::string_view key, std::string_view value,
                         std::string& error) {
  for (const auto& spec : specs()) {
    if (spec.name != key) continue;
    std::uint64_t v = 0;
    const char* end = value.data() + value.size();
    const auto [ptr, ec] = std::from_chars(value.data(), end, v);
    if (value.empty() || ec != std::errc() || ptr != end || v < spec.min || v > spec.max()) {
      error = "expected an integer from " + std::to_string(spec.min) + " to " +
              std::to_string(spec.max()) + spec.unit() + ", got \"" + std::string(value) + "\"";
      return limit_key::invalid;
    }
    spec.set(limits, v);
    return limit_key::applied;
  }
  return limit_key::unknown;
}

const std::vector<std::string_view>& host_limit_keys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> out;
    for (const auto& spec : specs()) out.push_back(spec.name);
    return out;
  }();
  return keys;
}

bool is_host_limit(std::string_view key) {
  for (const auto& spec : specs())
    if (spec.name == key) return true;
  return false;
}

std::vector<std::pair<std::string, std::string>> changed_host_limits(const net::host_limits& l) {
  const net::host_limits defaults;
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& spec : specs())
    if (spec.get(l) != spec.get(defaults))
      out.emplace_back(std::string(spec.name), std::to_string(spec.get(l)));
  return out;
}

std::optional<limits_config_error> read_limits_config(const YAML::Node& node,
                                                      net::host_limits& out) {
  auto line_of = [](const YAML::Node& n) { return yaml_line(n); };
  if (node.IsNull()) return std::nullopt;
  if (!node.IsMap()) return limits_config_error{line_of(node), "limits: expected a map"};
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) return limits_config_error{line_of(key), "limits: expected a key name"};
    const std::string path = "limits." + key.Scalar();
    if (!is_host_limit(key.Scalar())) {
      std::string list;
      for (auto k : host_limit_keys()) list += (list.empty() ? "" : ", ") + std::string(k);
      return limits_config_error{line_of(key),
                                 path + ": unknown key (expected one of: " + list + ")"};
    }
    if (!seen.insert(key.Scalar()).second)
      return limits_config_error{line_of(key), path + ": duplicate key"};
    if (!value.IsScalar())
      return limits_config_error{line_of(value), path + ": expected an integer"};
    std::string error;
    if (set_host_limit(out, key.Scalar(), value.Scalar(), error) != limit_key::applied)
      return limits_config_error{line_of(value), path + ": " + error};
  }
  return std::nullopt;
}

std::string render_limits_config(const net::host_limits& l) {
  const auto changed = changed_host_limits(l);
  if (changed.empty()) return "";
  std::string out = "\n# Resource limits of the daemon's host (docs/config.md).\nlimits:\n";
  for (const auto& [key, value] : changed) out += "  " + key + ": " + value + "\n";
  return out;
}

}  // namespace peerup::app
