#include "wire/dns_message.hpp"

#include <gtest/gtest.h>

namespace peerup::wire::dns {
namespace {

// What `dig @127.0.0.1 -p 5353 laptop.grewal.p2p` (BIND 9.18) sends: RD and
// AD set, EDNS0 with a 1232-byte payload and an 8-byte client COOKIE option.
const bytes dig_query{
    0x4a, 0x1f, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // header
    6,    'l',  'a',  'p',  't',  'o',  'p',  6,    'g',  'r',  'e',  'w',  'a', 'l',
    3,    'p',  '2',  'p',  0,                                                      // qname
    0x00, 0x01, 0x00, 0x01,                                                         // A, IN
    0,    0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00,                           // OPT, 1232, v0
    0x00, 0x0c, 0x00, 0x0a, 0x00, 0x08, 1,    2,    3,    4,    5,    6,    7,   8  // COOKIE
};

bytes a_rdata() { return {127, 64, 1, 2}; }

TEST(dns_message, parses_the_query_dig_sends) {
  auto q = parse_query(dig_query);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->problem, rcode::noerror);
  EXPECT_EQ(q->hdr.id, 0x4a1f);
  EXPECT_TRUE(q->hdr.recursion_desired());
  ASSERT_TRUE(q->q);
  EXPECT_EQ(q->q->qname.text(), "laptop.grewal.p2p");
  EXPECT_EQ(q->q->qtype, rr_type::a);
  EXPECT_EQ(q->q->qclass, class_in);
  ASSERT_TRUE(q->opt);
  EXPECT_EQ(q->opt->udp_size, 1232);
  EXPECT_EQ(q->opt->version, 0);
  EXPECT_EQ(response_limit(*q, false), 1232u);
  EXPECT_EQ(response_limit(*q, true), max_message_size);
}

TEST(dns_message, answers_with_the_question_echoed_a_compressed_owner_and_opt) {
  auto q = parse_query(dig_query).value();
  answer a{rcode::noerror, true, {record{std::nullopt, rr_type::a, 60, a_rdata()}}, {}};
  const bytes r = encode_response(q, a, response_limit(q, false));
  // header: same id; QR AA RD, rcode 0; 1 question, 1 answer, 0, 1 additional
  const bytes head{0x4a, 0x1f, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 1};
  ASSERT_GT(r.size(), head.size());
  EXPECT_EQ(bytes(r.begin(), r.begin() + 12), head);
  const std::size_t qlen = 19 + 4;  // qname + type + class
  EXPECT_EQ(bytes(r.begin() + 12, r.begin() + 12 + static_cast<long>(qlen)),
            bytes(dig_query.begin() + 12, dig_query.begin() + 12 + static_cast<long>(qlen)));
  const bytes answer_rr{0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 64, 1, 2};
  const bytes opt_rr{0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
  bytes tail = answer_rr;
  append(tail, opt_rr);
  EXPECT_EQ(bytes(r.begin() + 12 + static_cast<long>(qlen), r.end()), tail);
}

TEST(dns_message, echoes_the_letter_case_of_the_question) {
  auto q = parse_query(encode_query(7, "LapTop.GREWAL.p2p", rr_type::a)).value();
  EXPECT_EQ(q.q->qname.text(), "laptop.grewal.p2p");
  const bytes r = encode_response(q, answer{rcode::nxdomain, true, {}, {}}, 512);
  EXPECT_EQ(as_string_view(byte_span(r).subspan(13, 6)), "LapTop");
  EXPECT_EQ(r[3] & 0x0f, 3);  // NXDOMAIN
}

TEST(dns_message, truncates_to_512_bytes_without_edns_and_sets_tc) {
  auto q = parse_query(encode_query(1, "many.p2p", rr_type::a)).value();
  answer a{rcode::noerror, true, {}, {}};
  for (int i = 0; i < 40; ++i) a.answers.push_back(record{std::nullopt, rr_type::a, 60, a_rdata()});
  const bytes udp = encode_response(q, a, response_limit(q, false));
  EXPECT_LE(udp.size(), classic_udp_limit);
  EXPECT_NE(udp[2] & 0x02, 0);         // TC
  EXPECT_EQ(udp[6] << 8 | udp[7], 0);  // no answers
  const bytes tcp = encode_response(q, a, response_limit(q, true));
  EXPECT_EQ(tcp[2] & 0x02, 0);
  EXPECT_EQ(tcp[6] << 8 | tcp[7], 40);
  EXPECT_EQ(tcp.size(), 12u + 14 + 40 * 16);
}

TEST(dns_message, clamps_the_edns_size_between_512_and_ours) {
  auto small = parse_query(encode_query(1, "a.p2p", rr_type::a, edns{100, 0, false})).value();
  EXPECT_EQ(response_limit(small, false), 512u);
  auto big = parse_query(encode_query(1, "a.p2p", rr_type::a, edns{65000, 0, true})).value();
  EXPECT_TRUE(big.opt->dnssec_ok);
  EXPECT_EQ(response_limit(big, false), our_udp_payload);
}

TEST(dns_message, edns_version_above_zero_gets_badvers_in_the_opt_record) {
  auto q = parse_query(encode_query(9, "a.p2p", rr_type::a, edns{1232, 1, false})).value();
  EXPECT_EQ(q.problem, rcode::badvers);
  const bytes r = encode_response(q, answer{q.problem, false, {}, {}}, 512);
  EXPECT_EQ(r[3] & 0x0f, 0);  // BADVERS = 16: low bits 0 in the header...
  ASSERT_GE(r.size(), 11u);
  EXPECT_EQ(r[r.size() - 6], 1);  // ...and 1 in the OPT's extended rcode
}

TEST(dns_message, follows_a_backward_compression_pointer) {
  // An additional record whose owner is "b" + a pointer to the question's
  // "p2p" (offset 14), as a server compressing its names would write it.
  bytes m = encode_query(3, "a.p2p", rr_type::a);
  m[11] = 1;  // ARCOUNT 1
  const bytes rr{1, 'b', 0xc0, 14, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4};
  append(m, rr);
  auto q = parse_query(m);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->problem, rcode::noerror);
}

TEST(dns_message, rejects_pointer_loops_and_forward_pointers_with_formerr) {
  bytes self{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
  EXPECT_EQ(parse_query(self)->problem, rcode::formerr);
  bytes forward{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 1, 'a', 0, 0, 1, 0, 1};
  EXPECT_EQ(parse_query(forward)->problem, rcode::formerr);
  // A label followed by a pointer back to the start of its own name.
  bytes m = encode_query(3, "a.p2p", rr_type::a);
  m[11] = 1;
  const std::size_t b_at = m.size();
  const bytes rr{1, 'b', 0xc0, static_cast<std::uint8_t>(b_at), 0, 1, 0, 1, 0, 0, 0, 5, 0, 0};
  append(m, rr);
  EXPECT_EQ(parse_query(m)->problem, rcode::formerr);
}

TEST(dns_message, malformed_but_parseable_queries_get_formerr_and_keep_their_id) {
  bytes two = encode_query(0x1234, "a.p2p", rr_type::a);
  two[5] = 2;  // QDCOUNT 2 with only one question present
  auto q = parse_query(two).value();
  EXPECT_EQ(q.problem, rcode::formerr);
  const bytes r = encode_response(q, answer{q.problem, false, {}, {}}, 512);
  EXPECT_EQ(r, (bytes{0x12, 0x34, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}));
  bytes trailing = encode_query(1, "a.p2p", rr_type::a);
  trailing.push_back(0);
  EXPECT_EQ(parse_query(trailing)->problem, rcode::formerr);
  bytes long_label = encode_query(1, "a.p2p", rr_type::a);
  long_label[12] = 0x41;  // a 0x40-type (extended) label
  EXPECT_EQ(parse_query(long_label)->problem, rcode::formerr);
  bytes bad_opt = encode_query(1, "a.p2p", rr_type::a, edns{1232, 0, false});
  bad_opt[bad_opt.size() - 1] = 3;  // RDLENGTH 3 with no RDATA
  EXPECT_EQ(parse_query(bad_opt)->problem, rcode::formerr);
}

TEST(dns_message, other_opcodes_get_notimp) {
  bytes m = encode_query(1, "a.p2p", rr_type::a);
  m[2] |= 0x28;  // opcode 5 (UPDATE)
  EXPECT_EQ(parse_query(m)->problem, rcode::notimp);
}

TEST(dns_message, drops_short_messages_and_responses) {
  EXPECT_FALSE(parse_query(bytes(11, 0)));
  bytes resp = encode_query(1, "a.p2p", rr_type::a);
  resp[2] |= 0x80;
  auto r = parse_query(resp);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::dns_invalid));
}

