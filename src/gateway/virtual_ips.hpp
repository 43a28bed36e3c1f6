// Virtual IPv4 addresses for the DNS gateway: one per peer, inside a network
// such as 127.64.0.0/16 (all of 127/8 is loopback on Linux, so the gateway can
// listen on them without root). Sans-I/O.
//
// A peer's address is derived from SHA-256 of its peer ID, so it is the same
// on every run; only when two peers hash to the same address does the second
// take the next free one (linear probing), which then depends on the order in
// which peers were first seen.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/error.hpp"
#include "multiformats/peer_id.hpp"
#include "config/gateway_config.hpp"

namespace peerup::app {

class virtual_ips {
 public:
  explicit virtual_ips(ipv4_network net) : net_(net) {}

  // The peer's address, assigning it on first use. errc::resource_limit when
  // every usable address of the network is taken.
  result<std::uint32_t> assign(const peer_id& p);
  std::optional<std::uint32_t> find(const peer_id& p) const;
  std::optional<peer_id> peer_at(std::uint32_t ip) const;
  std::size_t size() const { return by_peer_.size(); }
  const ipv4_network& network() const { return net_; }

  // Inside the network, and not an address ending in .0 or .255 (which some
  // programs take for a network or broadcast address).
  bool usable(std::uint32_t ip) const;

 private:
  ipv4_network net_;
  std::unordered_map<peer_id, std::uint32_t> by_peer_;
  std::unordered_map<std::uint32_t, peer_id> by_ip_;
};

}  // namespace peerup::app
