#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <utility>

#include "config/host_limits_config.hpp"
#include "config/listen_addr.hpp"
#include "config/yaml_read.hpp"

namespace peerup::app {

namespace fs = std::filesystem;

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool valid_label(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (!name_char(s[0]) || s[0] == '.' || s[0] == '_' || s[0] == '-') return false;
  for (char c : s)
    if (!name_char(c)) return false;
  return true;
}

// Describes a node for "got ..." in messages.
std::string describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  std::string s = n.Scalar();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return "\"" + s + "\"";
}

// Validation state: the first error wins, with the line of the node it is about.
class checker {
 public:
  explicit checker(std::string label) : label_(std::move(label)) {}

  bool fail(const YAML::Node& at, const std::string& path, const std::string& message) {
    return fail_line(yaml_line(at), path + ": " + message);
  }
  bool fail_line(int line, std::string message) {
    if (!error_) error_ = config_error{label_, line, std::move(message)};
    return false;
  }
  bool expect(const YAML::Node& at, const std::string& path, const std::string& expected) {
    return fail(at, path, "expected " + expected + ", got " + describe(at));
  }
  const std::optional<config_error>& error() const { return error_; }

 private:
  std::string label_;
  std::optional<config_error> error_;
};

bool read_string(checker& c, const YAML::Node& n, const std::string& path,
                 const std::string& expected, std::string& out) {
  if (!n.IsScalar() || n.Scalar().empty()) return c.expect(n, path, expected);
  // SECURITY: bounded, so a hostile file cannot make us keep huge strings.
  if (n.Scalar().size() > config_limits::max_string)
    return c.fail(n, path, "value longer than " + std::to_string(config_limits::max_string));
  out = n.Scalar();
  return true;
}

// Walks a map, refusing keys outside `allowed` and duplicates.
template <class Fn>
bool each_key(checker& c, const YAML::Node& map, const std::string& path,
              const std::set<std::string>& allowed, Fn&& fn) {
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;
    const std::string prefix = path.empty() ? "" : path + ".";
    if (!key.IsScalar()) return c.expect(key, path.empty() ? "key" : path, "a key name");
    const std::string& k = key.Scalar();
    if (!allowed.empty() && !allowed.count(k)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return c.fail(key, prefix + k, "unknown key (expected one of: " + list + ")");
    }
    if (!seen.insert(k).second) return c.fail(key, prefix + k, "duplicate key");
    if (!fn(k, key, it->second)) return false;
  }
  return true;
}

bool read_multiaddr_list(checker& c, const YAML::Node& n, const std::string& path, std::size_t max,
                         bool need_peer, std::vector<multiaddr>& out) {
  if (n.IsNull()) return true;
  if (!n.IsSequence()) return c.expect(n, path, "a list of multiaddrs");
  if (n.size() > max) return c.fail(n, path, "more than " + std::to_string(max) + " entries");
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string item = path + "[" + std::to_string(i) + "]";
    const std::string expected = need_peer ? "a multiaddr ending in /p2p/<peer-id>"
                                           : "a multiaddr like /ip4/0.0.0.0/tcp/4001";
    std::string text;
    if (!read_string(c, n[i], item, expected, text)) return false;
    auto a = multiaddr::parse(text);
    if (!a)
      return c.fail(
          n[i], item,
          "expected " + expected + ", got " + describe(n[i]) + " (" + a.error().message() + ")");
    if (need_peer && !a->peer()) return c.expect(n[i], item, expected);
    if (!need_peer && !is_listen_addr(*a))
      return c.fail(n[i], item,
                    "expected an /ip4 or /ip6 .../tcp/<port> or .../udp/<port>/quic-v1 address to "
                    "listen on, got " +
                        describe(n[i]));
    out.push_back(std::move(*a));
  }
  return true;
}

