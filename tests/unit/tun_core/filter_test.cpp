#include "tun/core/filter.hpp"

#include <gtest/gtest.h>

#include "unit/tun_core/packets.hpp"

namespace peerup::tun {
namespace {

using namespace test;

packet_info info_of(const bytes& p) { return parse_packet(p).value(); }

bytes tcp_to(std::uint16_t dport, std::uint8_t flags = 0x02) {
  return v4_packet(ip("10.64.0.2"), ip("10.64.0.1"), ip_proto::tcp,
                   transport(ip_proto::tcp, 40000, dport, flags));
}

TEST(port_rule, parses_what_the_config_documents) {
  EXPECT_EQ(port_rule::parse("all")->to_string(), "all");
  EXPECT_EQ(port_rule::parse("icmp")->to_string(), "icmp");
  EXPECT_EQ(port_rule::parse("tcp")->to_string(), "tcp");
  EXPECT_EQ(port_rule::parse("tcp/22")->to_string(), "tcp/22");
  EXPECT_EQ(port_rule::parse("udp/5000-5100")->to_string(), "udp/5000-5100");
  for (const char* bad : {"", "tcp/", "tcp/0", "tcp/65536", "udp/9-1", "sctp/1", "tcp/22-",
                          "tcp/x", "TCP/22", "tcp/22/23"})
    EXPECT_FALSE(port_rule::parse(bad)) << bad;
}

TEST(filter_rules, default_allows_icmp_only) {
  const auto r = filter_rules::default_rules();
  EXPECT_TRUE(r.allows(info_of(v4_packet(ip("10.64.0.2"), ip("10.64.0.1"), ip_proto::icmp,
                                         transport(ip_proto::icmp, 8, 1)))));
  EXPECT_FALSE(r.allows(info_of(tcp_to(22))));
  EXPECT_FALSE(r.allows(info_of(v4_packet(ip("10.64.0.2"), ip("10.64.0.1"), ip_proto::udp,
                                          transport(ip_proto::udp, 1, 53)))));
}

TEST(filter_rules, port_rules_match_protocol_and_range) {
  filter_rules r{{*port_rule::parse("tcp/22"), *port_rule::parse("udp/5000-5100")}};
  EXPECT_TRUE(r.allows(info_of(tcp_to(22))));
  EXPECT_FALSE(r.allows(info_of(tcp_to(23))));
  auto udp = [](std::uint16_t port) {
    return info_of(v4_packet(ip("10.64.0.2"), ip("10.64.0.1"), ip_proto::udp,
                             transport(ip_proto::udp, 1, port)));
  };
  EXPECT_TRUE(r.allows(udp(5000)));
  EXPECT_TRUE(r.allows(udp(5100)));
  EXPECT_FALSE(r.allows(udp(5101)));
  EXPECT_FALSE(r.allows(udp(22)));
}

TEST(flow_table, lets_replies_to_our_flows_in_until_they_expire) {
  flow_table flows;
  const auto t0 = steady_time{} + std::chrono::hours(1);
  // we (10.64.0.1:40000) connect to the peer's port 80
  const auto out = info_of(v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::tcp,
                                     transport(ip_proto::tcp, 40000, 80)));
  flows.note_outbound(out, t0);
  const auto reply = info_of(v4_packet(ip("10.64.0.2"), ip("10.64.0.1"), ip_proto::tcp,
                                       transport(ip_proto::tcp, 80, 40000, 0x12)));
  EXPECT_TRUE(flows.is_reply(reply, t0 + std::chrono::seconds(5)));
  EXPECT_FALSE(flows.is_reply(reply, t0 + std::chrono::minutes(11)));
  // another port, another peer: not a reply
  const auto other = info_of(v4_packet(ip("10.64.0.2"), ip("10.64.0.1"), ip_proto::tcp,
                                       transport(ip_proto::tcp, 81, 40000, 0x12)));
  EXPECT_FALSE(flows.is_reply(other, t0));
  const auto third = info_of(v4_packet(ip("10.64.0.3"), ip("10.64.0.1"), ip_proto::tcp,
                                       transport(ip_proto::tcp, 80, 40000, 0x12)));
  EXPECT_FALSE(flows.is_reply(third, t0));
}

TEST(flow_table, matches_echo_replies_by_identifier) {
  flow_table flows;
  const auto t0 = steady_time{} + std::chrono::hours(1);
  flows.note_outbound(info_of(v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::icmp,
                                        transport(ip_proto::icmp, 8, 77))),
                      t0);
  EXPECT_TRUE(flows.is_reply(info_of(v4_packet(ip("10.64.0.2"), ip("10.64.0.1"), ip_proto::icmp,
                                               transport(ip_proto::icmp, 0, 77))),
                             t0));
  EXPECT_FALSE(flows.is_reply(info_of(v4_packet(ip("10.64.0.2"), ip("10.64.0.1"), ip_proto::icmp,
                                                transport(ip_proto::icmp, 0, 78))),
                              t0));
}

TEST(flow_table, stays_bounded_under_a_flood_of_new_flows) {
  flow_table flows;
  const auto t0 = steady_time{} + std::chrono::hours(1);
  for (std::uint32_t i = 0; i < flow_table::max_flows + 1000; ++i) {
    const auto p = info_of(v4_packet(ip("10.64.0.1"), ip_address::v4(0x0a400000 + 2 + i / 60000),
                                     ip_proto::udp,
                                     transport(ip_proto::udp, static_cast<std::uint16_t>(1 + i % 60000), 53)));
    flows.note_outbound(p, t0 + std::chrono::milliseconds(i));
  }
  EXPECT_EQ(flows.size(), flow_table::max_flows);
}

}  // namespace
}  // namespace peerup::tun
