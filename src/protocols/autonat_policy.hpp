// AutoNAT v1 decisions, sans-I/O (callers pass `now`): the client's
// reachability with confidence, and the server's rate limits and choice of
// dial-back addresses.
#pragma once

#include <chrono>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"
#include "protocols/dcutr_session.hpp"

namespace peerup::protocols {

enum class reachability { unknown, public_, private_ };
std::string_view to_string(reachability r);

// What one AutoNAT answer says about us.
enum class autonat_verdict {
  reachable,    // OK: the server dialed one of our addresses
  unreachable,  // E_DIAL_ERROR: it tried and failed
  no_verdict,   // refused, bad request, internal error, or the exchange failed
};

// go-libp2p's scheme: a verdict equal to the current status raises the
// confidence (up to max_confidence); a contrary one lowers it, and flips the
// status only once it is at 0. A dial-back that worked is hard evidence, so
// it flips to public at once; failures must outvote earlier successes.
class reachability_tracker {
 public:
  static constexpr int max_confidence = 3;
  // Returns true when the status changed.
  bool record(autonat_verdict v);
  reachability status() const { return status_; }
  int confidence() const { return confidence_; }

 private:
  reachability status_ = reachability::unknown;
  int confidence_ = 0;
};

struct autonat_server_limits {
  // SECURITY: a dial-back costs the server a connection attempt to an
  // address the requester chose, so requests are limited per peer and in
  // total per window, and each request dials at most max_addrs addresses.
  std::size_t per_peer = 3;
  std::size_t global = 30;
  std::chrono::steady_clock::duration window = std::chrono::minutes(1);
  std::size_t max_addrs = 4;
  std::size_t max_tracked_peers = 1024;
  // Which dial-back targets are allowed (loopback only for tests).
  dcutr::addr_policy policy{.allow_private = false, .allow_loopback = false};
};

class autonat_rate_limiter {
 public:
  explicit autonat_rate_limiter(autonat_server_limits l) : limits_(l) {}
  // Counts the request if it fits the limits.
  bool admit(const peer_id& p, std::chrono::steady_clock::time_point now);

 private:
  void roll(std::chrono::steady_clock::time_point now);
  autonat_server_limits limits_;
  std::chrono::steady_clock::time_point window_start_{};
  std::size_t total_ = 0;
  std::unordered_map<peer_id, std::size_t> per_peer_;
};

// The addresses a server may dial back for a request from a peer observed at
// `observed` (the connection's remote address): the observed address itself
// first, then requested addresses with the same IP (RFC 3489 12.1.1: never
// anyone else's), TCP only, no relay circuits, allowed by the policy, no
// duplicates, at most limits.max_addrs.
std::vector<multiaddr> dialback_targets(const std::vector<multiaddr>& requested,
                                        const multiaddr& observed,
                                        const autonat_server_limits& limits);

}  // namespace peerup::protocols
