#include "tun/core/filter.hpp"

#include <charconv>

namespace peerup::tun {

namespace {

std::optional<std::uint16_t> parse_port(std::string_view t) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || v < 1 || v > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(v);
}


}  // namespace

std::optional<port_rule> port_rule::parse(std::string_view text) {
  if (text == "all") return port_rule{};
  if (text == "icmp") return port_rule{ip_proto::icmp, 0, 0};
  const auto slash = text.find('/');
  const auto proto = text.substr(0, slash);
  port_rule r;
  if (proto == "tcp") {
    r.protocol = ip_proto::tcp;
  } else if (proto == "udp") {
    r.protocol = ip_proto::udp;
  } else {
    return std::nullopt;
  }
  if (slash == std::string_view::npos) return r;
  const auto ports = text.substr(slash + 1);
  const auto dash = ports.find('-');
  auto first = parse_port(ports.substr(0, dash));
  auto last = dash == std::string_view::npos ? first : parse_port(ports.substr(dash + 1));
  if (!first || !last || *first > *last) return std::nullopt;
  r.first = *first;
  r.last = *last;
  return r;
}

std::string port_rule::to_string() const {
  if (protocol == 0) return "all";
  if (protocol == ip_proto::icmp) return "icmp";
  std::string s = protocol == ip_proto::tcp ? "tcp" : "udp";
  if (first == 0 && last == 65535) return s;
  s += "/" + std::to_string(first);
  if (last != first) s += "-" + std::to_string(last);
  return s;
}

bool port_rule::matches(const packet_info& p) const {
  if (protocol == 0) return true;
  if (protocol == ip_proto::icmp) return p.is_icmp();
  if (p.protocol != protocol) return false;
  if (first == 0 && last == 65535) return true;
  // A packet without ports (a later fragment, a truncated header) matches
  // no port rule: we cannot tell where it goes.
  return p.dst_port && *p.dst_port >= first && *p.dst_port <= last;
}

filter_rules filter_rules::default_rules() { return {{port_rule{ip_proto::icmp, 0, 0}}}; }

bool filter_rules::allows(const packet_info& p) const {
  for (const auto& r : allow)
    if (r.matches(p)) return true;
  return false;
}

std::chrono::seconds flow_table::lifetime(std::uint8_t protocol) {
  switch (protocol) {
    case ip_proto::tcp: return std::chrono::minutes(10);
    case ip_proto::udp: return std::chrono::minutes(2);
    default: return std::chrono::seconds(30);
  }
}

void flow_table::note_outbound(const packet_info& p, steady_time now) {
  key k;
  if (p.protocol == ip_proto::tcp || p.protocol == ip_proto::udp) {
    if (!p.src_port || !p.dst_port) return;
    k = {p.protocol, p.dst, *p.dst_port, *p.src_port};
  } else if (p.is_echo_request() && p.icmp_id) {
    k = {ip_proto::icmp, p.dst, *p.icmp_id, 0};
  } else {
    return;
  }
  auto it = flows_.find(k);
  if (it != flows_.end()) {
    // Refresh at most once a second: keeps the age index cheap per packet.
    if (now - it->second.last_seen < std::chrono::seconds(1)) return;
    by_age_.erase(it->second.age);
    it->second.last_seen = now;
    it->second.age = by_age_.emplace(now, k);
    return;
  }
  // Expire what is idle past its lifetime, then evict the oldest if full.
  while (!by_age_.empty()) {
    auto oldest = by_age_.begin();
    const bool expired = now - oldest->first > lifetime(std::get<0>(oldest->second));
    if (!expired && flows_.size() < max_flows) break;
    flows_.erase(oldest->second);
    by_age_.erase(oldest);
  }
  flows_.emplace(k, entry{now, by_age_.emplace(now, k)});
}

bool flow_table::is_reply(const packet_info& p, steady_time now) const {
  key k;
  if (p.protocol == ip_proto::tcp || p.protocol == ip_proto::udp) {
    if (!p.src_port || !p.dst_port) return false;
    k = {p.protocol, p.src, *p.src_port, *p.dst_port};
  } else if (p.is_echo_reply() && p.icmp_id) {
    k = {ip_proto::icmp, p.src, *p.icmp_id, 0};
  } else {
    return false;
  }
  auto it = flows_.find(k);
  return it != flows_.end() && now - it->second.last_seen <= lifetime(std::get<0>(k));
}

}  // namespace peerup::tun
