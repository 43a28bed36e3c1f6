// A whole yamux session (client or server) driven by hostile input and by the
// app calls the input asks for. Layout: [u8 setup] then operations [u8 op]...
//   setup: bit 0 client role, bits 1-3 a config variant (small limits, tiny
//   frames, huge windows).
//   op % 13: 0-2 feed [u8 n][n raw bytes]; 3 feed a frame built from fields;
//   4 write; 5 consumed; 6 close_write; 7 reset; 8 open_stream; 9 ping;
//   10 go_away; 11 advance time; 12 feed a data frame with a synthesized
//   payload of up to 1 MiB (to reach window exhaustion and updates).
//   Stream ids are one byte: < 0x80 picks a stream seen so far, else id & 0x7f
//   (0xff is 0xffffffff).
// Never crash, and hold what the API promises, checked from the outside:
//   - data delivered on a stream never exceeds the default window plus every
//     window update we sent for it (so the app's buffer is bounded);
//   - unread data never exceeds the stream's receive window;
//   - write() accepts at most send_window() and the output carries exactly
//     the accepted bytes, in data frames no larger than max_frame_payload;
//   - everything we write parses as well-formed yamux frames;
//   - errors are sticky and announce a protocol-error Go Away.
#include <map>
#include <set>
#include <vector>

#include "fuzz_common.hpp"
#include "wire/yamux.hpp"

using namespace peerup;
using namespace peerup::yamux;

namespace {

config config_variant(std::uint8_t v) {
  config c;
  switch (v) {
    case 1:
      c.max_streams = 2;
      c.max_ack_backlog = 1;
      break;
    case 2:
      c.initial_window = 512 * 1024;
      c.max_window = 1024 * 1024;
      break;
    case 3: c.max_frame_payload = 1; break;
    case 4:
      c.max_frame_payload = 0;
      c.max_window = 0;
      break;
    case 5:
      c.initial_window = 0xffffffff;
      c.max_window = 0xffffffff;
      break;
    case 6: c.max_streams = 0; break;
    case 7:
      c.max_ack_backlog = 0;
      c.initial_window = 1;
      break;
    default: break;
  }
  return c;
}

struct harness {
  harness(bool client, config c) : s(client, c), cfg(c), is_client(client) {}

  session s;
  config cfg;
  bool is_client;
  std::uint64_t now = 0;
  bool failed = false;
  bool sent_go_away = false;
  std::uint64_t last_opened = 0;

  // Per stream id, over every lifetime of that id.
  std::map<std::uint32_t, std::uint64_t> delivered, allowance, written, data_in_output;
  // Per stream id, the current lifetime only.
  std::map<std::uint32_t, std::uint64_t> unread;
  std::vector<std::uint32_t> known;  // ids seen, for picking targets

  std::uint32_t pick_id(std::uint8_t b) {
    if (b < 0x80 && !known.empty()) return known[b % known.size()];
    if (b == 0xff) return 0xffffffff;
    return b & 0x7f;
  }

  void new_lifetime(std::uint32_t id) {
    allowance[id] += default_window;
    unread[id] = 0;
    known.push_back(id);
    if (known.size() > 64) known.erase(known.begin());
  }

  // Parses everything the session wrote since the last call.
  void check_output() {
    bytes out;
    s.take_output(out);
    byte_span rest(out);
    while (!rest.empty()) {
      auto h = decode(rest);
      FUZZ_CHECK(h.has_value());  // only whole, valid frames are ever queued
      rest = rest.subspan(header_size);
      switch (h->type) {
        case frame_type::data:
          FUZZ_CHECK(h->length <= std::max<std::size_t>(cfg.max_frame_payload, 1));
          FUZZ_CHECK(h->length <= rest.size());
          FUZZ_CHECK(h->stream_id != 0);
          rest = rest.subspan(h->length);
          data_in_output[h->stream_id] += h->length;
          break;
        case frame_type::window_update:
          FUZZ_CHECK(h->stream_id != 0);
          allowance[h->stream_id] += h->length;
          break;
        case frame_type::ping: FUZZ_CHECK(h->stream_id == 0); break;
        case frame_type::go_away:
          FUZZ_CHECK(h->stream_id == 0);
          sent_go_away = true;
          break;
      }
    }
  }

  void feed(byte_span in) {
    std::vector<event> events;
    const bool go_away_before = sent_go_away;
    auto r = s.on_bytes(in, events, now);
    check_output();
    if (failed) {
      FUZZ_CHECK(!r.has_value() && events.empty());
      return;
    }
    if (!r) {
      failed = true;
      // A protocol error is announced unless we had already said goodbye.
      FUZZ_CHECK(go_away_before || sent_go_away);
    }
    for (const auto& e : events) {
      switch (e.kind) {
        case event_kind::inbound_stream:
          FUZZ_CHECK(e.stream != 0 && (e.stream % 2 == 1) != is_client);
          new_lifetime(e.stream);
          break;
        case event_kind::data:
          // A view into the bytes we passed in.
          FUZZ_CHECK(!e.data.empty());
          FUZZ_CHECK(e.data.data() >= in.data() &&
                     e.data.data() + e.data.size() <= in.data() + in.size());
          delivered[e.stream] += e.data.size();
          unread[e.stream] += e.data.size();
          break;
        case event_kind::remote_reset: unread.erase(e.stream); break;
        case event_kind::ping_ack: FUZZ_CHECK(e.rtt_ms <= now); break;
        default: break;
      }
    }
    check_windows();
  }

