// The Noise secure channel as a byte_stream, and the coroutines that run the
// XX handshake over any inner byte_stream (TCP socket or relayed stream).
#pragma once

#include <memory>
#include <optional>

#include "crypto/keys.hpp"
#include "multiformats/peer_id.hpp"
#include "net/byte_stream.hpp"
#include "net/handshake_stream.hpp"
#include "net/resource_manager.hpp"
#include "wire/noise_handshake.hpp"

namespace peerup::net {

class noise_stream final : public byte_stream {
 public:
  // `unread`: ciphertext already read from `inner` (what the handshake read
  // past its last message); it is read first.
  noise_stream(stream_ptr inner, noise::cipher_state send, noise::cipher_state recv,
               bytes unread = {});
  ~noise_stream() override;
  noise_stream(const noise_stream&) = delete;
  noise_stream& operator=(const noise_stream&) = delete;

  // Charges the read buffer to `res` from now on: growth beyond what one
  // frame needs happens only while the memory budget has room.
  void set_resources(connection_resources_ptr res);
  std::size_t read_buffer_size() const { return rbuf_.size(); }  // 0 while idle

  awaitable<result<std::size_t>> read_some(mutable_byte_span buf) override;
  awaitable<result<void>> write(byte_span data) override;
  // Seals the parts into frames as one byte sequence, straight from where
  // they lie (a frame may take bytes from several parts).
  awaitable<result<void>> write_parts(std::span<const byte_span> parts) override;
  awaitable<result<void>> close_write() override { return inner_->close_write(); }
  void reset() override { inner_->reset(); }
  // See net/wait_readable.hpp: whole plaintext or a whole frame buffered
  // completes at once, else it waits on the inner stream.
  awaitable<void> wait_readable();
  bool can_wait_readable() const;
  asio::any_io_executor get_executor() override { return inner_->get_executor(); }

  byte_stream& inner() { return *inner_; }

 private:
  // Decrypts every complete frame at the front of the read buffer.
  result<void> decrypt_buffered();
  // Size (header included) of the complete frame at `pos`, 0 if incomplete.
  std::size_t complete_frame_at(std::size_t pos) const;
  // Decrypts complete frames into `buf` while each fits whole; returns bytes.
  result<std::size_t> decrypt_into(mutable_byte_span buf);
  void grow_read_buffer();
  void shrink_read_buffer();   // to initial_read_buffer (from larger or from 0)
  void release_read_buffer();  // to 0 while idle

  stream_ptr inner_;
  noise::cipher_state send_;
  noise::cipher_state recv_;
  bytes rbuf_;                   // ciphertext read from inner_, decrypted in place
  std::size_t rbegin_ = 0;       // first byte not yet decrypted
  std::size_t rend_ = 0;         // end of valid data in rbuf_
  std::size_t plain_begin_ = 0;  // decrypted plaintext segments, [plain_begin_, plain_end_)
  std::size_t plain_end_ = 0;    // live in rbuf_ with frame headers/tags squeezed out
  int small_reads_ = 0;          // consecutive small inner reads: the burst is over
  bool inner_ready_ = false;     // wait_readable saw the inner stream readable
  std::unique_ptr<std::uint8_t[]> wbuf_;  // encrypted frames of one write batch
  std::size_t wbuf_capacity_ = 0;
  connection_resources_ptr res_;
};

struct secured_channel {
  std::unique_ptr<noise_stream> stream;
  public_key remote_key;
  peer_id remote_peer;
  std::vector<std::string> remote_muxers;
};

// Dials "/noise" on a fresh `inner` and runs the Noise XX handshake as
// initiator, with the negotiation folded into the first flight, saving the
// round trip a separate multistream exchange costs:
// 1. write the multistream header, the "/noise" proposal and Noise message 1
//    in one write (optimistic select: we propose nothing else);
// 2. read the listener's header and "/noise" echo; "na" fails the dial;
// 3. read message 2, write message 3.
// The listener's echoes and message 2 arrive in one read, and are read in
// one (net/handshake_stream.hpp).
// Contract: takes ownership of `inner`; on failure the stream is reset and
// dropped. The caller bounds the duration with with_timeout.
// `local` is the host's static key and signed payload (its muxers included),
// shared by all its handshakes.
awaitable<result<secured_channel>> negotiate_and_secure_outbound(
    stream_ptr inner, std::shared_ptr<const noise::local_static> local,
    std::optional<peer_id> expected);

// Runs the Noise XX handshake as responder over `inner`, which must already
// have negotiated "/noise" with multistream-select over it (its echoes may
// still be held there: they go out with message 2, in one write).
// Contract as above.
awaitable<result<secured_channel>> secure_inbound(std::unique_ptr<handshake_stream> inner,
                                                  std::shared_ptr<const noise::local_static> local);

}  // namespace peerup::net
