// Yamux session state machine (hashicorp/yamux spec.md, libp2p/specs
// yamux/README.md), sans-I/O: the driver feeds bytes read from the secure
// channel to on_bytes(), dispatches the events, and writes output().
//
// Flow control policy (receive side, per stream):
//   - Each stream starts with the spec's 256 KiB window; a larger
//     config::initial_window is granted in the SYN / ACK window update.
//   - The app reports what it has read with consumed(). Once the consumed but
//     not yet credited bytes reach half of the stream's window, one window
//     update credits them back to the peer.
//   - Auto-tuning (as rust-yamux and go-yamux do, after QUIC): when that update
//     comes less than 2 * RTT after the previous one, the peer drained half a
//     window in under two round trips, so the window is below the
//     bandwidth-delay product: double it (capped at config::max_window) and
//     credit the growth in the same update. Windows never shrink.
//   - RTT comes from ping(): without a measurement windows never grow. A
//     0 ms measurement (loopback) counts as 1 ms.
//   - SECURITY: a data frame longer than the credit left on its stream is a
//     session error (errc::yamux_window_exceeded), so buffered data per stream
//     never exceeds its window.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "wire/yamux_frame.hpp"

namespace peerup::yamux {

inline constexpr std::string_view protocol_id = "/yamux/1.0.0";

struct config {
  std::uint32_t initial_window = 256 * 1024;  // values below 256 KiB act as 256 KiB
  std::uint32_t max_window = 16 * 1024 * 1024;
  std::size_t max_streams = 1024;              // open streams, both directions
  std::size_t max_ack_backlog = 256;           // our streams the peer has not ACKed yet
  std::size_t max_frame_payload = 256 * 1024;  // largest data frame we send
};

enum class event_kind {
  inbound_stream,  // peer opened a stream (SYN); already ACKed
  data,            // bytes for a stream; call consumed() once the app has read them
  send_window,     // a stream's send window grew: writers may continue
  remote_fin,      // peer will send no more data on the stream
  remote_reset,    // peer reset the stream; it is forgotten
  ping_ack,        // our ping was answered; rtt_ms is set
  go_away,         // peer is closing the session; code is set
};

// A data frame whose payload stays in the writer's buffer (write_borrowed).
struct borrowed_frame {
  std::array<std::uint8_t, header_size> header{};
  byte_span payload;
};

struct event {
  event_kind kind;
  std::uint32_t stream = 0;
  // For data: a view into the `in` given to on_bytes(); valid while that
  // buffer is. One frame may arrive as several data events.
  byte_span data{};
  std::uint32_t code = 0;    // go_away code (go_away_code::*)
  std::uint64_t rtt_ms = 0;  // ping_ack round-trip time
};

class session {
 public:
  explicit session(bool is_client, config cfg = {});

  // Feeds bytes read from the secure channel and appends the events they
  // produce. Only a partial frame header (< 12 bytes) is buffered internally;
  // payload is delivered as views into `in`. An error is fatal and sticky: a
  // Go Away (protocol error) has been appended to output(), which the driver
  // should flush before closing the connection.
  result<void> on_bytes(byte_span in, std::vector<event>& events, std::uint64_t now_ms);

  // Frames to write, in order. The driver writes them and clears the buffer.
  bytes& output() { return out_; }
  // Swaps the pending frames into `out` (cleared first), keeping both capacities.
  void take_output(bytes& out);

