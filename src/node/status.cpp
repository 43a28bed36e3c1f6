#include "node/status.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdlib>

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

std::string traffic_json(const network_traffic& t) {
  return fmt::format(
      R"({{"datagram_packets_out":{},"datagram_bytes_out":{},"stream_packets_out":{},)"
      R"("stream_bytes_out":{},"datagram_packets_in":{},"datagram_bytes_in":{},)"
      R"("stream_packets_in":{},"stream_bytes_in":{},"datagram_fallbacks":{},"dropped_in":{},)"
      R"("quic_datagrams_sent":{},"quic_datagrams_received":{},"quic_send_dropped":{},)"
      R"("quic_receive_dropped":{}}})",
      t.datagram_packets_out, t.datagram_bytes_out, t.stream_packets_out, t.stream_bytes_out,
      t.datagram_packets_in, t.datagram_bytes_in, t.stream_packets_in, t.stream_bytes_in,
      t.datagram_fallbacks, t.dropped_in, t.quic_datagrams_sent, t.quic_datagrams_received,
      t.quic_send_dropped, t.quic_receive_dropped);
}

network_traffic traffic_of(const YAML::Node& n) {
  network_traffic t;
  if (!n || !n.IsMap()) return t;
  t.datagram_packets_out = num(n, "datagram_packets_out");
  t.datagram_bytes_out = num(n, "datagram_bytes_out");
  t.stream_packets_out = num(n, "stream_packets_out");
  t.stream_bytes_out = num(n, "stream_bytes_out");
  t.datagram_packets_in = num(n, "datagram_packets_in");
  t.datagram_bytes_in = num(n, "datagram_bytes_in");
  t.stream_packets_in = num(n, "stream_packets_in");
  t.stream_bytes_in = num(n, "stream_bytes_in");
  t.datagram_fallbacks = num(n, "datagram_fallbacks");
  t.dropped_in = num(n, "dropped_in");
  t.quic_datagrams_sent = num(n, "quic_datagrams_sent");
  t.quic_datagrams_received = num(n, "quic_datagrams_received");
  t.quic_send_dropped = num(n, "quic_send_dropped");
  t.quic_receive_dropped = num(n, "quic_receive_dropped");
  return t;
}

std::string network_json(const network_status& n) {
  std::string out = fmt::format(
      R"({{"interface":{},"address":{},"address6":{},"mtu":{},"packets_out":{},"bytes_out":{},)"
      R"("packets_in":{},"bytes_in":{},"icmp_sent":{},"total":{},"dropped":{{)",
      quote(n.interface), quote(n.address), quote(n.address6), n.mtu, n.packets_out, n.bytes_out,
      n.packets_in, n.bytes_in, n.icmp_sent, traffic_json(n.total));
  for (std::size_t i = 0; i < n.dropped.size(); ++i)
    out += fmt::format("{}{}:{}", i ? "," : "", quote(n.dropped[i].first), n.dropped[i].second);
  out += R"(},"peers":)";
  out += array(n.peers, [](const network_peer_status& p) {
    return fmt::format(
        R"({{"peer":{},"name":{},"address":{},"transport":{},"datagrams":{},"traffic":{}}})",
        quote(p.peer), quote(p.name), quote(p.address), quote(p.transport),
        p.datagrams ? "true" : "false", traffic_json(p.traffic));
  });
  return out + "}";
}

// SECURITY: a status file's network section is bounded like the file
// (max_status_file); entries beyond these counts are ignored.
constexpr std::size_t max_network_peers = 4096;
constexpr std::size_t max_drop_reasons = 64;

