// The lookup state machine, driven by hand (vectors of what it must ask next)
// and over a simulated network of routing tables in one process: 100 and
// 1,000 nodes bootstrap from 3, and every lookup must find its target.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "crypto/keys.hpp"
#include "dht/lookup.hpp"
#include "dht/routing_table.hpp"

namespace peerup::dht {
namespace {

using namespace std::chrono_literals;

peer_id random_peer() { return private_key::generate().to_peer_id(); }

std::vector<peer_id> sorted_by_distance(std::vector<peer_id> ps, const kad_key& target) {
  std::sort(ps.begin(), ps.end(), [&](const auto& a, const auto& b) {
    return xor_distance(kad_key::of(a), target) < xor_distance(kad_key::of(b), target);
  });
  return ps;
}

std::vector<lookup_peer> as_lookup(const std::vector<peer_id>& ps) {
  std::vector<lookup_peer> out;
  for (const auto& p : ps) out.push_back({p, {}});
  return out;
}

TEST(lookup, asks_alpha_at_a_time_closest_first) {
  auto target = kad_key::of(as_bytes("t"));
  std::vector<peer_id> seeds;
  for (int i = 0; i < 5; ++i) seeds.push_back(random_peer());
  auto sorted = sorted_by_distance(seeds, target);
  lookup l(target, random_peer(), as_lookup(seeds), lookup_config{.k = 3, .alpha = 2});
  auto now = std::chrono::steady_clock::now();
  auto first = l.next(now);
  ASSERT_EQ(first.size(), 2U);
  EXPECT_EQ(first[0].id, sorted[0]);
  EXPECT_EQ(first[1].id, sorted[1]);
  EXPECT_TRUE(l.next(now).empty());  // alpha in flight
  l.on_response(sorted[0], {});
  auto second = l.next(now);
  ASSERT_EQ(second.size(), 1U);
  EXPECT_EQ(second[0].id, sorted[2]);
  EXPECT_FALSE(l.done());
  l.on_response(sorted[1], {});
  l.on_response(sorted[2], {});
  // The 3 closest answered: done without asking the 2 farther seeds.
  EXPECT_TRUE(l.done());
  auto r = l.result();
  ASSERT_EQ(r.size(), 3U);
  EXPECT_EQ(r[0].id, sorted[0]);
  EXPECT_EQ(l.stats().requests, 3U);
  EXPECT_EQ(l.hops(), 1U);
}

TEST(lookup, failure_and_timeout_move_on_to_the_next_candidate) {
  auto target = kad_key::of(as_bytes("t"));
  std::vector<peer_id> seeds;
  for (int i = 0; i < 3; ++i) seeds.push_back(random_peer());
  auto sorted = sorted_by_distance(seeds, target);
  lookup l(target, random_peer(), as_lookup(seeds),
           lookup_config{.k = 1, .alpha = 1, .request_timeout = 10s});
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(l.next(t0).at(0).id, sorted[0]);
  l.on_failure(sorted[0]);
  ASSERT_EQ(l.next(t0).at(0).id, sorted[1]);
  EXPECT_TRUE(l.next(t0 + 9s).empty());
  auto after_timeout = l.next(t0 + 10s);  // sorted[1] timed out
  ASSERT_EQ(after_timeout.size(), 1U);
  EXPECT_EQ(after_timeout[0].id, sorted[2]);
  l.on_response(sorted[1], {});  // too late: ignored
  EXPECT_FALSE(l.done());
  l.on_response(sorted[2], {});
  EXPECT_TRUE(l.done());
  EXPECT_EQ(l.result().at(0).id, sorted[2]);
  EXPECT_EQ(l.stats().failures, 2U);
}

TEST(lookup, learns_closer_peers_from_answers_and_ignores_self_and_strangers) {
  auto self = random_peer();
  auto target = kad_key::of(as_bytes("t"));
  auto far = random_peer();
  std::vector<peer_id> learned;
  for (int i = 0; i < 4; ++i) learned.push_back(random_peer());
  lookup l(target, self, as_lookup({far}), lookup_config{.k = 20, .alpha = 10});
  auto now = std::chrono::steady_clock::now();
  ASSERT_EQ(l.next(now).size(), 1U);
  l.on_response(random_peer(), as_lookup(learned));  // never asked: ignored
  EXPECT_TRUE(l.next(now).empty());
  auto answer = as_lookup(learned);
  answer.push_back({self, {}});
  l.on_response(far, answer);
  auto asked = l.next(now);
  EXPECT_EQ(asked.size(), 4U);  // not self
  for (const auto& p : asked) l.on_response(p.id, {});
  EXPECT_TRUE(l.done());
  EXPECT_EQ(l.result().size(), 5U);
  auto everyone = learned;
  everyone.push_back(far);
  auto closest = sorted_by_distance(everyone, target).front();
  EXPECT_EQ(l.hops(), closest == far ? 1U : 2U);
}

TEST(lookup, candidate_list_is_bounded) {
  auto target = kad_key::of(as_bytes("t"));
  auto seed = random_peer();
  lookup l(target, random_peer(), as_lookup({seed}),
           lookup_config{.k = 20, .alpha = 10, .max_candidates = 50});
  auto now = std::chrono::steady_clock::now();
  l.next(now);
  std::vector<peer_id> flood;
  for (int i = 0; i < 300; ++i) flood.push_back(random_peer());
  l.on_response(seed, as_lookup(flood));
  std::size_t asked = 0;
  for (int round = 0; round < 100 && !l.done(); ++round) {
    for (const auto& p : l.next(now)) {
      ++asked;
      l.on_response(p.id, {});
    }
  }
  EXPECT_TRUE(l.done());
  EXPECT_LE(asked, 50U);
  // The 20 it returns are the 20 closest of everything it heard of.
  flood.push_back(seed);
  auto best = sorted_by_distance(flood, target);
  auto r = l.result();
  ASSERT_EQ(r.size(), 20U);
  for (std::size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i].id, best[i]);
}

// A network of DHT servers in one process: a request is answered at once from
// the server's table, and the server adds the requester (all are servers).
struct sim_network {
  std::vector<peer_id> ids;
  std::map<peer_id, routing_table> tables;
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
  std::size_t messages = 0;

