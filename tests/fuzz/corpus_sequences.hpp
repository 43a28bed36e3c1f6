// Seed inputs for the two operation-driven targets (fuzz_yamux_session and
// fuzz_relay_server_state), spelled in their input layouts. Used by
// make_corpus.cpp only.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/bytes.hpp"
#include "wire/yamux_frame.hpp"

namespace peerup::fuzz {

class op_writer {
 public:
  op_writer& u8(std::uint8_t v) {
    out_.push_back(v);
    return *this;
  }
  op_writer& u16(std::uint16_t v) { return u8(static_cast<std::uint8_t>(v >> 8)).u8(v & 0xff); }
  op_writer& u32(std::uint32_t v) {
    return u16(static_cast<std::uint16_t>(v >> 16)).u16(v & 0xffff);
  }
  op_writer& raw(byte_span b) {
    append(out_, b);
    return *this;
  }
  bytes take() { return std::move(out_); }

 private:
  bytes out_;
};

// --- yamux_session: ids are bytes, < 0x80 = index into streams seen, else id & 0x7f.
namespace yamux_ops {
inline constexpr std::uint8_t feed = 0, frame = 3, write = 4, consumed = 5, close_write = 6,
                              reset = 7, open = 8, ping = 9, go_away = 10, time = 11, bulk = 12;
inline constexpr std::uint8_t first_stream = 0x00;
inline std::uint8_t raw_id(std::uint8_t id) { return 0x80 | id; }

inline bytes data_frame(std::uint16_t flags, std::uint32_t id, std::string_view payload) {
  bytes out;
  yamux::encode(yamux::frame_header{.type = yamux::frame_type::data,
                                    .flags = flags,
                                    .stream_id = id,
                                    .length = static_cast<std::uint32_t>(payload.size())},
                out);
  append(out, as_bytes(payload));
  return out;
}
}  // namespace yamux_ops

inline std::vector<std::pair<std::string, bytes>> yamux_session_seeds() {
  using namespace yamux_ops;
  namespace flag = yamux::flag;
  std::vector<std::pair<std::string, bytes>> seeds;
  {
    // Server: inbound stream with data, echo, ping both ways, half-close.
    const bytes syn = data_frame(flag::syn, 1, "hello");
    op_writer w;
    w.u8(0);
    w.u8(feed).u8(static_cast<std::uint8_t>(syn.size())).raw(syn);
    w.u8(consumed).u8(first_stream).u32(5);
    w.u8(write).u8(first_stream).u16(5).u8(0);
    w.u8(ping).u8(10);
    w.u8(frame).u8(2).u8(flag::ack).u8(raw_id(0)).u32(1);   // answer to our ping 1
    w.u8(frame).u8(2).u8(flag::syn).u8(raw_id(0)).u32(77);  // peer's ping
    w.u8(frame).u8(1).u8(flag::fin).u8(first_stream).u32(0);
    w.u8(close_write).u8(first_stream);
    seeds.emplace_back("server_echo", w.take());
  }
  {
    // Server: a full window of data, credit returned, window auto-tuned
    // after an RTT measurement.
    op_writer w;
    w.u8(0);
    w.u8(ping).u8(1);
    w.u8(frame).u8(2).u8(flag::ack).u8(raw_id(0)).u32(1);
    w.u8(bulk).u8(flag::syn).u8(raw_id(1)).u32(256 * 1024);
    w.u8(consumed).u8(first_stream).u32(256 * 1024);
    w.u8(bulk).u8(0).u8(first_stream).u32(256 * 1024);
    w.u8(consumed).u8(first_stream).u32(256 * 1024);
    w.u8(bulk).u8(0).u8(first_stream).u32(300 * 1024);  // more than the window
    seeds.emplace_back("server_window", w.take());
  }
  {
    // Client: open, ACK, write, receive with FIN, reset, Go Away.
    const bytes pong = data_frame(flag::fin, 1, "pong");
    op_writer w;
    w.u8(1);
    w.u8(open);
    w.u8(frame).u8(1).u8(flag::ack).u8(first_stream).u32(0);
    w.u8(write).u8(first_stream).u16(1000).u8(0);
    w.u8(feed).u8(static_cast<std::uint8_t>(pong.size())).raw(pong);
    w.u8(open);
    w.u8(reset).u8(1);
    w.u8(frame).u8(3).u8(0).u8(raw_id(0)).u32(0);
    w.u8(open);
    seeds.emplace_back("client_streams", w.take());
  }
  {
    // Client with max_streams 2 / ACK backlog 1: refusals and RSTs.
    const bytes syn2 = data_frame(flag::syn, 2, "x");
    const bytes syn4 = data_frame(flag::syn, 4, "y");
    op_writer w;
    w.u8(1 | (1 << 1));
    w.u8(open).u8(open);
    w.u8(feed).u8(static_cast<std::uint8_t>(syn2.size())).raw(syn2);
    w.u8(feed).u8(static_cast<std::uint8_t>(syn4.size())).raw(syn4);
    w.u8(frame).u8(1).u8(flag::rst).u8(raw_id(2)).u32(0);
    w.u8(go_away).u8(0);
    seeds.emplace_back("client_limits", w.take());
  }
  return seeds;
}

// --- relay_server_state: [limits][flags] then [op][arg](extra)...
// arg: bits 0-2 peer, 3-4 IP, bit 5 authorized, bit 6 relayed (with op bit 7).
inline std::vector<std::pair<std::string, bytes>> relay_state_seeds() {
  constexpr std::uint8_t reserve = 0, connect = 1, close = 2, disconnect = 3, expire = 4, later = 5,
                         auth = 0x20;
  std::vector<std::pair<std::string, bytes>> seeds;
  {
    op_writer w;
    w.u8(0x3f).u8(1);  // 4 reservations, 3 per IP, 3 circuits per peer, 1 circuit; open mode
    w.u8(reserve).u8(auth | 0).u8(reserve).u8(1 | (1 << 3));
    w.u8(connect).u8(1).u8(0);         // stranger -> authorized target: limited circuit
    w.u8(connect).u8(auth | 2).u8(0);  // over the total circuit cap
    w.u8(close).u8(1).u8(0).u8(0);     // close the first known circuit
    w.u8(close).u8(0).u8(1);           // already closed
    w.u8(later).u8(61).u8(expire).u8(0);
    w.u8(connect).u8(1).u8(0);  // reservation expired
    w.u8(reserve).u8(auth | 3).u8(disconnect).u8(3);
    seeds.emplace_back("open_mode", w.take());
  }
  {
    op_writer w;
    w.u8(0xff).u8(0);     // closed mode, authorized limits set
    w.u8(reserve).u8(2);  // stranger: denied
    w.u8(reserve).u8(auth | 2);
    w.u8(0x80 | reserve).u8(0x40 | auth | 4);  // over a relayed connection: denied
    w.u8(reserve).u8(auth | 4);
    w.u8(connect).u8(auth | 4).u8(2);
    w.u8(connect).u8(auth | 2).u8(4);
    w.u8(reserve).u8(auth | 2 | (2 << 3));  // refresh from another IP
    seeds.emplace_back("closed_mode", w.take());
  }
  {
    // Forwarded circuits (federation): through peer relay 7, at most 1.
    constexpr std::uint8_t forwarded = 0x40, onward = 0x20;
    op_writer w;
    w.u8(0xff).u8(0);  // closed mode
    w.u8(reserve).u8(auth | 2);
    w.u8(forwarded | connect).u8(auth | 1).u8(2).u8(7 | (1 << 3));  // inbound to 2: ok
    w.u8(forwarded | connect).u8(auth | 3).u8(2).u8(7 | (1 << 3));  // over the per-relay cap
    w.u8(forwarded | onward | connect).u8(auth | 4).u8(5).u8(6 | (2 << 3));  // onward, no rsv
    w.u8(forwarded | onward | connect).u8(auth | 4).u8(6).u8(6 | (2 << 3));  // to the relay itself
    w.u8(close).u8(1).u8(0).u8(0);
    seeds.emplace_back("forwarded", w.take());
  }
  return seeds;
}

}  // namespace peerup::fuzz
