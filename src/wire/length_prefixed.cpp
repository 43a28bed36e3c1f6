#include "wire/length_prefixed.hpp"

#include <algorithm>
#include <utility>

namespace peerup::wire {

bytes frame_length_prefixed(byte_span msg) {
  bytes out;
  out.reserve(varint::encoded_size(msg.size()) + msg.size());
  varint::encode(msg.size(), out);
  append(out, msg);
  return out;
}

result<std::optional<bytes>> length_prefixed_reader::feed(byte_span in, std::size_t& consumed) {
  consumed = 0;
  if (failed_) return errc::invalid_argument;
  while (!body_len_) {
    if (consumed == in.size()) return std::optional<bytes>{};
    header_[header_len_++] = in[consumed++];
    auto len = varint::decode(byte_span(header_.data(), header_len_));
    if (!len) {
      if (len.error() == errc::truncated && header_len_ < header_.size()) continue;
      failed_ = true;
      return len.error() == errc::truncated ? errc::varint_overflow : len.error();
    }
    // SECURITY: the declared length is checked against the protocol's bound
    // before any body buffer is allocated.
    if (len->value > max_size_) {
      failed_ = true;
      return errc::too_large;
    }
    body_len_ = static_cast<std::size_t>(len->value);
    body_.reserve(*body_len_);
  }
  const std::size_t take = std::min(*body_len_ - body_.size(), in.size() - consumed);
  append(body_, in.subspan(consumed, take));
  consumed += take;
  if (body_.size() < *body_len_) return std::optional<bytes>{};
  header_len_ = 0;
  body_len_.reset();
  return std::optional<bytes>{std::exchange(body_, bytes{})};
}

}  // namespace peerup::wire
