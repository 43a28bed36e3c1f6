#include "net/noise_stream.hpp"

#include <cstring>
#include <utility>

#include "net/multistream_io.hpp"
#include "net/wait_readable.hpp"

namespace peerup::net {

namespace {
// Big enough for several max-size frames per read syscall once a connection
// is busy; idle connections (a relay holds thousands) start small, grow on
// demand and shrink back once the burst is over (a few small reads in a
// row), which keeps a reservation's memory in kilobytes.
constexpr std::size_t max_read_buffer = 4 * (noise::max_frame + 2);
constexpr std::size_t one_frame = noise::max_frame + 2;
constexpr std::size_t initial_read_buffer = 4 * 1024;
constexpr std::size_t small_read = 1024;
constexpr int small_reads_before_shrink = 4;
// The write batch buffer is released after a small write (bulk writes keep
// it): idle connections then hold none.
// Writes are batched into one inner write of at most this many plaintext bytes.
constexpr std::size_t write_batch = 16 * noise::max_plaintext;

result<void> append_handshake_frame(bytes& out, byte_span msg) {
  // SECURITY: our own messages are bounded by construction, but check anyway.
  if (msg.size() > noise::max_frame) return make_error_code(errc::too_large);
  out.push_back(static_cast<std::uint8_t>(msg.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(msg.size()));
  append(out, msg);
  return {};
}

awaitable<result<void>> write_handshake_message(byte_stream& s, byte_span msg) {
  bytes framed;
  if (auto r = append_handshake_frame(framed, msg); !r) co_return r;
  co_return co_await s.write(framed);
}

awaitable<result<bytes>> read_handshake_message(byte_stream& s) {
  std::uint8_t len[2];
  if (auto r = co_await read_exact(s, len); !r) co_return r.error();
  // The 16-bit prefix bounds the allocation to 64 KiB.
  bytes msg((std::size_t{len[0]} << 8) | len[1]);
  if (auto r = co_await read_exact(s, msg); !r) co_return r.error();
  co_return msg;
}

awaitable<result<secured_channel>> run_handshake(std::unique_ptr<handshake_stream> inner,
                                                 noise::handshake hs) {
  // XX has three messages; the initiator writes the 1st and 3rd. The state
  // machine knows whose turn it is; the bound guards against a stuck one.
  for (int step = 0; step < 3 && !hs.is_complete(); ++step) {
    if (hs.wants_write()) {
      auto msg = hs.write_message();
      if (!msg) co_return msg.error();
      if (auto r = co_await write_handshake_message(*inner, *msg); !r) co_return r.error();
    } else {
      auto msg = co_await read_handshake_message(*inner);
      if (!msg) co_return msg.error();
      if (auto r = hs.read_message(*msg); !r) co_return r.error();
    }
  }
  auto done = hs.finish();
  if (!done) co_return done.error();
  // The initiator's message 3 is still held.
  if (auto r = co_await inner->flush(); !r) co_return r.error();
  auto [raw, unread] = std::move(*inner).release();
  secured_channel out{std::make_unique<noise_stream>(std::move(raw), std::move(done->send),
                                                     std::move(done->recv), std::move(unread)),
                      std::move(done->remote_key), std::move(done->remote_peer),
                      std::move(done->remote_muxers)};
  co_return out;
}

}  // namespace

noise_stream::noise_stream(stream_ptr inner, noise::cipher_state send, noise::cipher_state recv,
                           bytes unread)
    : inner_(std::move(inner)), send_(std::move(send)), recv_(std::move(recv)) {
  // At most handshake_stream::read_chunk bytes: they fit the initial buffer.
  rend_ = unread.size();
  unread.resize(std::max(initial_read_buffer, rend_));
  rbuf_ = std::move(unread);
}

noise_stream::~noise_stream() {
  if (res_) res_->release_memory(rbuf_.size());
}

void noise_stream::set_resources(connection_resources_ptr res) {
  if (res_) res_->release_memory(rbuf_.size());
  res_ = std::move(res);
  if (res_) res_->force_memory(rbuf_.size());
}

void noise_stream::grow_read_buffer() {
  const std::size_t want = std::min(max_read_buffer, rbuf_.size() * 4);
  std::size_t target = want;
  if (res_ && !res_->reserve_memory(want - rbuf_.size())) {
    // Over budget: only as much as the frame being read needs. The buffer is
    // full with no complete frame in it, so that frame is longer than the
    // buffer and one_frame is larger than the buffer.
    target = std::max(rbuf_.size(), one_frame);
    res_->force_memory(target - rbuf_.size());
  }
  rbuf_.resize(target);
}

void noise_stream::shrink_read_buffer() {
  // Also the way back from release_read_buffer (size 0).
  if (res_) {
    if (rbuf_.size() > initial_read_buffer)
      res_->release_memory(rbuf_.size() - initial_read_buffer);
    else
      res_->force_memory(initial_read_buffer - rbuf_.size());
  }
  bytes(initial_read_buffer).swap(rbuf_);
}

void noise_stream::release_read_buffer() {
  if (res_) res_->release_memory(rbuf_.size());
  bytes().swap(rbuf_);
}

bool noise_stream::can_wait_readable() const { return net::can_wait_readable(*inner_); }

awaitable<void> noise_stream::wait_readable() {
  // Plaintext or a whole frame buffered: a read_some returns at once.
  if (plain_end_ > plain_begin_ || complete_frame_at(rbegin_) != 0) co_return;
  // Nothing buffered at all (no part of a frame either): wait without the
  // buffer. The caller waits because it is idle (the Yamux read loop after
  // a run of small reads), and its next read_some then skips read_some's own
  // idle wait, so this is where an idle connection gives the buffer back;
  // read_some takes a new one (shrink_read_buffer from 0).
  if (rend_ == rbegin_ && !rbuf_.empty()) {
    rbegin_ = rend_ = 0;
    plain_begin_ = plain_end_ = 0;
    release_read_buffer();
  }
  co_await net::wait_readable(*inner_);
  // The read_some that follows need not ask the inner stream again.
  inner_ready_ = true;
}

result<void> noise_stream::decrypt_buffered() {
  // Plaintext is compacted towards plain_end_ so that one read_some can hand
  // out the payload of many frames with a single copy.
  while (rend_ - rbegin_ >= 2) {
    const std::size_t len = (std::size_t{rbuf_[rbegin_]} << 8) | rbuf_[rbegin_ + 1];
    if (rend_ - rbegin_ - 2 < len) break;
    auto plain = recv_.decrypt_in_place({rbuf_.data() + rbegin_ + 2, len});
    if (!plain) return plain.error();
    std::memmove(rbuf_.data() + plain_end_, plain->data(), plain->size());
    plain_end_ += plain->size();
    rbegin_ += 2 + len;
  }
  return {};
}

std::size_t noise_stream::complete_frame_at(std::size_t pos) const {
  if (rend_ < pos + 2) return 0;
  const std::size_t len = (std::size_t{rbuf_[pos]} << 8) | rbuf_[pos + 1];
  return rend_ - pos - 2 < len ? 0 : 2 + len;
}

result<std::size_t> noise_stream::decrypt_into(mutable_byte_span buf) {
  // Whole frames whose plaintext fits go straight into the caller's buffer:
  // no compaction move and no second copy (the common case for the Yamux
  // reader, whose buffer is bigger than a frame).
  std::size_t out = 0;
  for (std::size_t frame; (frame = complete_frame_at(rbegin_)) != 0;) {
    const std::size_t len = frame - 2;
    // SECURITY: a frame shorter than its tag is rejected by decrypt_to; the
    // size check here only decides where the plaintext goes.
    if (len >= noise::tag_size && len - noise::tag_size > buf.size() - out) break;
    auto n = recv_.decrypt_to({rbuf_.data() + rbegin_ + 2, len}, buf.data() + out);
    if (!n) return n.error();
    out += *n;
    rbegin_ += frame;
  }
  return out;
}

awaitable<result<std::size_t>> noise_stream::read_some(mutable_byte_span buf) {
  for (;;) {
    if (plain_end_ > plain_begin_) {
      const std::size_t n = std::min(buf.size(), plain_end_ - plain_begin_);
      std::memcpy(buf.data(), rbuf_.data() + plain_begin_, n);
      plain_begin_ += n;
      co_return n;
    }
    if (buf.empty()) co_return std::size_t{0};
    auto direct = decrypt_into(buf);
    if (!direct) co_return direct.error();
    if (*direct > 0) co_return *direct;
    if (complete_frame_at(rbegin_) != 0) {
      // The next frame is bigger than the caller's buffer: decrypt it in place
      // and hand it out in pieces.
      plain_begin_ = plain_end_ = rbegin_;
      if (auto r = decrypt_buffered(); !r) co_return r.error();
      continue;
    }
    // Everything decrypted has been handed out: move the undecrypted tail to the front.
    const std::size_t tail = rend_ - rbegin_;
    if (tail > 0) std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, tail);
    rbegin_ = 0;
    rend_ = tail;
    plain_begin_ = plain_end_ = 0;

    // Grow when the buffer is full (a large frame, or a fast sender); a frame
    // always fits in max_read_buffer. When empty after a run of small reads
    // the connection is idle: hand the buffer back and wait for the next
    // bytes without one (an idle relay connection then holds no read buffer).
    if (rbuf_.empty()) {
      shrink_read_buffer();  // an idle wait was cancelled before the buffer came back
    } else if (rend_ == rbuf_.size() && rbuf_.size() < max_read_buffer) {
      grow_read_buffer();
    } else if (rend_ == 0 && small_reads_ >= small_reads_before_shrink) {
      if (!std::exchange(inner_ready_, false) && net::can_wait_readable(*inner_)) {
        release_read_buffer();
        co_await net::wait_readable(*inner_);
      }
      if (rbuf_.size() != initial_read_buffer) shrink_read_buffer();
    }
    auto n = co_await inner_->read_some({rbuf_.data() + rend_, rbuf_.size() - rend_});
    inner_ready_ = false;
    if (!n) co_return n.error();
    small_reads_ = *n < small_read ? small_reads_ + 1 : 0;
    if (*n == 0) {
      // A clean EOF must fall on a frame boundary.
      if (rend_ != 0) co_return make_error_code(errc::connection_closed);
      co_return std::size_t{0};
    }
    rend_ += *n;
  }
}

awaitable<result<void>> noise_stream::write(byte_span data) {
  const byte_span one[] = {data};
  co_return co_await write_parts(one);
}

awaitable<result<void>> noise_stream::write_parts(std::span<const byte_span> parts) {
  // Where the next frame's plaintext starts: part `pi`, byte `po`.
  std::size_t pi = 0;
  std::size_t po = 0;
  auto skip_empty = [&] {
    while (pi < parts.size() && po == parts[pi].size()) {
      ++pi;
      po = 0;
    }
  };
  skip_empty();
  // The pieces of one frame: a frame of at most max_plaintext bytes spans
  // few parts in practice (a 12-byte Yamux header and its payload); a long
  // run of tiny parts is sealed in several calls of this bound.
  constexpr std::size_t max_pieces = 16;
  byte_span pieces[max_pieces];
  while (pi < parts.size()) {
    // 1. Measure one write batch (at most write_batch plaintext bytes).
    std::size_t remaining = 0;
    std::size_t batch_parts = 0;
    for (std::size_t i = pi; i < parts.size() && remaining < write_batch; ++i, ++batch_parts)
      remaining += parts[i].size() - (i == pi ? po : 0);
    const std::size_t batched = std::min(remaining, write_batch);
    // A frame ends early only after max_pieces parts: allow one more frame
    // per max_pieces parts of the batch.
    const std::size_t frames = (batched + noise::max_plaintext - 1) / noise::max_plaintext +
                               batch_parts / max_pieces + 1;
    const std::size_t need = batched + frames * (noise::frame_header_size + noise::tag_size);
    if (wbuf_capacity_ < need) {
      // Never zero-filled: every byte handed to the socket is written first.
      wbuf_ = std::make_unique_for_overwrite<std::uint8_t[]>(need);
      wbuf_capacity_ = need;
    }
    // 2. Seal frames of up to max_plaintext bytes from consecutive parts.
    std::size_t off = 0;
    for (std::size_t left = batched; left > 0;) {
      std::size_t n = 0;
      std::size_t count = 0;
      while (n < std::min(left, noise::max_plaintext) && count < max_pieces && pi < parts.size()) {
        const std::size_t take =
            std::min(parts[pi].size() - po, std::min(left, noise::max_plaintext) - n);
        pieces[count++] = parts[pi].subspan(po, take);
        n += take;
        po += take;
        skip_empty();
      }
      if (n == 0) break;  // cannot happen: `left` never exceeds what the parts hold
      if (auto r = send_.encrypt_frame_to(std::span<const byte_span>(pieces, count), wbuf_.get() + off);
          !r)
        co_return r;
      off += noise::cipher_state::frame_size(n);
      left -= n;
    }
    // 3. One inner write per batch.
    const byte_span frames_out(wbuf_.get(), off);
    if (auto r = co_await inner_->write(frames_out); !r) co_return r;
    if (batched < small_read) {
      wbuf_.reset();
      wbuf_capacity_ = 0;
    }
  }
  co_return result<void>{};
}

awaitable<result<secured_channel>> negotiate_and_secure_outbound(
    stream_ptr inner, std::shared_ptr<const noise::local_static> local,
    std::optional<peer_id> expected) {
  auto io = std::make_unique<handshake_stream>(std::move(inner));
  multistream::dialer negotiation(std::vector<std::string>{std::string(noise::protocol_id)});
  noise::handshake hs(noise::handshake::role::initiator, std::move(local), std::move(expected));
  auto first = hs.write_message();
  if (!first) co_return first.error();
  bytes flight = negotiation.take_output();
  if (auto r = append_handshake_frame(flight, *first); !r) co_return r.error();
  if (auto r = co_await io->write(flight); !r) co_return r.error();
  auto selected = co_await finish_optimistic_outbound(*io, negotiation);
  if (!selected) {
    io->reset();
    co_return selected.error();
  }
  co_return co_await run_handshake(std::move(io), std::move(hs));
}

awaitable<result<secured_channel>> secure_inbound(std::unique_ptr<handshake_stream> inner,
                                                  std::shared_ptr<const noise::local_static> local) {
  noise::handshake hs(noise::handshake::role::responder, std::move(local), std::nullopt);
  co_return co_await run_handshake(std::move(inner), std::move(hs));
}

}  // namespace peerup::net
