#include "config/relay_config.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "config/host_limits_config.hpp"
#include "config/listen_addr.hpp"

namespace peerup::app {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_file_size = 64 * 1024;
constexpr std::size_t max_listen = 32;

struct reader {
  std::string file;

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key,
                         const std::string& what) const {
    const int line = at.Mark().is_null() ? 0 : at.Mark().line + 1;
    throw std::runtime_error(file + ":" + std::to_string(line) + ": " + key + ": " + what);
  }
  // SECURITY: YAML allows any node as a map key ("? [x]"); only plain names are settings.
  std::string key_name(const YAML::Node& k, const std::string& parent) const {
    if (!k.IsScalar()) fail(k, parent, "expected a setting name as key, got a list or map");
    return k.Scalar();
  }
  std::string scalar(const YAML::Node& n, const std::string& key, const char* expected) const {
    if (!n.IsScalar()) fail(n, key, std::string("expected ") + expected);
    return n.Scalar();
  }
  std::uint64_t number(const YAML::Node& n, const std::string& key) const {
    const auto text = scalar(n, key, "a non-negative integer");
    std::uint64_t v = 0;
    std::istringstream in(text);
    if (text.empty() || text[0] == '-' || !(in >> v) || !in.eof())
      fail(n, key, "expected a non-negative integer, got \"" + text + "\"");
    return v;
  }
  bool boolean(const YAML::Node& n, const std::string& key) const {
    const auto text = scalar(n, key, "true or false");
    if (text == "true") return true;
    if (text == "false") return false;
    fail(n, key, "expected true or false, got \"" + text + "\"");
  }
  fs::path path(const YAML::Node& n, const std::string& key, const fs::path& base) const {
    fs::path p = scalar(n, key, "a file path");
    return p.is_absolute() ? p : base / p;
  }
};

void read_limits(const reader& r, const YAML::Node& node, wire::relay_limits& l,
                 net::host_limits& host) {
  if (!node.IsMap()) r.fail(node, "limits", "expected a map");
  for (const auto& kv : node) {
    const auto key = r.key_name(kv.first, "limits");
    const auto& v = kv.second;
    const std::string path = "limits." + key;
    if (key == "max_reservations")
      l.max_reservations = r.number(v, path);
    else if (key == "max_reservations_per_ip")
      l.max_reservations_per_ip = r.number(v, path);
    else if (key == "max_circuits_per_peer")
      l.max_circuits_per_peer = r.number(v, path);
    else if (key == "max_circuits")
      l.max_circuits = r.number(v, path);
    else if (key == "reservation_ttl")
      l.reservation_ttl = std::chrono::seconds(r.number(v, path));
    else if (key == "circuit_duration")
      l.circuit_duration = std::chrono::seconds(r.number(v, path));
    else if (key == "circuit_data")
      l.circuit_data = r.number(v, path);
    else if (key == "open_circuit_duration")
      l.open_circuit_duration = std::chrono::seconds(r.number(v, path));
    else if (key == "open_circuit_data")
      l.open_circuit_data = r.number(v, path);
    else if (is_host_limit(key)) {
      std::string error;
      if (set_host_limit(host, key, r.scalar(v, path, "an integer"), error) == limit_key::invalid)
        r.fail(v, path, error);
    } else {
      r.fail(kv.first, path, "unknown key");
    }
  }
  if (l.reservation_ttl.count() == 0)
    r.fail(node, "limits.reservation_ttl", "must be at least 1 second");
}

void read_names(const reader& r, const YAML::Node& node, relay_config& c) {
  if (!node.IsMap())
    r.fail(node, "names",
           "expected a map with network, min_ttl, max_ttl, max_names, max_names_per_peer");
  auto& l = c.names_limits;
  for (const auto& kv : node) {
    const auto key = r.key_name(kv.first, "names");
    const auto& v = kv.second;
    const std::string path = "names." + key;
    if (key == "network") {
      const auto text = r.scalar(v, path, "a DNS label");
      auto label = wire::dns_label::parse(text);
      if (!label)
        r.fail(v, path,
               "expected a DNS label (1-63 letters, digits or inner '-'), got \"" + text + "\"");
      c.names_network = label->str();
    } else if (key == "min_ttl") {
      l.min_ttl = std::chrono::seconds(r.number(v, path));
    } else if (key == "max_ttl") {
      l.max_ttl = std::chrono::seconds(r.number(v, path));
    } else if (key == "max_names") {
      l.max_names = r.number(v, path);
    } else if (key == "max_names_per_peer") {
      l.max_names_per_peer = r.number(v, path);
    } else {
      r.fail(kv.first, path,
             "unknown key (expected network, min_ttl, max_ttl, max_names, max_names_per_peer)");
    }
  }
  if (l.min_ttl.count() == 0) r.fail(node, "names.min_ttl", "must be at least 1 second");
  if (l.max_ttl < l.min_ttl) r.fail(node, "names.max_ttl", "must not be below names.min_ttl");
}

}  // namespace

