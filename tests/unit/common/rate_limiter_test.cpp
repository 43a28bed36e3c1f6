// The splice loop's byte-rate bucket, driven with a fake clock.
#include "common/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace peerup {
namespace {

using namespace std::chrono_literals;
using clock_t_ = rate_limiter::clock;

const clock_t_::time_point t0 = clock_t_::time_point{} + 1h;

// Runs a copy loop that always has data to send for `span` of fake time and
// returns the bytes it sent: wait, sleep, take a chunk, charge.
std::uint64_t send_for(rate_limiter& r, clock_t_::duration span, clock_t_::time_point& now) {
  const auto end = now + span;
  std::uint64_t sent = 0;
  for (int i = 0; i < 10'000'000 && now < end; ++i) {
    now += r.wait(now);
    if (now >= end) break;
    r.charge(now, r.chunk());
    sent += r.chunk();
  }
  return sent;
}

TEST(rate_limiter, holds_the_rate_over_time_within_one_burst) {
  for (std::uint64_t rate : {1024ull, 100'000ull, 1'000'000ull, 12'500'000ull, 1'000'000'000ull}) {
    rate_limiter r(rate);
    auto now = t0;
    const auto sent = send_for(r, 10s, now);
    // 10 s of the rate, plus at most the initial burst and one chunk in flight.
    EXPECT_GE(sent, 10 * rate) << rate;
    EXPECT_LE(sent, 10 * rate + r.burst() + r.chunk()) << rate;
  }
}

TEST(rate_limiter, a_full_bucket_sends_at_once_then_waits_for_the_debt) {
  rate_limiter r(80'000);  // chunk 10'000 bytes
  EXPECT_EQ(r.chunk(), 10'000u);
  EXPECT_EQ(r.wait(t0), clock_t_::duration::zero());
  r.charge(t0, 10'000);  // the burst
  EXPECT_EQ(r.wait(t0), clock_t_::duration::zero());
  r.charge(t0, 40'000);  // half a second of debt
  const auto w = r.wait(t0);
  EXPECT_GE(w, 500ms);
  EXPECT_LE(w, 501ms);
  // Half of it paid a quarter second later.
  const auto w2 = r.wait(t0 + 250ms);
  EXPECT_GE(w2, 250ms);
  EXPECT_LE(w2, 251ms);
  EXPECT_EQ(r.wait(t0 + 500ms + 1ms), clock_t_::duration::zero());
}

TEST(rate_limiter, idle_time_refills_at_most_one_burst) {
  rate_limiter r(80'000);
  (void)r.wait(t0);
  r.charge(t0, 10'000);
  // An hour idle buys one burst, not an hour of bytes.
  const auto later = t0 + 1h;
  EXPECT_EQ(r.wait(later), clock_t_::duration::zero());
  r.charge(later, 10'000);
  r.charge(later, 8'000);
  EXPECT_GE(r.wait(later), 100ms);
}

TEST(rate_limiter, shared_by_two_loops_holds_the_sum) {
  rate_limiter r(1'000'000);
  auto now = t0;
  std::uint64_t sent[2] = {0, 0};
  // Two loops take turns on one clock: whoever may send sends a chunk.
  for (int i = 0; i < 1'000'000 && now < t0 + 10s; ++i) {
    for (auto& s : sent) {
      if (r.wait(now) == clock_t_::duration::zero()) {
        r.charge(now, r.chunk());
        s += r.chunk();
      }
    }
    now += std::max<clock_t_::duration>(r.wait(now), 1ms);
  }
  const auto total = sent[0] + sent[1];
  EXPECT_GE(total, 10'000'000u);
  EXPECT_LE(total, 10'000'000u + 3 * r.chunk());
  EXPECT_GT(sent[0], 0u);
  EXPECT_GT(sent[1], 0u);
  EXPECT_EQ(r.charged(), total);
}

TEST(rate_limiter, rate_and_chunk_are_bounded) {
  rate_limiter tiny(1);
  EXPECT_EQ(tiny.rate(), rate_limiter::min_rate);
  EXPECT_EQ(tiny.chunk(), rate_limiter::min_chunk);
  rate_limiter huge(~0ull);
  EXPECT_EQ(huge.rate(), rate_limiter::max_rate);
  EXPECT_EQ(huge.chunk(), rate_limiter::max_chunk);
  // A debt of many chunks at the smallest rate still yields a finite wait.
  for (int i = 0; i < 1000; ++i) tiny.charge(t0, rate_limiter::max_chunk);
  EXPECT_GT(tiny.wait(t0), 200'000s);
  EXPECT_LT(tiny.wait(t0), 300'000s);
}

TEST(rate_limiter, a_clock_going_back_adds_no_tokens) {
  rate_limiter r(80'000);
  (void)r.wait(t0 + 1s);
  r.charge(t0 + 1s, 30'000);
  const auto w = r.wait(t0 + 1s);
  EXPECT_EQ(r.wait(t0), w);  // earlier time: nothing refilled, nothing lost
  r.add_throttled(w);
  EXPECT_EQ(r.throttled(), w);
}

}  // namespace
}  // namespace peerup
