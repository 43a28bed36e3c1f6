// A stream whose protocol was proposed without waiting for the answer
// (multistream-select's optimistic, or lazy, select): the caller may write at
// once, and the listener's answer is read in front of the first reply bytes.
#pragma once

#include "net/byte_stream.hpp"
#include "wire/multistream.hpp"

namespace peerup::net {

class optimistic_stream final : public byte_stream {
 public:
  // `negotiation` proposes exactly one protocol and its output (header and
  // proposal) has already been written to `inner`.
  optimistic_stream(stream_ptr inner, multistream::dialer negotiation)
      : inner_(std::move(inner)), negotiation_(std::move(negotiation)) {}

  // Whether the listener has echoed the protocol. Until then an error from a
  // read is a refusal of the protocol, not a failure of the protocol itself.
  bool confirmed() const { return confirmed_; }

  // The first call reads the listener's answer first: "na" (or anything but
  // the echo) fails with errc::protocol_not_supported, and so does every read
  // after it.
  awaitable<result<std::size_t>> read_some(mutable_byte_span buf) override;
  awaitable<result<void>> write(byte_span data) override { return inner_->write(data); }
  awaitable<result<void>> close_write() override { return inner_->close_write(); }
  void reset() override { inner_->reset(); }
  byte_stream& inner() { return *inner_; }
  asio::any_io_executor get_executor() override { return inner_->get_executor(); }

 private:
  stream_ptr inner_;
  multistream::dialer negotiation_;
  bool confirmed_ = false;
  error_code refused_;
};

}  // namespace peerup::net
