#include "dht/lookup.hpp"

namespace peerup::dht {

lookup::lookup(const kad_key& target, const peer_id& self, const std::vector<lookup_peer>& seeds,
               lookup_config cfg)
    : target_(target), self_(self), cfg_(cfg) {
  for (const auto& s : seeds) add(s, 1);
}

void lookup::add(const lookup_peer& p, std::size_t hop) {
  if (p.id == self_) return;
  auto d = xor_distance(kad_key::of(p.id), target_);
  auto [it, inserted] = candidates_.try_emplace(d, candidate{p, state::waiting, hop, {}});
  if (!inserted) {
    // Known already: pick up addresses if we had none.
    if (it->second.peer.addrs.empty()) it->second.peer.addrs = p.addrs;
    return;
  }
  // SECURITY: drop the farthest waiting candidate beyond the bound (never one
  // in flight, whose answer we still account for).
  if (candidates_.size() > cfg_.max_candidates) {
    for (auto r = candidates_.rbegin(); r != candidates_.rend(); ++r) {
      if (r->second.st != state::in_flight) {
        candidates_.erase(std::next(r).base());
        break;
      }
    }
  }
}

lookup::candidate* lookup::find(const peer_id& id) {
  auto it = candidates_.find(xor_distance(kad_key::of(id), target_));
  if (it == candidates_.end() || it->second.peer.id != id) return nullptr;
  return &it->second;
}

std::vector<lookup_peer> lookup::next(time_point now) {
  // 1. Time out requests that have waited too long.
  for (auto& [d, c] : candidates_) {
    if (c.st == state::in_flight && now - c.sent >= cfg_.request_timeout) {
      c.st = state::failed;
      --in_flight_;
      ++stats_.failures;
    }
  }
  // 2. Walk the k closest live candidates; query those not asked yet while
  //    fewer than alpha are in flight.
  std::vector<lookup_peer> out;
  std::size_t live = 0;
  for (auto& [d, c] : candidates_) {
    if (c.st == state::failed) continue;
    if (live++ >= cfg_.k) break;
    if (in_flight_ >= cfg_.alpha) break;
    if (c.st != state::waiting) continue;
    c.st = state::in_flight;
    c.sent = now;
    ++in_flight_;
    ++stats_.requests;
    out.push_back(c.peer);
  }
  return out;
}

void lookup::on_response(const peer_id& from, const std::vector<lookup_peer>& closer) {
  auto* c = find(from);
  if (c == nullptr || c->st != state::in_flight) return;
  c->st = state::answered;
  --in_flight_;
  ++stats_.responses;
  auto hop = c->hop + 1;
  for (const auto& p : closer) add(p, hop);
}

void lookup::on_failure(const peer_id& from) {
  auto* c = find(from);
  if (c == nullptr || c->st != state::in_flight) return;
  c->st = state::failed;
  --in_flight_;
  ++stats_.failures;
}

bool lookup::done() const {
  // Done when each of the k closest live candidates has answered (none
  // waiting, none in flight), which also covers "every known peer asked".
  std::size_t live = 0;
  for (const auto& [d, c] : candidates_) {
    if (c.st == state::failed) continue;
    if (live++ >= cfg_.k) break;
    if (c.st != state::answered) return false;
  }
  return true;
}

std::size_t lookup::hops() const {
  for (const auto& [d, c] : candidates_) {
    if (c.st == state::answered) return c.hop;
  }
  return 0;
}

std::vector<lookup_peer> lookup::result() const {
  std::vector<lookup_peer> out;
  for (const auto& [d, c] : candidates_) {
    if (c.st != state::answered) continue;
    out.push_back(c.peer);
    if (out.size() >= cfg_.k) break;
  }
  return out;
}

}  // namespace peerup::dht
