// Unsigned-varint length prefixes, the framing every libp2p protobuf protocol
// (identify, relay hop/stop, DCUtR, AutoNAT) uses on its streams.
#pragma once

#include <array>
#include <cstddef>
#include <optional>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/varint.hpp"

namespace peerup::wire {

// varint(msg.size()) || msg
bytes frame_length_prefixed(byte_span msg);

// Reassembles length-prefixed messages from arbitrarily split input.
//
// feed() consumes bytes from `in` up to the end of at most one message and
// sets `consumed` to how many it used. It returns the message once complete,
// std::nullopt if more input is needed (all of `in` was consumed), or an
// error. After an error the reader is unusable: the stream must be reset.
class length_prefixed_reader {
 public:
  explicit length_prefixed_reader(std::size_t max_size) : max_size_(max_size) {}

  result<std::optional<bytes>> feed(byte_span in, std::size_t& consumed);

  // True between messages: no header or body bytes are buffered.
  bool idle() const { return header_len_ == 0 && !body_len_; }

 private:
  std::size_t max_size_;
  std::array<std::uint8_t, varint::max_length> header_{};
  std::size_t header_len_ = 0;
  std::optional<std::size_t> body_len_;
  bytes body_;
  bool failed_ = false;
};

}  // namespace peerup::wire
