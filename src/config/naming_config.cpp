#include "config/naming_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "config/config.hpp"
#include "config/yaml_scalar.hpp"
#include "config/yaml_read.hpp"
#include "wire/names_message.hpp"

namespace peerup::app {

namespace {

using error = std::optional<naming_config_error>;

error fail(const YAML::Node& at, const std::string& key, const std::string& message) {
  return naming_config_error{yaml_line(at), key + ": " + message};
}

error expect(const YAML::Node& at, const std::string& key, const std::string& what) {
  return fail(at, key, "expected " + what + ", got " + yaml_got(at));
}

constexpr const char* label_rule = "a DNS label (1-63 letters, digits or inner '-')";

error read_label(const YAML::Node& n, const std::string& key, std::string& out) {
  if (!n.IsScalar()) return expect(n, key, label_rule);
  auto l = wire::dns_label::parse(n.Scalar());
  if (!l) return expect(n, key, label_rule);
  out = l->str();
  return std::nullopt;
}

error read_relays(const YAML::Node& n, const std::string& key, std::vector<multiaddr>& out) {
  const std::string what = "a list of relay multiaddrs ending in /p2p/<peer-id>";
  if (!n.IsSequence() || n.size() == 0) return expect(n, key, what);
  if (n.size() > naming_config::max_relays_per_network)
    return fail(n, key,
                "more than " + std::to_string(naming_config::max_relays_per_network) + " relays");
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string item = key + "[" + std::to_string(i) + "]";
    if (!n[i].IsScalar() || n[i].Scalar().size() > config_limits::max_string)
      return expect(n[i], item, "a multiaddr ending in /p2p/<peer-id>");
    auto a = multiaddr::parse(n[i].Scalar());
    if (!a || !a->peer()) return expect(n[i], item, "a multiaddr ending in /p2p/<peer-id>");
    out.push_back(std::move(*a));
  }
  return std::nullopt;
}

error read_networks(const YAML::Node& n, naming_config& out) {
  if (n.IsNull()) return std::nullopt;
  if (!n.IsMap()) return expect(n, "networks", "a map of network name -> relay multiaddrs");
  if (n.size() > naming_config::max_networks)
    return fail(n, "networks", "more than " + std::to_string(naming_config::max_networks));
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string name;
    if (auto e = read_label(it->first, "networks", name)) return e;
    const std::string key = "networks." + name;
    if (out.networks.count(name)) return fail(it->first, key, "duplicate key");
    std::vector<multiaddr> relays;
    if (auto e = read_relays(it->second, key, relays)) return e;
    out.networks.emplace(name, std::move(relays));
  }
  return std::nullopt;
}

}  // namespace

std::vector<multiaddr> naming_config::network_relays() const {
  std::vector<multiaddr> out;
  for (const auto& [name, relays] : networks)
    for (const auto& r : relays)
      if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  return out;
}

std::optional<naming_config_error> read_naming_key(const std::string& key, const YAML::Node& value,
                                                   naming_config& out) {
  if (key == "host_name") {
    std::string label;
    if (auto e = read_label(value, key, label)) return e;
    out.host_name = label;
  } else if (key == "networks") {
    return read_networks(value, out);
  } else if (key == "names_file") {
    if (!value.IsScalar() || value.Scalar().empty()) return expect(value, key, "a file path");
    if (value.Scalar().size() > config_limits::max_string)
      return fail(value, key, "value too long");
    out.names_file = value.Scalar();
  } else {
    return naming_config_error{0, key + ": not a naming key"};
  }
  return std::nullopt;
}

std::string render_naming_config(const naming_config& n) {
  if (n == naming_config{}) return "";
  std::string out = "\n# Naming (docs/naming.md): this node's name, and the relays that serve\n";
  out += "# \"<host>.<network>\" names for each network.\n";
  if (n.host_name) out += "host_name: " + *n.host_name + "\n";
  if (!n.networks.empty()) {
    out += "networks:\n";
    for (const auto& [name, relays] : n.networks) {
      out += "  " + name + ":\n";
      for (const auto& r : relays) out += "    - " + r.to_string() + "\n";
    }
  }
  if (n.names_file) out += "names_file: " + yaml_scalar(*n.names_file) + "\n";
  return out;
}

}  // namespace peerup::app
