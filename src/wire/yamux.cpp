#include "wire/yamux.hpp"

#include <algorithm>
#include <limits>

namespace peerup::yamux {
namespace {

constexpr std::uint64_t u32_max = std::numeric_limits<std::uint32_t>::max();

std::uint64_t elapsed(std::uint64_t since, std::uint64_t now) {
  return now > since ? now - since : 0;
}

}  // namespace

session::session(bool is_client, config cfg)
    : is_client_(is_client),
      cfg_(cfg),
      next_id_(is_client ? 1 : 2),
      frame_cap_(std::clamp<std::size_t>(cfg.max_frame_payload, 1, u32_max)) {
  // Peers assume 256 KiB until told otherwise, so a smaller window cannot be enforced.
  cfg_.initial_window = std::max(cfg_.initial_window, default_window);
  max_window_ = std::max(cfg_.max_window, cfg_.initial_window);
}

void session::take_output(bytes& out) {
  out.clear();
  out.swap(out_);
}

result<void> session::on_bytes(byte_span in, std::vector<event>& events, std::uint64_t now_ms) {
  if (failed_) return failed_;
  now_ms_ = now_ms;
  std::size_t pos = 0;
  while (pos < in.size()) {
    if (payload_left_ > 0) {
      const auto n =
          static_cast<std::uint32_t>(std::min<std::size_t>(payload_left_, in.size() - pos));
      if (payload_deliver_) deliver_payload(in.subspan(pos, n), events);
      pos += n;
      payload_left_ -= n;
      if (payload_left_ == 0 && payload_deliver_) {
        apply_close_flags(current_.stream_id, current_.flags, events);
      }
      continue;
    }
    const std::size_t n = std::min(header_size - header_have_, in.size() - pos);
    std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(pos), n,
                header_buf_.begin() + header_have_);
    header_have_ += n;
    pos += n;
    if (header_have_ < header_size) break;
    header_have_ = 0;
    auto h = decode(header_buf_);
    if (!h) return fail(errc::yamux_protocol);
    current_ = *h;
    if (auto handled = on_header(current_, events); !handled) return handled;
  }
  return {};
}

result<void> session::on_header(const frame_header& h, std::vector<event>& events) {
  switch (h.type) {
    case frame_type::ping: on_ping(h, events); return {};
    case frame_type::go_away:
      remote_go_away_ = true;
      events.push_back({.kind = event_kind::go_away, .code = h.length});
      return {};
    case frame_type::data:
    case frame_type::window_update: return on_stream_frame(h, events);
  }
  return fail(errc::yamux_protocol);
}

result<void> session::on_stream_frame(const frame_header& h, std::vector<event>& events) {
  if (h.stream_id == 0) return fail(errc::yamux_protocol);
  const bool is_data = h.type == frame_type::data;
  // SECURITY: no window we grant is larger than this, so reject the frame
  // before delivering or skipping any of its payload.
  if (is_data && h.length > std::max<std::size_t>(max_window_, cfg_.max_frame_payload)) {
    return fail(errc::yamux_window_exceeded);
  }
  const auto skip_payload = [&] {
    payload_left_ = is_data ? h.length : 0;
    payload_deliver_ = false;
    return result<void>{};
  };

  stream* s = nullptr;
  auto it = streams_.find(h.stream_id);
  if (h.has(flag::syn)) {
    if (it != streams_.end()) return fail(errc::yamux_protocol);  // duplicate SYN
    auto accepted = accept_stream(h, events);
    if (!accepted) return accepted.error();
    if (*accepted == nullptr) return skip_payload();
    s = *accepted;
  } else if (it == streams_.end()) {
    // Unknown or already forgotten (e.g. we reset it): tell the peer, as go-,
    // rust- and js-yamux do, but never answer a RST with a RST.
    if (is_data && !h.has(flag::rst))
      send_frame(frame_type::window_update, flag::rst, h.stream_id, 0);
    return skip_payload();
  } else {
    s = &it->second;
  }

  if (h.has(flag::ack) && s->outbound && !s->acked) {
    s->acked = true;
    --unacked_outbound_;
  }

  if (!is_data) {
    if (h.length > 0) {
      s->send_window =
          static_cast<std::uint32_t>(std::min(u32_max, std::uint64_t{s->send_window} + h.length));
      if (!h.has(flag::syn))
        events.push_back({.kind = event_kind::send_window, .stream = h.stream_id});
    }
    apply_close_flags(h.stream_id, h.flags, events);
    return {};
  }

  if (s->remote_fin && h.length > 0) {
    // Data after the peer's FIN breaks only this stream, so reset it rather
    // than the whole session.
    send_frame(frame_type::window_update, flag::rst, h.stream_id, 0);
    events.push_back({.kind = event_kind::remote_reset, .stream = h.stream_id});
    forget(h.stream_id);
    return skip_payload();
  }
  // SECURITY: the peer may never send more than the credit we granted; this is
  // what bounds the data the app may have to buffer per stream.
  if (h.length > s->recv_credit) return fail(errc::yamux_window_exceeded);
  s->recv_credit -= h.length;
  s->unread += h.length;
  if (h.length == 0) {
    apply_close_flags(h.stream_id, h.flags, events);
    return {};
  }
  payload_left_ = h.length;
  payload_deliver_ = true;
  return {};
}

