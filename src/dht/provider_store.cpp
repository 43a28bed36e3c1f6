#include "dht/provider_store.hpp"

#include <algorithm>

namespace peerup::dht {

void provider_store::erase_record(std::vector<record>& list, std::size_t i) {
  auto it = per_peer_.find(list[i].id);
  if (it != per_peer_.end() && --it->second == 0) per_peer_.erase(it);
  list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
  --records_;
}

result<void> provider_store::add(const bytes& key, const peer_id& who,
                                 const std::vector<multiaddr>& addrs, time_point now) {
  std::vector<multiaddr> kept(addrs.begin(), addrs.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                                 addrs.size(), limits_.max_addrs)));
  auto slot = by_key_.find(key);
  if (slot != by_key_.end()) {
    auto& list = slot->second;
    for (auto& r : list) {
      if (r.id == who) {  // a refresh: always accepted
        r.added = now;
        if (!kept.empty()) r.addrs = std::move(kept);
        return {};
      }
    }
    // SECURITY: bounded per key and per providing peer.
    if (list.size() >= limits_.max_providers_per_key) return errc::kad_store_full;
  } else if (by_key_.size() >= limits_.max_keys) {
    return errc::kad_store_full;
  }
  auto count = per_peer_.find(who);
  if (count != per_peer_.end() && count->second >= limits_.max_records_per_peer) {
    return errc::kad_store_full;
  }
  by_key_[key].push_back(record{who, std::move(kept), now});
  ++per_peer_[who];
  ++records_;
  return {};
}

std::vector<provider> provider_store::get(const bytes& key, time_point now, std::size_t max) const {
  std::vector<provider> out;
  auto slot = by_key_.find(key);
  if (slot == by_key_.end()) return out;
  std::vector<const record*> live;
  for (const auto& r : slot->second) {
    if (now - r.added < limits_.record_ttl) live.push_back(&r);
  }
  std::sort(live.begin(), live.end(),
            [](const auto* a, const auto* b) { return a->added > b->added; });
  for (const auto* r : live) {
    if (out.size() >= max) break;
    out.push_back(
        provider{r->id, now - r->added < limits_.addr_ttl ? r->addrs : std::vector<multiaddr>{}});
  }
  return out;
}

std::size_t provider_store::expire(time_point now) {
  std::size_t dropped = 0;
  for (auto it = by_key_.begin(); it != by_key_.end();) {
    auto& list = it->second;
    for (std::size_t i = list.size(); i-- > 0;) {
      if (now - list[i].added >= limits_.record_ttl) {
        erase_record(list, i);
        ++dropped;
      }
    }
    it = list.empty() ? by_key_.erase(it) : std::next(it);
  }
  return dropped;
}

}  // namespace peerup::dht
