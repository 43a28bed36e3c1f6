// The one stream abstraction of the I/O layer: a reliable, ordered,
// half-closable byte stream. TCP sockets, Noise channels, Yamux streams and
// relayed circuits all implement it, so the upgrader can run Noise + Yamux
// over a TCP socket or over a relayed stream alike.
#pragma once

#include <memory>
#include <span>

#include "common/bytes.hpp"
#include "net/asio.hpp"

namespace peerup::net {

class byte_stream {
 public:
  virtual ~byte_stream() = default;

  // Contract for all members: call from the stream's executor only; at most
  // one read_some and one write may be in flight at a time. Cancelling the
  // awaiting coroutine (e.g. via with_timeout) leaves the stream usable only
  // for reset().

  // Reads at least one byte. Returns 0 at a clean end of stream (remote FIN).
  virtual awaitable<result<std::size_t>> read_some(mutable_byte_span buf) = 0;
  // Writes all of `data` or fails. Waits for flow control.
  virtual awaitable<result<void>> write(byte_span data) = 0;
  // Writes the concatenation of `parts`, in order, or fails. The default
  // writes them one by one; a stream that frames or encrypts (Noise) takes
  // them together, so a caller need not copy them into one buffer first.
  // Contract: the parts stay valid until the write completes.
  virtual awaitable<result<void>> write_parts(std::span<const byte_span> parts);
  // Half-closes: no more writes, reads continue until the remote's FIN.
  virtual awaitable<result<void>> close_write() = 0;
  // Aborts both directions at once; pending operations fail.
  virtual void reset() = 0;
  virtual asio::any_io_executor get_executor() = 0;
};

using stream_ptr = std::unique_ptr<byte_stream>;

// Reads exactly buf.size() bytes; errc::connection_closed on early EOF.
awaitable<result<void>> read_exact(byte_stream& s, mutable_byte_span buf);
// Reads until EOF, at most `limit` bytes (errc::too_large beyond).
awaitable<result<bytes>> read_to_end(byte_stream& s, std::size_t limit);

}  // namespace peerup::net