result<session::stream*> session::accept_stream(const frame_header& h, std::vector<event>& events) {
  if (is_ours(h.stream_id)) return fail(errc::yamux_protocol).error();
  if (local_go_away_ || streams_.size() >= cfg_.max_streams) {
    send_frame(frame_type::window_update, flag::rst, h.stream_id, 0);
    return nullptr;
  }
  stream& s = streams_[h.stream_id];
  s.recv_window = cfg_.initial_window;
  s.recv_credit = cfg_.initial_window;
  s.last_update_ms = now_ms_;
  // ACK at once, granting any window beyond the default in the same frame.
  send_frame(frame_type::window_update, flag::ack, h.stream_id, s.recv_window - default_window);
  events.push_back({.kind = event_kind::inbound_stream, .stream = h.stream_id});
  return &s;
}

void session::apply_close_flags(std::uint32_t id, std::uint16_t flags, std::vector<event>& events) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if ((flags & flag::rst) != 0) {
    events.push_back({.kind = event_kind::remote_reset, .stream = id});
    forget(id);
    return;
  }
  if ((flags & flag::fin) != 0 && !it->second.remote_fin) {
    it->second.remote_fin = true;
    events.push_back({.kind = event_kind::remote_fin, .stream = id});
    if (it->second.local_fin) forget(id);
  }
}

void session::deliver_payload(byte_span chunk, std::vector<event>& events) {
  // The app may have reset the stream between two reads of one frame.
  if (!streams_.contains(current_.stream_id)) return;
  events.push_back({.kind = event_kind::data, .stream = current_.stream_id, .data = chunk});
}

void session::on_ping(const frame_header& h, std::vector<event>& events) {
  if (h.has(flag::syn)) {
    send_frame(frame_type::ping, flag::ack, 0, h.length);
    return;
  }
  if (h.has(flag::ack) && ping_outstanding_ == h.length) {
    ping_outstanding_.reset();
    rtt_ms_ = elapsed(ping_sent_ms_, now_ms_);
    events.push_back({.kind = event_kind::ping_ack, .rtt_ms = *rtt_ms_});
  }
}

void session::forget(std::uint32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if (it->second.outbound && !it->second.acked) --unacked_outbound_;
  streams_.erase(it);
}

void session::send_frame(frame_type type, std::uint16_t flags, std::uint32_t id,
                         std::uint32_t length) {
  encode(frame_header{.type = type, .flags = flags, .stream_id = id, .length = length}, out_);
}

result<void> session::fail(errc e) {
  failed_ = make_error_code(e);
  if (!local_go_away_) {
    local_go_away_ = true;
    send_frame(frame_type::go_away, 0, 0, go_away_code::protocol_error);
  }
  return failed_;
}

