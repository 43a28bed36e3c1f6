#include "wire/federation_state.hpp"

#include <gtest/gtest.h>

namespace peerup::wire {
namespace {

using namespace std::chrono_literals;
using time_point = federation_state::time_point;

private_key key_from(std::uint8_t fill) {
  const bytes seed(private_key::seed_length, fill);
  return private_key::from_seed(seed).value();
}

dns_label label(std::string_view s) { return dns_label::parse(s).value(); }

// Relays: 1 grewal (us), 2 bob, 3 alice.
const private_key& bob_key() {
  static const auto k = key_from(2);
  return k;
}
const private_key& alice_key() {
  static const auto k = key_from(3);
  return k;
}

federation_peering peering(std::string_view net, const private_key& k, federation_trust t) {
  auto a = multiaddr::parse("/ip4/127.0.0.1/tcp/4001").value().with_peer(k.to_peer_id());
  return federation_peering::make(label(net), a, t).value();
}

constexpr std::uint64_t unix_now = 1700000000;
const time_point t0{1000h};

federation_state grewal(federation_limits limits = {}) {
  federation_state s(label("grewal"), limits);
  EXPECT_TRUE(s.add_peering(peering("bob", bob_key(), federation_trust::full)));
  EXPECT_TRUE(s.add_peering(peering("alice", alice_key(), federation_trust::one_way)));
  return s;
}

name_record_body record(std::string_view net, std::string_view host, std::uint32_t ttl = 600,
                        std::uint64_t issued = unix_now) {
  return name_record_body{label(net), label(host), key_from(9).to_peer_id(), {}, issued, ttl};
}

federation_request lookup(std::string_view origin, std::string_view net, std::string_view host,
                          std::uint32_t hops = 0) {
  return federation_request{federation_request_type::lookup, label(origin), label(net),
                            label(host), hops};
}

TEST(federation_state, peering_needs_a_relay_peer_id) {
  auto no_id = multiaddr::parse("/ip4/127.0.0.1/tcp/4001").value();
  EXPECT_FALSE(federation_peering::make(label("bob"), no_id, federation_trust::full));
}

TEST(federation_state, refuses_own_network_duplicate_network_and_duplicate_relay) {
  auto s = grewal();
  std::string why;
  EXPECT_FALSE(s.add_peering(peering("grewal", key_from(4), federation_trust::full), &why));
  EXPECT_NE(why.find("own network"), std::string::npos) << why;
  EXPECT_FALSE(s.add_peering(peering("bob", key_from(4), federation_trust::full), &why));
  EXPECT_NE(why.find("listed twice"), std::string::npos) << why;
  EXPECT_FALSE(s.add_peering(peering("carol", bob_key(), federation_trust::full), &why));
  EXPECT_NE(why.find("already the relay of network bob"), std::string::npos) << why;
}

TEST(federation_state, full_peering_may_be_asked_one_way_may_not) {
  auto s = grewal();
  EXPECT_TRUE(s.may_ask(label("bob")));
  EXPECT_EQ(s.may_ask(label("alice")).error(), errc::federation_not_trusted);
  EXPECT_EQ(s.may_ask(label("carol")).error(), errc::federation_not_peered);
}

TEST(federation_state, one_way_peer_may_ask_us) {
  // alice is one_way at grewal: alice's members reach grewal's hosts.
  auto s = grewal();
  EXPECT_EQ(s.check_request(alice_key().to_peer_id(), lookup("alice", "grewal", "laptop"), t0),
            federation_status::ok);
  EXPECT_EQ(s.check_request(bob_key().to_peer_id(), lookup("bob", "grewal", "laptop"), t0),
            federation_status::ok);
}

TEST(federation_state, stranger_and_impersonated_origin_are_not_peered) {
  auto s = grewal();
  EXPECT_EQ(s.check_request(key_from(7).to_peer_id(), lookup("bob", "grewal", "x"), t0),
            federation_status::not_peered);
  // bob's relay asking in alice's name
  EXPECT_EQ(s.check_request(bob_key().to_peer_id(), lookup("alice", "grewal", "x"), t0),
            federation_status::not_peered);
}

TEST(federation_state, forwarded_request_is_a_loop_and_other_network_is_wrong) {
  auto s = grewal();
  EXPECT_EQ(s.check_request(bob_key().to_peer_id(), lookup("bob", "grewal", "x", 1), t0),
            federation_status::loop);
  EXPECT_EQ(s.check_request(bob_key().to_peer_id(), lookup("bob", "alice", "x"), t0),
            federation_status::wrong_network);
}

TEST(federation_state, inbound_lookups_are_rate_limited_per_peer_relay) {
  federation_limits l;
  l.lookups_per_second = 5;  // burst 10
  auto s = grewal(l);
  const auto bob = bob_key().to_peer_id();
  int ok = 0;
  for (int i = 0; i < 50; ++i)
    if (s.check_request(bob, lookup("bob", "grewal", "x"), t0) == federation_status::ok) ++ok;
  EXPECT_EQ(ok, 10);
  // alice has her own bucket
  EXPECT_EQ(s.check_request(alice_key().to_peer_id(), lookup("alice", "grewal", "x"), t0),
            federation_status::ok);
  // one second later, five more
  ok = 0;
  for (int i = 0; i < 50; ++i)
    if (s.check_request(bob, lookup("bob", "grewal", "x"), t0 + 1s) == federation_status::ok) ++ok;
  EXPECT_EQ(ok, 5);
}

TEST(federation_state, record_signed_by_the_network_relay_is_accepted) {
  auto s = grewal();
  auto ok = s.verify_record(label("bob"), label("server"),
                            seal_name_record(bob_key(), record("bob", "server")), unix_now);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->host.str(), "server");
}

TEST(federation_state, record_signed_by_another_key_is_refused) {
  auto s = grewal();
  // alice's relay (a peer, but not bob's) signing a bob name
  EXPECT_EQ(s.verify_record(label("bob"), label("server"),
                            seal_name_record(alice_key(), record("bob", "server")), unix_now)
                .error(),
            errc::federation_record_signer);
}

TEST(federation_state, relay_claiming_a_name_in_a_third_network_is_refused) {
  auto s = grewal();
  // bob's relay, asked for server.bob, answers with a record of carol's network
  EXPECT_EQ(s.verify_record(label("bob"), label("server"),
                            seal_name_record(bob_key(), record("carol", "server")), unix_now)
                .error(),
            errc::federation_wrong_network);
  // or of grewal itself
  EXPECT_EQ(s.verify_record(label("bob"), label("server"),
                            seal_name_record(bob_key(), record("grewal", "server")), unix_now)
                .error(),
            errc::federation_wrong_network);
}

TEST(federation_state, record_for_another_host_or_out_of_time_is_refused) {
  auto s = grewal();
  EXPECT_EQ(s.verify_record(label("bob"), label("server"),
                            seal_name_record(bob_key(), record("bob", "other")), unix_now)
                .error(),
            errc::federation_malformed_message);
  EXPECT_EQ(s.verify_record(label("bob"), label("server"),
                            seal_name_record(bob_key(), record("bob", "server", 600)),
                            unix_now + 600 + 61)
                .error(),
            errc::federation_record_expired);
  EXPECT_EQ(s.verify_record(label("bob"), label("server"),
                            seal_name_record(bob_key(), record("bob", "server", 600, unix_now + 61)),
                            unix_now)
                .error(),
            errc::federation_record_expired);
  // within the skew either way
  EXPECT_TRUE(s.verify_record(label("bob"), label("server"),
                              seal_name_record(bob_key(), record("bob", "server", 600)),
                              unix_now + 600 + 59));
}

TEST(federation_state, cache_is_fresh_then_stale_then_gone) {
  federation_limits l;
  l.cache_ttl = 300s;
  l.stale_ttl = 3600s;
  auto s = grewal(l);
  s.store(record("bob", "server", 600), t0, unix_now);
  auto a = s.cached(label("bob"), label("server"), t0 + 299s);
  ASSERT_TRUE(a && a->record);
  EXPECT_EQ(a->state, federation_state::freshness::fresh);
  a = s.cached(label("bob"), label("server"), t0 + 301s);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->state, federation_state::freshness::stale);
  EXPECT_FALSE(s.cached(label("bob"), label("server"), t0 + 300s + 3600s));
}

