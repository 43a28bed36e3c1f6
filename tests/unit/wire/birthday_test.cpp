#include "wire/birthday.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace peerup::wire {
namespace {

const birthday_token token{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

TEST(birthday_nat, a_kept_port_is_easy_a_rewritten_or_varying_one_is_hard) {
  const std::uint16_t kept[] = {4001, 4001};
  const std::uint16_t rewritten[] = {51234};
  const std::uint16_t varying[] = {4001, 4002};
  EXPECT_EQ(classify_nat(4001, kept), nat_hint::easy);
  EXPECT_EQ(classify_nat(4001, rewritten), nat_hint::hard);
  EXPECT_EQ(classify_nat(4001, varying), nat_hint::hard);
  EXPECT_EQ(classify_nat(4001, {}), nat_hint::unknown);
}

TEST(birthday_roles, only_one_hard_and_one_easy_side_play) {
  EXPECT_EQ(birthday_role_for(nat_hint::hard, nat_hint::easy), birthday_role::hard);
  EXPECT_EQ(birthday_role_for(nat_hint::easy, nat_hint::hard), birthday_role::easy);
  EXPECT_EQ(birthday_role_for(nat_hint::hard, nat_hint::hard), birthday_role::none);
  EXPECT_EQ(birthday_role_for(nat_hint::easy, nat_hint::easy), birthday_role::none);
  EXPECT_EQ(birthday_role_for(nat_hint::unknown, nat_hint::easy), birthday_role::none);
  EXPECT_EQ(birthday_role_for(nat_hint::hard, nat_hint::unknown), birthday_role::none);
}

TEST(birthday_hello, round_trips) {
  birthday_hello h{.hint = nat_hint::hard, .token = token, .ip = {203, 0, 113, 21}, .port = 51234};
  const auto wire = h.encode();
  ASSERT_EQ(wire.size(), birthday_hello::size);
  auto back = birthday_hello::decode(wire);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->hint, nat_hint::hard);
  EXPECT_EQ(back->token, token);
  EXPECT_EQ(back->ip, (std::array<std::uint8_t, 4>{203, 0, 113, 21}));
  EXPECT_EQ(back->port, 51234);
}

TEST(birthday_hello, refuses_bad_size_version_hint_and_missing_port) {
  birthday_hello h{.hint = nat_hint::easy, .token = token, .ip = {203, 0, 113, 22}, .port = 4001};
  const auto good = h.encode();
  const auto malformed = make_error_code(errc::birthday_malformed);
  auto short_one = good;
  short_one.pop_back();
  EXPECT_EQ(birthday_hello::decode(short_one).error(), malformed);
  auto long_one = good;
  long_one.push_back(0);
  EXPECT_EQ(birthday_hello::decode(long_one).error(), malformed);
  auto version = good;
  version[0] = 2;
  EXPECT_EQ(birthday_hello::decode(version).error(), malformed);
  auto hint = good;
  hint[1] = 3;
  EXPECT_EQ(birthday_hello::decode(hint).error(), malformed);
  auto no_port = good;
  no_port[22] = no_port[23] = 0;
  EXPECT_EQ(birthday_hello::decode(no_port).error(), malformed);
  EXPECT_EQ(birthday_hello::decode({}).error(), malformed);
}

TEST(birthday_probe, round_trips_and_drops_anything_without_the_token) {
  const auto p = encode_probe({.kind = probe_kind::probe, .index = 777}, token);
  ASSERT_EQ(p.size(), birthday_probe::size);
  EXPECT_EQ(p[0] & 0x40, 0) << "the QUIC fixed bit must be clear";
  auto back = decode_probe(p, token);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, probe_kind::probe);
  EXPECT_EQ(back->index, 777);
  auto other = token;
  other[15] ^= 1;
  EXPECT_FALSE(decode_probe(p, other));
  auto bad_kind = p;
  bad_kind[4] = 9;
  EXPECT_FALSE(decode_probe(bad_kind, token));
  auto bad_magic = p;
  bad_magic[1] = 'q';
  EXPECT_FALSE(decode_probe(bad_magic, token));
  auto truncated = p;
  truncated.pop_back();
  EXPECT_FALSE(decode_probe(truncated, token));
  EXPECT_FALSE(decode_probe({}, token));
}

TEST(birthday_planner, ports_are_distinct_unprivileged_and_within_the_budget) {
  birthday_planner plan(42, 2048);
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 1000 && !plan.exhausted(); ++i)
    for (auto p : plan.next(7)) {
      EXPECT_GE(p, 1024);
      EXPECT_TRUE(seen.insert(p).second) << "port " << p << " probed twice";
    }
  EXPECT_EQ(seen.size(), 2048u);
  EXPECT_TRUE(plan.exhausted());
  EXPECT_TRUE(plan.next(5).empty());
}

TEST(birthday_planner, the_budget_cannot_exceed_the_port_range) {
  birthday_planner plan(1, 100000, 65000);
  std::size_t n = 0;
  while (!plan.exhausted()) n += plan.next(1000).size();
  EXPECT_EQ(n, 536u);  // 65000..65535
}

TEST(birthday_planner, hits_one_of_256_random_mappings_almost_always) {
  // The birthday bound the budget relies on: 256 mappings anywhere in
  // [1024, 65535] and 2048 probes. Simulated over many seeds.
  int hits = 0;
  const int runs = 300;
  for (int run = 0; run < runs; ++run) {
    std::mt19937_64 rng(1000 + run);
    std::uniform_int_distribution<int> port(1024, 65535);
    std::set<std::uint16_t> mappings;
    while (mappings.size() < 256) mappings.insert(static_cast<std::uint16_t>(port(rng)));
    birthday_planner plan(run, 2048);
    bool hit = false;
    while (!hit && !plan.exhausted())
      for (auto p : plan.next(64)) hit = hit || mappings.contains(p);
    hits += hit;
  }
  EXPECT_GE(hits, runs - 2);
}

TEST(birthday_budget, spends_the_probes_within_the_duration) {
  birthday_budget b;
  const auto ticks = b.duration / b.tick;
  EXPECT_GE(static_cast<std::size_t>(ticks) * b.per_tick(), b.max_probes);
  EXPECT_LE(b.per_tick(), 8u);
  birthday_budget zero{.duration = std::chrono::milliseconds(0)};
  EXPECT_EQ(zero.per_tick(), zero.max_probes);
}

}  // namespace
}  // namespace peerup::wire
