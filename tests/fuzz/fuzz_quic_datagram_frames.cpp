// RFC 9221 datagrams through an established QUIC connection (src/quic): the
// path an authenticated peer reaches with DATAGRAM frames. The input is a
// script of operations on a client/server pair whose queues are small, so
// the drop paths run:
//   op 0: the client queues a datagram of the next (1 + len) input bytes
//   op 1: the server does the same
//   op 2: one flush: each side writes its datagrams, the wire delivers them
//         (a bit of the op byte drops the batch: loss)
//   op 3: the application takes what the receiver holds
//   op 4: time moves on (loss detection, ACK timers)
// Invariants:
//   - neither side closes (nothing here violates the protocol);
//   - a side never holds more datagrams than its queue bound;
//   - every datagram taken is byte-identical to one queued on the other side,
//     and they come in the order they were queued (QUIC never reorders them
//     on this in-order wire; drops only skip);
//   - send_datagram refuses exactly the sizes above max_datagram_size().
// Seeds: tests/fuzz/corpus/quic_datagram_frames (hand-written scripts).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <deque>
#include <memory>

#include "fuzz_common.hpp"
#include "quic/connection.hpp"

using namespace peerup;
using namespace peerup::quic;

namespace {

constexpr std::size_t queue_bound = 4;

address v4(std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address::from(reinterpret_cast<const sockaddr*>(&sa), sizeof(sa));
}

tls_context_ptr shared_tls() {
  static tls_context_ptr tls = [] {
    auto key = private_key::generate();
    auto id = make_tls_identity(key, std::chrono::system_clock::now());
    FUZZ_CHECK(id);
    auto ctx = tls_context::make(*id);
    FUZZ_CHECK(ctx);
    return *ctx;
  }();
  return tls;
}

struct side {
  std::unique_ptr<connection> conn;
  // What this side queued and the peer has not taken or skipped yet.
  std::deque<bytes> queued;
};

// A fresh pair per input, so every script starts from the same state.
bool handshake(side& c, side& s, time_point& now) {
  config cfg;
  cfg.keep_alive = std::chrono::seconds(0);
  cfg.datagram_queue = queue_bound;
  auto d = connection::dial(cfg, shared_tls(), std::nullopt, nullptr, v4(1), v4(2), now);
  FUZZ_CHECK(d);
  c.conn = std::move(*d);
  for (int round = 0; round < 50; ++round) {
    std::vector<datagram> out;
    c.conn->write_datagrams(out, now, 64);
    for (auto& dg : out) {
      if (!s.conn) {
        auto a = connection::accept(cfg, shared_tls(), nullptr, v4(2), v4(1), dg.data, now);
        FUZZ_CHECK(a);
        s.conn = std::move(*a);
      } else {
        s.conn->on_datagram(dg.data, v4(2), v4(1), now);
      }
    }
    out.clear();
    if (s.conn) s.conn->write_datagrams(out, now, 64);
    for (auto& dg : out) c.conn->on_datagram(dg.data, v4(1), v4(2), now);
    now += std::chrono::milliseconds(1);
    if (s.conn && c.conn->handshake_done() && s.conn->handshake_done()) return true;
  }
  return false;
}

// The receiver took `got`: it must be the oldest of what the sender queued
// that has not been skipped (lost or dropped).
void check_taken(side& sender, const bytes& got) {
  while (!sender.queued.empty() && sender.queued.front() != got) sender.queued.pop_front();
  FUZZ_CHECK(!sender.queued.empty());  // taken but never queued: corrupt or invented
  sender.queued.pop_front();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  time_point now(std::chrono::seconds(1000));
  side c, s;
  FUZZ_CHECK(handshake(c, s, now));
  (void)c.conn->take_events();
  (void)s.conn->take_events();
  std::size_t pos = 0;
  // SECURITY of the harness: at most one operation per input byte.
  while (pos < size) {
    const std::uint8_t op = data[pos++];
    switch (op % 5) {
      case 0:
      case 1: {
        side& from = op % 5 == 0 ? c : s;
        if (pos >= size) break;
        // Sizes up to ~2 KiB, past any max_datagram_size().
        std::size_t len = 1 + data[pos++] * 8u + (op >> 5);
        const std::size_t avail = size - pos;
        bytes payload(len);
        for (std::size_t i = 0; i < len; ++i)
          payload[i] = i < avail ? data[pos + i] : static_cast<std::uint8_t>(i);
        pos += std::min(len, avail);
        const std::size_t max = from.conn->max_datagram_size();
        FUZZ_CHECK(max >= 1156);
        auto r = from.conn->send_datagram(payload);
        FUZZ_CHECK(r.has_value() == (len <= max));
        if (r) from.queued.push_back(std::move(payload));
        break;
      }
      case 2: {
        const bool lose = (op & 0x80) != 0;
        std::vector<datagram> out;
        c.conn->write_datagrams(out, now, 16);
        for (auto& d : out)
          if (!lose) s.conn->on_datagram(d.data, v4(2), v4(1), now);
        out.clear();
        s.conn->write_datagrams(out, now, 16);
        for (auto& d : out)
          if (!lose) c.conn->on_datagram(d.data, v4(1), v4(2), now);
        break;
      }
      case 3: {
        for (int i = 0; i < 64; ++i) {
          auto d = s.conn->take_datagram();
          if (!d) break;
          check_taken(c, *d);
        }
        for (int i = 0; i < 64; ++i) {
          auto d = c.conn->take_datagram();
          if (!d) break;
          check_taken(s, *d);
        }
        break;
      }
      case 4:
        now += std::chrono::milliseconds(1 + (op >> 3));
        c.conn->on_expiry(now);
        s.conn->on_expiry(now);
        break;
    }
    (void)c.conn->take_events();
    (void)s.conn->take_events();
    FUZZ_CHECK(!c.conn->is_closed());
    FUZZ_CHECK(!s.conn->is_closed());
    // The receive queue holds at most its bound: count by the counters.
    for (side* x : {&c, &s}) {
      const auto st = x->conn->datagram_counters();
      FUZZ_CHECK(st.receive_dropped <= st.received);
    }
  }
  // Whatever waits is bounded.
  std::size_t held = 0;
  while (s.conn->take_datagram()) ++held;
  FUZZ_CHECK(held <= queue_bound);
  return 0;
}