TEST(federation_state, fresh_time_never_exceeds_the_record_time_left) {
  auto s = grewal();
  // issued 500 s ago with a 600 s TTL: 100 s left
  s.store(record("bob", "server", 600, unix_now - 500), t0, unix_now);
  EXPECT_EQ(s.cached(label("bob"), label("server"), t0 + 99s)->state,
            federation_state::freshness::fresh);
  EXPECT_EQ(s.cached(label("bob"), label("server"), t0 + 101s)->state,
            federation_state::freshness::stale);
}

TEST(federation_state, not_found_is_cached_briefly_and_never_stale) {
  auto s = grewal();
  s.store_not_found(label("bob"), label("nobody"), t0);
  auto a = s.cached(label("bob"), label("nobody"), t0 + 29s);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->record);
  EXPECT_FALSE(s.cached(label("bob"), label("nobody"), t0 + 30s));
}

TEST(federation_state, cache_is_bounded_and_evicts_the_first_to_expire) {
  federation_limits l;
  l.max_cache = 3;
  auto s = grewal(l);
  s.store(record("bob", "a", 600), t0, unix_now);
  s.store(record("bob", "b", 100), t0, unix_now);  // expires first
  s.store(record("bob", "c", 600), t0, unix_now);
  s.store(record("bob", "d", 600), t0, unix_now);
  EXPECT_EQ(s.cache_size(), 3u);
  EXPECT_FALSE(s.cached(label("bob"), label("b"), t0));
  EXPECT_TRUE(s.cached(label("bob"), label("d"), t0));
}

