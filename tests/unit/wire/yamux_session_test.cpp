// A yamux session fed hand-built frames, checking the exact bytes it answers.
#include <gtest/gtest.h>

#include <string>

#include "wire/yamux.hpp"

namespace peerup::yamux {
namespace {

bytes frame(frame_type type, std::uint16_t flags, std::uint32_t id, std::uint32_t length,
            std::string_view payload = {}) {
  bytes out;
  encode(frame_header{.type = type, .flags = flags, .stream_id = id, .length = length}, out);
  append(out, as_bytes(payload));
  return out;
}

bytes data(std::uint16_t flags, std::uint32_t id, std::string_view payload) {
  return frame(frame_type::data, flags, id, static_cast<std::uint32_t>(payload.size()), payload);
}

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) append(out, p);
  return out;
}

// Records events as text so runs can be compared; data is copied.
struct recorder {
  session s{false};
  std::vector<std::string> log;

  result<void> feed(byte_span in, std::uint64_t now = 0) {
    std::vector<event> evs;
    auto r = s.on_bytes(in, evs, now);
    for (const auto& e : evs) {
      if (e.kind == event_kind::data && !log.empty() &&
          log.back().starts_with("data " + std::to_string(e.stream) + " ")) {
        log.back() += as_string_view(e.data);  // one frame may arrive in pieces
        continue;
      }
      std::string line = std::to_string(static_cast<int>(e.kind)) + " " + std::to_string(e.stream);
      if (e.kind == event_kind::data) line = "data " + std::to_string(e.stream) + " ";
      line += as_string_view(e.data);
      log.push_back(line);
    }
    return r;
  }
  std::string out() {
    bytes o;
    s.take_output(o);
    return to_hex(o);
  }
};

std::string hex(const bytes& b) { return to_hex(b); }

TEST(yamux_session, client_syn_is_a_window_update_with_syn_on_stream_one) {
  session client(true);
  ASSERT_EQ(*client.open_stream(), 1u);
  ASSERT_EQ(*client.open_stream(), 3u);
  bytes out;
  client.take_output(out);
  EXPECT_EQ(to_hex(out),
            "000100010000000100000000"
            "000100010000000300000000");
}

TEST(yamux_session, syn_carries_delta_when_initial_window_is_larger) {
  session client(true, config{.initial_window = 1024 * 1024});
  ASSERT_TRUE(client.open_stream());
  // 1 MiB - 256 KiB = 0x000c0000
  EXPECT_EQ(to_hex(client.output()), "0001000100000001000c0000");
}

TEST(yamux_session, acks_inbound_syn_at_once_and_reports_stream) {
  recorder r;
  ASSERT_TRUE(r.feed(frame(frame_type::window_update, flag::syn, 1, 0)));
  EXPECT_EQ(r.out(), "000100020000000100000000");
  ASSERT_EQ(r.log.size(), 1u);
  EXPECT_EQ(r.log[0], "0 1");
  EXPECT_TRUE(r.s.is_open(1));
}

TEST(yamux_session, answers_ping_with_ack_and_same_opaque_value) {
  recorder r;
  ASSERT_TRUE(r.feed(frame(frame_type::ping, flag::syn, 0, 0x01020304)));
  EXPECT_EQ(r.out(), "000200020000000001020304");
  EXPECT_TRUE(r.log.empty());
}

TEST(yamux_session, ignores_ping_ack_with_unknown_opaque_value) {
  recorder r;
  r.s.ping(10);
  EXPECT_EQ(r.out(), "000200010000000000000001");
  ASSERT_TRUE(r.feed(frame(frame_type::ping, flag::ack, 0, 2), 30));
  EXPECT_TRUE(r.log.empty());
  ASSERT_TRUE(r.feed(frame(frame_type::ping, flag::ack, 0, 1), 30));
  EXPECT_EQ(r.s.rtt_ms(), 20u);
}

TEST(yamux_session, go_away_frame_encodes_code) {
  session s(false);
  s.go_away(go_away_code::internal_error);
  EXPECT_EQ(to_hex(s.output()), "000300000000000000000002");
}

