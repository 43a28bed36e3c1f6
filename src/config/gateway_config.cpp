#include "config/gateway_config.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <set>

#include "config/config.hpp"
#include "config/yaml_scalar.hpp"
#include "config/yaml_read.hpp"

namespace peerup::app {

namespace {

constexpr std::uint32_t localhost = 0x7f000001;  // 127.0.0.1

using error = std::optional<gateway_config_error>;

error fail(const YAML::Node& at, const std::string& key, const std::string& message) {
  return gateway_config_error{yaml_line(at),
                              (key.empty() ? "gateway" : "gateway." + key) + ": " + message};
}

error expect(const YAML::Node& at, const std::string& key, const std::string& what) {
  return fail(at, key, "expected " + what + ", got " + yaml_got(at));
}

error read_scalar(const YAML::Node& n, const std::string& key, const std::string& what,
                  std::string& out) {
  if (!n.IsScalar() || n.Scalar().empty()) return expect(n, key, what);
  // SECURITY: bounded like every other config value.
  if (n.Scalar().size() > config_limits::max_string) return fail(n, key, "value too long");
  out = n.Scalar();
  return std::nullopt;
}

template <class T>
error read_number(const YAML::Node& n, const std::string& key, T min, T max, T& out) {
  const std::string what = "a number from " + std::to_string(min) + " to " + std::to_string(max);
  std::string text;
  if (auto e = read_scalar(n, key, what, text)) return e;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max)
    return expect(n, key, what);
  out = static_cast<T>(v);
  return std::nullopt;
}

error read_listen(const YAML::Node& n, const std::string& key, std::optional<std::string>& out) {
  std::string text;
  if (auto e = read_scalar(n, key, "host:port such as 127.0.0.1:1080", text)) return e;
  if (!parse_listen_address(text)) return expect(n, key, "host:port such as 127.0.0.1:1080");
  out = text;
  return std::nullopt;
}

error read_users(const YAML::Node& n, std::map<std::string, std::string>& out) {
  if (!n.IsMap()) return expect(n, "users", "a map of user name -> password");
  if (n.size() > gateway_config::max_users)
    return fail(n, "users", "more than " + std::to_string(gateway_config::max_users));
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string user, pass;
    if (auto e = read_scalar(it->first, "users", "a user name", user)) return e;
    // SECURITY: RFC 1929 carries each in a one-byte length.
    if (user.size() > 255) return fail(it->first, "users", "user name longer than 255 bytes");
    if (auto e = read_scalar(it->second, "users." + user, "a password", pass)) return e;
    if (pass.size() > 255) return fail(it->second, "users." + user, "longer than 255 bytes");
    if (!out.emplace(user, pass).second) return fail(it->first, "users." + user, "duplicate key");
  }
  return std::nullopt;
}

error read_key(const std::string& k, const YAML::Node& v, gateway_config& g) {
  std::string text;
  if (k == "socks") return read_listen(v, k, g.socks);
  if (k == "dns") return read_listen(v, k, g.dns);
  if (k == "zone") {
    if (auto e = read_scalar(v, k, "a DNS zone such as p2p", text)) return e;
    if (!valid_zone(text)) return expect(v, k, "lower-case DNS labels such as p2p");
    g.zone = text;
  } else if (k == "ttl") {
    return read_number<std::uint32_t>(v, k, 0, gateway_config::max_ttl, g.ttl);
  } else if (k == "aaaa") {
    if (!v.IsScalar()) return expect(v, k, "true or false");
    const auto& s = v.Scalar();
    if (s != "true" && s != "false" && s != "yes" && s != "no")
      return expect(v, k, "true or false");
    g.aaaa = s == "true" || s == "yes";
  } else if (k == "virtual_network") {
    const std::string what = "an IPv4 network inside 127.0.0.0/8 such as 127.64.0.0/16";
    if (auto e = read_scalar(v, k, what, text)) return e;
    auto net = ipv4_network::parse(text);
    // 127/8 is loopback on Linux, so any of it can be bound without root; but
    // never 127.0.0.1, where the real local services listen.
    if (!net || (net->base >> 24) != 127 || net->prefix < 16 || net->prefix > 24 ||
        net->contains(localhost))
      return expect(v, k, what + ", /16 to /24, without 127.0.0.1");
    g.virtual_network = *net;
  } else if (k == "max_connections") {
    return read_number<std::size_t>(v, k, 1, gateway_config::max_connections_limit,
                                    g.max_connections);
  } else if (k == "dns_queries_per_second") {
    return read_number<std::uint32_t>(v, k, 1, 1000000, g.dns_queries_per_second);
  } else if (k == "catalog_ttl") {
    return read_number<std::uint32_t>(v, k, 0, 86400, g.catalog_ttl);
  } else if (k == "users") {
    return read_users(v, g.users);
  }
  return std::nullopt;
}

}  // namespace

