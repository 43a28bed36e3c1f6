#include "wire/name_registry.hpp"

#include <gtest/gtest.h>

namespace peerup::wire {
namespace {

using namespace std::chrono_literals;
using time_point = name_registry::time_point;

peer_id make_peer(std::uint8_t n) {
  return peer_id::from_public_key(bytes{0x08, 0x01, 0x12, 0x01, n});
}
dns_label label(std::string_view s) { return dns_label::parse(s).value(); }

const time_point t0 = time_point{} + 1000h;

name_registry_limits limits() {
  name_registry_limits l;
  l.min_ttl = 60s;
  l.max_ttl = 600s;
  return l;
}

TEST(name_registry, registered_name_resolves_to_its_peer_and_addresses) {
  name_registry r(limits());
  const auto a = multiaddr::parse("/ip4/192.0.2.1/tcp/4001").value();
  ASSERT_EQ(r.register_name(label("home"), make_peer(1), {a}, 300s, t0).status, names_status::ok);
  const auto* rec = r.lookup(label("home"), t0 + 10s);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->peer, make_peer(1));
  ASSERT_EQ(rec->addrs.size(), 1u);
  EXPECT_EQ(rec->addrs[0], a);
  EXPECT_EQ(r.lookup(label("other"), t0), nullptr);
}

TEST(name_registry, takeover_by_another_peer_is_refused_while_the_name_lives) {
  name_registry r(limits());
  ASSERT_EQ(r.register_name(label("home"), make_peer(1), {}, 300s, t0).status, names_status::ok);
  EXPECT_EQ(r.register_name(label("home"), make_peer(2), {}, 300s, t0 + 299s).status,
            names_status::name_taken);
  EXPECT_EQ(r.lookup(label("home"), t0 + 299s)->peer, make_peer(1));
  EXPECT_EQ(r.names_of(make_peer(2)), 0u);
}

TEST(name_registry, expired_name_is_gone_and_may_be_taken_by_another_peer) {
  name_registry r(limits());
  ASSERT_EQ(r.register_name(label("home"), make_peer(1), {}, 300s, t0).status, names_status::ok);
  EXPECT_EQ(r.lookup(label("home"), t0 + 300s), nullptr);
  EXPECT_EQ(r.register_name(label("home"), make_peer(2), {}, 300s, t0 + 300s).status,
            names_status::ok);
  EXPECT_EQ(r.lookup(label("home"), t0 + 301s)->peer, make_peer(2));
  EXPECT_EQ(r.names_of(make_peer(1)), 0u);
  EXPECT_EQ(r.names_of(make_peer(2)), 1u);
}

TEST(name_registry, refresh_by_the_holder_extends_expiry_and_replaces_addresses) {
  name_registry r(limits());
  const auto a = multiaddr::parse("/ip4/192.0.2.1/tcp/1").value();
  ASSERT_EQ(r.register_name(label("home"), make_peer(1), {a}, 300s, t0).status, names_status::ok);
  ASSERT_EQ(r.register_name(label("home"), make_peer(1), {}, 300s, t0 + 200s).status,
            names_status::ok);
  const auto* rec = r.lookup(label("home"), t0 + 450s);
  ASSERT_NE(rec, nullptr);
  EXPECT_TRUE(rec->addrs.empty());
  EXPECT_EQ(r.names_of(make_peer(1)), 1u);
  EXPECT_EQ(r.lookup(label("home"), t0 + 500s), nullptr);
}

TEST(name_registry, ttl_is_clamped_to_the_configured_bounds) {
  name_registry r(limits());
  EXPECT_EQ(r.register_name(label("a"), make_peer(1), {}, 1s, t0).ttl, 60s);
  EXPECT_EQ(r.register_name(label("b"), make_peer(1), {}, 100000s, t0).ttl, 600s);
  EXPECT_EQ(r.register_name(label("c"), make_peer(1), {}, 0s, t0).ttl, 600s);
  EXPECT_EQ(r.register_name(label("d"), make_peer(1), {}, 120s, t0).ttl, 120s);
}

TEST(name_registry, per_peer_cap_refuses_more_names_but_allows_refresh) {
  auto l = limits();
  l.max_names_per_peer = 2;
  name_registry r(l);
  EXPECT_EQ(r.register_name(label("a"), make_peer(1), {}, 60s, t0).status, names_status::ok);
  EXPECT_EQ(r.register_name(label("b"), make_peer(1), {}, 60s, t0).status, names_status::ok);
  EXPECT_EQ(r.register_name(label("c"), make_peer(1), {}, 60s, t0).status,
            names_status::resource_limit);
  EXPECT_EQ(r.register_name(label("a"), make_peer(1), {}, 60s, t0).status, names_status::ok);
  EXPECT_EQ(r.register_name(label("c"), make_peer(2), {}, 60s, t0).status, names_status::ok);
  // Once the peer's names expire the slots are free again.
  EXPECT_EQ(r.register_name(label("c2"), make_peer(1), {}, 60s, t0 + 61s).status, names_status::ok);
}

TEST(name_registry, total_cap_refuses_new_names_until_some_expire) {
  auto l = limits();
  l.max_names = 2;
  name_registry r(l);
  EXPECT_EQ(r.register_name(label("a"), make_peer(1), {}, 60s, t0).status, names_status::ok);
  EXPECT_EQ(r.register_name(label("b"), make_peer(2), {}, 120s, t0).status, names_status::ok);
  EXPECT_EQ(r.register_name(label("c"), make_peer(3), {}, 60s, t0 + 10s).status,
            names_status::resource_limit);
  EXPECT_EQ(r.register_name(label("c"), make_peer(3), {}, 60s, t0 + 60s).status, names_status::ok);
  EXPECT_EQ(r.size(), 2u);
}

TEST(name_registry, expire_drops_only_records_past_their_ttl) {
  name_registry r(limits());
  r.register_name(label("a"), make_peer(1), {}, 60s, t0);
  r.register_name(label("b"), make_peer(2), {}, 120s, t0);
  EXPECT_EQ(r.expire(t0 + 59s), 0u);
  EXPECT_EQ(r.expire(t0 + 60s), 1u);
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.names_of(make_peer(1)), 0u);
  EXPECT_NE(r.lookup(label("b"), t0 + 60s), nullptr);
}

TEST(name_registry, keeps_at_most_the_bounded_number_of_addresses) {
  name_registry r(limits());
  std::vector<multiaddr> many(names_max_addrs + 5,
                              multiaddr::parse("/ip4/192.0.2.1/tcp/1").value());
  r.register_name(label("a"), make_peer(1), many, 60s, t0);
  EXPECT_EQ(r.lookup(label("a"), t0)->addrs.size(), names_max_addrs);
}

}  // namespace
}  // namespace peerup::wire
