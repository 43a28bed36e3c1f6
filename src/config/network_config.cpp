#include "config/network_config.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <set>

#include "config/config.hpp"
#include "config/yaml_read.hpp"

namespace peerup::app {

namespace {

using error = std::optional<network_config_error>;

error fail(const YAML::Node& at, const std::string& key, const std::string& message) {
  return network_config_error{yaml_line(at),
                              (key.empty() ? "network" : "network." + key) + ": " + message};
}

error expect(const YAML::Node& at, const std::string& key, const std::string& what) {
  return fail(at, key, "expected " + what + ", got " + yaml_got(at));
}

error read_scalar(const YAML::Node& n, const std::string& key, const std::string& what,
                  std::string& out) {
  if (!n.IsScalar() || n.Scalar().empty()) return expect(n, key, what);
  if (n.Scalar().size() > config_limits::max_string) return fail(n, key, "value too long");
  out = n.Scalar();
  return std::nullopt;
}

error read_address(const YAML::Node& n, const std::string& key, const tun::ip_prefix& prefix,
                   std::optional<tun::ip_address>& out) {
  const std::string what = "an IPv4 address inside " + prefix.to_string();
  std::string text;
  if (auto e = read_scalar(n, key, what, text)) return e;
  auto a = tun::ip_address::parse(text);
  if (!a || a->version != 4 || !prefix.contains(*a)) return expect(n, key, what);
  const std::uint32_t host = a->v4_value() - prefix.base.v4_value();
  const std::uint32_t last = static_cast<std::uint32_t>((std::uint64_t{1} << (32 - prefix.length)) - 1);
  if (host == 0 || host == last)
    return fail(n, key, "is the network or broadcast address of " + prefix.to_string());
  out = *a;
  return std::nullopt;
}

error read_rules(const YAML::Node& n, const std::string& key, tun::filter_rules& out) {
  const std::string what = "a list of all, icmp, tcp, udp, tcp/<port>, udp/<first>-<last>";
  if (!n.IsSequence()) return expect(n, key, what);
  // SECURITY: bounded; every packet from a peer walks this list.
  if (n.size() > network_config::max_rules)
    return fail(n, key, "more than " + std::to_string(network_config::max_rules) + " rules");
  tun::filter_rules r;
  for (const auto& item : n) {
    std::string text;
    if (auto e = read_scalar(item, key, what, text)) return e;
    auto rule = tun::port_rule::parse(text);
    if (!rule) return expect(item, key, what);
    r.allow.push_back(*rule);
  }
  out = std::move(r);
  return std::nullopt;
}

template <class F>
error each_key(const YAML::Node& n, const std::string& key, const std::set<std::string>& keys,
               F f) {
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string k;
    if (auto e = read_scalar(it->first, key, "a key", k)) return e;
    const std::string path = key.empty() ? k : key + "." + k;
    if (!keys.empty() && !keys.count(k)) {
      std::string known;
      for (const auto& x : keys) known += (known.empty() ? "" : ", ") + x;
      return fail(it->first, path, "unknown key (expected one of: " + known + ")");
    }
    if (!seen.insert(k).second) return fail(it->first, path, "duplicate key");
    if (auto e = f(k, path, it->second)) return e;
  }
  return std::nullopt;
}

}  // namespace

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

bool network_config::is_default() const { return *this == network_config{}; }