  explicit sim_network(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      ids.push_back(random_peer());
      tables.emplace(ids.back(), routing_table(ids.back()));
    }
  }

  std::vector<lookup_peer> answer(const peer_id& server, const peer_id& from,
                                  const kad_key& target) {
    ++messages;
    auto& t = tables.at(server);
    t.add(from, {}, now);
    std::vector<lookup_peer> out;
    for (const auto* e : t.closest(target, 20)) out.push_back({e->id, {}});
    return out;
  }

  // Runs one lookup from `origin` to completion; returns it.
  lookup run(const peer_id& origin, const kad_key& target) {
    auto& t = tables.at(origin);
    std::vector<lookup_peer> seeds;
    for (const auto* e : t.closest(target, 20)) seeds.push_back({e->id, {}});
    lookup l(target, origin, seeds);
    for (int round = 0; round < 1000 && !l.done(); ++round) {
      auto batch = l.next(now);
      if (batch.empty()) break;
      for (const auto& p : batch) {
        auto closer = answer(p.id, origin, target);
        t.add(p.id, {}, now);  // it answered: a server
        l.on_response(p.id, closer);
      }
    }
    return l;
  }
};

void bootstrap_and_find_everyone(std::size_t n, std::size_t sample) {
  sim_network net(n);
  // 1. Nodes 3.. know the 3 bootstrap nodes; each then looks itself up, as
  //    the spec's bootstrap does, joining one after another.
  for (std::size_t i = 3; i < n; ++i) {
    for (std::size_t b = 0; b < 3; ++b) net.tables.at(net.ids[i]).add(net.ids[b], {}, net.now);
    net.run(net.ids[i], kad_key::of(net.ids[i]));
  }
  // 2. One periodic refresh, as the spec's bootstrap process runs it: each
  //    node looks up a random key in each bucket up to its deepest non-empty
  //    one, and itself, so nodes that joined early learn of later ones.
  std::mt19937_64 keys(11);
  for (const auto& id : net.ids) {
    auto& t = net.tables.at(id);
    auto deepest = t.deepest_bucket().value_or(0);
    for (std::size_t cpl = 0; cpl <= deepest; ++cpl) {
      kad_key::digest random{};
      for (auto& b : random) b = static_cast<std::uint8_t>(keys());
      net.run(id, key_in_bucket(t.self_key(), cpl, random));
    }
    net.run(id, kad_key::of(id));
  }
  // 3. Every sampled node finds every other by peer ID.
  std::mt19937 rng(7);
  std::size_t lookups = 0;
  std::size_t found = 0;
  double hops = 0;
  double requests = 0;
  net.messages = 0;
  for (std::size_t s = 0; s < sample; ++s) {
    const auto& origin = net.ids[rng() % n];
    for (const auto& target : net.ids) {
      if (target == origin) continue;
      auto l = net.run(origin, kad_key::of(target));
      ++lookups;
      auto r = l.result();
      if (!r.empty() && r.front().id == target) {
        ++found;
      } else if (lookups - found <= 5) {  // say why, for the first few misses
        auto near = sorted_by_distance(net.ids, kad_key::of(target));
        int knows = 0;
        for (std::size_t j = 1; j <= 20; ++j) knows += net.tables.at(near[j]).find(target) ? 1 : 0;
        std::printf(
            "miss: %d of the 20 closest know the target; target table %zu; result %zu, "
            "closest result is rank %ld\n",
            knows, net.tables.at(target).size(), r.size(),
            r.empty() ? -1L
                      : static_cast<long>(std::find(near.begin(), near.end(), r.front().id) -
                                          near.begin()));
      }
      hops += static_cast<double>(l.hops());
      requests += static_cast<double>(l.stats().requests);
    }
  }
  EXPECT_EQ(found, lookups) << "lookups that did not find their target";
  double mean_hops = hops / static_cast<double>(lookups);
  std::printf(
      "[ dht sim ] n=%zu lookups=%zu found=%zu mean hops=%.2f (log2 n = %.2f) "
      "mean requests=%.1f\n",
      n, lookups, found, mean_hops, std::log2(static_cast<double>(n)),
      requests / static_cast<double>(lookups));
  // Kademlia's bound: O(log n) hops; with k = 20 and alpha = 10 a lookup
  // needs far fewer than log2(n) sequential steps.
  EXPECT_LE(mean_hops, std::log2(static_cast<double>(n)));
}

TEST(lookup_simulation, hundred_nodes_bootstrap_from_three_and_find_each_other) {
  bootstrap_and_find_everyone(100, 100);
}

TEST(lookup_simulation, thousand_nodes_find_each_other) { bootstrap_and_find_everyone(1000, 3); }

}  // namespace
}  // namespace peerup::dht
