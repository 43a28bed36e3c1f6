#include "config/dht_config.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <set>

#include "config/yaml_scalar.hpp"
#include "config/yaml_read.hpp"

namespace peerup::app {

namespace {

using error = std::optional<dht_config_error>;

error fail(const YAML::Node& at, const std::string& key, const std::string& message) {
  return dht_config_error{yaml_line(at),
                          (key.empty() ? "dht" : "dht." + key) + ": " + message};
}

error expect(const YAML::Node& at, const std::string& key, const std::string& what) {
  return fail(at, key, "expected " + what + ", got " + yaml_got(at));
}

error read_scalar(const YAML::Node& n, const std::string& key, const std::string& what,
                  std::string& out) {
  if (!n.IsScalar() || n.Scalar().empty()) return expect(n, key, what);
  // SECURITY: bounded; the longest value here is a multiaddr.
  if (n.Scalar().size() > 1024) return fail(n, key, "value too long");
  out = n.Scalar();
  return std::nullopt;
}

error read_bool(const YAML::Node& n, const std::string& key, bool& out) {
  std::string text;
  if (auto e = read_scalar(n, key, "true or false", text)) return e;
  if (text != "true" && text != "false") return expect(n, key, "true or false");
  out = text == "true";
  return std::nullopt;
}

// A list of at most `max` scalars, each turned into a T by `parse` (nullopt:
// not one); `out` is replaced. Errors name the item: "dht.<key>[2]: ...".
template <class T, class Parse>
error read_list(const YAML::Node& v, const std::string& k, std::size_t max,
                const std::string& list_what, const std::string& what, Parse parse,
                std::vector<T>& out) {
  if (!v.IsSequence()) return expect(v, k, list_what);
  // SECURITY: bounded like every list in the file.
  if (v.size() > max) return fail(v, k, "more than " + std::to_string(max) + " entries");
  out.clear();
  std::size_t i = 0;
  for (const auto& entry : v) {
    const std::string item = k + "[" + std::to_string(i++) + "]";
    std::string text;
    if (auto e = read_scalar(entry, item, what, text)) return e;
    auto parsed = parse(text);
    if (!parsed) return expect(entry, item, what);
    out.push_back(std::move(*parsed));
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(dht_mode m) {
  switch (m) {
    case dht_mode::auto_mode: return "auto";
    case dht_mode::client: return "client";
    case dht_mode::server: return "server";
  }
  return "auto";
}

std::string_view to_string(relay_policy p) {
  return p == relay_policy::any ? "any" : "authorized";
}

bool valid_dht_protocol(std::string_view p) {
  if (p.size() < 2 || p.size() > dht_config::max_protocol || p.front() != '/') return false;
  for (char c : p)
    if (c <= ' ' || c > '~') return false;
  return true;
}

bool dht_config::is_default() const { return *this == dht_config{}; }

std::optional<dht_config_error> read_dht_config(const YAML::Node& node, dht_config& out,
                                                bool relay) {
  if (node.IsNull()) return std::nullopt;
  const std::set<std::string> keys =
      relay ? std::set<std::string>{"enabled", "protocol", "bootstrap", "refresh_interval", "open"}
            : std::set<std::string>{"enabled",      "protocol",    "mode",      "bootstrap",
                                    "refresh_interval", "relay_policy", "relay_peers",
                                    "max_relays"};
  std::string known;
  for (const auto& k : keys) known += (known.empty() ? "" : ", ") + k;
  if (!node.IsMap()) return expect(node, "", "a map with " + known);
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string k;
    if (auto e = read_scalar(it->first, "", "a key", k)) return e;
    const YAML::Node v = it->second;  // a copy: the iterator hands out a temporary
    if (!keys.count(k)) return fail(it->first, k, "unknown key (expected one of: " + known + ")");
    if (!seen.insert(k).second) return fail(it->first, k, "duplicate key");
    std::string text;
    if (k == "enabled") {
      if (auto e = read_bool(v, k, out.enabled)) return e;
    } else if (k == "open") {
      bool b = false;
      if (auto e = read_bool(v, k, b)) return e;
      out.open = b;
    } else if (k == "protocol") {
      const std::string what = "a protocol ID such as /peerup/kad/1.0.0 or /ipfs/kad/1.0.0";
      if (auto e = read_scalar(v, k, what, text)) return e;
      if (!valid_dht_protocol(text)) return expect(v, k, what);
      out.protocol = text;
    } else if (k == "mode") {
      const std::string what = "auto, client or server";
      if (auto e = read_scalar(v, k, what, text)) return e;
      if (text == "auto") out.mode = dht_mode::auto_mode;
      else if (text == "client") out.mode = dht_mode::client;
      else if (text == "server") out.mode = dht_mode::server;
      else return expect(v, k, what);
    } else if (k == "relay_policy") {
      const std::string what = "authorized or any";
      if (auto e = read_scalar(v, k, what, text)) return e;
      if (text == "authorized") out.relays_from = relay_policy::authorized;
      else if (text == "any") out.relays_from = relay_policy::any;
      else return expect(v, k, what);
    } else if (k == "max_relays") {
      const std::string what = "a number of relays from 1 to 8";
      if (auto e = read_scalar(v, k, what, text)) return e;
      unsigned long n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size() || n < 1 ||
          n > dht_config::max_max_relays)
        return expect(v, k, what);
      out.max_relays = n;
    } else if (k == "relay_peers") {
      auto as_peer = [](const std::string& t) -> std::optional<peer_id> {
        auto id = peer_id::parse(t);
        return id ? std::optional(*id) : std::nullopt;
      };
      if (auto e = read_list(v, k, dht_config::max_relay_peers, "a list of relay peer IDs",
                             "a peer ID (12D3KooW...)", as_peer, out.relay_peers))
        return e;
    } else if (k == "refresh_interval") {
      const std::string what = "a number of seconds from 60 to 86400";
      if (auto e = read_scalar(v, k, what, text)) return e;
      long long s = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), s);
      if (ec != std::errc() || end != text.data() + text.size() ||
          s < dht_config::min_refresh.count() || s > dht_config::max_refresh.count())
        return expect(v, k, what);
      out.refresh_interval = std::chrono::seconds(s);
    } else if (k == "bootstrap") {
      auto with_peer = [](const std::string& t) -> std::optional<multiaddr> {
        auto a = multiaddr::parse(t);
        return a && a->peer() ? std::optional(*a) : std::nullopt;
      };
      if (auto e = read_list(v, k, dht_config::max_bootstrap,
                             "a list of multiaddrs ending in /p2p/<peer-id>",
                             "a multiaddr ending in /p2p/<peer-id>", with_peer, out.bootstrap))
        return e;
    }
  }
  return std::nullopt;
}

