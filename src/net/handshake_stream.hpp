// The stream a connection's handshake runs over: multistream-select for
// "/noise", then the Noise XX messages (net/upgrader.hpp), on a raw TCP
// socket or a relayed stream.
//
// The handshake parsers read a few bytes at a time (a 1-byte varint, a
// 19-byte header, a 2-byte length, a 32-byte key), and a side often writes
// two or three short messages in a row (the listener's header echo,
// "/noise" echo and Noise message 2). Straight on the socket that was 8
// receives and 3 sends per inbound connection, about a quarter of a relay's
// CPU per reservation in the kernel and in asio (docs/benchmarks.md, "Relay
// reservation setup rate"). Here:
// - a read takes whatever the inner stream has, up to read_chunk bytes, and
//   the parsers' small reads are served from that;
// - writes are held, and go out as one inner write just before a read must
//   wait on the inner stream (the peer may be waiting for them), or at
//   flush().
// The bytes on the wire are the same, only cut into fewer TCP writes.
// Bytes read past the handshake (the peer's first frames after its last
// handshake message) are handed on by release(), so none are lost.
#pragma once

#include "net/byte_stream.hpp"

namespace peerup::net {

class handshake_stream final : public byte_stream {
 public:
  // Enough for a whole first flight (header, proposal, Noise message 1: 62
  // bytes) or a Noise message with its payload (about 200 bytes); what the
  // peer sent after that is handed on by release().
  static constexpr std::size_t read_chunk = 1024;
  // SECURITY: held writes are our own handshake messages (well under 1 KiB);
  // past this bound a write goes out at once rather than grow the buffer.
  static constexpr std::size_t max_held = 16 * 1024;

  explicit handshake_stream(stream_ptr inner) : inner_(std::move(inner)) {}

  // Contract (byte_stream's): one read and one write in flight at most, on
  // the inner stream's executor. A read that must wait on the inner stream
  // first sends what writes hold.
  awaitable<result<std::size_t>> read_some(mutable_byte_span buf) override;
  // Completes at once: `data` is copied and held until flush() or the next
  // read that waits on the inner stream.
  awaitable<result<void>> write(byte_span data) override;
  awaitable<result<void>> close_write() override;
  void reset() override { inner_->reset(); }
  asio::any_io_executor get_executor() override { return inner_->get_executor(); }

  // Sends the held writes in one inner write.
  awaitable<result<void>> flush();

  struct released {
    stream_ptr inner;
    bytes unread;  // read from `inner` but not consumed yet: they come first
  };
  // Ends the handshake. Contract: after flush() (held writes are dropped
  // otherwise), with no operation in flight.
  released release() &&;

 private:
  stream_ptr inner_;
  bytes rbuf_;  // [rhead_, rbuf_.size()) read, not yet consumed
  std::size_t rhead_ = 0;
  bytes held_;  // written, not yet sent
};

}  // namespace peerup::net