bool read_bool(checker& c, const YAML::Node& n, const std::string& path, bool& out) {
  if (n.IsScalar()) {
    const auto& s = n.Scalar();
    if (s == "true" || s == "yes" || s == "on") return out = true, true;
    if (s == "false" || s == "no" || s == "off") return out = false, true;
  }
  return c.expect(n, path, "true or false");
}

// A bandwidth limit in bytes per second: 0 (unlimited) or within
// [min_rate, max_rate].
bool read_rate(checker& c, const YAML::Node& n, const std::string& path, std::uint64_t& out) {
  const std::string expected = "0 (unlimited) or bytes per second from " +
                               std::to_string(config_limits::min_rate) + " to " +
                               std::to_string(config_limits::max_rate);
  if (!n.IsScalar()) return c.expect(n, path, expected);
  const std::string& text = n.Scalar();
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  // SECURITY: bounded, so the bucket's time arithmetic cannot overflow.
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() ||
      (v != 0 && (v < config_limits::min_rate || v > config_limits::max_rate)))
    return c.expect(n, path, expected);
  out = v;
  return true;
}

bool read_service(checker& c, const config& cfg, const std::string& path, const service_name& name,
                  const YAML::Node& n, service_config& out) {
  if (!n.IsMap())
    return c.expect(n, path, "a map with local_address, enabled, authorized_keys, rate_limit");
  bool have_addr = false;
  const std::set<std::string> keys{"local_address", "enabled", "authorized_keys", "rate_limit"};
  bool ok =
      each_key(c, n, path, keys, [&](const std::string& k, const YAML::Node&, const YAML::Node& v) {
        const std::string p = path + "." + k;
        std::string text;
        if (k == "local_address") {
          if (!read_string(c, v, p, "host:port", text)) return false;
          auto hp = host_port::parse(text);
          if (!hp) return c.expect(v, p, "host:port");
          out.local_address = *hp;
          have_addr = true;
        } else if (k == "enabled") {
          return read_bool(c, v, p, out.enabled);
        } else if (k == "authorized_keys") {
          if (!read_string(c, v, p, "a file path", text)) return false;
          out.authorized_keys = cfg.ref(text);
        } else if (k == "rate_limit") {
          return read_rate(c, v, p, out.rate_limit);
        }
        return true;
      });
  if (!ok) return false;
  if (!have_addr) return c.fail(n, path, "missing local_address (host:port of the local service)");
  out.name = name;
  return true;
}

bool read_services(checker& c, config& cfg, const YAML::Node& n) {
  if (n.IsNull()) return true;
  if (!n.IsMap()) return c.expect(n, "services", "a map of service name -> settings");
  if (n.size() > config_limits::max_services)
    return c.fail(n, "services", "more than " + std::to_string(config_limits::max_services));
  return each_key(
      c, n, "services", {}, [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
        auto name = service_name::parse(k);
        if (!name)
          return c.fail(key, "services." + k,
                        "expected a service name of 1-64 letters, digits, '.', '_' or '-'");
        service_config svc{*name, {}, true, std::nullopt, 0};
        if (!read_service(c, cfg, "services." + k, *name, v, svc)) return false;
        cfg.services.emplace(k, std::move(svc));
        return true;
      });
}

bool read_names(checker& c, config& cfg, const YAML::Node& n) {
  if (n.IsNull()) return true;
  if (!n.IsMap()) return c.expect(n, "names", "a map of name -> peer ID");
  if (n.size() > config_limits::max_names)
    return c.fail(n, "names", "more than " + std::to_string(config_limits::max_names));
  return each_key(
      c, n, "names", {}, [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
        const std::string p = "names." + k;
        if (!valid_name(k))
          return c.fail(
              key, p,
              "expected a name of 1-64 letters, digits, '.', '_' or '-' that is not a peer ID");
        const std::string expected = "a peer ID or a multiaddr ending in /p2p/<peer-id>";
        std::string text;
        if (!read_string(c, v, p, expected, text)) return false;
        if (auto id = peer_id::parse(text)) {
          cfg.names.emplace(k, name_target{*id, std::nullopt});
          return true;
        }
        auto a = multiaddr::parse(text);
        if (!a || !a->peer()) return c.expect(v, p, expected);
        cfg.names.emplace(k, name_target{*a->peer(), *a});
        return true;
      });
}