std::string ipv4_to_string(std::uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string(ip >> 16 & 0xff) + "." +
         std::to_string(ip >> 8 & 0xff) + "." + std::to_string(ip & 0xff);
}

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  std::uint32_t ip = 0;
  for (int i = 0; i < 4; ++i) {
    unsigned octet = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), octet);
    if (ec != std::errc() || end == text.data() || end - text.data() > 3 || octet > 255)
      return std::nullopt;
    ip = ip << 8 | octet;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    if (i < 3) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
  }
  if (!text.empty()) return std::nullopt;
  return ip;
}

std::optional<ipv4_network> ipv4_network::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto ip = parse_ipv4(text.substr(0, slash));
  if (!ip) return std::nullopt;
  const auto bits = text.substr(slash + 1);
  unsigned prefix = 0;
  auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
  if (ec != std::errc() || end != bits.data() + bits.size() || bits.empty() || prefix > 32)
    return std::nullopt;
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  if ((*ip & ~mask) != 0) return std::nullopt;  // host bits set: a typo, refuse it
  return ipv4_network{*ip, prefix};
}

std::string ipv4_network::to_string() const {
  return ipv4_to_string(base) + "/" + std::to_string(prefix);
}

std::optional<host_port> parse_listen_address(std::string_view text) {
  if (text.size() < 2 || text.substr(text.size() - 2) != ":0") return host_port::parse(text);
  // host_port refuses port 0 (a service cannot live there); a listener can.
  std::string any(text);
  any.back() = '1';
  auto hp = host_port::parse(any);
  if (hp) hp->port = 0;
  return hp;
}

bool gateway_config::is_default() const { return *this == gateway_config{}; }

bool valid_zone(std::string_view zone) {
  if (zone.empty() || zone.size() > 200) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i < zone.size(); ++i) {
    const char c = zone[i];
    if (c == '.') {
      if (label == 0 || zone[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0);
    if (!ok || ++label > 63) return false;
  }
  return label > 0 && zone.back() != '-';
}

std::optional<gateway_config_error> read_gateway_config(const YAML::Node& node,
                                                        gateway_config& out) {
  if (node.IsNull()) return std::nullopt;
  if (!node.IsMap()) return expect(node, "", "a map (docs/config.md, gateway:)");
  static const std::set<std::string> keys{"socks",
                                          "dns",
                                          "zone",
                                          "ttl",
                                          "aaaa",
                                          "users",
                                          "virtual_network",
                                          "max_connections",
                                          "catalog_ttl",
                                          "dns_queries_per_second"};
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) return expect(it->first, "", "a key name");
    const std::string& k = it->first.Scalar();
    if (!keys.count(k)) {
      std::string list;
      for (const auto& a : keys) list += (list.empty() ? "" : ", ") + a;
      return fail(it->first, k, "unknown key (expected one of: " + list + ")");
    }
    if (!seen.insert(k).second) return fail(it->first, k, "duplicate key");
    if (auto e = read_key(k, it->second, out)) return e;
  }
  return std::nullopt;
}

std::string render_gateway_config(const gateway_config& g) {
  if (g.is_default()) return "";
  const gateway_config d;
  auto quote = [](const std::string& s) { return yaml_scalar(s, true); };
  std::string out = "\n# `peerup gateway`: SOCKS5 and DNS for <name>.<zone> (docs/gateway.md).\n";
  out += "gateway:\n";
  if (g.socks) out += "  socks: " + quote(*g.socks) + "\n";
  if (g.dns) out += "  dns: " + quote(*g.dns) + "\n";
  if (g.zone != d.zone) out += "  zone: " + g.zone + "\n";
  if (g.ttl != d.ttl) out += "  ttl: " + std::to_string(g.ttl) + "\n";
  if (g.aaaa != d.aaaa) out += std::string("  aaaa: ") + (g.aaaa ? "true" : "false") + "\n";
  if (g.virtual_network != d.virtual_network)
    out += "  virtual_network: " + g.virtual_network.to_string() + "\n";
  if (g.max_connections != d.max_connections)
    out += "  max_connections: " + std::to_string(g.max_connections) + "\n";
  if (g.dns_queries_per_second != d.dns_queries_per_second)
    out += "  dns_queries_per_second: " + std::to_string(g.dns_queries_per_second) + "\n";
  if (g.catalog_ttl != d.catalog_ttl)
    out += "  catalog_ttl: " + std::to_string(g.catalog_ttl) + "\n";
  if (!g.users.empty()) {
    out += "  users:\n";
    for (const auto& [user, pass] : g.users)
      out += "    " + quote(user) + ": " + quote(pass) + "\n";
  }
  return out;
}

}  // namespace peerup::app
