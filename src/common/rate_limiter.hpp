// A byte-rate token bucket for the splice loop (bandwidth limits of services,
// peers and relay reservations: docs/operations.md). Sans-I/O: the caller
// passes the time and gets back how long to wait; it never sleeps itself.
//
// Policy: a copy loop asks wait(now) before each read and sleeps that long,
// reads at most chunk() bytes, writes them, then charge(now, n). The bucket
// may go into debt by one chunk per copy loop, so a write is never split or
// copied again to fit the tokens; the debt is paid by the next wait(), and
// the long-run rate is exact. Several copy loops may share one bucket (all
// streams of one service): each pays for what it sent, so together they hold
// the rate. All users of one bucket run on one executor (no locking).
//
// SECURITY: the rate is clamped to [min_rate, max_rate], so no division by
// zero and no overflow in the time arithmetic; the config refuses values
// outside that range before they get here.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace peerup {

class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;

  static constexpr std::uint64_t min_rate = 1024;                  // 1 KiB/s
  static constexpr std::uint64_t max_rate = 10'000'000'000;        // 10 GB/s (80 Gbit/s)
  static constexpr std::size_t min_chunk = 1024;
  static constexpr std::size_t max_chunk = 256 * 1024;

  // `rate`: bytes per second, clamped to [min_rate, max_rate]. The bucket
  // starts full; it holds at most burst() = chunk() bytes.
  explicit rate_limiter(std::uint64_t rate)
      : rate_(std::clamp(rate, min_rate, max_rate)),
        chunk_(static_cast<std::size_t>(
            std::clamp<std::uint64_t>(rate_ / 8, min_chunk, max_chunk))),
        tokens_(static_cast<double>(chunk_)) {}

  std::uint64_t rate() const { return rate_; }
  // The most a copy loop should read at once: an eighth of a second of the
  // rate, between 1 KiB and 256 KiB, so a slow limit sends small steady
  // pieces instead of one large burst followed by a long pause.
  std::size_t chunk() const { return chunk_; }
  std::size_t burst() const { return chunk_; }

  // How long to wait before the next read: zero while the bucket holds
  // tokens, else the time it takes the rate to pay the debt.
  clock::duration wait(clock::time_point now) {
    refill(now);
    if (tokens_ >= 0) return clock::duration::zero();
    const double seconds = -tokens_ / static_cast<double>(rate_);
    // Rounded up: waking a hair early would only cost another timer round.
    return std::chrono::duration_cast<clock::duration>(
               std::chrono::duration<double>(seconds)) +
           clock::duration(1);
  }

  // Records `n` bytes just sent (after the write, so an error costs nothing).
  void charge(clock::time_point now, std::uint64_t n) {
    refill(now);
    tokens_ -= static_cast<double>(n);
    charged_ += n;
  }

  // Time copy loops spent waiting on this bucket (the I/O side adds what
  // it really slept), for the *_throttled_seconds_total metrics.
  void add_throttled(clock::duration d) { throttled_ += d; }
  clock::duration throttled() const { return throttled_; }
  std::uint64_t charged() const { return charged_; }

 private:
  void refill(clock::time_point now) {
    if (!started_) {
      started_ = true;
      last_ = now;
      return;
    }
    if (now <= last_) return;  // the clock is monotonic; tests may repeat a time
    const std::chrono::duration<double> elapsed = now - last_;
    last_ = now;
    tokens_ = std::min(static_cast<double>(chunk_),
                       tokens_ + elapsed.count() * static_cast<double>(rate_));
  }

  std::uint64_t rate_;
  std::size_t chunk_;
  double tokens_;
  clock::time_point last_{};
  bool started_ = false;
  clock::duration throttled_{};
  std::uint64_t charged_ = 0;
};

}  // namespace peerup