relay_config default_relay_config(const fs::path& dir) {
  relay_config c;
  c.identity_key = dir / "identity.key";
  c.authorized_keys = dir / "authorized_keys";
  return c;
}

std::string default_relay_yaml(std::string_view network) {
  std::string out =
      "# peerup relay configuration (docs/relay.md), written by `peerup relay init`.\n"
      "# Run with: peerup relay serve --config <this file>. Paths are relative to it.\n\n"
      "# The relay's private key (its peer ID is printed at start). No group or other access.\n"
      "identity_key: identity.key\n"
      "# Peers allowed to reserve and to open circuits: peerup relay authorize <peer-id>\n"
      "# --config <this file>. No group or other access.\n"
      "authorized_keys: authorized_keys\n"
      "# TCP and QUIC (UDP) on the same port; open both in the firewall.\n"
      "listen:\n"
      "  - /ip4/0.0.0.0/tcp/4001\n"
      "  - /ip6/::/tcp/4001\n"
      "  - /ip4/0.0.0.0/udp/4001/quic-v1\n"
      "  - /ip6/::/udp/4001/quic-v1\n"
      "# true: a public relay (anyone may reserve; open_circuit_* limits for strangers).\n"
      "open: false\n"
      "# limits: see docs/relay.md for every key and its default, e.g.\n"
      "#   max_reservations: 1024\n"
      "#   max_circuits: 1024\n";
  if (!network.empty())
    out += "# <host>." + std::string(network) +
           " names for authorized peers (docs/naming.md).\nnames:\n  network: " +
           std::string(network) + "\n";
  else
    out += "# names:\n#   network: <name>   # serve <host>.<name> names (docs/naming.md)\n";
  return out;
}

relay_config load_relay_config(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": cannot open the relay config");
  std::string text(max_file_size + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_relay_config(text, file);
}

relay_config parse_relay_config(std::string_view text, const fs::path& file) {
  reader r{file.string()};
  // SECURITY: a relay config is a few hundred bytes; bound what we parse.
  if (text.size() > max_file_size)
    throw std::runtime_error(file.string() + ": larger than " + std::to_string(max_file_size) +
                             " bytes");

  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(file.string() + ":" + std::to_string(e.mark.line + 1) +
                             ": YAML syntax error: " + e.msg);
  }
  const fs::path base = fs::absolute(file).parent_path();
  relay_config c = default_relay_config(base);
  c.file = fs::absolute(file);
  if (root.IsNull()) return c;
  if (!root.IsMap()) r.fail(root, "(top level)", "expected a map of settings");
  for (const auto& kv : root) {
    const auto key = r.key_name(kv.first, "(top level)");
    const auto& v = kv.second;
    if (key == "identity_key") {
      c.identity_key = r.path(v, key, base);
    } else if (key == "authorized_keys") {
      c.authorized_keys = r.path(v, key, base);
    } else if (key == "open") {
      c.open = r.boolean(v, key);
    } else if (key == "listen") {
      if (!v.IsSequence()) r.fail(v, key, "expected a list of multiaddrs");
      if (v.size() > max_listen)
        r.fail(v, key, "more than " + std::to_string(max_listen) + " addresses");
      for (const auto& item : v) {
        const auto text_addr = r.scalar(
            item, key, "a multiaddr such as /ip4/0.0.0.0/tcp/4001 or /ip4/0.0.0.0/udp/4001/quic-v1");
        auto a = multiaddr::parse(text_addr);
        if (!a || !is_listen_addr(*a))
          r.fail(item, key,
                 std::string("expected a multiaddr such as ") + listen_addr_example + ", got \"" +
                     text_addr + "\"");
        c.listen.push_back(*a);
      }
    } else if (key == "names") {
      read_names(r, v, c);
    } else if (key == "limits") {
      read_limits(r, v, c.limits, c.host_limits);
    } else {
      r.fail(kv.first, key,
             "unknown key (expected identity_key, authorized_keys, listen, open, limits, names)");
    }
  }
  return c;
}

}  // namespace peerup::app
