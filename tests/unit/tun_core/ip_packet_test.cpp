#include "tun/core/ip_packet.hpp"

#include <gtest/gtest.h>

#include "unit/tun_core/packets.hpp"

namespace peerup::tun {
namespace {

using namespace test;

TEST(ip_packet, parses_ipv4_tcp_ports_and_flags) {
  const bytes p = v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::tcp,
                            transport(ip_proto::tcp, 40000, 22, 0x02));
  auto info = parse_packet(p);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->version, 4);
  EXPECT_EQ(info->src.to_string(), "10.64.0.1");
  EXPECT_EQ(info->dst.to_string(), "10.64.0.2");
  EXPECT_EQ(info->protocol, ip_proto::tcp);
  EXPECT_EQ(info->src_port, 40000);
  EXPECT_EQ(info->dst_port, 22);
  EXPECT_EQ(info->tcp_flags, 0x02);
  EXPECT_EQ(info->total_length, p.size());
}

TEST(ip_packet, parses_ipv4_icmp_echo_id) {
  const bytes p = v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::icmp,
                            transport(ip_proto::icmp, 8, 0x1234));
  auto info = parse_packet(p);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->is_echo_request());
  EXPECT_FALSE(info->is_icmp_error());
  EXPECT_EQ(info->icmp_id, 0x1234);
}

TEST(ip_packet, ipv4_later_fragment_has_no_ports) {
  bytes p = v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::udp,
                      transport(ip_proto::udp, 1, 2));
  put16(p, 6, 0x0010);  // fragment offset 16 * 8
  put16(p, 10, 0);
  put16(p, 10, checksum_fold(checksum_add(0, byte_span(p).first(20))));
  auto info = parse_packet(p);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->later_fragment);
  EXPECT_FALSE(info->dst_port);
}

TEST(ip_packet, parses_ipv6_udp_behind_extension_headers) {
  // hop-by-hop (8 bytes) -> destination options (16 bytes) -> UDP
  bytes rest(8, 0);
  rest[0] = 60;
  bytes dst_opts(16, 0);
  dst_opts[0] = ip_proto::udp;
  dst_opts[1] = 1;  // (1 + 1) * 8 = 16
  append(rest, dst_opts);
  append(rest, transport(ip_proto::udp, 5353, 53));
  const bytes p = v6_packet(ip("fd70:6565:7275::1"), ip("fd70:6565:7275::2"), 0, rest);
  auto info = parse_packet(p);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->version, 6);
  EXPECT_EQ(info->protocol, ip_proto::udp);
  EXPECT_EQ(info->header_length, 40u + 8 + 16);
  EXPECT_EQ(info->dst_port, 53);
  EXPECT_EQ(info->src.to_string(), "fd70:6565:7275::1");
}

TEST(ip_packet, refuses_packets_too_short_for_their_header) {
  EXPECT_EQ(parse_packet({}).error(), errc::tun_packet_too_short);
  bytes p = v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::udp, {});
  p.resize(19);
  EXPECT_EQ(parse_packet(p).error(), errc::tun_packet_too_short);
  bytes q = v6_packet(ip("fd00::1"), ip("fd00::2"), ip_proto::udp, {});
  q.resize(39);
  EXPECT_EQ(parse_packet(q).error(), errc::tun_packet_too_short);
}

TEST(ip_packet, refuses_wrong_version) {
  bytes p = v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::udp, {});
  p[0] = 0x55;
  EXPECT_EQ(parse_packet(p).error(), errc::tun_packet_version);
  p[0] = 0x05;
  EXPECT_EQ(parse_packet(p).error(), errc::tun_packet_version);
}

TEST(ip_packet, refuses_bad_ipv4_header_length) {
  bytes p = v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::udp, {});
  p[0] = 0x44;  // IHL 4 words: below the minimum of 5
  EXPECT_EQ(parse_packet(p).error(), errc::tun_packet_header_length);
  p[0] = 0x4f;  // IHL 15 words = 60 bytes, past the end of a 20-byte packet
  EXPECT_EQ(parse_packet(p).error(), errc::tun_packet_header_length);
}

TEST(ip_packet, refuses_length_field_mismatch) {
  bytes p = v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::udp,
                      transport(ip_proto::udp, 1, 2));
  p.push_back(0);  // one byte more than total length says
  EXPECT_EQ(parse_packet(p).error(), errc::tun_packet_length_mismatch);
  bytes q = v6_packet(ip("fd00::1"), ip("fd00::2"), ip_proto::udp, transport(ip_proto::udp, 1, 2));
  q.pop_back();
  EXPECT_EQ(parse_packet(q).error(), errc::tun_packet_length_mismatch);
  bytes jumbo = v6_packet(ip("fd00::1"), ip("fd00::2"), ip_proto::udp, transport(ip_proto::udp, 1, 2));
  put16(jumbo, 4, 0);  // RFC 2675 jumbogram marker
  EXPECT_EQ(parse_packet(jumbo).error(), errc::tun_packet_length_mismatch);
}

TEST(ip_packet, refuses_bad_ipv4_checksum) {
  bytes p = v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::udp, {});
  p[10] ^= 1;
  EXPECT_EQ(parse_packet(p).error(), errc::tun_packet_checksum);
}

TEST(ip_packet, refuses_endless_or_truncated_extension_chains) {
  bytes rest;
  for (int i = 0; i < max_extension_headers + 1; ++i) {
    bytes h(8, 0);
    h[0] = 60;  // another destination options header
    append(rest, h);
  }
  EXPECT_EQ(parse_packet(v6_packet(ip("fd00::1"), ip("fd00::2"), 60, rest)).error(),
            errc::tun_packet_extension_headers);
  bytes cut(8, 0);
  cut[0] = ip_proto::udp;
  cut[1] = 4;  // claims 40 bytes, 8 present
  EXPECT_EQ(parse_packet(v6_packet(ip("fd00::1"), ip("fd00::2"), 0, cut)).error(),
            errc::tun_packet_extension_headers);
}

TEST(ip_address, parses_and_prints_both_families) {
  EXPECT_EQ(ip("10.64.1.2").v4_value(), 0x0a400102u);
  EXPECT_EQ(ip_address::v4(0x0a400102).to_string(), "10.64.1.2");
  EXPECT_EQ(ip("fd70:6565:7275::1").version, 6);
  EXPECT_FALSE(ip_address::parse("10.64.1"));
  EXPECT_FALSE(ip_address::parse("10.64.1.256"));
  EXPECT_FALSE(ip_address::parse(std::string(100, '1')));
}

TEST(ip_prefix, requires_zero_host_bits_and_matches_family) {
  auto p = ip_prefix::parse("10.64.0.0/16");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->contains(ip("10.64.255.1")));
  EXPECT_FALSE(p->contains(ip("10.65.0.1")));
  EXPECT_FALSE(p->contains(ip("fd00::1")));
  EXPECT_FALSE(ip_prefix::parse("10.64.1.0/16"));
  EXPECT_FALSE(ip_prefix::parse("10.64.0.0/33"));
  EXPECT_FALSE(ip_prefix::parse("10.64.0.0"));
  EXPECT_FALSE(ip_prefix::parse("10.64.0.0/"));
  auto q = ip_prefix::parse("fd70:6565:7275::/48");
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->contains(ip("fd70:6565:7275:0:1::2")));
  EXPECT_FALSE(q->contains(ip("fd70:6565:7276::1")));
}

}  // namespace
}  // namespace peerup::tun
