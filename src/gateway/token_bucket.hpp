// A token bucket: at most `rate` events per second on average, bursts of up
// to `burst`. Sans-I/O: the caller passes the time. The DNS gateway drops
// queries beyond it, so a flood costs it little and it cannot be made to
// amplify.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace peerup::app {

class token_bucket {
 public:
  using clock = std::chrono::steady_clock;
  token_bucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}

  // Takes one token if there is one.
  bool try_take(clock::time_point now) {
    if (started_) {
      const std::chrono::duration<double> elapsed = now - last_;
      if (elapsed.count() > 0) tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
    }
    started_ = true;
    last_ = std::max(last_, now);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double rate_, burst_, tokens_;
  clock::time_point last_{};
  bool started_ = false;
};

}  // namespace peerup::app
