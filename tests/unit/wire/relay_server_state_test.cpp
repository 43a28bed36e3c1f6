#include "wire/relay_server_state.hpp"

#include "crypto/keys.hpp"
#include <gtest/gtest.h>

namespace peerup::wire {
namespace {

using namespace std::chrono_literals;
using time_point = relay_server_state::time_point;

peer_id make_peer(std::uint8_t n) {
  return peer_id::from_public_key(bytes{0x08, 0x01, 0x12, 0x01, n});
}

const time_point t0 = time_point{} + std::chrono::seconds{1'700'000'000};

relay_requester from(std::uint8_t n, std::string_view ip, bool authorized) {
  return {make_peer(n), ip, authorized, false};
}

TEST(relay_server_state, closed_mode_refuses_reservation_from_unauthorized_peer) {
  relay_server_state s({}, relay_access::closed);
  EXPECT_EQ(s.reserve(from(1, "192.0.2.1", false), t0).status, relay_status::permission_denied);
  EXPECT_EQ(s.reservation_count(), 0u);
  EXPECT_EQ(s.reserve(from(1, "192.0.2.1", true), t0).status, relay_status::ok);
}

TEST(relay_server_state, open_mode_accepts_stranger_with_open_limits) {
  relay_limits limits;
  limits.reservation_ttl = 600s;
  relay_server_state s(limits, relay_access::open);
  const auto d = s.reserve(from(1, "192.0.2.1", false), t0);
  ASSERT_EQ(d.status, relay_status::ok);
  EXPECT_EQ(d.expire, 1'700'000'600u);
  ASSERT_TRUE(d.limit);
  EXPECT_EQ(d.limit->duration, 120u);
  EXPECT_EQ(d.limit->data, 128u * 1024);
}

TEST(relay_server_state, authorized_peer_gets_configured_limits_or_none) {
  relay_limits limits;
  relay_server_state unlimited(limits, relay_access::open);
  EXPECT_FALSE(unlimited.reserve(from(1, "192.0.2.1", true), t0).limit);

  limits.circuit_duration = 3600s;
  relay_server_state limited(limits, relay_access::open);
  const auto d = limited.reserve(from(1, "192.0.2.1", true), t0);
  ASSERT_TRUE(d.limit);
  EXPECT_EQ(d.limit->duration, 3600u);
  EXPECT_FALSE(d.limit->data);  // 0 = unlimited: field left out
}

TEST(relay_server_state, caps_reservations_per_ip) {
  relay_limits limits;
  limits.max_reservations_per_ip = 2;
  relay_server_state s(limits, relay_access::open);
  EXPECT_EQ(s.reserve(from(1, "192.0.2.1", false), t0).status, relay_status::ok);
  EXPECT_EQ(s.reserve(from(2, "192.0.2.1", false), t0).status, relay_status::ok);
  EXPECT_EQ(s.reserve(from(3, "192.0.2.1", false), t0).status, relay_status::reservation_refused);
  EXPECT_EQ(s.reserve(from(3, "192.0.2.2", false), t0).status, relay_status::ok);
  // A refresh from a full IP is not a new reservation.
  EXPECT_EQ(s.reserve(from(1, "192.0.2.1", false), t0 + 1s).status, relay_status::ok);
}

TEST(relay_server_state, expired_reservations_do_not_hold_per_ip_slots) {
  relay_limits limits;
  limits.max_reservations_per_ip = 1;
  relay_server_state s(limits, relay_access::open);
  ASSERT_EQ(s.reserve(from(1, "192.0.2.1", false), t0).status, relay_status::ok);
  EXPECT_EQ(s.reserve(from(2, "192.0.2.1", false), t0 + 3600s).status, relay_status::ok);
  EXPECT_FALSE(s.has_reservation(make_peer(1), t0 + 3600s));
}

TEST(relay_server_state, caps_total_reservations) {
  relay_limits limits;
  limits.max_reservations = 2;
  relay_server_state s(limits, relay_access::open);
  EXPECT_EQ(s.reserve(from(1, "192.0.2.1", false), t0).status, relay_status::ok);
  EXPECT_EQ(s.reserve(from(2, "192.0.2.2", false), t0).status, relay_status::ok);
  EXPECT_EQ(s.reserve(from(3, "192.0.2.3", false), t0).status, relay_status::reservation_refused);
  // Once the others expire, the slot is reclaimed on demand.
  EXPECT_EQ(s.reserve(from(3, "192.0.2.3", false), t0 + 3601s).status, relay_status::ok);
  EXPECT_EQ(s.reservation_count(), 1u);
}

TEST(relay_server_state, reservation_expires_after_ttl) {
  relay_server_state s({}, relay_access::open);
  ASSERT_EQ(s.reserve(from(1, "192.0.2.1", false), t0).status, relay_status::ok);
  EXPECT_TRUE(s.has_reservation(make_peer(1), t0 + 3599s));
  EXPECT_FALSE(s.has_reservation(make_peer(1), t0 + 3600s));
  EXPECT_EQ(s.expire(t0 + 3599s), 0u);
  EXPECT_EQ(s.expire(t0 + 3600s), 1u);
  EXPECT_EQ(s.reservation_count(), 0u);
}

TEST(relay_server_state, refresh_extends_expiry_without_new_slot) {
  relay_server_state s({}, relay_access::open);
  ASSERT_EQ(s.reserve(from(1, "192.0.2.1", false), t0).status, relay_status::ok);
  const auto d = s.reserve(from(1, "192.0.2.1", false), t0 + 1800s);
  ASSERT_EQ(d.status, relay_status::ok);
  EXPECT_EQ(d.expire, 1'700'000'000u + 1800 + 3600);
  EXPECT_EQ(s.reservation_count(), 1u);
  EXPECT_TRUE(s.has_reservation(make_peer(1), t0 + 3700s));
}

TEST(relay_server_state, refresh_from_new_ip_moves_per_ip_accounting) {
  relay_limits limits;
  limits.max_reservations_per_ip = 1;
  relay_server_state s(limits, relay_access::open);
  ASSERT_EQ(s.reserve(from(1, "192.0.2.1", false), t0).status, relay_status::ok);
  ASSERT_EQ(s.reserve(from(1, "192.0.2.9", false), t0).status, relay_status::ok);
  // The old IP is free again, the new one is taken.
  EXPECT_EQ(s.reserve(from(2, "192.0.2.1", false), t0).status, relay_status::ok);
  EXPECT_EQ(s.reserve(from(3, "192.0.2.9", false), t0).status, relay_status::reservation_refused);
}

TEST(relay_server_state, disconnect_drops_reservation) {
  relay_server_state s({}, relay_access::open);
  ASSERT_EQ(s.reserve(from(1, "192.0.2.1", false), t0).status, relay_status::ok);
  s.peer_disconnected(make_peer(1));
  EXPECT_EQ(s.connect(from(2, "192.0.2.2", false), make_peer(1), t0).status,
            relay_status::no_reservation);
}

TEST(relay_server_state, refuses_requests_over_relayed_connection) {
  relay_server_state s({}, relay_access::open);
  relay_requester relayed = from(1, "192.0.2.1", true);
  relayed.over_relayed = true;
  EXPECT_EQ(s.reserve(relayed, t0).status, relay_status::permission_denied);
  ASSERT_EQ(s.reserve(from(2, "192.0.2.2", true), t0).status, relay_status::ok);
  EXPECT_EQ(s.connect(relayed, make_peer(2), t0).status, relay_status::permission_denied);
}

TEST(relay_server_state, connect_to_unreserved_or_expired_target_is_no_reservation) {
  relay_server_state s({}, relay_access::open);
  EXPECT_EQ(s.connect(from(1, "192.0.2.1", false), make_peer(2), t0).status,
            relay_status::no_reservation);
  ASSERT_EQ(s.reserve(from(2, "192.0.2.2", false), t0).status, relay_status::ok);
  EXPECT_EQ(s.connect(from(1, "192.0.2.1", false), make_peer(2), t0 + 3600s).status,
            relay_status::no_reservation);
  EXPECT_EQ(s.reservation_count(), 0u);
}

TEST(relay_server_state, closed_mode_refuses_connect_from_unauthorized_source) {
  relay_server_state s({}, relay_access::closed);
  ASSERT_EQ(s.reserve(from(2, "192.0.2.2", true), t0).status, relay_status::ok);
  EXPECT_EQ(s.connect(from(1, "192.0.2.1", false), make_peer(2), t0).status,
            relay_status::permission_denied);
  EXPECT_EQ(s.connect(from(1, "192.0.2.1", true), make_peer(2), t0).status, relay_status::ok);
}

TEST(relay_server_state, caps_circuits_per_peer_and_frees_on_close) {
  relay_limits limits;
  limits.max_circuits_per_peer = 2;
  relay_server_state s(limits, relay_access::open);
  ASSERT_EQ(s.reserve(from(9, "192.0.2.9", true), t0).status, relay_status::ok);
  const auto a = s.connect(from(1, "192.0.2.1", true), make_peer(9), t0);
  const auto b = s.connect(from(2, "192.0.2.2", true), make_peer(9), t0);
  ASSERT_EQ(a.status, relay_status::ok);
  ASSERT_EQ(b.status, relay_status::ok);
  EXPECT_NE(a.circuit, b.circuit);
  // The target already carries two circuits.
  EXPECT_EQ(s.connect(from(3, "192.0.2.3", true), make_peer(9), t0).status,
            relay_status::resource_limit_exceeded);
  EXPECT_TRUE(s.circuit_closed(a.circuit));
  EXPECT_FALSE(s.circuit_closed(a.circuit));  // closing twice is harmless
  EXPECT_EQ(s.circuits_of(make_peer(9)), 1u);
  EXPECT_EQ(s.connect(from(3, "192.0.2.3", true), make_peer(9), t0).status, relay_status::ok);
}

TEST(relay_server_state, caps_circuits_from_one_source) {
  relay_limits limits;
  limits.max_circuits_per_peer = 1;
  relay_server_state s(limits, relay_access::open);
  ASSERT_EQ(s.reserve(from(8, "192.0.2.8", true), t0).status, relay_status::ok);
  ASSERT_EQ(s.reserve(from(9, "192.0.2.9", true), t0).status, relay_status::ok);
  ASSERT_EQ(s.connect(from(1, "192.0.2.1", true), make_peer(8), t0).status, relay_status::ok);
  EXPECT_EQ(s.connect(from(1, "192.0.2.1", true), make_peer(9), t0).status,
            relay_status::resource_limit_exceeded);
}

TEST(relay_server_state, caps_total_circuits) {
  relay_limits limits;
  limits.max_circuits = 1;
  relay_server_state s(limits, relay_access::open);
  ASSERT_EQ(s.reserve(from(9, "192.0.2.9", true), t0).status, relay_status::ok);
  ASSERT_EQ(s.connect(from(1, "192.0.2.1", true), make_peer(9), t0).status, relay_status::ok);
  EXPECT_EQ(s.connect(from(2, "192.0.2.2", true), make_peer(9), t0).status,
            relay_status::resource_limit_exceeded);
  EXPECT_EQ(s.circuit_count(), 1u);
}

TEST(relay_server_state, circuit_is_unlimited_only_between_authorized_peers) {
  relay_server_state s({}, relay_access::open);
  ASSERT_EQ(s.reserve(from(8, "192.0.2.8", true), t0).status, relay_status::ok);
  ASSERT_EQ(s.reserve(from(9, "192.0.2.9", false), t0).status, relay_status::ok);
  EXPECT_FALSE(s.connect(from(1, "192.0.2.1", true), make_peer(8), t0).limit);
  const auto stranger_source = s.connect(from(2, "192.0.2.2", false), make_peer(8), t0);
  ASSERT_TRUE(stranger_source.limit);
  EXPECT_EQ(stranger_source.limit->duration, 120u);
  const auto stranger_target = s.connect(from(1, "192.0.2.1", true), make_peer(9), t0);
  ASSERT_TRUE(stranger_target.limit);
  EXPECT_EQ(stranger_target.limit->data, 128u * 1024);
}

// The forwarded path (docs/federation.md), peer 7 a peer relay.
TEST(relay_server_state, forwarded_circuits_are_capped_per_peer_relay_and_freed_on_close) {
  relay_server_state s({}, relay_access::closed);
  ASSERT_EQ(s.reserve(from(9, "192.0.2.9", true), t0).status, relay_status::ok);
  const circuit_via in{make_peer(7), 2, std::nullopt, false};
  // Inbound: the member (source 1, 2, 3) of the peer relay's network.
  const auto a = s.connect(from(1, "192.0.2.7", true), make_peer(9), t0, &in);
  const auto b = s.connect(from(2, "192.0.2.7", true), make_peer(9), t0, &in);
  ASSERT_EQ(a.status, relay_status::ok);
  ASSERT_EQ(b.status, relay_status::ok);
  EXPECT_EQ(s.forwarded_through(make_peer(7)), 2u);
  EXPECT_EQ(s.connect(from(3, "192.0.2.7", true), make_peer(9), t0, &in).status,
            relay_status::resource_limit_exceeded);
  // Ordinary circuits do not count against the peering.
  EXPECT_EQ(s.connect(from(3, "192.0.2.3", true), make_peer(9), t0).status, relay_status::ok);
  EXPECT_TRUE(s.circuit_closed(a.circuit));
  EXPECT_EQ(s.forwarded_through(make_peer(7)), 1u);
  EXPECT_EQ(s.connect(from(4, "192.0.2.7", true), make_peer(9), t0, &in).status, relay_status::ok);
  // Inbound still needs the target's reservation.
  EXPECT_EQ(s.connect(from(5, "192.0.2.7", true), make_peer(8), t0, &in).status,
            relay_status::no_reservation);
}

TEST(relay_server_state, onward_circuit_needs_no_reservation_and_gets_the_tighter_limit) {
  relay_limits limits;
  limits.circuit_duration = 600s;
  relay_server_state s(limits, relay_access::closed);
  circuit_via onward{make_peer(7), 4, relay_limit{3600, 1 << 20}, true};
  const auto d = s.connect(from(1, "192.0.2.1", true), make_peer(9), t0, &onward);
  ASSERT_EQ(d.status, relay_status::ok);
  ASSERT_TRUE(d.limit);
  EXPECT_EQ(d.limit->duration, 600u);      // ours is tighter
  EXPECT_EQ(d.limit->data, 1u << 20);      // the forwarding cap
  // Never to the peer relay itself, never back to the relay that forwarded.
  EXPECT_EQ(s.connect(from(1, "192.0.2.1", true), make_peer(7), t0, &onward).status,
            relay_status::permission_denied);
  EXPECT_EQ(s.connect(from(7, "192.0.2.1", true), make_peer(9), t0, &onward).status,
            relay_status::permission_denied);
  // Our own unauthorized peers and relayed requests are refused as always.
  EXPECT_EQ(s.connect(from(2, "192.0.2.2", false), make_peer(9), t0, &onward).status,
            relay_status::permission_denied);
  EXPECT_EQ(s.connect({make_peer(3), "192.0.2.3", true, true}, make_peer(9), t0, &onward).status,
            relay_status::permission_denied);
  onward.max_per_relay = 0;
  EXPECT_EQ(s.connect(from(4, "192.0.2.4", true), make_peer(9), t0, &onward).status,
            relay_status::resource_limit_exceeded);
}

TEST(relay_server_state, tighter_limit_takes_each_axis_minimum) {
  EXPECT_FALSE(tighter(std::nullopt, std::nullopt));
  EXPECT_FALSE(tighter(relay_limit{0, 0}, std::nullopt));
  EXPECT_EQ(tighter(relay_limit{60, std::nullopt}, relay_limit{std::nullopt, 10}),
            (relay_limit{60, 10}));
  EXPECT_EQ(tighter(relay_limit{60, 100}, relay_limit{30, 0}), (relay_limit{30, 100}));
}

TEST(relay_server_state, builds_reservation_reply_only_for_ok) {
  relay_server_state s({}, relay_access::open);
  const auto ok = s.reserve(from(1, "192.0.2.1", false), t0);
  const bytes addr{0x04, 0x7f, 0x00, 0x00, 0x01};
  const hop_message reply = make_reservation_reply(ok, {addr}, bytes{0x01});
  EXPECT_EQ(reply.type, hop_type::status);
  EXPECT_EQ(reply.status, relay_status::ok);
  ASSERT_TRUE(reply.reservation);
  EXPECT_EQ(reply.reservation->expire, ok.expire);
  EXPECT_EQ(reply.limit, ok.limit);

  relay_requester relayed = from(2, "192.0.2.2", false);
  relayed.over_relayed = true;
  const hop_message refused = make_reservation_reply(s.reserve(relayed, t0), {addr}, bytes{1});
  EXPECT_EQ(refused.status, relay_status::permission_denied);
  EXPECT_FALSE(refused.reservation);
  EXPECT_FALSE(refused.limit);
}

}  // namespace
}  // namespace peerup::wire

namespace peerup::wire {
namespace {

TEST(relay_server_state_self, refuses_a_circuit_from_a_peer_to_itself) {
  relay_server_state st({}, relay_access::closed);
  const auto p = peerup::private_key::generate().to_peer_id();
  const auto now = std::chrono::system_clock::now();
  relay_requester me{.peer = p, .ip = "10.0.0.1", .authorized = true};
  ASSERT_EQ(st.reserve(me, now).status, relay_status::ok);
  EXPECT_EQ(st.connect(me, p, now).status, relay_status::permission_denied);
  EXPECT_EQ(st.circuits_of(p), 0u);
}

}  // namespace
}  // namespace peerup::wire