result<std::uint32_t> session::open_stream() {
  if (failed_) return failed_;
  if (local_go_away_ || remote_go_away_) return errc::yamux_go_away;
  if (unacked_outbound_ >= cfg_.max_ack_backlog || streams_.size() >= cfg_.max_streams ||
      next_id_ > u32_max) {
    return errc::yamux_too_many_streams;
  }
  const auto id = static_cast<std::uint32_t>(next_id_);
  next_id_ += 2;
  stream& s = streams_[id];
  s.outbound = true;
  s.recv_window = cfg_.initial_window;
  s.recv_credit = cfg_.initial_window;
  s.last_update_ms = now_ms_;
  ++unacked_outbound_;
  // The SYN goes out before any data so the peer sees the stream at once.
  send_frame(frame_type::window_update, flag::syn, id, s.recv_window - default_window);
  return id;
}

template <class EmitFrame>
std::size_t session::write_frames(std::uint32_t id, byte_span data, EmitFrame emit) {
  auto it = streams_.find(id);
  if (failed_ || it == streams_.end() || it->second.local_fin) return 0;
  stream& s = it->second;
  const std::size_t n = std::min<std::size_t>(data.size(), s.send_window);
  for (std::size_t off = 0; off < n;) {
    const std::size_t chunk = std::min(n - off, frame_cap_);
    emit(frame_header{.type = frame_type::data,
                      .stream_id = id,
                      .length = static_cast<std::uint32_t>(chunk)},
         data.subspan(off, chunk));
    off += chunk;
  }
  s.send_window -= static_cast<std::uint32_t>(n);
  return n;
}

std::size_t session::write(std::uint32_t id, byte_span data) {
  return write_frames(id, data, [&](const frame_header& h, byte_span payload) {
    encode(h, out_);
    append(out_, payload);
  });
}

std::size_t session::write_borrowed(std::uint32_t id, byte_span data,
                                   std::vector<borrowed_frame>& frames) {
  return write_frames(id, data, [&](const frame_header& h, byte_span payload) {
    frames.push_back(borrowed_frame{encode(h), payload});
  });
}

void session::consumed(std::uint32_t id, std::size_t n, std::uint64_t now_ms) {
  now_ms_ = now_ms;
  auto it = streams_.find(id);
  if (failed_ || it == streams_.end()) return;
  stream& s = it->second;
  s.unread -= static_cast<std::uint32_t>(std::min<std::size_t>(n, s.unread));
  if (s.remote_fin) return;  // the peer sends nothing more: no credit needed
  const std::uint32_t uncredited = s.recv_window - s.recv_credit - s.unread;
  if (uncredited < s.recv_window / 2) return;
  if (rtt_ms_) {
    const std::uint64_t rtt = std::max<std::uint64_t>(*rtt_ms_, 1);
    if (elapsed(s.last_update_ms, now_ms) < 2 * rtt) {
      s.recv_window = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(std::uint64_t{s.recv_window} * 2, max_window_));
    }
  }
  const std::uint32_t delta = s.recv_window - s.recv_credit - s.unread;
  s.recv_credit += delta;
  s.last_update_ms = now_ms;
  send_frame(frame_type::window_update, 0, id, delta);
}

void session::close_write(std::uint32_t id) {
  auto it = streams_.find(id);
  if (failed_ || it == streams_.end() || it->second.local_fin) return;
  it->second.local_fin = true;
  send_frame(frame_type::window_update, flag::fin, id, 0);
  if (it->second.remote_fin) forget(id);
}

void session::reset(std::uint32_t id) {
  if (failed_ || !streams_.contains(id)) return;
  send_frame(frame_type::window_update, flag::rst, id, 0);
  forget(id);
}

void session::ping(std::uint64_t now_ms) {
  now_ms_ = now_ms;
  if (failed_) return;
  // Only the latest ping is timed; an answer to an older one is ignored.
  ping_outstanding_ = ++ping_counter_;
  ping_sent_ms_ = now_ms;
  send_frame(frame_type::ping, flag::syn, 0, *ping_outstanding_);
}

void session::go_away(std::uint32_t code) {
  if (local_go_away_) return;
  local_go_away_ = true;
  send_frame(frame_type::go_away, 0, 0, code);
}

std::size_t session::send_window(std::uint32_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? 0 : it->second.send_window;
}

std::size_t session::receive_window(std::uint32_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? 0 : it->second.recv_window;
}

}  // namespace peerup::yamux
