#include "tun/core/packet_switch.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"
#include "tun/core/framing.hpp"
#include "tun/core/icmp.hpp"
#include "unit/tun_core/packets.hpp"

namespace peerup::tun {
namespace {

using namespace test;

peer_id peer(std::uint8_t n) {
  bytes seed(32, n);
  return private_key::from_seed(seed)->to_peer_id();
}

const auto t0 = steady_time{} + std::chrono::hours(1);

struct fixture : ::testing::Test {
  peer_id self = peer(1), laptop = peer(2), phone = peer(3);
  ip_address me = ip("10.64.0.1"), lap = ip("10.64.0.2"), ph = ip("10.64.0.3");
  packet_switch sw{address_book(*ip_prefix::parse("10.64.0.0/16"), default_prefix6(),
                                {self, me}, {{laptop, lap}, {phone, ph}}),
                   [this] {
                     switch_config c;
                     c.peer_rules[laptop] = filter_rules{{*port_rule::parse("tcp/22")}};
                     return c;
                   }()};

  bytes tcp(const ip_address& s, const ip_address& d, std::uint16_t sp, std::uint16_t dp,
            std::size_t payload = 0) {
    return v4_packet(s, d, ip_proto::tcp, transport(ip_proto::tcp, sp, dp, 0x02, payload));
  }
};

// Verifies the checksums of an ICMP error we generated and returns its info.
packet_info icmp_ok(const bytes& p) {
  auto info = parse_packet(p);
  EXPECT_TRUE(info) << (info ? "" : info.error().message());
  if (info->version == 4) {
    EXPECT_EQ(checksum_fold(checksum_add(0, byte_span(p).subspan(20))), 0);
  } else {
    std::uint32_t sum = checksum_add(0, byte_span(p).subspan(8, 32));
    const auto len = p.size() - 40;
    sum = checksum_add(sum, bytes{0, 0, static_cast<std::uint8_t>(len >> 8),
                                  static_cast<std::uint8_t>(len), 0, 0, 0, ip_proto::icmpv6});
    sum = checksum_add(sum, byte_span(p).subspan(40));
    EXPECT_EQ(checksum_fold(sum), 0);
  }
  EXPECT_TRUE(info->is_icmp_error());
  return *info;
}

TEST_F(fixture, sends_our_packets_to_the_peer_that_owns_the_destination) {
  auto v = sw.from_tun(tcp(me, lap, 40000, 22), t0);
  ASSERT_TRUE(std::holds_alternative<packet_switch::send_to_peer>(v));
  EXPECT_EQ(std::get<packet_switch::send_to_peer>(v).peer, laptop);
  auto v6 = sw.from_tun(v6_packet(sw.book().self_v6(), *sw.book().v6_of(phone), ip_proto::udp,
                                   transport(ip_proto::udp, 1, 2)),
                        t0);
  ASSERT_TRUE(std::holds_alternative<packet_switch::send_to_peer>(v6));
  EXPECT_EQ(std::get<packet_switch::send_to_peer>(v6).peer, phone);
  EXPECT_EQ(sw.counters().to_peer_packets, 2u);
}

TEST_F(fixture, never_forwards_packets_that_are_not_from_us) {
  auto v = sw.from_tun(tcp(ip("192.168.1.5"), lap, 40000, 22), t0);
  ASSERT_TRUE(std::holds_alternative<packet_switch::dropped>(v));
  EXPECT_EQ(std::get<packet_switch::dropped>(v).why, drop_reason::not_from_self);
  EXPECT_EQ(sw.counters().drops(drop_reason::not_from_self), 1u);
}

TEST_F(fixture, answers_an_unowned_prefix_address_with_host_unreachable) {
  auto v = sw.from_tun(tcp(me, ip("10.64.9.9"), 40000, 22), t0);
  ASSERT_TRUE(std::holds_alternative<packet_switch::reply_to_tun>(v));
  const auto icmp = icmp_ok(std::get<packet_switch::reply_to_tun>(v).packet);
  EXPECT_EQ(icmp.dst, me);
  EXPECT_EQ(icmp.src, ip("10.64.9.9"));
  EXPECT_EQ(*icmp.icmp_type, 3);
  EXPECT_EQ(sw.counters().drops(drop_reason::no_route), 1u);
  // outside the prefix: dropped, and not ours to answer
  auto out = sw.from_tun(tcp(me, ip("8.8.8.8"), 40000, 53), t0);
  ASSERT_TRUE(std::holds_alternative<packet_switch::dropped>(out));
  EXPECT_EQ(sw.counters().drops(drop_reason::no_route), 2u);
}

TEST_F(fixture, answers_oversized_packets_with_fragmentation_needed) {
  const bytes big = tcp(me, lap, 40000, 22, 1400);  // 1440 > mtu 1152
  auto v = sw.from_tun(big, t0);
  ASSERT_TRUE(std::holds_alternative<packet_switch::reply_to_tun>(v));
  const auto& icmp = std::get<packet_switch::reply_to_tun>(v).packet;
  const auto info = icmp_ok(icmp);
  EXPECT_EQ(*info.icmp_type, 3);
  EXPECT_EQ(icmp[21], 4);                         // code: fragmentation needed
  EXPECT_EQ(icmp[26] << 8 | icmp[27], 1152);      // next-hop MTU
  EXPECT_EQ(icmp.size(), 576u);                   // quotes up to 576 bytes in all
  EXPECT_EQ(sw.counters().drops(drop_reason::too_big), 1u);
  // A smaller path limit (e.g. a QUIC datagram) lowers the bound.
  sw.set_path_limit(laptop, 1000);
  auto w = sw.from_tun(tcp(me, lap, 40000, 22, 1000), t0);
  ASSERT_TRUE(std::holds_alternative<packet_switch::reply_to_tun>(w));
  const auto& icmp2 = std::get<packet_switch::reply_to_tun>(w).packet;
  EXPECT_EQ(icmp2[26] << 8 | icmp2[27], 1000);
  sw.set_path_limit(laptop, 0);
  EXPECT_TRUE(std::holds_alternative<packet_switch::send_to_peer>(
      sw.from_tun(tcp(me, lap, 40000, 22, 1000), t0)));
}

TEST_F(fixture, answers_oversized_ipv6_with_packet_too_big) {
  bytes big = v6_packet(sw.book().self_v6(), *sw.book().v6_of(phone), ip_proto::udp,
                        transport(ip_proto::udp, 1, 2, 0, 1500));
  auto v = sw.from_tun(big, t0);
  ASSERT_TRUE(std::holds_alternative<packet_switch::reply_to_tun>(v));
  const auto& icmp = std::get<packet_switch::reply_to_tun>(v).packet;
  const auto info = icmp_ok(icmp);
  EXPECT_EQ(*info.icmp_type, 2);
  EXPECT_EQ(icmp.size(), 1280u);
  // IPv6's minimum MTU, not the configured 1152: hosts ignore a smaller one.
  EXPECT_EQ(icmp[46] << 8 | icmp[47], 1280);
}

TEST_F(fixture, passes_ipv6_up_to_1280_bytes_whatever_the_mtu) {
  ASSERT_EQ(sw.config().mtu, 1152);
  const bytes full = v6_packet(sw.book().self_v6(), *sw.book().v6_of(phone), ip_proto::udp,
                               transport(ip_proto::udp, 1, 2, 0, 1280 - 48));
  ASSERT_EQ(full.size(), 1280u);
  EXPECT_TRUE(std::holds_alternative<packet_switch::send_to_peer>(sw.from_tun(full, t0)));
  // IPv4 keeps the configured MTU.
  EXPECT_TRUE(std::holds_alternative<packet_switch::reply_to_tun>(
      sw.from_tun(tcp(me, lap, 40000, 22, 1153 - 40), t0)));
}

TEST_F(fixture, never_answers_an_icmp_error_with_one) {
  bytes err = v4_packet(me, ip("10.64.9.9"), ip_proto::icmp, transport(ip_proto::icmp, 3, 0));
  auto v = sw.from_tun(err, t0);
  ASSERT_TRUE(std::holds_alternative<packet_switch::dropped>(v));
}

TEST_F(fixture, rate_limits_the_icmp_it_generates) {
  int replies = 0;
  for (int i = 0; i < 500; ++i)
    if (std::holds_alternative<packet_switch::reply_to_tun>(
            sw.from_tun(tcp(me, ip("10.64.9.9"), 40000, 22), t0)))
      ++replies;
  EXPECT_EQ(replies, 100);
  EXPECT_EQ(sw.counters().drops(drop_reason::no_route), 500u);
  // a second later the bucket has refilled
  EXPECT_TRUE(std::holds_alternative<packet_switch::reply_to_tun>(
      sw.from_tun(tcp(me, ip("10.64.9.9"), 40000, 22), t0 + std::chrono::seconds(1))));
}

TEST_F(fixture, drops_spoofed_sources_from_a_peer) {
  // the laptop sends with the phone's address, and with an outside address
  EXPECT_EQ(sw.from_peer(laptop, tcp(ph, me, 40000, 22), t0), drop_reason::spoofed);
  EXPECT_EQ(sw.from_peer(laptop, tcp(ip("192.168.1.7"), me, 40000, 22), t0),
            drop_reason::spoofed);
  EXPECT_EQ(sw.counters().drops(drop_reason::spoofed), 2u);
  EXPECT_EQ(sw.from_peer(laptop, tcp(lap, me, 40000, 22), t0), std::nullopt);
}

TEST_F(fixture, never_carries_transit_between_peers) {
  EXPECT_EQ(sw.from_peer(laptop, tcp(lap, ph, 40000, 22), t0), drop_reason::not_for_us);
  EXPECT_EQ(sw.from_peer(laptop, tcp(lap, ip("8.8.8.8"), 40000, 22), t0), drop_reason::not_for_us);
}

TEST_F(fixture, applies_the_per_peer_filter_and_the_default) {
  // laptop: tcp/22 only; phone: the default (icmp)
  EXPECT_EQ(sw.from_peer(laptop, tcp(lap, me, 40000, 22), t0), std::nullopt);
  EXPECT_EQ(sw.from_peer(laptop, tcp(lap, me, 40000, 80), t0), drop_reason::filtered);
  EXPECT_EQ(sw.from_peer(laptop, v4_packet(lap, me, ip_proto::icmp, transport(ip_proto::icmp, 8, 1)),
                         t0),
            drop_reason::filtered);
  EXPECT_EQ(sw.from_peer(phone, v4_packet(ph, me, ip_proto::icmp, transport(ip_proto::icmp, 8, 1)),
                         t0),
            std::nullopt);
  EXPECT_EQ(sw.from_peer(phone, tcp(ph, me, 40000, 22), t0), drop_reason::filtered);
}

TEST_F(fixture, lets_replies_to_our_own_connections_through_the_filter) {
  // we connect to the phone's port 8080; its SYN-ACK comes back from 8080
  ASSERT_TRUE(std::holds_alternative<packet_switch::send_to_peer>(
      sw.from_tun(tcp(me, ph, 50000, 8080), t0)));
  EXPECT_EQ(sw.from_peer(phone, tcp(ph, me, 8080, 50000), t0 + std::chrono::seconds(1)),
            std::nullopt);
  EXPECT_EQ(sw.from_peer(phone, tcp(ph, me, 8081, 50000), t0), drop_reason::filtered);
}

TEST_F(fixture, counts_malformed_and_unknown_peers) {
  EXPECT_EQ(sw.from_peer(laptop, bytes{0x45, 0, 0}, t0), drop_reason::malformed);
  EXPECT_EQ(sw.from_peer(peer(9), tcp(lap, me, 1, 22), t0), drop_reason::unknown_peer);
  auto v = sw.from_tun(bytes{0x60}, t0);
  ASSERT_TRUE(std::holds_alternative<packet_switch::dropped>(v));
  EXPECT_EQ(sw.counters().drops(drop_reason::malformed), 2u);
  EXPECT_EQ(sw.counters().dropped_total(), 3u);
}

TEST(framing, hello_round_trips_and_refuses_garbage) {
  hello h{ip("10.64.0.2"), ip("fd70:6565:7275::2"), 1152};
  const bytes b = encode_hello(h);
  EXPECT_EQ(b.size(), hello_size);
  EXPECT_TRUE(is_control(b));
  EXPECT_EQ(decode_hello(b).value(), h);
  EXPECT_EQ(decode_hello(byte_span(b).first(23)).error(), errc::tun_frame_invalid);
  bytes v0 = b;
  v0[1] = 0;
  EXPECT_FALSE(decode_hello(v0));
  bytes small_mtu = encode_hello({h.v4, h.v6, 100});
  EXPECT_FALSE(decode_hello(small_mtu));
  bytes later = b;
  later.push_back(0xaa);  // a later version's extra field is ignored
  later[1] = 2;
  EXPECT_TRUE(decode_hello(later));
}

TEST(framing, splits_a_stream_into_frames_and_bounds_lengths) {
  bytes stream;
  const bytes one(300, 0x45), two{0x60, 1};
  append_frame(stream, one);
  append_frame(stream, two);
  auto f = next_frame(stream);
  ASSERT_TRUE(f && *f);
  EXPECT_EQ((*f)->payload.size(), 300u);
  EXPECT_EQ((*f)->consumed, 302u);
  auto g = next_frame(byte_span(stream).subspan(302));
  ASSERT_TRUE(g && *g);
  EXPECT_EQ(bytes((*g)->payload.begin(), (*g)->payload.end()), two);
  // incomplete: needs more
  auto part = next_frame(byte_span(stream).first(100));
  ASSERT_TRUE(part);
  EXPECT_FALSE(*part);
  auto one_byte = next_frame(byte_span(stream).first(1));
  ASSERT_TRUE(one_byte);
  EXPECT_FALSE(*one_byte);
  // zero length, oversized, and a prefix too long to be a frame
  EXPECT_FALSE(next_frame(bytes{0x00}));
  EXPECT_FALSE(next_frame(bytes{0x80, 0x80, 0x04}));  // 65536
  EXPECT_FALSE(next_frame(bytes{0x80, 0x80, 0x80}));
}

}  // namespace
}  // namespace peerup::tun
