#include "net/peer_store.hpp"

#include <algorithm>

namespace peerup::net {

peer_info* peer_store::slot(const peer_id& p) {
  auto it = peers_.find(p);
  if (it != peers_.end()) return &it->second;
  // SECURITY: identify lets remote peers create entries; cap the table.
  if (peers_.size() >= max_peers) return nullptr;
  return &peers_[p];
}

void peer_store::add_addr(const peer_id& p, const multiaddr& a) {
  auto* info = slot(p);
  if (!info) return;
  const auto bare = a.without_peer();
  if (std::find(info->addrs.begin(), info->addrs.end(), bare) != info->addrs.end()) return;
  // Newest first; drop the oldest beyond the cap.
  info->addrs.insert(info->addrs.begin(), bare);
  if (info->addrs.size() > max_addrs_per_peer) info->addrs.pop_back();
}

void peer_store::add_addrs(const peer_id& p, const std::vector<multiaddr>& addrs) {
  for (auto it = addrs.rbegin(); it != addrs.rend(); ++it) add_addr(p, *it);
}

void peer_store::set_protocols(const peer_id& p, std::vector<std::string> protocols) {
  auto* info = slot(p);
  if (!info) return;
  if (protocols.size() > max_protocols_per_peer) protocols.resize(max_protocols_per_peer);
  info->protocols = std::move(protocols);
}

void peer_store::set_agent(const peer_id& p, std::string agent) {
  if (auto* info = slot(p)) info->agent_version = std::move(agent);
}

void peer_store::set_observed_addr(const peer_id& p, multiaddr a) {
  if (auto* info = slot(p)) info->observed_addr = std::move(a);
}

const peer_info* peer_store::find(const peer_id& p) const {
  auto it = peers_.find(p);
  return it == peers_.end() ? nullptr : &it->second;
}

std::vector<multiaddr> peer_store::addrs(const peer_id& p) const {
  auto* info = find(p);
  return info ? info->addrs : std::vector<multiaddr>{};
}

}  // namespace peerup::net