// An IP literal and port to listen on (metrics, status_page). The IP is
// checked by hand (no asio below net's users): dotted quad or an IPv6
// literal in brackets.
bool read_listen_endpoint(checker& c, const YAML::Node& v, const std::string& key,
                          bool loopback_only, std::optional<host_port>& out) {
  const std::string expected = "an IP address and port such as 127.0.0.1:" +
                               std::string(key == "metrics" ? "9464" : "9465");
  std::string text;
  if (!read_string(c, v, key, expected, text)) return false;
  auto hp = host_port::parse(text);
  if (!hp) return c.expect(v, key, expected);
  const bool v6 = hp->host.find(':') != std::string::npos;
  int dots = 0;
  bool digits_only = true;
  for (char ch : hp->host) {
    if (ch == '.')
      ++dots;
    else if (ch < '0' || ch > '9')
      digits_only = false;
  }
  if (!v6 && !(digits_only && dots == 3)) return c.expect(v, key, expected);
  if (loopback_only && !(hp->host == "::1" || hp->host.rfind("127.", 0) == 0))
    return c.fail(v, key,
                  "must be a loopback address such as 127.0.0.1:9465 (the status page is for "
                  "this machine only), got \"" + text + "\"");
  out = *hp;
  return true;
}

bool read_top(checker& c, config& cfg, const YAML::Node& root) {
  if (root.IsNull()) return true;  // empty file: all defaults
  if (!root.IsMap())
    return c.expect(root, "config", "a map with identity_key, listen, relays, services, ...");
  const std::set<std::string> keys{"identity_key", "listen", "relays",  "authorized_keys",
                                   "services",     "names",  "gateway", "limits",
                                   "metrics",      "status_page", "network",
                                   "peer_rate_limit", "dht"};
  std::set<std::string> all_keys = keys;
  all_keys.insert(std::begin(naming_keys), std::end(naming_keys));
  return each_key(
      c, root, "", all_keys, [&](const std::string& k, const YAML::Node&, const YAML::Node& v) {
        std::string text;
        if (!keys.count(k)) {
          if (auto e = read_naming_key(k, v, cfg.naming)) return c.fail_line(e->line, e->message);
        } else if (k == "identity_key") {
          if (!read_string(c, v, k, "a file path", text)) return false;
          cfg.identity_key = cfg.ref(text);
        } else if (k == "authorized_keys") {
          if (!read_string(c, v, k, "a file path", text)) return false;
          cfg.authorized_keys = cfg.ref(text);
        } else if (k == "listen") {
          return read_multiaddr_list(c, v, k, config_limits::max_listen, false, cfg.listen);
        } else if (k == "relays") {
          // `relays: auto`: found through the DHT (checked against dht: below).
          if (v.IsScalar() && v.Scalar() == "auto") {
            cfg.relays_auto = true;
            return true;
          }
          if (v.IsScalar() && !v.Scalar().empty())
            return c.expect(v, k, "a list of multiaddrs ending in /p2p/<peer-id>, or auto");
          return read_multiaddr_list(c, v, k, config_limits::max_relays, true, cfg.relays);
        } else if (k == "services") {
          return read_services(c, cfg, v);
        } else if (k == "names") {
          return read_names(c, cfg, v);
        } else if (k == "gateway") {
          if (auto e = read_gateway_config(v, cfg.gateway)) return c.fail_line(e->line, e->message);
        } else if (k == "limits") {
          if (auto e = read_limits_config(v, cfg.limits)) return c.fail_line(e->line, e->message);
        } else if (k == "metrics" || k == "status_page") {
          return read_listen_endpoint(c, v, k, k == "status_page",
                                      k == "metrics" ? cfg.metrics : cfg.status_page);
        } else if (k == "network") {
          if (auto e = read_network_config(v, cfg.network)) return c.fail_line(e->line, e->message);
        } else if (k == "peer_rate_limit") {
          return read_rate(c, v, k, cfg.peer_rate_limit);
        } else if (k == "dht") {
          if (auto e = read_dht_config(v, cfg.dht)) return c.fail_line(e->line, e->message);
        }
        return true;
      });
}