TEST(federation_state, answers_for_unpeered_networks_are_not_stored) {
  auto s = grewal();
  s.store(record("carol", "x"), t0, unix_now);
  EXPECT_EQ(s.cache_size(), 0u);
}

TEST(federation_state, removing_a_peering_drops_its_cache_and_its_rights) {
  auto s = grewal();
  s.store(record("bob", "server"), t0, unix_now);
  ASSERT_TRUE(s.remove_peering(label("bob")));
  EXPECT_FALSE(s.cached(label("bob"), label("server"), t0));
  EXPECT_EQ(s.may_ask(label("bob")).error(), errc::federation_not_peered);
  EXPECT_EQ(s.check_request(bob_key().to_peer_id(), lookup("bob", "grewal", "x"), t0),
            federation_status::not_peered);
  EXPECT_FALSE(s.remove_peering(label("bob")));
}

TEST(federation_state, reload_keeps_unchanged_peerings_and_drops_changed_ones) {
  auto s = grewal();
  s.store(record("bob", "server"), t0, unix_now);
  s.store(record("alice", "laptop"), t0, unix_now);
  s.mark_up(label("bob"), t0);
  // alice now full (changed), bob unchanged
  ASSERT_TRUE(s.set_peerings({peering("bob", bob_key(), federation_trust::full),
                              peering("alice", alice_key(), federation_trust::full)}));
  EXPECT_TRUE(s.cached(label("bob"), label("server"), t0));
  EXPECT_FALSE(s.cached(label("alice"), label("laptop"), t0));
  EXPECT_TRUE(s.status(label("bob"))->up);
  EXPECT_TRUE(s.may_ask(label("alice")));
  // an invalid set changes nothing
  std::string why;
  EXPECT_FALSE(s.set_peerings({peering("bob", bob_key(), federation_trust::full),
                               peering("carol", bob_key(), federation_trust::full)},
                              &why));
  EXPECT_TRUE(s.peering(label("alice")));
  EXPECT_FALSE(why.empty());
}

