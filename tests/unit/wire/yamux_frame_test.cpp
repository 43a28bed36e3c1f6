#include "wire/yamux_frame.hpp"

#include <gtest/gtest.h>

namespace peerup::yamux {
namespace {

// Expected bytes are written out by hand from the spec's field layout:
// version u8 | type u8 | flags u16 | stream id u32 | length u32, big endian.
TEST(yamux_frame, encodes_window_update_syn_as_spec_layout) {
  frame_header h{
      .type = frame_type::window_update, .flags = flag::syn, .stream_id = 1, .length = 0};
  EXPECT_EQ(to_hex(encode(h)), "000100010000000100000000");
}

TEST(yamux_frame, encodes_data_frame_with_fin_big_endian) {
  frame_header h{
      .type = frame_type::data, .flags = flag::fin, .stream_id = 0x01020304, .length = 0x00a0b0c0};
  EXPECT_EQ(to_hex(encode(h)), "000000040102030400a0b0c0");
}

TEST(yamux_frame, encodes_ping_ack_and_go_away) {
  EXPECT_EQ(to_hex(encode({.type = frame_type::ping, .flags = flag::ack, .length = 0xdeadbeef})),
            "0002000200000000deadbeef");
  EXPECT_EQ(to_hex(encode({.type = frame_type::go_away, .length = go_away_code::protocol_error})),
            "000300000000000000000001");
}

TEST(yamux_frame, encodes_rst_and_ack_flag_values) {
  bytes out;
  encode({.type = frame_type::window_update, .flags = flag::rst | flag::ack, .stream_id = 2}, out);
  EXPECT_EQ(to_hex(out), "0001000a0000000200000000");
}

TEST(yamux_frame, decodes_what_it_encodes) {
  frame_header h{.type = frame_type::window_update,
                 .flags = flag::ack | flag::fin,
                 .stream_id = 0xfffffffe,
                 .length = 0x80000001};
  auto raw = encode(h);
  auto back = decode(raw);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, h);
  EXPECT_TRUE(back->has(flag::ack));
  EXPECT_FALSE(back->has(flag::syn));
}

TEST(yamux_frame, reports_truncation_below_twelve_bytes) {
  auto raw = encode(frame_header{});
  EXPECT_EQ(decode(byte_span(raw).first(11)).error(), make_error_code(errc::truncated));
}

TEST(yamux_frame, rejects_unknown_version_and_type) {
  auto raw = encode(frame_header{});
  raw[0] = 1;
  EXPECT_EQ(decode(raw).error(), make_error_code(errc::yamux_protocol));
  raw[0] = 0;
  raw[1] = 4;
  EXPECT_EQ(decode(raw).error(), make_error_code(errc::yamux_protocol));
}

}  // namespace
}  // namespace peerup::yamux
