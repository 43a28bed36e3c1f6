// The `network:` section of the config (docs/network-mode.md): the TUN
// network mode. Off unless `tun: true` (or `peerup daemon --tun`).
//
//   network:
//     tun: true
//     name: peerup0              # interface name, 1-15 of [A-Za-z0-9_.-]
//     prefix: 10.64.0.0/16       # IPv4, /8 to /24; host bits zero
//     mtu: 1152                  # 576-9000; see docs/network-mode.md "MTU"
//     address: 10.64.0.1         # pin our own address (default: derived)
//     ipv6: true                 # also the derived ULA address (fd70:6565:7275::/48)
//     allow: [icmp, tcp/22]      # what every authorized peer may reach here
//     peers:                     # per name of `names:`
//       laptop: {address: 10.64.0.20, allow: [all]}
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "multiformats/peer_id.hpp"
#include "tun/core/address_book.hpp"
#include "tun/core/filter.hpp"
#include "tun/core/ip_packet.hpp"

namespace YAML {
class Node;
}

namespace peerup::app {

struct network_peer_config {
  std::optional<tun::ip_address> address;    // pinned IPv4 address
  std::optional<tun::filter_rules> allow;    // overrides network.allow
  friend bool operator==(const network_peer_config&, const network_peer_config&) = default;
};

struct network_config {
  // SECURITY: bounds on what the section may ask for.
  static constexpr std::size_t max_rules = 64;
  static constexpr std::size_t max_peers = 4096;
  // The default MTU: an IP packet of this size plus QUIC's short header
  // (at most 1 + 20 + 4 bytes), a DATAGRAM frame header (3) and the AEAD tag
  // (16) fits the 1200-byte UDP payload every QUIC path must carry, so also a
  // 1280-byte IPv6 path (1232 bytes of UDP payload).
  static constexpr std::uint16_t default_mtu = 1152;

  bool tun = false;
  std::string name = "peerup0";
  tun::ip_prefix prefix = *tun::ip_prefix::parse("10.64.0.0/16");
  std::uint16_t mtu = default_mtu;
  std::optional<tun::ip_address> address;
  // IPv6 on the interface: our derived address in the ULA /48. Linux needs
  // an interface MTU of at least 1280 for IPv6, so with it the interface
  // MTU is max(mtu, 1280) and the IPv4 route keeps `mtu` (docs/network-mode.md).
  bool ipv6 = true;
  tun::filter_rules allow = tun::filter_rules::default_rules();
  std::map<std::string, network_peer_config> peers;  // by name of `names:`

  bool is_default() const;
  friend bool operator==(const network_config&, const network_config&) = default;
};

struct network_config_error {
  int line = 0;
  std::string message;  // "network.<key>: ..."
};

// Reads the `network:` node into `out`; unknown keys and bad values fail.
// Whether each name of `peers` exists in `names:` is checked by the caller.
std::optional<network_config_error> read_network_config(const YAML::Node& node,
                                                        network_config& out);
std::string render_network_config(const network_config& n);
// A Linux interface name: 1-15 of [A-Za-z0-9_.-], not "." or "..".
bool valid_interface_name(std::string_view name);

struct config;
// The address book both the daemon (src/tun) and the gateway's DNS zone use:
// `self` and `members` (the main authorized_keys peers), with the pins of
// network.address and network.peers.<name>.address. Derived the same way in
// both processes, so the DNS answer is the address the daemon routes.
tun::address_book network_address_book(const config& cfg, const peer_id& self,
                                       const std::vector<peer_id>& members);

}  // namespace peerup::app
