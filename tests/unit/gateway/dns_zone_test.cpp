#include "gateway/dns_zone.hpp"

#include <gtest/gtest.h>

namespace peerup::app {
namespace {

namespace dns = wire::dns;

dns::query query_for(std::string_view name, std::uint16_t type = dns::rr_type::a) {
  return dns::parse_query(dns::encode_query(1, name, type)).value();
}

TEST(dns_zone, names_inside_the_zone_need_a_lookup_of_the_labels_below_it) {
  const dns_zone_settings s;
  auto d = decide(query_for("Laptop.Grewal.P2P."), s);
  EXPECT_EQ(d.what, dns_decision::kind::lookup);
  EXPECT_EQ(d.host, "Laptop.Grewal");  // the case is kept: peer IDs need it
  auto id = decide(query_for("12D3KooWabc.p2p"), s);
  EXPECT_EQ(id.host, "12D3KooWabc");
}

TEST(dns_zone, refuses_names_outside_the_zone_and_other_classes) {
  const dns_zone_settings s;
  for (auto name : {"example.com", "p2p.example", "xp2p", "laptop.grewal"}) {
    auto d = decide(query_for(name), s);
    EXPECT_EQ(d.what, dns_decision::kind::respond) << name;
    EXPECT_EQ(d.immediate.code, dns::rcode::refused) << name;
    EXPECT_FALSE(d.immediate.authoritative);
  }
  auto chaos = query_for("version.bind.p2p", 16);
  chaos.q->qclass = 3;  // CH
  EXPECT_EQ(decide(chaos, s).immediate.code, dns::rcode::refused);
}

TEST(dns_zone, a_configured_zone_of_two_labels_works_the_same) {
  dns_zone_settings s;
  s.zone = "peerup.internal";
  EXPECT_EQ(decide(query_for("home.peerup.internal"), s).host, "home");
  EXPECT_EQ(decide(query_for("home.p2p"), s).immediate.code, dns::rcode::refused);
  EXPECT_EQ(decide(query_for("home.internal"), s).immediate.code, dns::rcode::refused);
}

TEST(dns_zone, the_apex_answers_its_soa_and_nodata_otherwise) {
  const dns_zone_settings s;
  auto soa = decide(query_for("p2p", dns::rr_type::soa), s);
  ASSERT_EQ(soa.immediate.answers.size(), 1u);
  EXPECT_EQ(soa.immediate.answers[0].type, dns::rr_type::soa);
  auto a = decide(query_for("p2p"), s);
  EXPECT_EQ(a.immediate.code, dns::rcode::noerror);
  EXPECT_TRUE(a.immediate.answers.empty());
  ASSERT_EQ(a.immediate.authority.size(), 1u);
}

TEST(dns_zone, labels_with_odd_bytes_are_nxdomain_without_a_lookup) {
  auto q = query_for("x.p2p");
  q.q->qname.labels[0] = "a b";
  auto d = decide(q, dns_zone_settings{});
  EXPECT_EQ(d.what, dns_decision::kind::respond);
  EXPECT_EQ(d.immediate.code, dns::rcode::nxdomain);
}

TEST(dns_zone, malformed_queries_are_answered_with_their_problem) {
  auto q = query_for("x.p2p");
  q.problem = dns::rcode::notimp;
  EXPECT_EQ(decide(q, dns_zone_settings{}).immediate.code, dns::rcode::notimp);
}

TEST(dns_zone, found_names_get_a_with_the_configured_ttl) {
  dns_zone_settings s;
  s.ttl = 42;
  auto a = answer_found(query_for("home.p2p"), s, 0x7f400102u);
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(a.answers[0].type, dns::rr_type::a);
  EXPECT_EQ(a.answers[0].ttl, 42u);
  EXPECT_EQ(a.answers[0].rdata, (bytes{127, 64, 1, 2}));
  EXPECT_TRUE(a.authoritative);
}

TEST(dns_zone, aaaa_is_nodata_unless_configured_then_ipv4_mapped) {
  dns_zone_settings s;
  auto off = answer_found(query_for("home.p2p", dns::rr_type::aaaa), s, 0x7f400102u);
  EXPECT_EQ(off.code, dns::rcode::noerror);  // not NXDOMAIN: the A record exists
  EXPECT_TRUE(off.answers.empty());
  s.aaaa = true;
  auto on = answer_found(query_for("home.p2p", dns::rr_type::aaaa), s, 0x7f400102u);
  ASSERT_EQ(on.answers.size(), 1u);
  EXPECT_EQ(on.answers[0].rdata, (bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 64, 1, 2}));
  auto any = answer_found(query_for("home.p2p", dns::rr_type::any), s, 0x7f400102u);
  EXPECT_EQ(any.answers.size(), 2u);
  auto mx = answer_found(query_for("home.p2p", 15), s, 0x7f400102u);
  EXPECT_TRUE(mx.answers.empty());
  EXPECT_EQ(mx.authority.size(), 1u);
}

TEST(dns_zone, network_mode_answers_aaaa_with_the_members_own_ipv6_address) {
  dns_zone_settings s;  // aaaa (IPv4-mapped) off: the real address is answered anyway
  const std::array<std::uint8_t, 16> ula{0xfd, 0x70, 0x65, 0x65, 0x72, 0x75, 0, 0,
                                         0,    0,    0,    0,    0,    0,    0x12, 0x34};
  auto aaaa = answer_found(query_for("home.p2p", dns::rr_type::aaaa), s, 0x0a400102u, ula);
  ASSERT_EQ(aaaa.answers.size(), 1u);
  EXPECT_EQ(aaaa.answers[0].type, dns::rr_type::aaaa);
  EXPECT_EQ(aaaa.answers[0].rdata, bytes(ula.begin(), ula.end()));
  auto a = answer_found(query_for("home.p2p"), s, 0x0a400102u, ula);
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(a.answers[0].rdata, (bytes{10, 64, 1, 2}));
  s.aaaa = true;  // still the real address, not ::ffff:10.64.1.2
  auto any = answer_found(query_for("home.p2p", dns::rr_type::any), s, 0x0a400102u, ula);
  ASSERT_EQ(any.answers.size(), 2u);
  EXPECT_EQ(any.answers[1].rdata, bytes(ula.begin(), ula.end()));
}

TEST(dns_zone, missing_names_are_nxdomain_with_the_soa_for_negative_caching) {
  dns_zone_settings s;
  s.ttl = 7;
  auto a = answer_missing(s);
  EXPECT_EQ(a.code, dns::rcode::nxdomain);
  ASSERT_EQ(a.authority.size(), 1u);
  EXPECT_EQ(a.authority[0].owner->text(), "p2p");
  EXPECT_EQ(a.authority[0].ttl, 7u);
  // The whole response encodes and parses as a DNS message of one question.
  const auto q = query_for("nobody.p2p");
  const bytes wire = dns::encode_response(q, a, 512);
  EXPECT_EQ(wire[3] & 0x0f, 3);
  EXPECT_EQ(wire[9], 1);  // NSCOUNT 1
}

}  // namespace
}  // namespace peerup::app
