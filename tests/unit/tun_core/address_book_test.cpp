#include "tun/core/address_book.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"

namespace peerup::tun {
namespace {

peer_id peer(std::uint8_t n) {
  bytes seed(32, n);
  return private_key::from_seed(seed)->to_peer_id();
}

ip_prefix p4(const char* t = "10.64.0.0/16") { return *ip_prefix::parse(t); }

// Two peers whose candidate 0 is the same address in `prefix` (a /24 has 254
// hosts, so among 200 keys a pair collides with near certainty).
std::pair<peer_id, peer_id> colliding_pair(const ip_prefix& prefix) {
  std::map<ip_address, peer_id> seen;
  for (int i = 0; i < 200; ++i) {
    auto p = peer(static_cast<std::uint8_t>(i));
    auto a = derive_v4(p, prefix, 0);
    auto [it, fresh] = seen.emplace(a, p);
    if (!fresh) return {it->second, p};
  }
  ADD_FAILURE() << "no collision among 200 keys in " << prefix.to_string();
  return {peer(1), peer(2)};
}

TEST(address_derivation, is_deterministic_and_inside_the_prefix) {
  const auto prefix = p4();
  for (int i = 0; i < 50; ++i) {
    const auto p = peer(static_cast<std::uint8_t>(i));
    const auto a = derive_v4(p, prefix, 0);
    EXPECT_EQ(a, derive_v4(p, prefix, 0));
    EXPECT_TRUE(prefix.contains(a));
    EXPECT_NE(a.v4_value(), 0x0a400000u);  // network
    EXPECT_NE(a.v4_value(), 0x0a40ffffu);  // broadcast
    EXPECT_NE(a, derive_v4(p, prefix, 1));
    const auto b = derive_v6(p, default_prefix6());
    EXPECT_TRUE(default_prefix6().contains(b));
  }
}

TEST(address_derivation, small_prefix_never_yields_network_or_broadcast) {
  const auto prefix = p4("192.168.7.0/30");  // hosts .1 and .2 only
  for (int i = 0; i < 40; ++i) {
    const auto a = derive_v4(peer(static_cast<std::uint8_t>(i)), prefix, 0).v4_value() & 3;
    EXPECT_TRUE(a == 1 || a == 2) << a;
  }
}

// The derivation is part of the protocol: two versions that disagree would
// give one peer two addresses. This vector pins it.
TEST(address_derivation, matches_the_frozen_vector) {
  // Computed once from the SHA-256 construction in address_book.hpp.
  EXPECT_EQ(derive_v4(peer(7), p4(), 0).to_string(), "10.64.210.84");
  EXPECT_EQ(derive_v6(peer(7), default_prefix6()).to_string(),
            "fd70:6565:7275:0:f37b:4734:297d:2eb1");
}

TEST(address_book, collision_goes_to_the_larger_peer_id_whatever_the_order) {
  const auto prefix = p4("10.64.7.0/24");
  auto [a, b] = colliding_pair(prefix);
  const auto small = peer_less{}(a, b) ? a : b;
  const auto large = peer_less{}(a, b) ? b : a;
  const auto self = peer(250);
  address_book one(prefix, default_prefix6(), {self, {}}, {{a, {}}, {b, {}}});
  address_book two(prefix, default_prefix6(), {self, {}}, {{b, {}}, {a, {}}});
  EXPECT_EQ(one.v4_of(small), derive_v4(small, prefix, 0));
  EXPECT_NE(one.v4_of(large), one.v4_of(small));
  EXPECT_EQ(one.v4_of(a), two.v4_of(a));
  EXPECT_EQ(one.v4_of(b), two.v4_of(b));
  EXPECT_EQ(one.peer_at(*one.v4_of(large)), large);
  // The loser's other end (it as self) computes the same address for itself.
  address_book from_large(prefix, default_prefix6(), {large, {}}, {{small, {}}, {self, {}}});
  EXPECT_EQ(from_large.self_v4(), one.v4_of(large));
}

TEST(address_book, pins_win_over_derivation) {
  const auto self = peer(1), laptop = peer(2), phone = peer(3);
  const auto pinned = *ip_address::parse("10.64.0.10");
  address_book book(p4(), default_prefix6(), {self, *ip_address::parse("10.64.0.1")},
                    {{laptop, pinned}, {phone, {}}});
  EXPECT_EQ(book.self_v4().to_string(), "10.64.0.1");
  EXPECT_EQ(book.v4_of(laptop), pinned);
  EXPECT_EQ(book.peer_at(pinned), laptop);
  EXPECT_EQ(book.v4_of(phone), derive_v4(phone, p4(), 0));
  EXPECT_EQ(book.peer_at(derive_v6(phone, default_prefix6())), phone);
  EXPECT_FALSE(book.peer_at(book.self_v4()));
  EXPECT_TRUE(book.is_self(book.self_v6()));
}

TEST(address_book, takes_an_announced_own_candidate_and_refuses_others) {
  const auto self = peer(1), laptop = peer(2), phone = peer(3);
  address_book book(p4(), default_prefix6(), {self, {}}, {{laptop, {}}, {phone, {}}});
  using A = address_book::announcement;
  EXPECT_EQ(book.accept_announcement(laptop, *book.v4_of(laptop)), A::unchanged);
  const auto second = derive_v4(laptop, p4(), 1);
  EXPECT_EQ(book.accept_announcement(laptop, second), A::moved);
  EXPECT_EQ(book.v4_of(laptop), second);
  EXPECT_EQ(book.peer_at(second), laptop);
  EXPECT_FALSE(book.peer_at(derive_v4(laptop, p4(), 0)));
  // someone else's address, ours, one outside the prefix, one not derived
  EXPECT_EQ(book.accept_announcement(laptop, *book.v4_of(phone)), A::refused);
  EXPECT_EQ(book.accept_announcement(laptop, book.self_v4()), A::refused);
  EXPECT_EQ(book.accept_announcement(laptop, *ip_address::parse("192.168.1.1")), A::refused);
  EXPECT_EQ(book.accept_announcement(laptop, *ip_address::parse("10.64.0.99")), A::refused);
  EXPECT_EQ(book.accept_announcement(peer(9), derive_v4(peer(9), p4(), 0)), A::refused);
}

TEST(address_book, a_pinned_peer_cannot_announce_its_way_out_of_the_pin) {
  const auto self = peer(1), laptop = peer(2);
  const auto pinned = *ip_address::parse("10.64.0.10");
  address_book book(p4(), default_prefix6(), {self, {}}, {{laptop, pinned}});
  EXPECT_EQ(book.accept_announcement(laptop, derive_v4(laptop, p4(), 0)),
            address_book::announcement::refused);
  EXPECT_EQ(book.v4_of(laptop), pinned);
}

}  // namespace
}  // namespace peerup::tun
