#include "net/peer_store.hpp"

#include <algorithm>

namespace peerup::net {

peer_store::peer_store(std::function<clock::time_point()> now) : now_(std::move(now)) {}

peer_store::entry* peer_store::slot(const peer_id& p) {
  auto it = peers_.find(p);
  if (it != peers_.end()) return &it->second;
  // SECURITY: identify lets remote peers create entries; cap the table. A
  // full table first forgets what has expired, then its least recently
  // used disconnected peer; connected and kept peers are never pushed out.
  if (peers_.size() >= max_peers) expire();
  if (peers_.size() >= max_peers) {
    if (idle_.empty()) return nullptr;
    erase(peers_.find(*idle_.front()));
  }
  it = peers_.try_emplace(p).first;
  make_idle(it);  // until the host says it is connected
  return &it->second;
}

void peer_store::make_idle(table::iterator it) {
  auto& e = it->second;
  e.used = now_();
  e.idle_pos = idle_.insert(idle_.end(), &it->first);
}

void peer_store::touch(entry& e) {
  if (e.connected || e.kept) return;
  e.used = now_();
  idle_.splice(idle_.end(), idle_, e.idle_pos);
}

void peer_store::erase(table::iterator it) {
  auto& e = it->second;
  if (e.connected) --connected_;
  if (!e.connected && !e.kept) idle_.erase(e.idle_pos);
  peers_.erase(it);
}

void peer_store::connected(const peer_id& p) {
  auto* e = slot(p);
  if (!e || e->connected) return;
  if (!e->kept) idle_.erase(e->idle_pos);
  e->connected = true;
  ++connected_;
}

void peer_store::disconnected(const peer_id& p) {
  auto it = peers_.find(p);
  if (it == peers_.end() || !it->second.connected) return;
  auto& e = it->second;
  e.connected = false;
  --connected_;
  // Learned again by identify on the next connection; nobody asks them of a
  // disconnected peer. Assigned, not cleared, so their memory goes too.
  e.info.protocols = {};
  e.info.agent_version = {};
  if (e.kept) return;
  if (e.info.addrs.empty() && !e.info.observed_addr) {
    peers_.erase(it);  // nothing to remember
    return;
  }
  make_idle(it);
}

bool peer_store::keep(const peer_id& p) {
  auto* e = slot(p);
  if (!e) return false;
  if (e->kept) return true;
  if (!e->connected) idle_.erase(e->idle_pos);
  e->kept = true;
  return true;
}

void peer_store::add_addr(const peer_id& p, const multiaddr& a) {
  auto* info = slot(p);
  if (!info) return;
  touch(*info);
  auto& addrs = info->info.addrs;
  const auto bare = a.without_peer();
  if (std::find(addrs.begin(), addrs.end(), bare) != addrs.end()) return;
  // Newest first; drop the oldest beyond the cap.
  addrs.insert(addrs.begin(), bare);
  if (addrs.size() > max_addrs_per_peer) addrs.pop_back();
}

void peer_store::add_addrs(const peer_id& p, const std::vector<multiaddr>& addrs) {
  for (auto it = addrs.rbegin(); it != addrs.rend(); ++it) add_addr(p, *it);
}

void peer_store::set_protocols(const peer_id& p, std::vector<std::string> protocols) {
  auto it = peers_.find(p);
  if (it == peers_.end() || !it->second.connected) return;
  if (protocols.size() > max_protocols_per_peer) protocols.resize(max_protocols_per_peer);
  it->second.info.protocols = std::move(protocols);
}

void peer_store::set_agent(const peer_id& p, std::string agent) {
  auto it = peers_.find(p);
  if (it == peers_.end() || !it->second.connected) return;
  it->second.info.agent_version = std::move(agent);
}

void peer_store::set_observed_addr(const peer_id& p, multiaddr a) {
  auto* e = slot(p);
  if (!e) return;
  touch(*e);
  e->info.observed_addr = std::move(a);
}

const peer_info* peer_store::find(const peer_id& p) const {
  auto it = peers_.find(p);
  return it == peers_.end() ? nullptr : &it->second.info;
}

std::vector<multiaddr> peer_store::addrs(const peer_id& p) const {
  auto* info = find(p);
  return info ? info->addrs : std::vector<multiaddr>{};
}

std::size_t peer_store::expire() {
  const auto now = now_();
  std::size_t dropped = 0;
  // idle_ is in `used` order: stop at the first one still fresh.
  while (!idle_.empty()) {
    auto it = peers_.find(*idle_.front());
    if (now - it->second.used < disconnected_ttl) break;
    erase(it);
    ++dropped;
  }
  return dropped;
}

}  // namespace peerup::net