std::optional<network_config_error> read_network_config(const YAML::Node& node,
                                                        network_config& out) {
  if (node.IsNull()) return std::nullopt;
  if (!node.IsMap()) return expect(node, "", "a map with tun, name, prefix, mtu, ipv6, allow, peers");
  // prefix first: addresses are checked against it.
  if (auto p = node["prefix"]) {
    std::string text;
    const std::string what = "an IPv4 network such as 10.64.0.0/16 (/8 to /24, host bits zero)";
    if (auto e = read_scalar(p, "prefix", what, text)) return e;
    auto prefix = tun::ip_prefix::parse(text);
    if (!prefix || prefix->base.version != 4 || prefix->length < 8 || prefix->length > 24)
      return expect(p, "prefix", what);
    out.prefix = *prefix;
  }
  return each_key(
      node, "", {"tun", "name", "prefix", "mtu", "ipv6", "address", "allow", "peers"},
      [&](const std::string& k, const std::string& path, const YAML::Node& v) -> error {
        std::string text;
        if (k == "tun") {
          if (auto e = read_scalar(v, path, "true or false", text)) return e;
          if (text != "true" && text != "false") return expect(v, path, "true or false");
          out.tun = text == "true";
        } else if (k == "ipv6") {
          if (auto e = read_scalar(v, path, "true or false", text)) return e;
          if (text != "true" && text != "false") return expect(v, path, "true or false");
          out.ipv6 = text == "true";
        } else if (k == "name") {
          if (auto e = read_scalar(v, path, "an interface name", text)) return e;
          if (!valid_interface_name(text))
            return expect(v, path, "an interface name of 1-15 letters, digits, '_', '-' or '.'");
          out.name = text;
        } else if (k == "mtu") {
          const std::string what = "a number from 576 to 9000";
          if (auto e = read_scalar(v, path, what, text)) return e;
          unsigned m = 0;
          auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), m);
          if (ec != std::errc() || end != text.data() + text.size() || m < 576 || m > 9000)
            return expect(v, path, what);
          out.mtu = static_cast<std::uint16_t>(m);
        } else if (k == "address") {
          return read_address(v, path, out.prefix, out.address);
        } else if (k == "allow") {
          return read_rules(v, path, out.allow);
        } else if (k == "peers") {
          if (!v.IsMap()) return expect(v, path, "a map of name -> {address, allow}");
          if (v.size() > network_config::max_peers)
            return fail(v, path, "more than " + std::to_string(network_config::max_peers));
          std::set<tun::ip_address> pinned;
          if (out.address) pinned.insert(*out.address);
          return each_key(v, path, {}, [&](const std::string& name, const std::string& ppath,
                                           const YAML::Node& pv) -> error {
            if (!valid_name(name)) return fail(pv, ppath, "expected a name of `names:`");
            if (!pv.IsMap()) return expect(pv, ppath, "a map with address and/or allow");
            network_peer_config pc;
            if (auto e = each_key(pv, ppath, {"address", "allow"},
                                  [&](const std::string& pk, const std::string& kpath,
                                      const YAML::Node& x) -> error {
                                    if (pk == "address") return read_address(x, kpath, out.prefix, pc.address);
                                    tun::filter_rules r;
                                    if (auto e2 = read_rules(x, kpath, r)) return e2;
                                    pc.allow = std::move(r);
                                    return std::nullopt;
                                  }))
              return e;
            // SECURITY: one address, one peer: a duplicate pin would make
            // two peers' packets indistinguishable.
            if (pc.address && !pinned.insert(*pc.address).second)
              return fail(pv["address"], ppath + ".address",
                          pc.address->to_string() + " is pinned twice");
            out.peers.emplace(name, std::move(pc));
            return std::nullopt;
          });
        }
        return std::nullopt;
      });
}

std::string render_network_config(const network_config& n) {
  if (n.is_default()) return "";
  auto rules = [](const tun::filter_rules& r) {
    std::string s = "[";
    for (std::size_t i = 0; i < r.allow.size(); ++i) s += (i ? ", " : "") + r.allow[i].to_string();
    return s + "]";
  };
  std::string out =
      "\n# TUN network mode (docs/network-mode.md): every authorized peer gets an address in\n"
      "# the prefix; `allow` is what peers may reach on this machine.\n"
      "network:\n";
  out += std::string("  tun: ") + (n.tun ? "true" : "false") + "\n";
  out += "  name: " + n.name + "\n";
  out += "  prefix: " + n.prefix.to_string() + "\n";
  out += "  mtu: " + std::to_string(n.mtu) + "\n";
  if (!n.ipv6) out += "  ipv6: false\n";
  if (n.address) out += "  address: " + n.address->to_string() + "\n";
  out += "  allow: " + rules(n.allow) + "\n";
  if (!n.peers.empty()) {
    out += "  peers:\n";
    for (const auto& [name, p] : n.peers) {
      out += "    " + name + ":";
      if (!p.address && !p.allow) {
        out += " {}\n";
        continue;
      }
      out += "\n";
      if (p.address) out += "      address: " + p.address->to_string() + "\n";
      if (p.allow) out += "      allow: " + rules(*p.allow) + "\n";
    }
  }
  return out;
}

tun::address_book network_address_book(const config& cfg, const peer_id& self,
                                       const std::vector<peer_id>& members) {
  std::vector<tun::member> peers;
  for (const auto& m : members) {
    tun::member x{m, std::nullopt};
    for (const auto& [name, p] : cfg.network.peers) {
      auto it = cfg.names.find(name);
      if (p.address && it != cfg.names.end() && it->second.peer == m) x.pin = p.address;
    }
    peers.push_back(std::move(x));
  }
  return tun::address_book(cfg.network.prefix, tun::default_prefix6(), {self, cfg.network.address},
                           peers);
}

}  // namespace peerup::app