TEST(yamux_session, write_fin_and_rst_frames_match_spec_layout) {
  session client(true);
  auto id = *client.open_stream();
  client.output().clear();
  EXPECT_EQ(client.write(id, as_bytes("hi")), 2u);
  client.close_write(id);
  client.reset(id);
  EXPECT_EQ(to_hex(client.output()), "000000000000000100000002" + to_hex(as_bytes("hi")) +
                                         "000100040000000100000000"
                                         "000100080000000100000000");
}

TEST(yamux_session, splits_writes_into_frames_of_max_frame_payload) {
  session client(true, config{.max_frame_payload = 4});
  auto id = *client.open_stream();
  client.output().clear();
  EXPECT_EQ(client.write(id, as_bytes("abcdefghij")), 10u);
  EXPECT_EQ(to_hex(client.output()),
            hex(cat({data(0, 1, "abcd"), data(0, 1, "efgh"), data(0, 1, "ij")})));
}

TEST(yamux_session, write_borrowed_frames_are_the_bytes_write_would_queue) {
  // The same writes through write() and write_borrowed(): the borrowed
  // headers followed by their payload views must be byte for byte what
  // write() puts in output(), windows included (the second write is cut at
  // the 256 KiB window the same way).
  session copied(true, config{.max_frame_payload = 4096});
  session borrowed(true, config{.max_frame_payload = 4096});
  auto a = *copied.open_stream();
  auto b = *borrowed.open_stream();
  copied.output().clear();
  borrowed.output().clear();
  bytes payload(200 * 1024);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
  std::vector<borrowed_frame> frames;
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(borrowed.write_borrowed(b, payload, frames), copied.write(a, payload));
  }
  EXPECT_TRUE(borrowed.output().empty());  // nothing copied into the session
  bytes joined;
  for (const auto& f : frames) {
    append(joined, f.header);
    append(joined, f.payload);
    EXPECT_LE(f.payload.size(), 4096u);
  }
  EXPECT_EQ(joined, copied.output());
  EXPECT_EQ(joined.size(), default_window + (default_window / 4096) * header_size);
  EXPECT_EQ(borrowed.send_window(b), 0u);
  EXPECT_EQ(borrowed.write_borrowed(b, payload, frames), 0u);  // window closed
  borrowed.close_write(b);
  EXPECT_EQ(borrowed.write_borrowed(b, payload, frames), 0u);  // closed for writing
  EXPECT_EQ(borrowed.write_borrowed(99, payload, frames), 0u);  // unknown stream
}

TEST(yamux_session, rejects_data_beyond_receive_window_with_go_away) {
  recorder r;
  ASSERT_TRUE(r.feed(frame(frame_type::window_update, flag::syn, 1, 0)));
  (void)r.out();
  auto res = r.feed(frame(frame_type::data, 0, 1, default_window + 1));
  EXPECT_EQ(res.error(), make_error_code(errc::yamux_window_exceeded));
  EXPECT_EQ(r.out(), "000300000000000000000001");
  // The failure is sticky.
  EXPECT_EQ(r.feed(frame(frame_type::ping, flag::syn, 0, 1)).error(),
            make_error_code(errc::yamux_window_exceeded));
}

TEST(yamux_session, rejects_window_overrun_across_several_frames) {
  recorder r;
  const std::string half(default_window / 2, 'x');
  ASSERT_TRUE(r.feed(cat({data(flag::syn, 1, half), data(0, 1, half)})));
  EXPECT_EQ(r.feed(data(0, 1, "y")).error(), make_error_code(errc::yamux_window_exceeded));
}

TEST(yamux_session, rejects_oversized_frame_for_unknown_stream_before_reading_payload) {
  recorder r;
  auto res = r.feed(frame(frame_type::data, 0, 9, 16 * 1024 * 1024 + 1));
  EXPECT_EQ(res.error(), make_error_code(errc::yamux_window_exceeded));
}

TEST(yamux_session, answers_data_for_unknown_stream_with_rst_and_skips_payload) {
  recorder r;
  ASSERT_TRUE(r.feed(cat({data(0, 7, "stray bytes"), frame(frame_type::ping, flag::syn, 0, 5)})));
  EXPECT_EQ(r.out(),
            "000100080000000700000000"
            "000200020000000000000005");
  EXPECT_TRUE(r.log.empty());
  EXPECT_EQ(r.s.stream_count(), 0u);
}