// network.peers names peers of `names:`; a pin or a filter for a name that
// is not there would silently apply to nobody.
// `relays: auto` needs the DHT, and a policy that can accept some relay.
bool check_relays_auto(checker& c, const config& cfg, const YAML::Node& root) {
  if (!cfg.relays_auto) return true;
  const int line = yaml_line(root["relays"]);
  if (!cfg.dht.enabled)
    return c.fail_line(line, "relays: auto finds relays through the DHT, but dht.enabled is false "
                             "(enable the DHT or list the relays)");
  if (cfg.dht.relays_from == relay_policy::authorized && cfg.dht.relay_peers.empty())
    return c.fail_line(line, "relays: auto with dht.relay_policy authorized (the default) needs "
                             "dht.relay_peers, the peer IDs of the relays you trust (or "
                             "dht.relay_policy: any to use every relay the DHT names)");
  return true;
}

bool check_network_peers(checker& c, const config& cfg, const YAML::Node& root) {
  for (const auto& [name, p] : cfg.network.peers) {
    if (cfg.names.count(name)) continue;
    const YAML::Node at = root["network"]["peers"];
    return c.fail_line(yaml_line(at),
                       "network.peers." + name + ": no such name in `names:` (add it with "
                       "`peerup name add " + name + " <peer-id>`)");
  }
  return true;
}
}  // namespace

std::optional<service_name> service_name::parse(std::string_view text) {
  if (!valid_label(text)) return std::nullopt;
  return service_name(std::string(text));
}

protocol_id service_name::protocol() const { return protocol_id("/peerup/" + name_ + "/1.0.0"); }

std::optional<host_port> host_port::parse(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return std::nullopt;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
  }
  if (host.empty() || host.size() > 253 || port.empty() || port.size() > 5) return std::nullopt;
  for (char ch : host)
    if (!(name_char(ch) || ch == ':' || ch == '%')) return std::nullopt;
  unsigned value = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(ch - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return host_port{std::string(host), static_cast<std::uint16_t>(value)};
}

std::string host_port::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string name_target::to_string() const { return addr ? addr->to_string() : peer.to_string(); }

file_ref config::ref(std::string written) const {
  fs::path p(written);
  if (!written.empty() && written[0] == '~') {
    if (const char* home = std::getenv("HOME"); home && (written.size() == 1 || written[1] == '/'))
      p = fs::path(home) / written.substr(std::min<std::size_t>(2, written.size()));
  }
  if (p.is_relative()) p = dir() / p;
  return {std::move(written), p.lexically_normal()};
}

std::vector<peer_id> config::relay_peers() const {
  std::vector<peer_id> out;
  for (const auto& r : relays)
    if (auto p = r.peer()) out.push_back(*p);
  return out;
}

std::vector<multiaddr> config::all_relays() const {
  auto out = relays;
  for (const auto& r : naming.network_relays())
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  return out;
}

std::vector<multiaddr> config::dht_bootstrap() const {
  return dht.bootstrap.empty() ? all_relays() : dht.bootstrap;
}

bool config::discovers_relays() const {
  if (!dht.enabled) return false;
  return relays_auto || (all_relays().empty() && !dht.bootstrap.empty());
}

