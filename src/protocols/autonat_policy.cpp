#include "protocols/autonat_policy.hpp"

#include <algorithm>

#include "protocols/observed_addrs.hpp"

namespace peerup::protocols {

std::string_view to_string(reachability r) {
  switch (r) {
    case reachability::unknown: return "unknown";
    case reachability::public_: return "public";
    case reachability::private_: return "private";
  }
  return "unknown";
}

bool reachability_tracker::record(autonat_verdict v) {
  if (v == autonat_verdict::no_verdict) return false;
  const auto seen =
      v == autonat_verdict::reachable ? reachability::public_ : reachability::private_;
  if (seen == status_) {
    confidence_ = std::min(confidence_ + 1, max_confidence);
    return false;
  }
  if (seen == reachability::public_ || status_ == reachability::unknown || confidence_ == 0) {
    status_ = seen;
    confidence_ = 0;
    return true;
  }
  --confidence_;
  return false;
}

void autonat_rate_limiter::roll(std::chrono::steady_clock::time_point now) {
  if (now - window_start_ < limits_.window) return;
  window_start_ = now;
  total_ = 0;
  per_peer_.clear();
}

bool autonat_rate_limiter::admit(const peer_id& p, std::chrono::steady_clock::time_point now) {
  roll(now);
  if (total_ >= limits_.global) return false;
  auto it = per_peer_.find(p);
  if (it == per_peer_.end()) {
    // SECURITY: the per-window map cannot outgrow the global budget anyway;
    // the explicit bound keeps that true if the limits are raised.
    if (per_peer_.size() >= limits_.max_tracked_peers) return false;
    it = per_peer_.emplace(p, 0).first;
  }
  if (it->second >= limits_.per_peer) return false;
  ++it->second;
  ++total_;
  return true;
}

std::vector<multiaddr> dialback_targets(const std::vector<multiaddr>& requested,
                                        const multiaddr& observed,
                                        const autonat_server_limits& limits) {
  std::vector<multiaddr> out;
  const auto obs = normalize_observed(observed);
  if (!obs || observed.is_relayed()) return out;
  const auto& ip = obs->components()[0];
  auto consider = [&](const multiaddr& a) {
    if (out.size() >= limits.max_addrs || a.is_relayed()) return;
    const auto norm = normalize_observed(a);
    if (!norm || norm->components()[0] != ip) return;
    if (!limits.policy.allows(dcutr::scope_of(*norm))) return;
    if (std::find(out.begin(), out.end(), *norm) == out.end()) out.push_back(*norm);
  };
  consider(*obs);
  for (const auto& a : requested) consider(a);
  return out;
}

}  // namespace peerup::protocols
