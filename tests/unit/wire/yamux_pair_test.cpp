// Two yamux sessions wired back to back through an in-memory link with a
// configurable one-way delay.
#include <gtest/gtest.h>

#include <map>

#include "wire/yamux.hpp"

namespace peerup::yamux {
namespace {

struct side {
  explicit side(bool is_client, config cfg) : s(is_client, cfg) {}
  session s;
  std::vector<event> events;  // data spans are cleared once copied into rx
  std::map<std::uint32_t, bytes> rx;
  bool auto_consume = true;

  std::size_t count(event_kind k, std::uint32_t stream = 0) const {
    std::size_t n = 0;
    for (const auto& e : events) n += (e.kind == k && (stream == 0 || e.stream == stream)) ? 1 : 0;
    return n;
  }
};

struct link {
  explicit link(config client_cfg = {}, config server_cfg = {})
      : client(true, client_cfg), server(false, server_cfg) {}
  side client;
  side server;
  std::uint64_t now = 0;
  std::uint64_t one_way_ms = 0;

  // One flight in each direction; false when both sides were idle.
  bool step() {
    bytes from_client, from_server;
    client.s.take_output(from_client);
    server.s.take_output(from_server);
    if (from_client.empty() && from_server.empty()) return false;
    now += one_way_ms;
    deliver(server, from_client);
    deliver(client, from_server);
    return true;
  }

  void settle() {
    for (int i = 0; i < 1000 && step(); ++i) {
    }
  }

