#include "wire/multistream.hpp"

#include <gtest/gtest.h>

#include <string>

namespace peerup::multistream {
namespace {

bytes str(std::string_view s) {
  auto b = as_bytes(s);
  return bytes(b.begin(), b.end());
}

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) append(out, p);
  return out;
}

const auto header_bytes = str("\x13/multistream/1.0.0\n");

bool supports_noise(std::string_view p) { return p == "/noise"; }

// Feeds `in` one byte at a time; returns the total consumed or the error.
result<std::size_t> feed_bytewise(auto& machine, byte_span in) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    auto n = machine.on_bytes(in.subspan(i, 1));
    if (!n) return n.error();
    total += *n;
  }
  return total;
}

TEST(multistream, encodes_spec_vectors) {
  EXPECT_EQ(encode_message(protocol_id), header_bytes);
  EXPECT_EQ(to_hex(encode_message("na")), "036e610a");  // connections/README.md
  EXPECT_EQ(to_hex(encode_message("ls")), "036c730a");  // multistream-select README
}

TEST(multistream, encodes_two_byte_length_prefix) {
  std::string long_name(200, 'a');
  auto enc = encode_message(long_name);
  ASSERT_EQ(enc.size(), 2 + 201u);
  EXPECT_EQ(enc[0], 0xc9);  // 201 = 0b1'1001001
  EXPECT_EQ(enc[1], 0x01);
  EXPECT_EQ(enc.back(), '\n');
}

TEST(multistream, dialer_sends_header_and_first_proposal_in_one_write) {
  dialer d({"/noise", "/tls/1.0.0"});
  EXPECT_EQ(d.take_output(), cat({header_bytes, encode_message("/noise")}));
  EXPECT_TRUE(d.take_output().empty());
}

TEST(multistream, dialer_and_listener_agree_when_fed_byte_by_byte) {
  dialer d({"/tls/1.0.0", "/noise"});
  listener l(supports_noise);
  for (int round = 0; round < 4 && !(d.done() && l.done()); ++round) {
    auto to_listener = d.take_output();
    ASSERT_TRUE(feed_bytewise(l, to_listener));
    auto to_dialer = l.take_output();
    ASSERT_TRUE(feed_bytewise(d, to_dialer));
  }
  ASSERT_TRUE(d.done());
  ASSERT_TRUE(l.done());
  EXPECT_EQ(d.selected(), "/noise");
  EXPECT_EQ(l.selected(), "/noise");
}

TEST(multistream, listener_answers_na_then_echoes_supported_protocol) {
  listener l(supports_noise);
  auto in = cat({header_bytes, encode_message("/tls/1.0.0"), encode_message("/noise")});
  auto n = l.on_bytes(in);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, in.size());
  EXPECT_EQ(l.take_output(), cat({header_bytes, encode_message("na"), encode_message("/noise")}));
  EXPECT_TRUE(l.done());
}

TEST(multistream, listener_leaves_pipelined_application_data_to_caller) {
  listener l(supports_noise);
  auto negotiation = cat({header_bytes, encode_message("/noise")});
  auto in = cat({negotiation, str("noise-handshake-bytes")});
  auto n = l.on_bytes(in);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, negotiation.size());
  EXPECT_TRUE(l.done());
  // Once done, further input is not ours.
  EXPECT_EQ(*l.on_bytes(str("more")), 0u);
}

// Issue 21, defect 4: a deferred proposal is answered only once its owner
// decided (a service's local port accepted, or not), so the dialer learns a
// refusal as "na" instead of an echo followed by a reset.
TEST(multistream, a_deferred_proposal_waits_for_the_decision_and_keeps_pipelined_data) {
  listener l(supports_noise, [](std::string_view p) { return p == "/noise"; });
  auto negotiation = cat({header_bytes, encode_message("/noise")});
  auto n = l.on_bytes(cat({negotiation, str("app-data")}));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, negotiation.size());
  EXPECT_EQ(l.take_output(), header_bytes);  // no echo yet
  ASSERT_TRUE(l.pending());
  EXPECT_EQ(*l.pending(), "/noise");
  EXPECT_FALSE(l.done());
  EXPECT_EQ(*l.on_bytes(str("app-data")), 0u);  // nothing read while pending
  ASSERT_TRUE(l.decide(true));
  EXPECT_TRUE(l.done());
  EXPECT_EQ(l.selected(), "/noise");
  EXPECT_EQ(l.take_output(), encode_message("/noise"));
}

TEST(multistream, a_refused_deferred_proposal_is_na_and_the_dialer_may_propose_again) {
  int asked = 0;
  listener l([](std::string_view p) { return p == "/a" || p == "/b"; },
             [&](std::string_view p) { return ++asked, p == "/a"; });
  ASSERT_TRUE(l.on_bytes(cat({header_bytes, encode_message("/a")})));
  (void)l.take_output();
  ASSERT_TRUE(l.decide(false));
  EXPECT_FALSE(l.pending());
  EXPECT_FALSE(l.done());
  EXPECT_EQ(l.take_output(), encode_message("na"));
  ASSERT_TRUE(l.on_bytes(encode_message("/b")));
  EXPECT_TRUE(l.done());
  EXPECT_EQ(l.take_output(), encode_message("/b"));
  EXPECT_FALSE(l.decide(true));  // nothing pending
}

