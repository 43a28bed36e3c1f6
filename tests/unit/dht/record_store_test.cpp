#include "dht/record_store.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"

namespace peerup::dht {
namespace {

using namespace std::chrono_literals;

const multiaddr addr = *multiaddr::parse("/ip4/192.0.2.7/tcp/4001");

bytes record_of(const private_key& k, std::uint64_t seq) {
  return wire::seal_peer_record(k, {k.to_peer_id(), seq, {addr}});
}

TEST(record_store, stores_a_peer_record_under_its_own_key_and_newer_seq_wins) {
  record_store s;
  const auto t0 = std::chrono::steady_clock::now();
  const auto k = private_key::generate();
  const auto key = wire::peer_record_key(k.to_peer_id());
  EXPECT_EQ(s.put(key, record_of(k, 5), t0).value(), put_outcome::stored);
  EXPECT_EQ(s.put(key, record_of(k, 4), t0).value(), put_outcome::kept_old);
  EXPECT_EQ(s.put(key, record_of(k, 5), t0).value(), put_outcome::kept_old);
  EXPECT_EQ(*s.get(key, t0), record_of(k, 5) /* ed25519 signatures are deterministic */);
  EXPECT_EQ(s.put(key, record_of(k, 6), t0).value(), put_outcome::replaced);
  EXPECT_EQ(wire::open_peer_record(*s.get(key, t0))->seq, 6u);
  EXPECT_EQ(s.size(), 1u);
}

TEST(record_store, refuses_a_record_under_another_peers_key) {
  record_store s;
  const auto t0 = std::chrono::steady_clock::now();
  const auto victim = private_key::generate();
  const auto mallory = private_key::generate();
  // Mallory's own valid record, put under the victim's key.
  auto r = s.put(wire::peer_record_key(victim.to_peer_id()), record_of(mallory, 1), t0);
  EXPECT_EQ(r.error(), make_error_code(errc::kad_record_invalid));
  // Keys outside our namespace have no validator.
  EXPECT_EQ(s.put(as_bytes("/ipns/x"), record_of(mallory, 1), t0).error(),
            make_error_code(errc::kad_record_invalid));
  EXPECT_EQ(s.put(wire::peer_record_key(mallory.to_peer_id()), bytes{1, 2, 3}, t0).error(),
            make_error_code(errc::invalid_protobuf));
  EXPECT_EQ(s.size(), 0u);
}

TEST(record_store, drops_records_after_their_ttl) {
  record_store s({.max_records = 10, .ttl = 1h});
  const auto t0 = std::chrono::steady_clock::now();
  const auto k = private_key::generate();
  const auto key = wire::peer_record_key(k.to_peer_id());
  ASSERT_TRUE(s.put(key, record_of(k, 9), t0));
  EXPECT_TRUE(s.get(key, t0 + 59min));
  EXPECT_FALSE(s.get(key, t0 + 1h));
  // An expired record no longer blocks a lower seq (the peer's clock moved back).
  EXPECT_EQ(s.put(key, record_of(k, 3), t0 + 2h).value(), put_outcome::replaced);
  EXPECT_EQ(s.expire(t0 + 4h), 1u);
}

TEST(record_store, is_bounded_and_makes_room_from_expired_records_only) {
  record_store s({.max_records = 3, .ttl = 1h});
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<private_key> keys;
  for (int i = 0; i < 4; ++i) keys.push_back(private_key::generate());
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(s.put(wire::peer_record_key(keys[i].to_peer_id()), record_of(keys[i], 1), t0));
  // SECURITY: full: a new identity is refused, a stored one still refreshes.
  EXPECT_EQ(s.put(wire::peer_record_key(keys[3].to_peer_id()), record_of(keys[3], 1), t0).error(),
            make_error_code(errc::kad_store_full));
  EXPECT_TRUE(s.put(wire::peer_record_key(keys[0].to_peer_id()), record_of(keys[0], 2), t0 + 30min));
  // Once the others expired there is room again.
  EXPECT_TRUE(
      s.put(wire::peer_record_key(keys[3].to_peer_id()), record_of(keys[3], 1), t0 + 61min));
  EXPECT_EQ(s.size(), 2u);  // keys[0] (refreshed) and keys[3]
}

}  // namespace
}  // namespace peerup::dht

namespace peerup::dht {
namespace {

// Vectors for the spec's entry correction: five servers answered a GET_VALUE
// lookup whose best record has seq 7; the k closest that answered are
// a, b, c, d (e answered but is farther).
struct correction_case {
  const char* name;
  std::vector<value_answer> answers;
  std::vector<int> closest;   // indices into ids
  std::vector<int> expected;  // indices into ids, in answer order
};

TEST(record_store, correction_targets_follow_the_spec_vectors) {
  std::vector<peer_id> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(private_key::generate().to_peer_id());
  auto A = [&](int i, std::optional<std::uint64_t> seq, bool invalid = false) {
    return value_answer{ids[static_cast<std::size_t>(i)], seq, invalid};
  };
  const std::vector<correction_case> cases = {
      {"all hold the best: nobody is corrected", {A(0, 7), A(1, 7), A(2, 7)}, {0, 1, 2}, {}},
      {"an older seq is corrected, wherever the peer is",
       {A(0, 7), A(4, 3), A(1, 7)}, {0, 1, 2, 3}, {4}},
      {"no record and among the closest: corrected", {A(0, 7), A(2, std::nullopt)}, {0, 1, 2, 3},
       {2}},
      {"no record and not among the closest: left alone", {A(0, 7), A(4, std::nullopt)},
       {0, 1, 2, 3}, {}},
      {"an invalid record is worse than any valid one",
       {A(4, std::nullopt, true), A(0, 7)}, {0, 1}, {4}},
      {"mixed, answer order kept, each peer once",
       {A(3, 1), A(0, 7), A(2, std::nullopt), A(3, 1), A(1, 6), A(4, std::nullopt)},
       {0, 1, 2, 3},
       {3, 2, 1}},
      {"a peer that answered the best once is not corrected", {A(1, 2), A(1, 7)}, {1}, {}},
  };
  for (const auto& c : cases) {
    std::vector<peer_id> closest, expected;
    for (int i : c.closest) closest.push_back(ids[static_cast<std::size_t>(i)]);
    for (int i : c.expected) expected.push_back(ids[static_cast<std::size_t>(i)]);
    EXPECT_EQ(correction_targets(c.answers, 7, closest), expected) << c.name;
  }
}

}  // namespace
}  // namespace peerup::dht
