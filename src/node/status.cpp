#include "node/status.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <chrono>

namespace peerup::app {

namespace {

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

template <class T, class F>
std::string array(const std::vector<T>& items, F&& item) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + item(items[i]);
  return out + "]";
}

std::string str(const YAML::Node& n, const char* key) {
  const auto v = n[key];
  return v && v.IsScalar() ? v.Scalar() : std::string();
}

std::uint64_t num(const YAML::Node& n, const char* key) {
  const auto v = n[key];
  if (!v || !v.IsScalar()) return 0;
  try {
    return v.as<std::uint64_t>();
  } catch (const YAML::Exception&) {
    return 0;
  }
}

}  // namespace

std::filesystem::path status_file_path(const std::filesystem::path& config_dir) {
  return config_dir / "status.json";
}

std::uint64_t unix_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string to_json(const daemon_status& s) {
  std::string out = "{";
  out += fmt::format(R"("pid":{},"peer_id":{},"config_file":{},"started_unix":{},)", s.pid,
                     quote(s.peer_id), quote(s.config_file), s.started_unix);
  out += fmt::format(R"("updated_unix":{},"authorized_peers":{},)", s.updated_unix,
                     s.authorized_peers);
  out += R"("listen":)" + array(s.listen, [](const std::string& a) { return quote(a); }) + ",";
  out += R"("reachability":)" + quote(s.reachability) + ",";
  out += R"("public_addrs":)" +
         array(s.public_addrs, [](const std::string& a) { return quote(a); }) + ",";
  out += R"("relays":)" +
         array(s.relays,
               [](const relay_status& r) {
                 return fmt::format(R"({{"addr":{},"state":{},"expires_unix":{},"error":{}}})",
                                    quote(r.addr), quote(r.state), r.expires_unix, quote(r.error));
               }) +
         ",";
  out += R"("connections":)" +
         array(s.connections,
               [](const connection_status& c) {
                 return fmt::format(
                     R"({{"peer":{},"name":{},"path":{},"transport":{},"addr":{},"direction":{},)"
                     R"("path_changed_unix":{},"holepunch":{{"attempts":{},"successes":{},)"
                     R"("last_error":{},"method":{}}}}})",
                     quote(c.peer), quote(c.name), quote(c.path), quote(c.transport), quote(c.addr),
                     quote(c.direction), c.path_changed_unix, c.holepunch.attempts,
                     c.holepunch.successes, quote(c.holepunch.last_error),
                     quote(c.holepunch.method));
               }) +
         ",";
  out +=
      R"("services":)" + array(s.services, [](const service_status& v) {
        return fmt::format(
            R"({{"name":{},"local_address":{},"enabled":{},"streams":{},"active":{},"denied":{},"failed":{}}})",
            quote(v.name), quote(v.local_address), v.enabled ? "true" : "false", v.streams,
            v.active, v.denied, v.failed);
      });
  return out + "}\n";
}

std::optional<daemon_status> parse_status(std::string_view json) {
  if (json.size() > max_status_file) return std::nullopt;
  try {
    // JSON is a subset of YAML 1.2, so yaml-cpp reads what to_json writes.
    const YAML::Node root = YAML::Load(std::string(json));
    if (!root.IsMap() || !root["peer_id"]) return std::nullopt;
    daemon_status s;
    s.pid = static_cast<long>(num(root, "pid"));
    s.peer_id = str(root, "peer_id");
    s.config_file = str(root, "config_file");
    s.started_unix = num(root, "started_unix");
    s.updated_unix = num(root, "updated_unix");
    s.authorized_peers = num(root, "authorized_peers");
    for (const auto& a : root["listen"]) s.listen.push_back(a.Scalar());
    if (auto r = str(root, "reachability"); !r.empty()) s.reachability = r;
    for (const auto& a : root["public_addrs"]) s.public_addrs.push_back(a.Scalar());
    for (const auto& r : root["relays"])
      s.relays.push_back(
          {str(r, "addr"), str(r, "state"), num(r, "expires_unix"), str(r, "error")});
    for (const auto& c : root["connections"]) {
      connection_status cs{str(c, "peer"), str(c, "name"), str(c, "path"), str(c, "addr"),
                           str(c, "direction")};
      cs.path_changed_unix = num(c, "path_changed_unix");
      cs.transport = str(c, "transport");
      if (const auto h = c["holepunch"]; h && h.IsMap())
        cs.holepunch = {static_cast<std::uint32_t>(num(h, "attempts")),
                        static_cast<std::uint32_t>(num(h, "successes")), str(h, "last_error"),
                        str(h, "method")};
      s.connections.push_back(std::move(cs));
    }
    for (const auto& v : root["services"])
      s.services.push_back({str(v, "name"), str(v, "local_address"), str(v, "enabled") == "true",
                            num(v, "streams"), num(v, "active"), num(v, "denied"),
                            num(v, "failed")});
    return s;
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

std::string render_status(const daemon_status& s) {
  std::string out;
  out += fmt::format("peer ID:   {}\n", s.peer_id);
  out += fmt::format("daemon:    pid {}, up {} s, config {}\n", s.pid,
                     s.updated_unix - std::min(s.updated_unix, s.started_unix), s.config_file);
  out += fmt::format("authorized peers: {}\n", s.authorized_peers);
  out += "addresses:\n";
  if (s.listen.empty()) out += "  (none)\n";
  for (const auto& a : s.listen) out += "  " + a + "\n";
  for (const auto& a : s.public_addrs) out += "  " + a + " (observed)\n";
  out += fmt::format("reachability: {}\n", s.reachability);
  out += "relays:\n";
  if (s.relays.empty()) out += "  (none)\n";
  for (const auto& r : s.relays) {
    out += fmt::format("  {}  {}", r.addr, r.state);
    if (r.state == "reserved" && r.expires_unix > s.updated_unix)
      out += fmt::format(" (expires in {} s)", r.expires_unix - s.updated_unix);
    if (!r.error.empty()) out += " (" + r.error + ")";
    out += "\n";
  }
  out += "connected peers:\n";
  if (s.connections.empty()) out += "  (none)\n";
  for (const auto& c : s.connections) {
    // "direct over quic", "relayed via tcp" (the hop to the relay).
    const std::string how = c.transport.empty() ? c.path
                            : c.path == "relayed" ? c.path + " via " + c.transport
                                                  : c.path + " over " + c.transport;
    out += fmt::format("  {}{}  {} {} {}", c.peer, c.name.empty() ? "" : " (" + c.name + ")", how,
                       c.direction, c.addr);
    if (c.path_changed_unix > 0 && s.updated_unix >= c.path_changed_unix)
      out += fmt::format(" ({} for {} s)", c.path, s.updated_unix - c.path_changed_unix);
    if (c.holepunch.attempts > 0)
      out += fmt::format(" hole punch {}/{} ok{}{}", c.holepunch.successes, c.holepunch.attempts,
                         c.holepunch.method.empty() ? "" : " (" + c.holepunch.method + ")",
                         c.holepunch.last_error.empty() ? "" : ", last: " + c.holepunch.last_error);
    out += "\n";
  }
  out += "services:\n";
  if (s.services.empty()) out += "  (none)\n";
  for (const auto& v : s.services)
    out += fmt::format("  {:<12} {:<22} {:<8}  streams {} (active {}), denied {}, failed {}\n",
                       v.name, v.local_address, v.enabled ? "enabled" : "disabled", v.streams,
                       v.active, v.denied, v.failed);
  return out;
}

}  // namespace peerup::app
