// Direct-upgrade retry schedule and the per-peer path record.
#include "protocols/path_policy.hpp"

#include <gtest/gtest.h>

namespace peerup::protocols {
namespace {

using namespace std::chrono_literals;
const steady::time_point t0 = steady::time_point{} + 1h;

TEST(retry_backoff, doubles_from_30_seconds_up_to_10_minutes) {
  retry_backoff b;
  std::vector<steady::duration> delays;
  for (int i = 0; i < 8; ++i) delays.push_back(b.on_failure());
  const std::vector<steady::duration> expected{30s, 60s, 120s, 240s, 480s, 600s, 600s, 600s};
  EXPECT_EQ(delays, expected);
}

TEST(retry_backoff, reset_starts_over) {
  retry_backoff b(1s, 8s);
  (void)b.on_failure();
  (void)b.on_failure();
  EXPECT_EQ(b.current(), 4s);
  b.reset();
  EXPECT_EQ(b.on_failure(), 1s);
}

TEST(path_record, a_new_relayed_peer_is_due_for_an_upgrade_at_once) {
  path_record r;
  EXPECT_TRUE(r.set_path(path_kind::relayed, t0, 1000));
  EXPECT_EQ(r.changed_unix, 1000u);
  EXPECT_TRUE(r.upgrade_due(t0));
}

TEST(path_record, not_due_while_punching_or_when_direct) {
  path_record r;
  (void)r.set_path(path_kind::relayed, t0, 1);
  r.punch_started();
  EXPECT_FALSE(r.upgrade_due(t0));
  r.punch_succeeded();
  (void)r.set_path(path_kind::direct, t0, 2);
  EXPECT_FALSE(r.upgrade_due(t0 + 1h));
  EXPECT_EQ(r.attempts, 1u);
  EXPECT_EQ(r.successes, 1u);
}

TEST(path_record, failures_back_off_and_remember_why) {
  path_record r(retry_backoff(30s, 10min));
  (void)r.set_path(path_kind::relayed, t0, 1);
  r.punch_started();
  r.punch_failed("timeout", t0);
  EXPECT_EQ(r.last_error, "timeout");
  EXPECT_FALSE(r.upgrade_due(t0 + 29s));
  EXPECT_TRUE(r.upgrade_due(t0 + 30s));
  r.punch_started();
  r.punch_failed("timeout", t0 + 30s);
  EXPECT_FALSE(r.upgrade_due(t0 + 89s));
  EXPECT_TRUE(r.upgrade_due(t0 + 90s));
  EXPECT_EQ(r.attempts, 2u);
  EXPECT_EQ(r.successes, 0u);
}

TEST(path_record, a_success_clears_the_error_and_resets_the_backoff) {
  path_record r(retry_backoff(30s, 10min));
  (void)r.set_path(path_kind::relayed, t0, 1);
  for (int i = 0; i < 4; ++i) {
    r.punch_started();
    r.punch_failed("x", t0);
  }
  r.punch_started();
  r.punch_succeeded();
  EXPECT_TRUE(r.last_error.empty());
  EXPECT_EQ(r.backoff.current(), 30s);
}

TEST(path_record, losing_a_young_direct_path_waits_one_initial_backoff_before_punching_again) {
  path_record r(retry_backoff(30s, 10min));
  (void)r.set_path(path_kind::relayed, t0, 1);
  r.punch_started();
  r.punch_succeeded();
  (void)r.set_path(path_kind::direct, t0 + 1s, 2);
  EXPECT_TRUE(r.set_path(path_kind::relayed, t0 + 5s, 3));
  EXPECT_EQ(r.changed_unix, 3u);
  EXPECT_FALSE(r.upgrade_due(t0 + 6s));
  EXPECT_FALSE(r.upgrade_due(t0 + 34s));
  EXPECT_TRUE(r.upgrade_due(t0 + 35s));
}

TEST(path_record, losing_a_direct_path_that_lasted_punches_again_within_a_second) {
  // A NAT mapping that expired on a quiet path: punch again at once.
  path_record r(retry_backoff(30s, 10min));
  (void)r.set_path(path_kind::relayed, t0, 1);
  (void)r.set_path(path_kind::direct, t0 + 1s, 2);
  EXPECT_TRUE(r.set_path(path_kind::relayed, t0 + 100s, 3));
  EXPECT_FALSE(r.upgrade_due(t0 + 100s));
  EXPECT_TRUE(r.upgrade_due(t0 + 101s));
  // Lost again soon after the new punch: now it backs off.
  (void)r.set_path(path_kind::direct, t0 + 102s, 4);
  (void)r.set_path(path_kind::relayed, t0 + 105s, 5);
  EXPECT_FALSE(r.upgrade_due(t0 + 106s));
  EXPECT_TRUE(r.upgrade_due(t0 + 135s));
}

TEST(path_record, setting_the_same_path_is_not_a_change) {
  path_record r;
  (void)r.set_path(path_kind::relayed, t0, 5);
  EXPECT_FALSE(r.set_path(path_kind::relayed, t0 + 1s, 6));
  EXPECT_EQ(r.changed_unix, 5u);
}

}  // namespace
}  // namespace peerup::protocols