TEST(federation_state, refresh_lists_used_names_past_half_their_fresh_time) {
  auto s = grewal();  // cache_ttl 300 s
  s.store(record("bob", "used"), t0, unix_now);
  s.store(record("bob", "idle"), t0, unix_now);
  s.store_not_found(label("bob"), label("nobody"), t0);
  EXPECT_TRUE(s.due_for_refresh(t0 + 100s).empty());
  ASSERT_TRUE(s.cached(label("bob"), label("used"), t0 + 140s));
  auto due = s.due_for_refresh(t0 + 151s);
  // both were used within cache_ttl (storing counts as use); "nobody" never refreshes
  EXPECT_EQ(due.size(), 2u);
  // long after, only the one asked recently
  ASSERT_TRUE(s.cached(label("bob"), label("used"), t0 + 400s));
  due = s.due_for_refresh(t0 + 460s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].second.str(), "used");
}

TEST(federation_state, outbound_bucket_bounds_queries_to_a_peer_relay) {
  federation_limits l;
  l.lookups_per_second = 2;
  auto s = grewal(l);
  int ok = 0;
  for (int i = 0; i < 10; ++i) ok += s.take_outbound_token(label("bob"), t0) ? 1 : 0;
  EXPECT_EQ(ok, 4);
  EXPECT_FALSE(s.take_outbound_token(label("carol"), t0));
}

TEST(federation_state, status_counts_names_and_unreachable_names_the_relay) {
  auto s = grewal();
  s.store(record("bob", "a"), t0, unix_now);
  s.store(record("bob", "b"), t0, unix_now);
  s.store_not_found(label("bob"), label("c"), t0);
  s.mark_up(label("bob"), t0);
  s.mark_down(label("bob"), "connection refused");
  auto st = s.status(label("bob"));
  ASSERT_TRUE(st);
  EXPECT_FALSE(st->up);
  EXPECT_EQ(st->last_ok, t0);
  EXPECT_EQ(st->names_known, 2u);
  EXPECT_EQ(st->last_error, "connection refused");
  const auto msg = s.unreachable_message(label("bob"), "connection refused");
  EXPECT_EQ(msg, "network bob unreachable (relay /ip4/127.0.0.1/tcp/4001/p2p/" +
                     bob_key().to_peer_id().to_string() + "): connection refused");
}

federation_request member(std::string_view origin, const peer_id& p) {
  return federation_request{federation_request_type::member, label(origin), std::nullopt,
                            std::nullopt, 0, p};
}

TEST(federation_state, member_questions_are_answered_only_for_full_peerings) {
  auto s = grewal();  // bob full, alice one_way
  const auto laptop = key_from(7).to_peer_id();
  // bob's relay may ask: our members reach bob's hosts.
  EXPECT_EQ(s.check_request(bob_key().to_peer_id(), member("bob", laptop), t0),
            federation_status::ok);
  // one_way from our side: alice's members reach us, ours never reach alice.
  EXPECT_EQ(s.check_request(alice_key().to_peer_id(), member("alice", laptop), t0),
            federation_status::not_trusted);
  // a stranger, and a relay asking in another network's name
  EXPECT_EQ(s.check_request(key_from(4).to_peer_id(), member("carol", laptop), t0),
            federation_status::not_peered);
  EXPECT_EQ(s.check_request(bob_key().to_peer_id(), member("alice", laptop), t0),
            federation_status::not_peered);
}

TEST(federation_state, member_questions_count_against_the_bucket) {
  federation_limits l;
  l.lookups_per_second = 1;
  auto s = grewal(l);
  const auto laptop = key_from(7).to_peer_id();
  int ok = 0;
  for (int i = 0; i < 10; ++i)
    ok += s.check_request(bob_key().to_peer_id(), member("bob", laptop), t0) ==
          federation_status::ok;
  EXPECT_EQ(ok, 2);  // burst of twice the rate
}

