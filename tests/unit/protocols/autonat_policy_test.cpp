// AutoNAT v1 decisions: reachability with confidence, server rate limits,
// and the dial-back address rule of the spec (observed IP only).
#include "protocols/autonat_policy.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"

namespace peerup::protocols {
namespace {

using namespace std::chrono_literals;
multiaddr ma(std::string_view text) { return multiaddr::parse(text).value(); }
peer_id peer(std::uint8_t n) { return private_key::from_seed(bytes(32, n)).value().to_peer_id(); }
const auto t0 = std::chrono::steady_clock::time_point{} + 1h;

TEST(reachability_tracker, starts_unknown_and_the_first_verdict_decides) {
  reachability_tracker a;
  EXPECT_EQ(a.status(), reachability::unknown);
  EXPECT_TRUE(a.record(autonat_verdict::unreachable));
  EXPECT_EQ(a.status(), reachability::private_);
  reachability_tracker b;
  EXPECT_TRUE(b.record(autonat_verdict::reachable));
  EXPECT_EQ(b.status(), reachability::public_);
}

TEST(reachability_tracker, agreeing_verdicts_raise_confidence_up_to_three) {
  reachability_tracker t;
  for (int i = 0; i < 6; ++i) (void)t.record(autonat_verdict::unreachable);
  EXPECT_EQ(t.confidence(), reachability_tracker::max_confidence);
}

TEST(reachability_tracker, failures_must_outvote_earlier_successes) {
  reachability_tracker t;
  for (int i = 0; i < 3; ++i) (void)t.record(autonat_verdict::reachable);  // public, confidence 2
  EXPECT_EQ(t.confidence(), 2);
  EXPECT_FALSE(t.record(autonat_verdict::unreachable));
  EXPECT_FALSE(t.record(autonat_verdict::unreachable));
  EXPECT_EQ(t.status(), reachability::public_);
  EXPECT_TRUE(t.record(autonat_verdict::unreachable));
  EXPECT_EQ(t.status(), reachability::private_);
  EXPECT_EQ(t.confidence(), 0);
}

TEST(reachability_tracker, one_successful_dial_back_makes_us_public) {
  reachability_tracker t;
  for (int i = 0; i < 5; ++i) (void)t.record(autonat_verdict::unreachable);
  EXPECT_TRUE(t.record(autonat_verdict::reachable));
  EXPECT_EQ(t.status(), reachability::public_);
}

TEST(reachability_tracker, refusals_and_errors_change_nothing) {
  reachability_tracker t;
  (void)t.record(autonat_verdict::reachable);
  EXPECT_FALSE(t.record(autonat_verdict::no_verdict));
  EXPECT_EQ(t.status(), reachability::public_);
  EXPECT_EQ(t.confidence(), 0);
}

TEST(autonat_rate_limiter, limits_each_peer_per_window) {
  autonat_rate_limiter l(autonat_server_limits{.per_peer = 2, .global = 100, .window = 60s});
  EXPECT_TRUE(l.admit(peer(1), t0));
  EXPECT_TRUE(l.admit(peer(1), t0 + 1s));
  EXPECT_FALSE(l.admit(peer(1), t0 + 2s));
  EXPECT_TRUE(l.admit(peer(2), t0 + 2s));
  EXPECT_TRUE(l.admit(peer(1), t0 + 61s));  // next window
}

TEST(autonat_rate_limiter, limits_everyone_together_per_window) {
  autonat_rate_limiter l(autonat_server_limits{.per_peer = 5, .global = 3, .window = 60s});
  EXPECT_TRUE(l.admit(peer(1), t0));
  EXPECT_TRUE(l.admit(peer(2), t0));
  EXPECT_TRUE(l.admit(peer(3), t0));
  EXPECT_FALSE(l.admit(peer(4), t0));
}

const autonat_server_limits any_scope{.policy = {.allow_private = true, .allow_loopback = true}};

TEST(dialback_targets, only_addresses_on_the_observed_ip_observed_one_first) {
  const auto targets = dialback_targets(
      {ma("/ip4/9.9.9.9/tcp/4001"), ma("/ip4/8.8.8.8/tcp/4001"), ma("/ip4/8.8.8.8/tcp/4002")},
      ma("/ip4/8.8.8.8/tcp/50000"), autonat_server_limits{});
  EXPECT_EQ(targets, (std::vector{ma("/ip4/8.8.8.8/tcp/50000"), ma("/ip4/8.8.8.8/tcp/4001"),
                                  ma("/ip4/8.8.8.8/tcp/4002")}));
}

TEST(dialback_targets, never_dials_private_or_loopback_unless_allowed) {
  EXPECT_TRUE(dialback_targets({ma("/ip4/10.0.0.1/tcp/4001")}, ma("/ip4/10.0.0.1/tcp/5"),
                               autonat_server_limits{})
                  .empty());
  EXPECT_EQ(dialback_targets({ma("/ip4/127.0.0.1/tcp/4001")}, ma("/ip4/127.0.0.1/tcp/5"), any_scope)
                .size(),
            2u);
}

TEST(dialback_targets, refuses_relayed_requests_and_relay_addresses) {
  const auto relayed = ma("/ip4/8.8.8.8/tcp/1/p2p/" + peer(1).to_string() + "/p2p-circuit");
  EXPECT_TRUE(dialback_targets({ma("/ip4/8.8.8.8/tcp/4001")}, relayed, {}).empty());
  EXPECT_EQ(dialback_targets({relayed}, ma("/ip4/8.8.8.8/tcp/5"), {}).size(), 1u);
}

TEST(dialback_targets, dials_at_most_max_addrs) {
  std::vector<multiaddr> many;
  for (int p = 1; p <= 50; ++p) many.push_back(ma("/ip4/8.8.8.8/tcp/" + std::to_string(p)));
  EXPECT_EQ(dialback_targets(many, ma("/ip4/8.8.8.8/tcp/60000"), {}).size(),
            autonat_server_limits{}.max_addrs);
}

}  // namespace
}  // namespace peerup::protocols
