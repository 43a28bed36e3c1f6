// The per-peer packet filter of the TUN network mode: the L3 form of
// per-service keys (docs/network-mode.md, "Filter").
//
// Policy:
// - Rules say what a peer may reach on this node: "all", "icmp", "tcp",
//   "udp", "tcp/22", "udp/60000-61000". Only inbound packets (peer -> us)
//   are filtered; what we send is the other side's filter's business.
// - The default for every authorized peer is [icmp]: ping works, nothing
//   else is open until the config says so (network.allow, or per peer in
//   network.peers.<name>.allow). A TUN interface exposes every socket bound
//   to 0.0.0.0 on this machine, which is more than the services a peer was
//   given, so opening it is a decision the config has to state.
// - Replies are allowed: a flow we started (TCP/UDP 5-tuple, ICMP echo ID)
//   lets its return packets in for as long as it is active, like a stateful
//   firewall. ICMP errors are always let in (PMTU discovery needs them).
//
// SECURITY: the flow table is bounded (max_flows); when full, the entry idle
// longest is evicted. Idle flows expire (TCP 10 min, UDP 2 min, ICMP 30 s).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "tun/core/ip_packet.hpp"

namespace peerup::tun {

struct port_rule {
  // 0: any protocol ("all"); ip_proto::icmp matches ICMP and ICMPv6.
  std::uint8_t protocol = 0;
  std::uint16_t first = 0, last = 65535;  // TCP/UDP destination ports

  // "all", "icmp", "tcp", "udp", "tcp/22", "udp/5000-5100"; nullopt otherwise.
  static std::optional<port_rule> parse(std::string_view text);
  std::string to_string() const;
  bool matches(const packet_info& p) const;
  friend bool operator==(const port_rule&, const port_rule&) = default;
};

struct filter_rules {
  std::vector<port_rule> allow;
  // [icmp]: see the header.
  static filter_rules default_rules();
  bool allows(const packet_info& p) const;
  friend bool operator==(const filter_rules&, const filter_rules&) = default;
};

using steady_time = std::chrono::steady_clock::time_point;

// Flows this node started, so their replies pass the filter.
class flow_table {
 public:
  static constexpr std::size_t max_flows = 65536;

  // A packet we send (TUN -> peer).
  void note_outbound(const packet_info& p, steady_time now);
  // True when inbound `p` (peer -> us) answers a live flow of ours.
  bool is_reply(const packet_info& p, steady_time now) const;
  std::size_t size() const { return flows_.size(); }

 private:
  // protocol, remote address, remote port (or echo ID), local port
  using key = std::tuple<std::uint8_t, ip_address, std::uint16_t, std::uint16_t>;
  struct entry {
    steady_time last_seen;
    std::multimap<steady_time, key>::iterator age;
  };
  static std::chrono::seconds lifetime(std::uint8_t protocol);
  std::map<key, entry> flows_;
  std::multimap<steady_time, key> by_age_;
};

}  // namespace peerup::tun
