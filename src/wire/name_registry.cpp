#include "wire/name_registry.hpp"

#include <algorithm>

namespace peerup::wire {

name_registry::name_registry(name_registry_limits limits) : limits_(limits) {
  if (limits_.max_ttl < limits_.min_ttl) limits_.max_ttl = limits_.min_ttl;
}

std::size_t name_registry::names_of(const peer_id& peer) const {
  auto it = per_peer_.find(peer);
  return it == per_peer_.end() ? 0 : it->second;
}

void name_registry::erase(std::map<dns_label, name_record>::iterator it) {
  auto p = per_peer_.find(it->second.peer);
  if (p != per_peer_.end() && --p->second == 0) per_peer_.erase(p);
  records_.erase(it);
}

std::size_t name_registry::expire(time_point now) {
  std::size_t n = 0;
  for (auto it = records_.begin(); it != records_.end();) {
    if (it->second.expires <= now) {
      erase(it++);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

register_decision name_registry::register_name(const dns_label& host, const peer_id& peer,
                                               std::vector<multiaddr> addrs,
                                               std::chrono::seconds requested_ttl, time_point now) {
  auto it = records_.find(host);
  if (it != records_.end() && it->second.expires <= now) {
    erase(it);
    it = records_.end();
  }
  // No takeover: a live name stays with its peer whatever the request says.
  if (it != records_.end() && it->second.peer != peer) return {names_status::name_taken, {}};
  // SECURITY: the caps bound the relay's memory whatever authorized peers do.
  if (it == records_.end()) {
    if (records_.size() >= limits_.max_names || names_of(peer) >= limits_.max_names_per_peer)
      expire(now);
    if (records_.size() >= limits_.max_names || names_of(peer) >= limits_.max_names_per_peer)
      return {names_status::resource_limit, {}};
  }
  if (addrs.size() > names_max_addrs) addrs.resize(names_max_addrs);
  const auto ttl = requested_ttl.count() <= 0
                       ? limits_.max_ttl
                       : std::clamp(requested_ttl, limits_.min_ttl, limits_.max_ttl);
  if (it == records_.end()) {
    records_.emplace(host, name_record{peer, std::move(addrs), now + ttl});
    ++per_peer_[peer];
  } else {
    it->second.addrs = std::move(addrs);
    it->second.expires = now + ttl;
  }
  return {names_status::ok, ttl};
}

const name_record* name_registry::lookup(const dns_label& host, time_point now) const {
  auto it = records_.find(host);
  if (it == records_.end() || it->second.expires <= now) return nullptr;
  return &it->second;
}

}  // namespace peerup::wire