TEST(multistream, refused_deferred_proposals_count_toward_the_proposal_limit) {
  listener l(supports_noise, [](std::string_view) { return true; });
  ASSERT_TRUE(l.on_bytes(header_bytes));
  bool failed = false;
  for (std::size_t i = 0; i <= max_proposals + 1 && !failed; ++i) {
    if (!l.on_bytes(encode_message("/noise"))) {
      failed = true;
      break;
    }
    if (!l.decide(false)) failed = true;
  }
  EXPECT_TRUE(failed);
}

TEST(multistream, dialer_leaves_bytes_after_final_answer_to_caller) {
  dialer d({"/yamux/1.0.0"});
  (void)d.take_output();
  auto answer = cat({header_bytes, encode_message("/yamux/1.0.0")});
  auto in = cat({answer, bytes{0x00, 0x01, 0x00, 0x01}});
  auto n = d.on_bytes(in);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, answer.size());
  EXPECT_TRUE(d.done());
  EXPECT_EQ(d.selected(), "/yamux/1.0.0");
}

TEST(multistream, dialer_proposes_next_protocol_after_na) {
  dialer d({"/tls/1.0.0", "/noise"});
  (void)d.take_output();
  ASSERT_TRUE(d.on_bytes(cat({header_bytes, encode_message("na")})));
  EXPECT_FALSE(d.done());
  EXPECT_EQ(d.take_output(), encode_message("/noise"));
}

TEST(multistream, dialer_fails_when_every_proposal_is_refused) {
  dialer d({"/tls/1.0.0", "/noise"});
  (void)d.take_output();
  auto r = d.on_bytes(cat({header_bytes, encode_message("na"), encode_message("na")}));
  EXPECT_EQ(r.error(), make_error_code(errc::protocol_not_supported));
  // The failure is sticky.
  EXPECT_EQ(d.on_bytes(header_bytes).error(), make_error_code(errc::protocol_not_supported));
}

TEST(multistream, dialer_rejects_peer_without_multistream_header) {
  dialer d({"/noise"});
  (void)d.take_output();
  EXPECT_EQ(d.on_bytes(encode_message("/multistream/2.0.0")).error(),
            make_error_code(errc::multistream_header));
}

TEST(multistream, dialer_rejects_unexpected_answer) {
  dialer d({"/noise"});
  (void)d.take_output();
  EXPECT_EQ(d.on_bytes(cat({header_bytes, encode_message("/tls/1.0.0")})).error(),
            make_error_code(errc::multistream_message));
}

TEST(multistream, listener_rejects_peer_without_multistream_header) {
  listener l(supports_noise);
  EXPECT_EQ(l.on_bytes(encode_message("/noise")).error(),
            make_error_code(errc::multistream_header));
  EXPECT_TRUE(l.take_output().empty());
}

TEST(multistream, rejects_message_longer_than_max_before_buffering_it) {
  listener l(supports_noise);
  bytes prefix;
  prefix.push_back(0x81);  // 1025 = max_message + 1
  prefix.push_back(0x08);
  EXPECT_EQ(l.on_bytes(prefix).error(), make_error_code(errc::multistream_message));
}

TEST(multistream, accepts_message_of_exactly_max_length) {
  listener l([](std::string_view p) { return p.size() == max_message - 1; });
  std::string name(max_message - 1, 'x');
  ASSERT_TRUE(l.on_bytes(cat({header_bytes, encode_message(name)})));
  EXPECT_TRUE(l.done());
}

TEST(multistream, rejects_message_without_trailing_newline) {
  listener l(supports_noise);
  EXPECT_EQ(l.on_bytes(str("\x13/multistream/1.0.0X")).error(),
            make_error_code(errc::multistream_message));
}

TEST(multistream, rejects_zero_length_and_overlong_varint) {
  listener zero(supports_noise);
  EXPECT_EQ(zero.on_bytes(bytes{0x00}).error(), make_error_code(errc::multistream_message));
  listener overlong(supports_noise);
  EXPECT_EQ(overlong.on_bytes(bytes{0x80, 0x80, 0x80}).error(),
            make_error_code(errc::multistream_message));
  listener not_minimal(supports_noise);
  EXPECT_EQ(not_minimal.on_bytes(bytes{0x83, 0x00}).error(),
            make_error_code(errc::multistream_message));
}

TEST(multistream, listener_answers_ls_with_na) {
  listener l(supports_noise);
  ASSERT_TRUE(l.on_bytes(cat({header_bytes, encode_message("ls")})));
  EXPECT_EQ(l.take_output(), cat({header_bytes, encode_message("na")}));
  EXPECT_FALSE(l.done());
}

TEST(multistream, listener_gives_up_after_too_many_proposals) {
  listener l(supports_noise);
  ASSERT_TRUE(l.on_bytes(header_bytes));
  for (std::size_t i = 0; i < max_proposals; ++i) {
    ASSERT_TRUE(l.on_bytes(encode_message("/unknown/" + std::to_string(i))));
  }
  EXPECT_EQ(l.on_bytes(encode_message("/unknown/last")).error(),
            make_error_code(errc::protocol_not_supported));
}

TEST(multistream, reader_resumes_a_message_split_across_reads) {
  message_reader r;
  auto msg = encode_message("/noise");
  ASSERT_EQ(*r.feed(byte_span(msg).first(3)), 3u);
  EXPECT_FALSE(r.complete());
  ASSERT_EQ(*r.feed(byte_span(msg).subspan(3)), msg.size() - 3);
  ASSERT_TRUE(r.complete());
  EXPECT_EQ(r.message(), "/noise");
}

}  // namespace
}  // namespace peerup::multistream