  void check_windows() {
    for (const auto& [id, n] : delivered) FUZZ_CHECK(n <= allowance[id]);
    for (const auto& [id, n] : written) FUZZ_CHECK(data_in_output[id] == n);
    FUZZ_CHECK(s.stream_count() <= cfg.max_streams);
    const std::uint64_t window_cap =
        std::max<std::uint64_t>({cfg.max_window, cfg.initial_window, default_window});
    for (const auto& [id, n] : unread) {
      if (!s.is_open(id)) continue;
      FUZZ_CHECK(n <= s.receive_window(id));
      FUZZ_CHECK(s.receive_window(id) <= window_cap);
    }
  }
};

bytes build_frame(fuzz::input& in, harness& h) {
  frame_header fh;
  fh.type = static_cast<frame_type>(in.u8() % 4);
  fh.flags = in.u8() & 0x0f;
  fh.stream_id = h.pick_id(in.u8());
  bytes out;
  if (fh.type == frame_type::data) {
    fh.length = in.u16();
    encode(fh, out);
    append(out, in.take(fh.length));  // may stop short: the rest follows in later feeds
  } else {
    fh.length = in.u32();
    encode(fh, out);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bytes zeros(1 << 20, 0);
  fuzz::input in(data, size);
  const std::uint8_t setup = in.u8();
  harness h((setup & 1) != 0, config_variant((setup >> 1) & 7));

  for (std::size_t ops = 0; !in.empty() && ops < 4096; ++ops) {
    const std::uint8_t op = in.u8();
    switch (op % 13) {
      case 0:
      case 1:
      case 2: {
        // Copy so the session cannot lean on bytes outside the chunk.
        const byte_span chunk = in.chunk8();
        const bytes copy(chunk.begin(), chunk.end());
        h.feed(copy);
        break;
      }
      case 3: h.feed(build_frame(in, h)); break;
      case 4: {
        const std::uint32_t id = h.pick_id(in.u8());
        const std::size_t n = std::size_t{in.u16()} << (in.u8() % 5);
        const std::size_t window = h.s.send_window(id);
        const std::size_t accepted =
            h.s.write(id, byte_span(zeros).first(std::min(n, zeros.size())));
        FUZZ_CHECK(accepted <= std::min(n, window));
        FUZZ_CHECK(h.s.send_window(id) == window - accepted);
        h.written[id] += accepted;
        h.check_output();
        break;
      }
      case 5: {
        const std::uint32_t id = h.pick_id(in.u8());
        auto it = h.unread.find(id);
        const std::uint64_t have = it == h.unread.end() ? 0 : it->second;
        // The app reports only bytes it has actually read.
        const std::uint64_t n = have == 0 ? 0 : in.u32() % (have + 1);
        h.s.consumed(id, n, h.now);
        if (it != h.unread.end()) it->second -= n;
        h.check_output();
        break;
      }
      case 6: {
        const std::uint32_t id = h.pick_id(in.u8());
        h.s.close_write(id);
        FUZZ_CHECK(h.s.write(id, byte_span(zeros).first(1)) == 0);
        h.check_output();
        break;
      }
      case 7: {
        const std::uint32_t id = h.pick_id(in.u8());
        h.s.reset(id);
        if (!h.failed) FUZZ_CHECK(!h.s.is_open(id));
        h.unread.erase(id);
        h.check_output();
        break;
      }
      case 8: {
        auto id = h.s.open_stream();
        if (id) {
          FUZZ_CHECK(!h.failed);
          FUZZ_CHECK((*id % 2 == 1) == h.is_client);
          FUZZ_CHECK(*id > h.last_opened);
          h.last_opened = *id;
          FUZZ_CHECK(h.s.is_open(*id));
          h.new_lifetime(*id);
        }
        h.check_output();
        break;
      }
      case 9:
        h.now += in.u8();
        h.s.ping(h.now);
        h.check_output();
        break;
      case 10:
        h.s.go_away(in.u8() % 3);
        h.check_output();
        FUZZ_CHECK(!h.s.open_stream().has_value());
        break;
      case 11: h.now += std::uint64_t{in.u16()}; break;
      case 12: {
        // A data frame with a synthesized payload, so windows can be
        // exhausted without megabyte inputs: [flags][id][u32 length].
        frame_header fh;
        fh.flags = in.u8() & 0x0f;
        fh.stream_id = h.pick_id(in.u8());
        fh.length = in.u32() % (1024 * 1024);
        bytes header;
        encode(fh, header);
        h.feed(header);
        for (std::size_t left = fh.length; left > 0 && !h.failed;) {
          const std::size_t n = std::min<std::size_t>(left, 64 * 1024);
          h.feed(byte_span(zeros).first(n));
          left -= n;
        }
        break;
      }
    }
    h.check_windows();
  }
  return 0;
}
