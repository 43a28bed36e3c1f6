// When to try a direct path again, and what we remember per peer about its
// path (direct or relayed) and hole punching. Sans-I/O: callers pass `now`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace peerup::protocols {

using steady = std::chrono::steady_clock;

enum class path_kind { none, relayed, direct };
std::string_view to_string(path_kind p);

// Exponential backoff between direct-upgrade attempts while a peer is only
// reachable through the relay: initial, 2x, 4x, ... capped at `max`.
class retry_backoff {
 public:
  explicit retry_backoff(steady::duration initial = std::chrono::seconds(30),
                         steady::duration max = std::chrono::minutes(10));
  // The delay before the next attempt after one more failure.
  steady::duration on_failure();
  // A success starts the schedule over.
  void reset() { current_ = initial_; }
  steady::duration current() const { return current_; }
  steady::duration initial() const { return initial_; }

 private:
  steady::duration initial_, max_, current_;
};

// Per peer: the path now in use and the hole punching record.
struct path_record {
  path_kind path = path_kind::none;
  std::uint64_t changed_unix = 0;  // when `path` last changed
  std::uint32_t attempts = 0;      // DCUtR runs (each up to 3 rounds), either role
  std::uint32_t successes = 0;
  std::string last_error;  // of the last failed run; cleared by a success
  std::string method;      // how the last punch that worked found the path
  steady::time_point next_attempt{};
  bool punching = false;  // a DCUtR run is in progress
  retry_backoff backoff;
  steady::time_point direct_since{};  // when `path` last became direct
  static constexpr steady::duration stable_direct = std::chrono::seconds(10);
  static constexpr steady::duration repunch_delay = std::chrono::seconds(1);

  explicit path_record(retry_backoff b = retry_backoff()) : backoff(b) {}

  // Records the path now in use. Losing a direct path that had lasted at
  // least `stable_direct` schedules the next upgrade `repunch_delay` later:
  // the usual cause is a NAT mapping that expired while the path was quiet,
  // and a fresh punch then works at once. A direct path that died young
  // (the mapping or the peer flaps) waits one initial backoff instead, so a
  // peer costs at most one DCUtR run per `stable_direct`.
  // Returns true when the path changed.
  bool set_path(path_kind p, steady::time_point now, std::uint64_t unix_now);
  void punch_started();
  void punch_succeeded();
  void punch_failed(std::string why, steady::time_point now);
  // Should the initiator side start a DCUtR run now?
  bool upgrade_due(steady::time_point now) const {
    return path == path_kind::relayed && !punching && now >= next_attempt;
  }
};

}  // namespace peerup::protocols