  void deliver(side& to, const bytes& in) {
    std::vector<event> evs;
    auto r = to.s.on_bytes(in, evs, now);
    ASSERT_TRUE(r) << r.error().message();
    for (auto& e : evs) {
      if (e.kind == event_kind::data) {
        append(to.rx[e.stream], e.data);
        if (to.auto_consume) to.s.consumed(e.stream, e.data.size(), now);
        e.data = {};
      }
      to.events.push_back(e);
    }
  }
};

bytes pattern(std::size_t n, std::uint32_t seed) {
  bytes out(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return out;
}

TEST(yamux_pair, opened_stream_is_seen_by_peer_before_any_data) {
  link l;
  auto id = l.client.s.open_stream();
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, 1u);
  l.settle();
  EXPECT_EQ(l.server.count(event_kind::inbound_stream, *id), 1u);
  EXPECT_TRUE(l.server.s.is_open(*id));
  auto server_id = l.server.s.open_stream();
  ASSERT_TRUE(server_id);
  EXPECT_EQ(*server_id, 2u);
}

TEST(yamux_pair, moves_mebibytes_both_ways_over_several_streams_with_backpressure) {
  link l;
  constexpr std::size_t streams = 3;
  constexpr std::size_t size = 3 * 1024 * 1024 + 17;
  std::vector<std::uint32_t> ids;
  std::vector<bytes> up, down;
  std::vector<std::size_t> up_sent(streams), down_sent(streams);
  for (std::size_t i = 0; i < streams; ++i) {
    ids.push_back(*l.client.s.open_stream());
    up.push_back(pattern(size, static_cast<std::uint32_t>(i)));
    down.push_back(pattern(size, static_cast<std::uint32_t>(100 + i)));
  }
  l.settle();
  bool saw_short_write = false;
  for (int round = 0; round < 10000; ++round) {
    bool pending = false;
    for (std::size_t i = 0; i < streams; ++i) {
      const auto id = ids[i];
      const auto want_up = size - up_sent[i];
      const auto n_up = l.client.s.write(id, byte_span(up[i]).subspan(up_sent[i]));
      saw_short_write |= n_up < want_up;
      up_sent[i] += n_up;
      down_sent[i] += l.server.s.write(id, byte_span(down[i]).subspan(down_sent[i]));
      pending |= up_sent[i] < size || down_sent[i] < size;
    }
    if (!l.step() && !pending) break;
  }
  EXPECT_TRUE(saw_short_write);
  for (std::size_t i = 0; i < streams; ++i) {
    EXPECT_EQ(l.server.rx[ids[i]], up[i]) << "stream " << ids[i];
    EXPECT_EQ(l.client.rx[ids[i]], down[i]) << "stream " << ids[i];
  }
  EXPECT_GT(l.client.count(event_kind::send_window), 0u);
  EXPECT_GT(l.server.count(event_kind::send_window), 0u);
}

TEST(yamux_pair, write_stops_at_closed_window_and_resumes_after_consumed) {
  link l;
  l.server.auto_consume = false;
  auto id = *l.client.s.open_stream();
  bytes big = pattern(default_window + 1000, 7);
  EXPECT_EQ(l.client.s.write(id, big), default_window);
  EXPECT_EQ(l.client.s.send_window(id), 0u);
  EXPECT_EQ(l.client.s.write(id, big), 0u);
  l.settle();
  EXPECT_EQ(l.server.rx[id].size(), default_window);
  // The receiver has not read anything, so no credit came back.
  EXPECT_EQ(l.client.s.send_window(id), 0u);
  EXPECT_EQ(l.client.count(event_kind::send_window, id), 0u);

  // Reading less than half a window does not yet send an update.
  l.server.s.consumed(id, default_window / 2 - 1, l.now);
  l.settle();
  EXPECT_EQ(l.client.s.send_window(id), 0u);

  l.server.s.consumed(id, 1, l.now);
  l.settle();
  EXPECT_EQ(l.client.count(event_kind::send_window, id), 1u);
  EXPECT_EQ(l.client.s.send_window(id), default_window / 2);
  EXPECT_EQ(l.client.s.write(id, byte_span(big).subspan(default_window)), 1000u);
  l.settle();
  EXPECT_EQ(l.server.rx[id], big);
}

TEST(yamux_pair, half_close_in_both_directions_then_forgets_stream) {
  link l;
  auto id = *l.client.s.open_stream();
  l.client.s.write(id, as_bytes("request"));
  l.client.s.close_write(id);
  EXPECT_EQ(l.client.s.write(id, as_bytes("late")), 0u);
  l.settle();
  EXPECT_EQ(l.server.count(event_kind::remote_fin, id), 1u);
  EXPECT_EQ(as_string_view(l.server.rx[id]), "request");
  // The server can still answer on its half.
  EXPECT_EQ(l.server.s.write(id, as_bytes("response")), 8u);
  l.server.s.close_write(id);
  EXPECT_FALSE(l.server.s.is_open(id));
  l.settle();
  EXPECT_EQ(as_string_view(l.client.rx[id]), "response");
  EXPECT_EQ(l.client.count(event_kind::remote_fin, id), 1u);
  EXPECT_FALSE(l.client.s.is_open(id));
  EXPECT_EQ(l.client.s.stream_count(), 0u);
  EXPECT_EQ(l.server.s.stream_count(), 0u);
}

TEST(yamux_pair, reset_is_reported_to_peer_and_forgets_stream) {
  link l;
  auto id = *l.client.s.open_stream();
  l.settle();
  l.server.s.reset(id);
  EXPECT_FALSE(l.server.s.is_open(id));
  l.settle();
  EXPECT_EQ(l.client.count(event_kind::remote_reset, id), 1u);
  EXPECT_FALSE(l.client.s.is_open(id));
  EXPECT_EQ(l.client.s.write(id, as_bytes("x")), 0u);
}

TEST(yamux_pair, ping_measures_round_trip_time) {
  link l;
  l.one_way_ms = 25;
  EXPECT_FALSE(l.client.s.rtt_ms());
  l.client.s.ping(l.now);
  l.settle();
  ASSERT_EQ(l.client.count(event_kind::ping_ack), 1u);
  EXPECT_EQ(l.client.events.back().rtt_ms, 50u);
  EXPECT_EQ(l.client.s.rtt_ms(), 50u);
  // The answering side measured nothing.
  EXPECT_EQ(l.server.count(event_kind::ping_ack), 0u);
}

TEST(yamux_pair, go_away_stops_new_streams_on_both_sides) {
  link l;
  auto existing = *l.client.s.open_stream();
  l.settle();
  l.server.s.go_away(go_away_code::normal);
  EXPECT_EQ(l.server.s.open_stream().error(), make_error_code(errc::yamux_go_away));
  l.settle();
  ASSERT_EQ(l.client.count(event_kind::go_away), 1u);
  EXPECT_EQ(l.client.events.back().code, go_away_code::normal);
  EXPECT_EQ(l.client.s.open_stream().error(), make_error_code(errc::yamux_go_away));
  // Streams already open keep working.
  EXPECT_EQ(l.client.s.write(existing, as_bytes("still here")), 10u);
  l.settle();
  EXPECT_EQ(as_string_view(l.server.rx[existing]), "still here");
}

TEST(yamux_pair, refuses_streams_beyond_max_streams_with_rst) {
  link l({}, config{.max_streams = 2});
  auto a = *l.client.s.open_stream();
  auto b = *l.client.s.open_stream();
  auto c = *l.client.s.open_stream();
  l.settle();
  EXPECT_EQ(l.server.count(event_kind::inbound_stream), 2u);
  EXPECT_EQ(l.client.count(event_kind::remote_reset, c), 1u);
  EXPECT_TRUE(l.client.s.is_open(a));
  EXPECT_TRUE(l.client.s.is_open(b));
  EXPECT_FALSE(l.client.s.is_open(c));
  EXPECT_EQ(l.server.s.stream_count(), 2u);
}

TEST(yamux_pair, ack_backlog_limits_unacknowledged_outbound_streams) {
  link l(config{.max_ack_backlog = 4});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(l.client.s.open_stream());
  EXPECT_EQ(l.client.s.open_stream().error(), make_error_code(errc::yamux_too_many_streams));
  l.settle();  // the server ACKs all four
  EXPECT_TRUE(l.client.s.open_stream());
}

TEST(yamux_pair, default_backlog_is_256_streams) {
  link l;
  for (int i = 0; i < 256; ++i) ASSERT_TRUE(l.client.s.open_stream()) << i;
  EXPECT_EQ(l.client.s.open_stream().error(), make_error_code(errc::yamux_too_many_streams));
}

TEST(yamux_pair, larger_initial_window_is_granted_with_syn_and_ack) {
  config big{.initial_window = 1024 * 1024};
  link l(big, big);
  auto id = *l.client.s.open_stream();
  l.settle();
  EXPECT_EQ(l.client.s.send_window(id), 1024u * 1024);
  EXPECT_EQ(l.server.s.send_window(id), 1024u * 1024);
  EXPECT_EQ(l.server.s.receive_window(id), 1024u * 1024);
}

// Streams `total` bytes client -> server on one stream. The server app reads
// in 64 KiB pieces and takes `read_ms` per piece; returns the server's window.
std::size_t window_after_transfer(link& l, std::uint32_t id, std::size_t total,
                                  std::uint64_t read_ms) {
  l.server.auto_consume = false;
  bytes chunk(1024 * 1024, 0x5a);  // the writer is never the bottleneck: the window is
  std::size_t sent = 0;
  std::size_t read = 0;
  for (int round = 0; round < 10000 && read < total; ++round) {
    sent += l.client.s.write(id, byte_span(chunk).first(std::min(chunk.size(), total - sent)));
    l.step();
    while (read < l.server.rx[id].size()) {
      const auto n = std::min<std::size_t>(64 * 1024, l.server.rx[id].size() - read);
      l.now += read_ms;
      l.server.s.consumed(id, n, l.now);
      read += n;
    }
  }
  EXPECT_EQ(read, total);
  return l.server.s.receive_window(id);
}

TEST(yamux_pair, grows_window_when_consumption_is_fast_relative_to_rtt) {
  link l({}, config{.max_window = 1024 * 1024});
  l.one_way_ms = 50;
  l.server.s.ping(l.now);  // the receiver needs the RTT
  l.settle();
  ASSERT_EQ(l.server.s.rtt_ms(), 100u);
  auto id = *l.client.s.open_stream();
  const auto window = window_after_transfer(l, id, 8 * 1024 * 1024, 0);
  EXPECT_EQ(window, 1024u * 1024);  // doubled up to the configured cap
  EXPECT_GT(l.client.s.send_window(id), default_window);
}

TEST(yamux_pair, keeps_window_when_consumption_is_slow_relative_to_rtt) {
  link l;
  l.one_way_ms = 5;
  l.server.s.ping(l.now);
  l.settle();
  auto id = *l.client.s.open_stream();
  EXPECT_EQ(window_after_transfer(l, id, 2 * 1024 * 1024, 100), default_window);
}

TEST(yamux_pair, keeps_window_without_rtt_measurement) {
  link l;
  l.one_way_ms = 50;
  auto id = *l.client.s.open_stream();
  EXPECT_EQ(window_after_transfer(l, id, 2 * 1024 * 1024, 0), default_window);
}

TEST(yamux_pair, treats_zero_ms_rtt_as_one_ms_so_loopback_windows_grow) {
  link l;
  l.server.s.ping(l.now);
  l.settle();
  ASSERT_EQ(l.server.s.rtt_ms(), 0u);
  auto id = *l.client.s.open_stream();
  EXPECT_GT(window_after_transfer(l, id, 4 * 1024 * 1024, 0), default_window);
}

}  // namespace
}  // namespace peerup::yamux