TEST(yamux_session, does_not_answer_rst_or_window_update_for_unknown_stream) {
  recorder r;
  ASSERT_TRUE(r.feed(cat({data(flag::rst, 7, "x"), frame(frame_type::window_update, 0, 9, 100)})));
  EXPECT_EQ(r.out(), "");
}

TEST(yamux_session, rejects_unknown_version_and_type) {
  recorder version;
  auto f = frame(frame_type::ping, flag::syn, 0, 1);
  f[0] = 1;
  EXPECT_EQ(version.feed(f).error(), make_error_code(errc::yamux_protocol));
  recorder type;
  f[0] = 0;
  f[1] = 9;
  EXPECT_EQ(type.feed(f).error(), make_error_code(errc::yamux_protocol));
}

TEST(yamux_session, rejects_duplicate_syn_wrong_parity_and_stream_zero) {
  recorder dup;
  auto syn = frame(frame_type::window_update, flag::syn, 1, 0);
  ASSERT_TRUE(dup.feed(syn));
  EXPECT_EQ(dup.feed(syn).error(), make_error_code(errc::yamux_protocol));
  recorder parity;  // a server's peer must use odd ids
  EXPECT_EQ(parity.feed(frame(frame_type::window_update, flag::syn, 2, 0)).error(),
            make_error_code(errc::yamux_protocol));
  recorder zero;
  EXPECT_EQ(zero.feed(data(0, 0, "x")).error(), make_error_code(errc::yamux_protocol));
}

TEST(yamux_session, resets_stream_that_sends_data_after_fin) {
  recorder r;
  ASSERT_TRUE(r.feed(data(flag::syn | flag::fin, 1, "last")));
  (void)r.out();
  ASSERT_TRUE(r.feed(data(0, 1, "more")));
  EXPECT_EQ(r.out(), "000100080000000100000000");
  EXPECT_EQ(r.log, (std::vector<std::string>{"0 1", "data 1 last", "3 1", "4 1"}));
  EXPECT_FALSE(r.s.is_open(1));
}

TEST(yamux_session, refuses_inbound_streams_after_local_go_away) {
  recorder r;
  r.s.go_away(go_away_code::normal);
  (void)r.out();
  ASSERT_TRUE(r.feed(data(flag::syn, 1, "hello")));
  EXPECT_EQ(r.out(), "000100080000000100000000");
  EXPECT_TRUE(r.log.empty());
}

TEST(yamux_session, delivers_same_events_for_input_split_at_every_byte) {
  session client(true);
  auto id = *client.open_stream();
  client.write(id, as_bytes("hello, yamux"));
  client.close_write(id);
  client.ping(0);
  bytes wire;
  client.take_output(wire);
  append(wire, frame(frame_type::go_away, 0, 0, go_away_code::normal));

  recorder whole;
  ASSERT_TRUE(whole.feed(wire));
  const auto expected_out = whole.out();
  ASSERT_EQ(whole.log, (std::vector<std::string>{"0 1", "data 1 hello, yamux", "3 1", "6 0"}));

  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    recorder split;
    ASSERT_TRUE(split.feed(byte_span(wire).first(cut)));
    ASSERT_TRUE(split.feed(byte_span(wire).subspan(cut)));
    EXPECT_EQ(split.log, whole.log) << "cut at " << cut;
    EXPECT_EQ(split.out(), expected_out) << "cut at " << cut;
  }
  recorder bytewise;
  for (std::size_t i = 0; i < wire.size(); ++i)
    ASSERT_TRUE(bytewise.feed(byte_span(wire).subspan(i, 1)));
  EXPECT_EQ(bytewise.log, whole.log);
}

TEST(yamux_session, ignores_data_still_arriving_for_a_stream_the_app_reset) {
  recorder r;
  auto f = data(flag::syn, 1, "0123456789");
  ASSERT_TRUE(r.feed(byte_span(f).first(15)));
  r.s.reset(1);
  (void)r.out();
  ASSERT_TRUE(
      r.feed(cat({bytes(f.begin() + 15, f.end()), frame(frame_type::ping, flag::syn, 0, 3)})));
  EXPECT_EQ(r.log, (std::vector<std::string>{"0 1", "data 1 012"}));
  EXPECT_EQ(r.out(), "000200020000000000000003");
}

}  // namespace
}  // namespace peerup::yamux
