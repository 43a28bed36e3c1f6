#include "protocols/observed_addrs.hpp"

#include <algorithm>

namespace peerup::protocols {

namespace proto = multiaddr_protocols;

std::optional<multiaddr> normalize_observed(const multiaddr& a) {
  const auto bare = a.without_peer();
  const auto& c = bare.components();
  const bool tcp = c.size() == 2 && c[1].code == proto::code::tcp;
  // A QUIC connection's observed address is the NAT's UDP mapping of our
  // QUIC socket: what a UDP hole punch needs.
  const bool quic =
      c.size() == 3 && c[1].code == proto::code::udp && c[2].code == proto::code::quic_v1;
  if (!tcp && !quic) return std::nullopt;
  if (c[0].code != proto::code::ip4 && c[0].code != proto::code::ip6) return std::nullopt;
  return bare;
}

namespace {
// The IP family and transport an observation is about: an observer reports
// one address per kind (a TCP and a QUIC mapping are different mappings).
std::pair<std::uint64_t, std::uint64_t> kind_of(const multiaddr& a) {
  return {a.components()[0].code, a.components()[1].code};
}
}  // namespace

bool observed_addr_table::record(const peer_id& observer, const multiaddr& addr, time_point now) {
  auto norm = normalize_observed(addr);
  if (!norm) return false;
  const auto before = confirmed(now);
  const auto kind = kind_of(*norm);
  auto it = by_observer_.find(observer);
  if (it == by_observer_.end()) {
    // SECURITY: bounded; the observer heard from least recently makes room.
    if (by_observer_.size() >= cfg_.max_observers) {
      auto oldest = by_observer_.begin();
      auto last_seen = [](const auto& kv) {
        time_point t{};
        for (const auto& o : kv.second) t = std::max(t, o.seen);
        return t;
      };
      for (auto i = by_observer_.begin(); i != by_observer_.end(); ++i)
        if (last_seen(*i) < last_seen(*oldest)) oldest = i;
      by_observer_.erase(oldest);
    }
    it = by_observer_.emplace(observer, std::vector<observation>{}).first;
  }
  auto& list = it->second;
  // One address per IP family, transport and observer: a new report
  // replaces the old one (our NAT mapping changed, or we moved).
  std::erase_if(list, [&](const observation& o) { return kind_of(o.addr) == kind; });
  list.push_back({std::move(*norm), now});
  return confirmed(now) != before;
}

bool observed_addr_table::record_dialable(const multiaddr& addr, time_point now) {
  auto norm = normalize_observed(addr);
  if (!norm) return false;
  const auto before = confirmed(now);
  if (!dialable_.contains(*norm) && dialable_.size() >= cfg_.max_dialable) {
    // SECURITY: bounded like the observers.
    auto oldest =
        std::min_element(dialable_.begin(), dialable_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    dialable_.erase(oldest);
  }
  dialable_[*norm] = now;
  return confirmed(now) != before;
}

std::size_t observed_addr_table::expire(time_point now) {
  std::size_t removed = 0;
  for (auto it = by_observer_.begin(); it != by_observer_.end();) {
    removed += std::erase_if(it->second, [&](const observation& o) { return !fresh(o.seen, now); });
    it = it->second.empty() ? by_observer_.erase(it) : std::next(it);
  }
  removed += std::erase_if(dialable_, [&](const auto& kv) { return !fresh(kv.second, now); });
  return removed;
}

std::size_t observed_addr_table::observer_count(const multiaddr& a, time_point now) const {
  std::size_t n = 0;
  for (const auto& [peer, list] : by_observer_)
    for (const auto& o : list)
      if (o.addr == a && fresh(o.seen, now)) ++n;
  return n;
}

std::vector<multiaddr> observed_addr_table::confirmed(time_point now) const {
  std::vector<multiaddr> out;
  for (const auto& a : candidates(now)) {
    const auto n = observer_count(a, now);
    const auto d = dialable_.find(a);
    const bool dialed = d != dialable_.end() && fresh(d->second, now);
    if (n >= cfg_.min_observers || (n >= 1 && dialed)) out.push_back(a);
  }
  return out;
}

std::vector<multiaddr> observed_addr_table::candidates(time_point now) const {
  struct ranked {
    multiaddr addr;
    std::size_t observers;
    bool dialed;
  };
  std::vector<ranked> all;
  for (const auto& [peer, list] : by_observer_) {
    for (const auto& o : list) {
      if (!fresh(o.seen, now)) continue;
      if (std::any_of(all.begin(), all.end(), [&](const ranked& r) { return r.addr == o.addr; }))
        continue;
      const auto d = dialable_.find(o.addr);
      all.push_back(
          {o.addr, observer_count(o.addr, now), d != dialable_.end() && fresh(d->second, now)});
    }
  }
  auto score = [&](const ranked& r) {
    const bool confirmed = r.observers >= cfg_.min_observers || r.dialed;
    return std::make_pair(confirmed ? 1 : 0, r.observers);
  };
  // Ties in address order, so the result does not depend on hash order.
  std::sort(all.begin(), all.end(), [&](const ranked& a, const ranked& b) {
    if (score(a) != score(b)) return score(a) > score(b);
    return a.addr.to_bytes() < b.addr.to_bytes();
  });
  std::vector<multiaddr> out;
  out.reserve(all.size());
  for (auto& r : all) out.push_back(std::move(r.addr));
  return out;
}

}  // namespace peerup::protocols