std::string render_dht_config(const dht_config& d) {
  if (d.is_default()) return "";
  std::string out =
      "\n# The Kademlia DHT (docs/dht.md): peers find each other's addresses through it.\n"
      "dht:\n";
  out += std::string("  enabled: ") + (d.enabled ? "true" : "false") + "\n";
  out += "  protocol: " + yaml_scalar(d.protocol) + "\n";
  out += "  mode: " + std::string(to_string(d.mode)) + "\n";
  if (!d.bootstrap.empty()) {
    out += "  bootstrap:\n";
    for (const auto& a : d.bootstrap) out += "    - " + a.to_string() + "\n";
  }
  out += "  refresh_interval: " + std::to_string(d.refresh_interval.count()) + "\n";
  if (d.open) out += std::string("  open: ") + (*d.open ? "true" : "false") + "\n";
  if (d.relays_from != relay_policy::authorized)
    out += "  relay_policy: " + std::string(to_string(d.relays_from)) + "\n";
  if (!d.relay_peers.empty()) {
    out += "  relay_peers:\n";
    for (const auto& p : d.relay_peers) out += "    - " + p.to_string() + "\n";
  }
  if (d.max_relays != dht_config{}.max_relays)
    out += "  max_relays: " + std::to_string(d.max_relays) + "\n";
  return out;
}

}  // namespace peerup::app
