#include "net/noise_stream.hpp"

#include <cstring>

namespace peerup::net {

namespace {
// Big enough for several max-size frames per read syscall once a connection
// is busy; idle connections (a relay holds thousands) start small and grow on
// demand, which keeps a reservation's memory in kilobytes.
constexpr std::size_t max_read_buffer = 4 * (noise::max_frame + 2);
constexpr std::size_t initial_read_buffer = 16 * 1024;
// Writes are batched into one inner write of at most this many plaintext bytes.
constexpr std::size_t write_batch = 16 * noise::max_plaintext;

awaitable<result<void>> write_handshake_message(byte_stream& s, byte_span msg) {
  // SECURITY: our own messages are bounded by construction, but check anyway.
  if (msg.size() > noise::max_frame) co_return make_error_code(errc::too_large);
  bytes framed(2 + msg.size());
  framed[0] = static_cast<std::uint8_t>(msg.size() >> 8);
  framed[1] = static_cast<std::uint8_t>(msg.size());
  std::copy(msg.begin(), msg.end(), framed.begin() + 2);
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

awaitable<result<secured_channel>> run_handshake(stream_ptr inner, noise::handshake hs) {
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
  secured_channel out{std::make_unique<noise_stream>(std::move(inner), std::move(done->send),
                                                     std::move(done->recv)),
                      std::move(done->remote_key), std::move(done->remote_peer),
                      std::move(done->remote_muxers)};
  co_return out;
}

}  // namespace

noise_stream::noise_stream(stream_ptr inner, noise::cipher_state send, noise::cipher_state recv)
    : inner_(std::move(inner)), send_(std::move(send)), recv_(std::move(recv)) {
  rbuf_.resize(initial_read_buffer);
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

awaitable<result<std::size_t>> noise_stream::read_some(mutable_byte_span buf) {
  for (;;) {
    if (plain_end_ > plain_begin_) {
      const std::size_t n = std::min(buf.size(), plain_end_ - plain_begin_);
      std::memcpy(buf.data(), rbuf_.data() + plain_begin_, n);
      plain_begin_ += n;
      co_return n;
    }
    // Everything decrypted has been handed out: move the undecrypted tail to the front.
    const std::size_t tail = rend_ - rbegin_;
    std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, tail);
    rbegin_ = 0;
    rend_ = tail;
    plain_begin_ = plain_end_ = 0;

    // Grow when the buffer is full (a large frame, or a fast sender); a frame
    // always fits in max_read_buffer.
    if (rend_ == rbuf_.size() && rbuf_.size() < max_read_buffer)
      rbuf_.resize(std::min(max_read_buffer, rbuf_.size() * 4));
    auto n = co_await inner_->read_some({rbuf_.data() + rend_, rbuf_.size() - rend_});
    if (!n) co_return n.error();
    if (*n == 0) {
      // A clean EOF must fall on a frame boundary.
      if (rend_ != 0) co_return make_error_code(errc::connection_closed);
      co_return std::size_t{0};
    }
    rend_ += *n;
    if (auto r = decrypt_buffered(); !r) co_return r.error();
  }
}

awaitable<result<void>> noise_stream::write(byte_span data) {
  while (!data.empty()) {
    wbuf_.clear();
    std::size_t batched = 0;
    while (!data.empty() && batched < write_batch) {
      const std::size_t n = std::min(data.size(), noise::max_plaintext);
      if (auto r = send_.encrypt_frame(data.first(n), wbuf_); !r) co_return r;
      data = data.subspan(n);
      batched += n;
    }
    if (auto r = co_await inner_->write(wbuf_); !r) co_return r;
  }
  co_return result<void>{};
}

awaitable<result<secured_channel>> secure_outbound(stream_ptr inner, const private_key& identity,
                                                   std::optional<peer_id> expected,
                                                   std::vector<std::string> muxers) {
  noise::handshake hs(noise::handshake::role::initiator, identity, std::move(expected),
                      std::move(muxers));
  co_return co_await run_handshake(std::move(inner), std::move(hs));
}

awaitable<result<secured_channel>> secure_inbound(stream_ptr inner, const private_key& identity,
                                                  std::vector<std::string> muxers) {
  noise::handshake hs(noise::handshake::role::responder, identity, std::nullopt, std::move(muxers));
  co_return co_await run_handshake(std::move(inner), std::move(hs));
}

}  // namespace peerup::net