std::optional<network_status> network_of(const YAML::Node& n) {
  if (!n || !n.IsMap()) return std::nullopt;
  network_status s;
  s.interface = str(n, "interface");
  s.address = str(n, "address");
  s.address6 = str(n, "address6");
  s.mtu = num(n, "mtu");
  s.packets_out = num(n, "packets_out");
  s.bytes_out = num(n, "bytes_out");
  s.packets_in = num(n, "packets_in");
  s.bytes_in = num(n, "bytes_in");
  s.icmp_sent = num(n, "icmp_sent");
  s.total = traffic_of(n["total"]);
  if (const auto d = n["dropped"]; d && d.IsMap())
    for (const auto& kv : d) {
      if (s.dropped.size() >= max_drop_reasons) break;
      std::uint64_t v = 0;
      try {
        v = kv.second.as<std::uint64_t>();
      } catch (const YAML::Exception&) {
      }
      s.dropped.emplace_back(kv.first.Scalar(), v);
    }
  if (const auto ps = n["peers"]; ps && ps.IsSequence())
    for (const auto& p : ps) {
      if (s.peers.size() >= max_network_peers) break;
      s.peers.push_back({str(p, "peer"), str(p, "name"), str(p, "address"), str(p, "transport"),
                         str(p, "datagrams") == "true", traffic_of(p["traffic"])});
    }
  return s;
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
  if (s.network) out += R"(,"network":)" + network_json(*s.network);
  if (const auto& d = s.dht)
    out += fmt::format(
        R"(,"dht":{{"mode":{},"protocol":{},"routing_table":{},"buckets":{},"records":{},)"
        R"("provider_records":{},"requests_served":{},"requests_refused":{},"rate_limited":{},)"
        R"("lookups":{},"records_published":{}}})",
        quote(d->mode), quote(d->protocol), d->routing_table,
        array(d->buckets, [](std::uint64_t n) { return std::to_string(n); }), d->records,
        d->provider_records, d->requests_served, d->requests_refused, d->rate_limited, d->lookups,
        d->records_published);
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
    s.network = network_of(root["network"]);
    if (const auto d = root["dht"]; d && d.IsMap()) {
      dht_status ds;
      ds.mode = str(d, "mode");
      ds.protocol = str(d, "protocol");
      ds.routing_table = num(d, "routing_table");
      // SECURITY: a table has at most 256 buckets.
      for (const auto& b : d["buckets"]) {
        if (ds.buckets.size() >= 256) break;
        ds.buckets.push_back(b.IsScalar() ? std::strtoull(b.Scalar().c_str(), nullptr, 10) : 0);
      }
      ds.records = num(d, "records");
      ds.provider_records = num(d, "provider_records");
      ds.requests_served = num(d, "requests_served");
      ds.requests_refused = num(d, "requests_refused");
      ds.rate_limited = num(d, "rate_limited");
      ds.lookups = num(d, "lookups");
      ds.records_published = num(d, "records_published");
      s.dht = std::move(ds);
    }
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
  if (const auto& d = s.dht) {
    out += fmt::format("dht: {} ({}), routing table {} peers, {} records held, {} lookups, "
                       "record published on {} servers\n",
                       d->mode, d->protocol, d->routing_table, d->records, d->lookups,
                       d->records_published);
  }
  if (const auto& n = s.network) {
    out += fmt::format("network: {} {}{} mtu {}\n", n->interface, n->address,
                       n->address6.empty() ? "" : " " + n->address6, n->mtu);
    out += fmt::format("  out {} packets ({} B), in {} packets ({} B); as QUIC datagrams: out {} "
                       "in {}; on streams: out {} in {}; icmp sent {}\n",
                       n->packets_out, n->bytes_out, n->packets_in, n->bytes_in,
                       n->total.datagram_packets_out, n->total.datagram_packets_in,
                       n->total.stream_packets_out, n->total.stream_packets_in, n->icmp_sent);
    std::string drops;
    for (const auto& [why, count] : n->dropped)
      if (count > 0) drops += fmt::format(" {}={}", why, count);
    out += "  dropped:" + (drops.empty() ? std::string(" none") : drops) + "\n";
    if (n->total.quic_datagrams_sent + n->total.quic_datagrams_received > 0)
      out += fmt::format("  QUIC datagrams: sent {}, received {}, dropped: send queue {}, "
                         "receive queue {}\n",
                         n->total.quic_datagrams_sent, n->total.quic_datagrams_received,
                         n->total.quic_send_dropped, n->total.quic_receive_dropped);
    for (const auto& p : n->peers) {
      const auto& t = p.traffic;
      out += fmt::format("  {}{} {}  {}  out {} (datagrams {}), in {} (datagrams {}), refused {}\n",
                         p.peer, p.name.empty() ? "" : " (" + p.name + ")", p.address,
                         p.transport.empty() ? "no path yet"
                                             : p.transport + (p.datagrams ? " datagrams" : " stream"),
                         t.datagram_packets_out + t.stream_packets_out, t.datagram_packets_out,
                         t.datagram_packets_in + t.stream_packets_in, t.datagram_packets_in,
                         t.dropped_in);
    }
  }
  return out;
}

}  // namespace peerup::app