TEST(federation_state, members_are_cached_and_dropped_with_their_peering) {
  auto s = grewal();
  const auto laptop = key_from(7).to_peer_id(), stranger = key_from(8).to_peer_id();
  EXPECT_FALSE(s.cached_member(laptop, t0));
  s.store_member(laptop, label("bob"), t0);
  s.store_member(stranger, std::nullopt, t0);
  s.store_member(key_from(6).to_peer_id(), label("carol"), t0);  // not a peering: ignored
  EXPECT_FALSE(s.cached_member(key_from(6).to_peer_id(), t0));
  ASSERT_TRUE(s.cached_member(laptop, t0 + 119s));
  EXPECT_EQ(s.cached_member(laptop, t0 + 119s)->network, label("bob"));
  EXPECT_FALSE(s.cached_member(laptop, t0 + 120s));  // member_ttl
  ASSERT_TRUE(s.cached_member(stranger, t0 + 29s));
  EXPECT_FALSE(s.cached_member(stranger, t0 + 29s)->network);
  EXPECT_FALSE(s.cached_member(stranger, t0 + 30s));  // negative_ttl
  // Removing bob revokes its members at once; any change of peerings
  // forgets strangers (a new peering may claim them).
  s.store_member(stranger, std::nullopt, t0);
  EXPECT_TRUE(s.remove_peering(label("bob")));
  EXPECT_FALSE(s.cached_member(laptop, t0));
  EXPECT_FALSE(s.cached_member(stranger, t0));
}

TEST(federation_state, member_cache_is_bounded_and_ask_order_puts_up_peerings_first) {
  federation_limits l;
  l.max_cache = 3;
  l.max_member_asks = 1;
  auto s = grewal(l);
  for (std::uint8_t i = 10; i < 20; ++i) s.store_member(key_from(i).to_peer_id(), label("bob"), t0);
  EXPECT_EQ(s.member_cache_size(), 3u);
  s.mark_up(label("bob"), t0);
  ASSERT_EQ(s.member_ask_order().size(), 1u);
  EXPECT_EQ(s.member_ask_order().front().network, label("bob"));
}

// SECURITY: fresh peer IDs are free; the IP they come from is not.
TEST(federation_state, unknown_connects_are_bounded_per_ip_and_refill) {
  federation_limits l;
  l.unknown_connects_per_ip = 3;
  l.max_ip_buckets = 2;
  auto s = grewal(l);
  int ok = 0;
  for (int i = 0; i < 10; ++i) ok += s.take_unknown_ip_token("192.0.2.1", t0);
  EXPECT_EQ(ok, 3);  // a minute's worth, then nothing
  EXPECT_TRUE(s.take_unknown_ip_token("192.0.2.2", t0));  // another IP has its own
  EXPECT_FALSE(s.take_unknown_ip_token("192.0.2.1", t0 + 19s));
  EXPECT_TRUE(s.take_unknown_ip_token("192.0.2.1", t0 + 21s));  // 3 a minute: one per 20 s
  // Bounded: a third IP evicts the one idle longest.
  EXPECT_TRUE(s.take_unknown_ip_token("192.0.2.3", t0 + 22s));
  EXPECT_EQ(s.ip_bucket_count(), 2u);
  federation_limits none;
  none.unknown_connects_per_ip = 0;
  auto off = grewal(none);
  EXPECT_FALSE(off.take_unknown_ip_token("192.0.2.1", t0));
}

TEST(federation_state, forward_route_is_a_full_peering_that_vouched_for_the_host) {
  auto s = grewal();  // bob full, alice one_way
  auto server = record("bob", "server");
  const auto target = server.peer;
  EXPECT_FALSE(s.forward_route(target, t0));  // nobody vouched for it yet
  s.store(server, t0, unix_now);
  const auto* route = s.forward_route(target, t0);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->network, label("bob"));
  // Still routed while stale (the peer relay may be back), not after.
  EXPECT_TRUE(s.forward_route(target, t0 + 301s));
  EXPECT_FALSE(s.forward_route(target, t0 + 301s + 3600s));
  // A host of a one_way peering (our members do not reach it) is no route.
  auto s2 = grewal();
  auto at_alice = record("alice", "server");
  s2.store(at_alice, t0, unix_now);
  EXPECT_FALSE(s2.forward_route(at_alice.peer, t0));
  // Removing the peering removes the route at once.
  EXPECT_TRUE(s.remove_peering(label("bob")));
  EXPECT_FALSE(s.forward_route(target, t0));
}

}  // namespace
}  // namespace peerup::wire
