// What we know about other peers: addresses (from config, identify and
// dials), public keys, supported protocols and agent. Bounded per peer and in
// total, because identify lets any peer push data into it.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::net {

struct peer_info {
  std::vector<multiaddr> addrs;
  std::vector<std::string> protocols;
  std::string agent_version;
  std::optional<multiaddr> observed_addr;  // how this peer saw us
};

class peer_store {
 public:
  static constexpr std::size_t max_addrs_per_peer = 32;
  static constexpr std::size_t max_protocols_per_peer = 128;
  static constexpr std::size_t max_peers = 10000;

  void add_addr(const peer_id& p, const multiaddr& a);
  void add_addrs(const peer_id& p, const std::vector<multiaddr>& addrs);
  void set_protocols(const peer_id& p, std::vector<std::string> protocols);
  void set_agent(const peer_id& p, std::string agent);
  void set_observed_addr(const peer_id& p, multiaddr a);
  const peer_info* find(const peer_id& p) const;
  std::vector<multiaddr> addrs(const peer_id& p) const;

 private:
  peer_info* slot(const peer_id& p);
  std::unordered_map<peer_id, peer_info> peers_;
};

}  // namespace peerup::net