  // Opens a stream and queues its SYN at once. Fails with
  // errc::yamux_go_away after a Go Away in either direction, and with
  // errc::yamux_too_many_streams beyond max_streams or max_ack_backlog.
  result<std::uint32_t> open_stream();
  // Queues data frames for up to the stream's send window; returns the bytes
  // accepted (0 when the window is closed, the stream is unknown or closed for
  // writing). Wait for a send_window event before writing the rest.
  std::size_t write(std::uint32_t id, byte_span data);
  // write() without the copy: the data frames are appended to `frames` as
  // headers plus views of `data`, not to output(). Contract: the driver
  // sends them after everything output() held at this call and before
  // anything queued after it (frames of one stream stay in order), and keeps
  // `data` alive until they are sent. Same window accounting and result.
  std::size_t write_borrowed(std::uint32_t id, byte_span data,
                             std::vector<borrowed_frame>& frames);
  // The app has read n bytes of the stream: may queue a window update.
  void consumed(std::uint32_t id, std::size_t n, std::uint64_t now_ms);
  void close_write(std::uint32_t id);  // FIN: half-close
  void reset(std::uint32_t id);        // RST: the stream is forgotten at once
  void ping(std::uint64_t now_ms);
  void go_away(std::uint32_t code);

  // Caps auto-tuning from now on (the driver lowers it while its memory budget
  // is short); never below the initial window, and windows already granted stay.
  void set_max_window(std::uint32_t w) { max_window_ = std::max(w, cfg_.initial_window); }
  std::size_t send_window(std::uint32_t id) const;
  // The stream's current receive window (grows with auto-tuning); 0 if unknown.
  std::size_t receive_window(std::uint32_t id) const;
  bool is_open(std::uint32_t id) const { return streams_.contains(id); }
  std::size_t stream_count() const { return streams_.size(); }
  std::optional<std::uint64_t> rtt_ms() const { return rtt_ms_; }

 private:
  struct stream {
    bool outbound = false;
    bool acked = false;  // outbound only: the peer has ACKed our SYN
    bool local_fin = false;
    bool remote_fin = false;
    std::uint32_t send_window = default_window;
    std::uint32_t recv_window = default_window;  // what we intend to grant
    std::uint32_t recv_credit = default_window;  // what the peer may still send
    std::uint32_t unread = 0;                    // received, not yet consumed
    std::uint64_t last_update_ms = 0;
  };

  result<void> on_header(const frame_header& h, std::vector<event>& events);
  result<void> on_stream_frame(const frame_header& h, std::vector<event>& events);
  void on_ping(const frame_header& h, std::vector<event>& events);
  result<stream*> accept_stream(const frame_header& h, std::vector<event>& events);
  void apply_close_flags(std::uint32_t id, std::uint16_t flags, std::vector<event>& events);
  void deliver_payload(byte_span chunk, std::vector<event>& events);
  void forget(std::uint32_t id);
  void send_frame(frame_type type, std::uint16_t flags, std::uint32_t id, std::uint32_t length);
  // write() and write_borrowed(): window accounting and framing, each frame
  // handed to emit(header, payload).
  template <class EmitFrame>
  std::size_t write_frames(std::uint32_t id, byte_span data, EmitFrame emit);
  result<void> fail(errc e);
  bool is_ours(std::uint32_t id) const { return (id % 2 == 1) == is_client_; }

  bool is_client_;
  config cfg_;
  std::uint32_t max_window_;
  std::uint64_t next_id_;  // 64 bits so running out of ids is detectable
  std::size_t frame_cap_;  // largest data frame we send
  std::unordered_map<std::uint32_t, stream> streams_;
  std::size_t unacked_outbound_ = 0;
  bool local_go_away_ = false;
  bool remote_go_away_ = false;
  boost::system::error_code failed_;

  // Frame reassembly: a partial header, then the payload of a data frame.
  std::array<std::uint8_t, header_size> header_buf_{};
  std::size_t header_have_ = 0;
  frame_header current_;
  std::uint32_t payload_left_ = 0;
  bool payload_deliver_ = false;  // false: skip (unknown or refused stream)

  std::uint64_t now_ms_ = 0;  // latest time given by the driver
  std::uint32_t ping_counter_ = 0;
  std::optional<std::uint32_t> ping_outstanding_;
  std::uint64_t ping_sent_ms_ = 0;
  std::optional<std::uint64_t> rtt_ms_;

  bytes out_;
};

}  // namespace peerup::yamux
