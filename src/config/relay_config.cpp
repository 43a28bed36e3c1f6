#include "config/relay_config.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "config/host_limits_config.hpp"
#include "config/listen_addr.hpp"
#include "config/yaml_read.hpp"

namespace peerup::app {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_file_size = 64 * 1024;
constexpr std::size_t max_listen = 32;
constexpr std::size_t max_federation_peers = 64;
// Bounds of the relay's own limits (the host's are in host_limits_config.cpp,
// with the same count bound).
constexpr std::uint64_t max_relay_count = 1'000'000;
constexpr std::uint64_t max_seconds = 365ull * 24 * 3600;
constexpr std::uint64_t max_circuit_bytes = std::uint64_t{1} << 50;  // 1 PiB

struct reader {
  std::string file;

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key,
                         const std::string& what) const {
    const int line = yaml_line(at);
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
  // SECURITY: counts and sizes from the file are bounded, so no conversion
  // (seconds -> clock ticks, UNIX expiry arithmetic) can overflow.
  std::uint64_t number_in(const YAML::Node& n, const std::string& key, std::uint64_t min,
                          std::uint64_t max, const char* unit = "") const {
    const auto v = number(n, key);
    if (v < min || v > max)
      fail(n, key,
           "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + unit +
               ", got \"" + n.Scalar() + "\"");
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
  bool reservations_set = false;
  for (const auto& kv : node) {
    const auto key = r.key_name(kv.first, "limits");
    const auto& v = kv.second;
    const std::string path = "limits." + key;
    if (key == "max_reservations") {
      l.max_reservations = r.number_in(v, path, 1, max_relay_count);
      reservations_set = true;
    } else if (key == "max_reservations_per_ip")
      l.max_reservations_per_ip = r.number_in(v, path, 1, max_relay_count);
    else if (key == "max_circuits_per_peer")
      l.max_circuits_per_peer = r.number_in(v, path, 1, max_relay_count);
    else if (key == "max_circuits")
      l.max_circuits = r.number_in(v, path, 1, max_relay_count);
    else if (key == "reservation_ttl")
      l.reservation_ttl = std::chrono::seconds(r.number_in(v, path, 1, max_seconds, " seconds"));
    else if (key == "circuit_duration")
      l.circuit_duration = std::chrono::seconds(r.number_in(v, path, 0, max_seconds, " seconds"));
    else if (key == "circuit_data")
      l.circuit_data = r.number_in(v, path, 0, max_circuit_bytes, " bytes");
    else if (key == "open_circuit_duration")
      l.open_circuit_duration =
          std::chrono::seconds(r.number_in(v, path, 0, max_seconds, " seconds"));
    else if (key == "open_circuit_data")
      l.open_circuit_data = r.number_in(v, path, 0, max_circuit_bytes, " bytes");
    else if (key == "reservation_rate") {
      l.reservation_rate = r.number(v, path);
      // SECURITY: bounded, so the bucket's time arithmetic cannot overflow.
      if (l.reservation_rate != 0 &&
          (l.reservation_rate < 1024 || l.reservation_rate > 10'000'000'000ull))
        r.fail(v, path,
               "expected 0 (unlimited) or bytes per second from 1024 to 10000000000, got \"" +
                   v.Scalar() + "\"");
    }
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
  // Each reservation holds its peer's connection, so more reservations than
  // connections can never be granted: a configuration mistake, not a limit.
  // (Only when the file sets it: lowering max_connections alone stays valid.)
  if (reservations_set && l.max_reservations > host.max_connections)
    r.fail(node, "limits.max_reservations",
           std::to_string(l.max_reservations) + " is above limits.max_connections (" +
               std::to_string(host.max_connections) +
               "): each reservation holds a connection; raise max_connections too");
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

void read_federation_peer(const reader& r, const YAML::Node& item, std::size_t index,
                          relay_config& c) {
  const std::string at = "federation.peers[" + std::to_string(index) + "]";
  if (!item.IsMap())
    r.fail(item, at, "expected a map with network_name, relay and trust_level");
  std::optional<wire::dns_label> network;
  std::optional<multiaddr> relay;
  std::optional<wire::federation_trust> trust;
  for (const auto& kv : item) {
    const auto key = r.key_name(kv.first, at);
    const auto& v = kv.second;
    const std::string path = at + "." + key;
    if (key == "network_name") {
      const auto text = r.scalar(v, path, "a DNS label");
      auto label = wire::dns_label::parse(text);
      if (!label)
        r.fail(v, path,
               "expected a DNS label (1-63 letters, digits or inner '-'), got \"" + text + "\"");
      network = *label;
    } else if (key == "relay") {
      const auto text = r.scalar(v, path, "a multiaddr ending in /p2p/<peer-id>");
      auto a = multiaddr::parse(text);
      if (!a || !a->peer() || a->is_relayed())
        r.fail(v, path,
               "expected the peer relay's multiaddr ending in /p2p/<peer-id>, such as "
               "/ip4/198.51.100.9/tcp/4001/p2p/12D3KooW..., got \"" +
                   text + "\"");
      relay = *a;
    } else if (key == "trust_level") {
      const auto text = r.scalar(v, path, "full or one_way");
      auto t = wire::parse_federation_trust(text);
      if (!t) r.fail(v, path, "expected full or one_way, got \"" + text + "\"");
      trust = *t;
    } else {
      r.fail(kv.first, path, "unknown key (expected network_name, relay, trust_level)");
    }
  }
  if (!network) r.fail(item, at + ".network_name", "missing (the peer relay's network)");
  if (!relay) r.fail(item, at + ".relay", "missing (the peer relay's multiaddr with /p2p/)");
  if (!trust) r.fail(item, at + ".trust_level", "missing (full or one_way)");
  for (const auto& p : c.federation_peers) {
    if (p.network == *network)
      r.fail(item, at + ".network_name", "network " + network->str() + " is listed twice");
    if (p.relay_peer == *relay->peer())
      r.fail(item, at + ".relay",
             "relay " + relay->peer()->to_string() + " is already the relay of network " +
                 p.network.str() + " (one relay serves one network)");
  }
  c.federation_peers.push_back(
      wire::federation_peering::make(std::move(*network), std::move(*relay), *trust).value());
}

void read_federation(const reader& r, const YAML::Node& node, relay_config& c) {
  if (!node.IsMap())
    r.fail(node, "federation",
           "expected a map with peers, cache_ttl, stale_ttl, max_cache, lookups_per_second, member_ttl, unknown_connects_per_ip, max_forwarded, forwarded_duration, forwarded_data");
  auto& l = c.federation_limits;
  for (const auto& kv : node) {
    const auto key = r.key_name(kv.first, "federation");
    const auto& v = kv.second;
    const std::string path = "federation." + key;
    if (key == "peers") {
      if (!v.IsSequence()) r.fail(v, path, "expected a list of peer relays");
      // SECURITY: bounded, like every list in the file.
      if (v.size() > max_federation_peers)
        r.fail(v, path, "more than " + std::to_string(max_federation_peers) + " peer relays");
      std::size_t i = 0;
      for (const auto& item : v) read_federation_peer(r, item, i++, c);
    } else if (key == "cache_ttl") {
      const auto n = r.number(v, path);
      if (n == 0 || n > 3600) r.fail(v, path, "must be 1 to 3600 seconds");
      l.cache_ttl = std::chrono::seconds(n);
    } else if (key == "stale_ttl") {
      const auto n = r.number(v, path);
      if (n > 7 * 86400) r.fail(v, path, "must be at most 604800 seconds");
      l.stale_ttl = std::chrono::seconds(n);
    } else if (key == "max_cache") {
      l.max_cache = r.number(v, path);
      if (l.max_cache == 0 || l.max_cache > 1000000) r.fail(v, path, "must be 1 to 1000000");
    } else if (key == "lookups_per_second") {
      const auto n = r.number(v, path);
      if (n == 0 || n > 10000) r.fail(v, path, "must be 1 to 10000");
      l.lookups_per_second = static_cast<std::uint32_t>(n);
    } else if (key == "member_ttl") {
      // How long a peer relay's "yes, my member" opens circuits here, and so
      // how long a removal from its authorized_keys takes to reach us.
      const auto n = r.number(v, path);
      if (n < 10 || n > 3600) r.fail(v, path, "must be 10 to 3600 seconds");
      l.member_ttl = std::chrono::seconds(n);
    } else if (key == "unknown_connects_per_ip") {
      const auto n = r.number(v, path);
      if (n == 0 || n > 10000) r.fail(v, path, "must be 1 to 10000 a minute");
      l.unknown_connects_per_ip = static_cast<std::uint32_t>(n);
    } else if (key == "max_forwarded") {
      l.max_forwarded = r.number(v, path);
      if (l.max_forwarded > 4096) r.fail(v, path, "must be 0 (off) to 4096 circuits");
    } else if (key == "forwarded_duration") {
      // SECURITY: checked before the conversion (a huge number would wrap).
      const auto n = r.number(v, path);
      if (n > 7 * 86400) r.fail(v, path, "must be 0 (none) to 604800 seconds");
      l.forwarded_duration = std::chrono::seconds(n);
    } else if (key == "forwarded_data") {
      l.forwarded_data = r.number(v, path);
      if (l.forwarded_data != 0 && l.forwarded_data < 1024)
        r.fail(v, path, "must be 0 (none) or at least 1024 bytes");
    } else {
      r.fail(kv.first, path,
             "unknown key (expected peers, cache_ttl, stale_ttl, max_cache, lookups_per_second, member_ttl, unknown_connects_per_ip, max_forwarded, forwarded_duration, forwarded_data)");
    }
  }
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
  YAML::Node federation_node;
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
    } else if (key == "federation") {
      read_federation(r, v, c);
      federation_node = v;
    } else if (key == "dht") {
      if (auto e = read_dht_config(v, c.dht, true))
        throw std::runtime_error(r.file + ":" + std::to_string(e->line) + ": " + e->message);
    } else {
      r.fail(kv.first, key,
             "unknown key (expected identity_key, authorized_keys, listen, open, limits, names, "
             "federation, dht)");
    }
  }
  // Checked after the loop: names: may come after federation: in the file.
  if (!c.federation_peers.empty()) {
    if (!c.names_network)
      r.fail(federation_node, "federation",
             "needs names.network (a relay without a network has no names to share)");
    for (const auto& p : c.federation_peers)
      if (p.network.str() == *c.names_network)
        r.fail(federation_node, "federation.peers",
               "network " + p.network.str() + " is this relay's own names.network");
  }
  return c;
}

}  // namespace peerup::app
