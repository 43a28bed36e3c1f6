#include "protocols/path_policy.hpp"

#include <algorithm>

namespace peerup::protocols {

std::string_view to_string(path_kind p) {
  switch (p) {
    case path_kind::none: return "none";
    case path_kind::relayed: return "relayed";
    case path_kind::direct: return "direct";
  }
  return "none";
}

retry_backoff::retry_backoff(steady::duration initial, steady::duration max)
    : initial_(initial), max_(std::max(initial, max)), current_(initial) {}

steady::duration retry_backoff::on_failure() {
  const auto delay = current_;
  current_ = std::min(current_ * 2, max_);
  return delay;
}

bool path_record::set_path(path_kind p, steady::time_point now, std::uint64_t unix_now) {
  if (p == path) return false;
  if (path == path_kind::direct) {
    const bool lasted = now - direct_since >= stable_direct;
    next_attempt = std::max(next_attempt, now + (lasted ? repunch_delay : backoff.initial()));
  }
  if (p == path_kind::direct) direct_since = now;
  path = p;
  changed_unix = unix_now;
  return true;
}

void path_record::punch_started() {
  punching = true;
  ++attempts;
}

void path_record::punch_succeeded() {
  punching = false;
  ++successes;
  last_error.clear();
  backoff.reset();
}

void path_record::punch_failed(std::string why, steady::time_point now) {
  punching = false;
  last_error = std::move(why);
  next_attempt = now + backoff.on_failure();
}

}  // namespace peerup::protocols