std::string config_error::to_string() const {
  return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

void throw_exception_from_error(const config_error& e, const boost::source_location&) {
  throw std::runtime_error(e.to_string());
}

bool valid_name(std::string_view name) { return valid_label(name) && !peer_id::parse(name); }

namespace {

// In well-formed UTF-8: the offset and code point of the first control
// character YAML does not allow (C0 but tab, LF and CR; DEL; C1 but NEL).
std::optional<std::pair<std::size_t, unsigned>> control_character_at(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f) return {{i, b}};
    // 0xc2 is only ever a lead byte; U+0080..U+009F are 0xc2 0x80..0x9f.
    if (b == 0xc2 && i + 1 < s.size()) {
      const auto c = static_cast<unsigned char>(s[i + 1]);
      if (c <= 0x9f && c != 0x85) return {{i, c}};
    }
  }
  return std::nullopt;
}

// Offset of the first byte that is not part of well-formed UTF-8 (no overlong
// forms, surrogates or code points past U+10FFFF), or npos.
std::size_t invalid_utf8_at(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xc2 && b <= 0xdf) {
      n = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b == 0xe0) lo = 0xa0;
      if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b == 0xf0) lo = 0x90;
      if (b == 0xf4) hi = 0x8f;
    } else {
      return i;
    }
    if (s.size() - i <= n) return i;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return std::string_view::npos;
}

}  // namespace

config_result parse_config(std::string_view text, const fs::path& file) {
  config cfg;
  cfg.file = fs::absolute(file).lexically_normal();
  cfg.identity_key = cfg.ref("identity.key");
  cfg.authorized_keys = cfg.ref("authorized_keys");
  checker c(file.string());
  // SECURITY: bound before yaml-cpp builds a node tree of it.
  if (text.size() > config_limits::max_file_size) {
    c.fail_line(0, "file larger than " + std::to_string(config_limits::max_file_size) + " bytes");
    return *c.error();
  }
  // YAML text is Unicode. yaml-cpp passes stray bytes through, but writes them
  // back as \xNN escapes that read as other characters: a file that
  // `peerup service add` rewrote would then fail to load (fuzz_config,
  // regressions/config/invalid_utf8_user).
  const auto line_of = [&](std::size_t at) {
    return static_cast<int>(1 +
                            std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
  };
  if (const auto at = invalid_utf8_at(text); at != std::string_view::npos) {
    c.fail_line(line_of(at), "not UTF-8 text (byte " + std::to_string(at) + ")");
    return *c.error();
  }
  // SECURITY: the same holds for control characters, which YAML does not allow
  // in a file at all (a NUL came back as another byte: regressions/config/nul_in_path).
  if (const auto control = control_character_at(text)) {
    const auto [at, code_point] = *control;
    char name[8];
    std::snprintf(name, sizeof name, "U+%04X", code_point);
    c.fail_line(line_of(at), std::string("control character ") + name + " (byte " +
                                 std::to_string(at) + "); only tab, LF and CR are allowed");
    return *c.error();
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    c.fail_line(e.mark.is_null() ? 0 : e.mark.line + 1, "YAML syntax error: " + e.msg);
    return *c.error();
  }
  try {
    if (!read_top(c, cfg, root)) return *c.error();
    if (!check_network_peers(c, cfg, root)) return *c.error();
    if (!check_relays_auto(c, cfg, root)) return *c.error();
  } catch (const YAML::Exception& e) {  // yaml-cpp reports odd documents by throwing
    c.fail_line(e.mark.is_null() ? 0 : e.mark.line + 1, e.msg);
    return *c.error();
  }
  return cfg;
}

config_result load_config(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return config_error{file.string(), 0, "cannot read: " + ec.message()};
  if (size > config_limits::max_file_size)
    return config_error{
        file.string(), 0,
        "file larger than " + std::to_string(config_limits::max_file_size) + " bytes"};
  std::ifstream in(file, std::ios::binary);
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (!in && !in.eof()) return config_error{file.string(), 0, "cannot read"};
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_config(text, file);
}

}  // namespace peerup::app