TEST(dns_message, rejects_names_longer_than_255_bytes) {
  std::string label(63, 'x');
  std::string ok = label + "." + label + "." + label + "." + std::string(61, 'x');  // 255 wire
  EXPECT_TRUE(name::from_text(ok));
  EXPECT_EQ(name::from_text(ok)->wire_size(), 255u);
  EXPECT_FALSE(name::from_text(ok + "x"));
  EXPECT_FALSE(name::from_text(std::string(64, 'x')));
  EXPECT_FALSE(name::from_text("a..b"));
  EXPECT_TRUE(encode_query(1, ok + "x", rr_type::a).empty());
  // The same 256-byte name on the wire is FORMERR.
  bytes m{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    m.push_back(63);
    append(m, as_bytes(label));
  }
  m.push_back(62);
  append(m, as_bytes(std::string(62, 'x')));
  m.push_back(0);
  append(m, bytes{0, 1, 0, 1});
  EXPECT_EQ(parse_query(m)->problem, rcode::formerr);
}

TEST(dns_message, plain_labels_rejects_dots_and_odd_bytes_inside_labels) {
  EXPECT_TRUE(name::from_text("laptop.grewal.p2p")->plain_labels());
  name odd;
  odd.labels = {"a.b", "p2p"};
  EXPECT_FALSE(odd.plain_labels());
  odd.labels = {std::string("a\0b", 3)};
  EXPECT_FALSE(odd.plain_labels());
}

TEST(dns_message, soa_rdata_is_two_names_and_five_counters) {
  const bytes r =
      soa_rdata(*name::from_text("p2p"), *name::from_text("hostmaster.p2p"), 1, 2, 3, 4, 5);
  EXPECT_EQ(r.size(), 5u + 16 + 20);
  EXPECT_EQ(r.back(), 5);
}

}  // namespace
}  // namespace peerup::wire::dns
