// The DCUtR state machines of both sides and the hole punching address
// rules, driven with messages and a fake clock.
#include "protocols/dcutr_session.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"

namespace peerup::protocols::dcutr {
namespace {

using namespace std::chrono_literals;
using kind = action::kind;

multiaddr ma(std::string_view text) { return multiaddr::parse(text).value(); }

peer_id peer_from_seed(std::uint8_t fill) {
  return private_key::from_seed(bytes(32, fill)).value().to_peer_id();
}

const peer_id remote = peer_from_seed(1);
const peer_id other = peer_from_seed(2);
const addr_policy test_policy{.allow_private = true, .allow_loopback = true};

std::vector<kind> kinds(const std::vector<action>& acts) {
  std::vector<kind> out;
  for (const auto& a : acts) out.push_back(a.what);
  return out;
}

TEST(dcutr_addrs, classifies_scopes_of_tcp_addresses) {
  EXPECT_EQ(scope_of(ma("/ip4/8.8.8.8/tcp/4001")), addr_scope::public_net);
  EXPECT_EQ(scope_of(ma("/ip4/192.168.1.2/tcp/4001")), addr_scope::private_net);
  EXPECT_EQ(scope_of(ma("/ip4/100.64.0.1/tcp/4001")), addr_scope::private_net);
  EXPECT_EQ(scope_of(ma("/ip4/172.20.0.1/tcp/4001")), addr_scope::private_net);
  EXPECT_EQ(scope_of(ma("/ip4/172.32.0.1/tcp/4001")), addr_scope::public_net);
  EXPECT_EQ(scope_of(ma("/ip4/127.0.0.1/tcp/4001")), addr_scope::loopback);
  EXPECT_EQ(scope_of(ma("/ip6/::1/tcp/4001")), addr_scope::loopback);
  EXPECT_EQ(scope_of(ma("/ip6/fd00::1/tcp/4001")), addr_scope::private_net);
  EXPECT_EQ(scope_of(ma("/ip6/2001:db8::1/tcp/4001")), addr_scope::public_net);
  EXPECT_EQ(scope_of(ma("/ip6/::ffff:10.0.0.1/tcp/4001")), addr_scope::private_net);
  EXPECT_EQ(scope_of(ma("/dns4/example.com/tcp/4001")), addr_scope::dns);
  EXPECT_EQ(scope_of(ma("/ip4/8.8.8.8/tcp/4001/p2p/" + remote.to_string())),
            addr_scope::public_net);
}

TEST(dcutr_addrs, quic_addresses_over_ip_are_usable_like_tcp_ones) {
  EXPECT_EQ(scope_of(ma("/ip4/8.8.8.8/udp/4001/quic-v1")), addr_scope::public_net);
  EXPECT_EQ(scope_of(ma("/ip4/192.168.1.2/udp/4001/quic-v1")), addr_scope::private_net);
  EXPECT_EQ(scope_of(ma("/ip6/2001:db8::1/udp/4001/quic-v1/p2p/" + other.to_string())),
            addr_scope::public_net);
  EXPECT_EQ(scope_of(ma("/ip4/127.0.0.1/udp/4001/quic-v1")), addr_scope::loopback);
}

TEST(dcutr_addrs, refuses_what_cannot_be_hole_punched_over_tcp) {
  EXPECT_EQ(scope_of(ma("/ip4/0.0.0.0/tcp/4001")), addr_scope::unusable);
  EXPECT_EQ(scope_of(ma("/ip4/8.8.8.8/tcp/0")), addr_scope::unusable);
  EXPECT_EQ(scope_of(ma("/ip4/224.0.0.1/tcp/4001")), addr_scope::unusable);
  EXPECT_EQ(scope_of(ma("/ip6/::/tcp/4001")), addr_scope::unusable);
  EXPECT_EQ(scope_of(ma("/ip6/fe80::1/tcp/4001")), addr_scope::unusable);
  EXPECT_EQ(scope_of(ma("/ip4/8.8.8.8/udp/4001")), addr_scope::unusable);
  EXPECT_EQ(scope_of(ma("/ip4/8.8.8.8/udp/4001/quic")), addr_scope::unusable);
  EXPECT_EQ(scope_of(ma("/dns4/example.com/udp/4001/quic-v1")), addr_scope::unusable);
  EXPECT_EQ(scope_of(ma("/ip4/8.8.8.8/udp/0/quic-v1")), addr_scope::unusable);
  EXPECT_EQ(scope_of(ma("/ip4/8.8.8.8/tcp/4001/ws")), addr_scope::unusable);
  EXPECT_EQ(scope_of(ma("/ip4/8.8.8.8/tcp/4001/p2p/" + other.to_string() + "/p2p-circuit")),
            addr_scope::unusable);
}

TEST(dcutr_addrs, usable_addrs_drops_circuits_other_peers_duplicates_and_by_policy) {
  const std::vector<multiaddr> in{
      ma("/ip4/1.2.3.4/tcp/1/p2p/" + other.to_string() + "/p2p-circuit/p2p/" + remote.to_string()),
      ma("/ip4/1.2.3.4/tcp/5/p2p/" + remote.to_string()),
      ma("/ip4/1.2.3.4/tcp/5"),
      ma("/ip4/5.6.7.8/tcp/6/p2p/" + other.to_string()),
      ma("/ip4/127.0.0.1/tcp/7"),
      ma("/ip4/10.0.0.1/tcp/8"),
  };
  const addr_policy strict{.allow_private = false, .allow_loopback = false};
  EXPECT_EQ(usable_addrs(in, strict, remote), std::vector<multiaddr>{ma("/ip4/1.2.3.4/tcp/5")});
  EXPECT_EQ(usable_addrs(in, addr_policy{}, remote),
            (std::vector<multiaddr>{ma("/ip4/1.2.3.4/tcp/5"), ma("/ip4/10.0.0.1/tcp/8")}));
  EXPECT_EQ(usable_addrs(in, test_policy, remote).size(), 3u);
}

TEST(dcutr_addrs, usable_addrs_keeps_at_most_max_dial_addrs) {
  std::vector<multiaddr> in;
  for (int port = 1; port <= 40; ++port)
    in.push_back(ma("/ip4/1.2.3.4/tcp/" + std::to_string(port)));
  EXPECT_EQ(usable_addrs(in, addr_policy{}, remote).size(), max_dial_addrs);
}

TEST(dcutr_initiator, sends_connect_then_sync_and_dials_after_half_the_rtt) {
  initiator b({ma("/ip4/127.0.0.1/tcp/4001")}, test_policy, remote);
  const auto t0 = clock::time_point{} + 1h;
  auto first = b.start(t0);
  ASSERT_EQ(kinds(first), (std::vector{kind::open_stream, kind::send, kind::receive}));
  EXPECT_EQ(first[1].message.type, wire::hole_punch_type::connect);
  EXPECT_EQ(first[1].message.obs_multiaddrs(), std::vector{ma("/ip4/127.0.0.1/tcp/4001")});

  const auto their = wire::hole_punch_message::connect(std::vector{ma("/ip4/127.0.0.1/tcp/5001")});
  auto second = b.on_message(their, t0 + 80ms);
  ASSERT_EQ(kinds(second), (std::vector{kind::send, kind::dial}));
  EXPECT_EQ(second[0].message, wire::hole_punch_message::sync());
  EXPECT_EQ(second[1].delay, 40ms);
  EXPECT_EQ(second[1].addrs, std::vector{ma("/ip4/127.0.0.1/tcp/5001")});
  EXPECT_EQ(b.last_rtt(), 80ms);

  EXPECT_EQ(kinds(b.on_dial_result(true, t0 + 200ms)), std::vector{kind::succeeded});
  EXPECT_TRUE(b.finished());
  EXPECT_EQ(b.round(), 1);
}

TEST(dcutr_initiator, retries_on_a_fresh_stream_and_gives_up_after_three_rounds) {
  initiator b({ma("/ip4/127.0.0.1/tcp/4001")}, test_policy, remote);
  auto t = clock::time_point{} + 1h;
  const auto their = wire::hole_punch_message::connect(std::vector{ma("/ip4/127.0.0.1/tcp/5001")});
  (void)b.start(t);
  for (int round = 1; round <= max_rounds; ++round) {
    EXPECT_EQ(b.round(), round);
    (void)b.on_message(their, t += 10ms);
    auto next = b.on_dial_result(false, t += 5s);
    if (round < max_rounds) {
      EXPECT_EQ(kinds(next), (std::vector{kind::open_stream, kind::send, kind::receive}));
    } else {
      ASSERT_EQ(kinds(next), std::vector{kind::failed});
      EXPECT_EQ(next[0].error, make_error_code(errc::holepunch_failed));
    }
  }
  EXPECT_TRUE(b.finished());
}

TEST(dcutr_initiator, measures_the_rtt_again_in_every_round) {
  initiator b({ma("/ip4/127.0.0.1/tcp/4001")}, test_policy, remote);
  auto t = clock::time_point{} + 1h;
  const auto their = wire::hole_punch_message::connect(std::vector{ma("/ip4/127.0.0.1/tcp/5001")});
  (void)b.start(t);
  EXPECT_EQ(b.on_message(their, t + 300ms)[1].delay, 150ms);
  t += 6s;
  (void)b.on_dial_result(false, t);
  EXPECT_EQ(b.on_message(their, t + 20ms)[1].delay, 10ms);
}

TEST(dcutr_initiator, a_stream_error_costs_one_round) {
  initiator b({ma("/ip4/127.0.0.1/tcp/4001")}, test_policy, remote);
  const auto t = clock::time_point{} + 1h;
  (void)b.start(t);
  auto next = b.on_stream_error(make_error_code(errc::timeout), t + 10s);
  EXPECT_EQ(kinds(next), (std::vector{kind::open_stream, kind::send, kind::receive}));
  EXPECT_EQ(b.round(), 2);
}

TEST(dcutr_initiator, fails_at_once_without_addresses_of_its_own) {
  initiator b({ma("/ip4/127.0.0.1/tcp/4001")}, addr_policy{}, remote);  // loopback not allowed
  auto acts = b.start(clock::time_point{});
  ASSERT_EQ(kinds(acts), std::vector{kind::failed});
  EXPECT_EQ(acts[0].error, make_error_code(errc::holepunch_no_addresses));
}

TEST(dcutr_initiator, fails_when_the_answer_has_only_relay_addresses) {
  initiator b({ma("/ip4/127.0.0.1/tcp/4001")}, test_policy, remote);
  (void)b.start(clock::time_point{});
  const auto circuit = ma("/ip4/127.0.0.1/tcp/1/p2p/" + other.to_string() + "/p2p-circuit");
  auto acts = b.on_message(wire::hole_punch_message::connect(std::vector{circuit}), {});
  ASSERT_EQ(kinds(acts), std::vector{kind::failed});
  EXPECT_EQ(acts[0].error, make_error_code(errc::holepunch_no_addresses));
}

TEST(dcutr_initiator, rejects_sync_or_untyped_message_instead_of_connect) {
  for (const auto& bad : {wire::hole_punch_message::sync(), wire::hole_punch_message{}}) {
    initiator b({ma("/ip4/127.0.0.1/tcp/4001")}, test_policy, remote);
    (void)b.start(clock::time_point{});
    auto acts = b.on_message(bad, {});
    ASSERT_EQ(kinds(acts), std::vector{kind::failed});
    EXPECT_EQ(acts[0].error, make_error_code(errc::holepunch_protocol));
  }
}

TEST(dcutr_responder, answers_connect_with_its_addresses_and_dials_at_once_on_sync) {
  responder a({ma("/ip4/127.0.0.1/tcp/5001")}, test_policy, remote);
  const auto b_connect =
      wire::hole_punch_message::connect(std::vector{ma("/ip4/127.0.0.1/tcp/4001")});
  auto reply = a.on_message(b_connect, {});
  ASSERT_EQ(kinds(reply), (std::vector{kind::send, kind::receive}));
  EXPECT_EQ(reply[0].message.type, wire::hole_punch_type::connect);
  EXPECT_EQ(reply[0].message.obs_multiaddrs(), std::vector{ma("/ip4/127.0.0.1/tcp/5001")});
  auto dial = a.on_message(wire::hole_punch_message::sync(), {});
  ASSERT_EQ(kinds(dial), std::vector{kind::dial});
  EXPECT_EQ(dial[0].delay, clock::duration::zero());
  EXPECT_EQ(dial[0].addrs, std::vector{ma("/ip4/127.0.0.1/tcp/4001")});
  EXPECT_EQ(kinds(a.on_dial_result(true, {})), std::vector{kind::succeeded});
}

TEST(dcutr_responder, accepts_retries_on_the_same_stream_up_to_three_rounds) {
  responder a({ma("/ip4/127.0.0.1/tcp/5001")}, test_policy, remote);
  const auto b_connect =
      wire::hole_punch_message::connect(std::vector{ma("/ip4/127.0.0.1/tcp/4001")});
  for (int round = 1; round <= max_rounds; ++round) {
    ASSERT_EQ(kinds(a.on_message(b_connect, {})), (std::vector{kind::send, kind::receive}))
        << round;
    ASSERT_EQ(kinds(a.on_message(wire::hole_punch_message::sync(), {})), std::vector{kind::dial});
    EXPECT_EQ(kinds(a.on_dial_result(false, {})), std::vector{kind::receive});
  }
  auto fourth = a.on_message(b_connect, {});
  ASSERT_EQ(kinds(fourth), std::vector{kind::failed});
  EXPECT_EQ(fourth[0].error, make_error_code(errc::holepunch_protocol));
}

TEST(dcutr_responder, rejects_sync_before_connect_and_connect_instead_of_sync) {
  responder early({ma("/ip4/127.0.0.1/tcp/5001")}, test_policy, remote);
  EXPECT_EQ(kinds(early.on_message(wire::hole_punch_message::sync(), {})),
            std::vector{kind::failed});
  responder twice({ma("/ip4/127.0.0.1/tcp/5001")}, test_policy, remote);
  const auto b_connect =
      wire::hole_punch_message::connect(std::vector{ma("/ip4/127.0.0.1/tcp/4001")});
  (void)twice.on_message(b_connect, {});
  EXPECT_EQ(kinds(twice.on_message(b_connect, {})), std::vector{kind::failed});
}

TEST(dcutr_responder, refuses_when_either_side_has_no_dialable_address) {
  const auto b_connect =
      wire::hole_punch_message::connect(std::vector{ma("/ip4/127.0.0.1/tcp/4001")});
  responder no_own({}, test_policy, remote);
  auto acts = no_own.on_message(b_connect, {});
  ASSERT_EQ(kinds(acts), std::vector{kind::failed});
  EXPECT_EQ(acts[0].error, make_error_code(errc::holepunch_no_addresses));
  responder strict({ma("/ip4/8.8.8.8/tcp/5001")}, addr_policy{}, remote);
  EXPECT_EQ(kinds(strict.on_message(b_connect, {})), std::vector{kind::failed});
}

}  // namespace
}  // namespace peerup::protocols::dcutr
