// Writing config files (canonical form, atomic save), the defaults of
// `peerup init`, and the lookup order of the config file.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "config/config.hpp"
#include "config/file_write.hpp"
#include "config/host_limits_config.hpp"
#include "config/yaml_scalar.hpp"

namespace peerup::app {

namespace fs = std::filesystem;

std::string yaml_scalar(const std::string& s, bool always_quote) {
  YAML::Emitter e;
  // yaml-cpp leaves a CR or tab in a plain scalar, where a reader takes a CR
  // before the line end as part of the line break: a rewrite would lose it
  // (fuzz_config, regressions/config/cr_in_path).
  const bool has_control =
      std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
  if (always_quote || has_control) e << YAML::DoubleQuoted;
  e << s;
  return e.c_str();
}

std::string render_config(const config& cfg) {
  std::string out;
  out += "# peerup configuration (docs/config.md). Relative paths are relative to this file.\n";
  out += "# `peerup service|name|relay ...` rewrite this file in this form (old copy: .bak).\n\n";
  out += "# Private key of this node (its peer ID: `peerup whoami`). Keep it mode 0600.\n";
  out += "identity_key: " + yaml_scalar(cfg.identity_key.written) + "\n\n";
  out += "# Addresses the daemon listens on (multiaddrs). Empty: reachable only via relays.\n";
  out += "listen:" + std::string(cfg.listen.empty() ? " []\n" : "\n");
  for (const auto& a : cfg.listen) out += "  - " + a.to_string() + "\n";
  out += "\n# Circuit Relay v2 relays: the daemon reserves a slot on each; clients dial\n";
  out += "# <relay>/p2p-circuit/p2p/<peer> through them. Each ends in /p2p/<relay peer ID>.\n";
  // A relay added to an auto config (relay add, pairing) makes it a list.
  if (cfg.relays_auto && cfg.relays.empty())
    out += "relays: auto   # found through the DHT (dht.relay_policy, dht.relay_peers)\n";
  else
    out += "relays:" + std::string(cfg.relays.empty() ? " []\n" : "\n");
  for (const auto& a : cfg.relays) out += "  - " + a.to_string() + "\n";
  out += "\n# Peers allowed to connect: one peer ID per line (`peerup auth add`). Mode 0600.\n";
  out += "authorized_keys: " + yaml_scalar(cfg.authorized_keys.written) + "\n\n";
  out += "# Local TCP services offered to authorized peers as /peerup/<name>/1.0.0.\n";
  out += "#   ssh:\n#     local_address: 127.0.0.1:22\n#     enabled: true\n";
  out += "#     authorized_keys: ssh.authorized_keys   # optional: extra peers for ssh only\n";
  out += "services:" + std::string(cfg.services.empty() ? " {}\n" : "\n");
  for (const auto& [name, s] : cfg.services) {
    out += "  " + name + ":\n";
    out += "    local_address: " + yaml_scalar(s.local_address.to_string()) + "\n";
    out += std::string("    enabled: ") + (s.enabled ? "true" : "false") + "\n";
    if (s.authorized_keys)
      out += "    authorized_keys: " + yaml_scalar(s.authorized_keys->written) + "\n";
    if (s.rate_limit) out += "    rate_limit: " + std::to_string(s.rate_limit) + "\n";
  }
  out += "\n# Short names for peers, usable wherever a <target> is expected.\n";
  out += "names:" + std::string(cfg.names.empty() ? " {}\n" : "\n");
  for (const auto& [name, t] : cfg.names) out += "  " + name + ": " + t.to_string() + "\n";
  out += render_gateway_config(cfg.gateway);
  out += render_naming_config(cfg.naming);
  out += render_limits_config(cfg.limits);
  out += render_network_config(cfg.network);
  if (cfg.peer_rate_limit)
    out += "\n# Bytes per second each way for each peer's service traffic (0: unlimited).\n"
           "peer_rate_limit: " + std::to_string(cfg.peer_rate_limit) + "\n";
  out += render_dht_config(cfg.dht);
  if (cfg.metrics || cfg.status_page)
    out += "\n# Operations (docs/operations.md): Prometheus /metrics and the local status page.\n";
  if (cfg.metrics) out += "metrics: " + yaml_scalar(cfg.metrics->to_string(), true) + "\n";
  if (cfg.status_page)
    out += "status_page: " + yaml_scalar(cfg.status_page->to_string(), true) + "\n";
  return out;
}

void save_config(const config& cfg) {
  const std::string text = render_config(cfg);
  if (fs::exists(cfg.file)) {
    std::ifstream in(cfg.file, std::ios::binary);
    const std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.eof() && in.fail()) throw std::runtime_error("cannot read " + cfg.file.string());
    // The .bak may hold SOCKS passwords as well: it gets the config's mode
    // and owner, not the umask.
    replace_file(cfg.file.string() + ".bak", old, {.like = cfg.file});
  }
  // Keeps the mode and owner of the config it replaces (0600 when new).
  replace_file(cfg.file, text);
}

config default_config(const fs::path& dir) {
  config cfg;
  cfg.file = fs::absolute(dir / "config.yaml").lexically_normal();
  cfg.identity_key = cfg.ref("identity.key");
  cfg.authorized_keys = cfg.ref("authorized_keys");
  cfg.listen.push_back(*multiaddr::parse("/ip4/0.0.0.0/tcp/4001"));
  cfg.listen.push_back(*multiaddr::parse("/ip6/::/tcp/4001"));
  // QUIC on the same port number (UDP): peers dial it first, and it is the
  // transport UDP hole punching and the TUN network's datagrams need.
  cfg.listen.push_back(*multiaddr::parse("/ip4/0.0.0.0/udp/4001/quic-v1"));
  cfg.listen.push_back(*multiaddr::parse("/ip6/::/udp/4001/quic-v1"));
  return cfg;
}

fs::path default_config_dir() {
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".config" / "peerup";
}

fs::path find_config(const std::string& flag) {
  if (!flag.empty()) {
    if (!fs::exists(flag))
      throw std::runtime_error("config file " + flag + " (--config) does not exist");
    return flag;
  }
  if (const char* env = std::getenv("PEERUP_CONFIG"); env && *env) {
    if (!fs::exists(env))
      throw std::runtime_error(std::string("config file ") + env +
                               " ($PEERUP_CONFIG) does not exist");
    return env;
  }
  const std::vector<fs::path> candidates{"peerup.yaml", default_config_dir() / "config.yaml",
                                         "/etc/peerup/config.yaml"};
  std::string looked;
  for (const auto& c : candidates) {
    if (fs::exists(c)) return c;
    looked += (looked.empty() ? "" : ", ") + c.string();
  }
  throw std::runtime_error("no config file found (looked for --config, $PEERUP_CONFIG, " + looked +
                           "); create one with: peerup init");
}

}  // namespace peerup::app
