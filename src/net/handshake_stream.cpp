#include "net/handshake_stream.hpp"

#include <algorithm>
#include <cstring>

namespace peerup::net {

awaitable<result<std::size_t>> handshake_stream::read_some(mutable_byte_span buf) {
  if (buf.empty()) co_return std::size_t{0};
  if (rhead_ == rbuf_.size()) {
    // Nothing buffered: this read waits on the peer, which may be waiting
    // for what we hold.
    if (auto r = co_await flush(); !r) co_return r.error();
    rbuf_.resize(read_chunk);
    rhead_ = 0;
    auto n = co_await inner_->read_some(rbuf_);
    if (!n) {
      rbuf_.clear();
      co_return n.error();
    }
    rbuf_.resize(*n);
    if (*n == 0) co_return std::size_t{0};
  }
  const std::size_t n = std::min(buf.size(), rbuf_.size() - rhead_);
  std::memcpy(buf.data(), rbuf_.data() + rhead_, n);
  rhead_ += n;
  co_return n;
}

awaitable<result<void>> handshake_stream::write(byte_span data) {
  if (held_.size() + data.size() > max_held) {
    if (auto r = co_await flush(); !r) co_return r;
    co_return co_await inner_->write(data);
  }
  append(held_, data);
  co_return result<void>{};
}

awaitable<result<void>> handshake_stream::flush() {
  if (held_.empty()) co_return result<void>{};
  const bytes out = std::exchange(held_, {});
  co_return co_await inner_->write(out);
}

awaitable<result<void>> handshake_stream::close_write() {
  if (auto r = co_await flush(); !r) co_return r;
  co_return co_await inner_->close_write();
}

handshake_stream::released handshake_stream::release() && {
  bytes unread(rbuf_.begin() + static_cast<std::ptrdiff_t>(rhead_), rbuf_.end());
  return {std::move(inner_), std::move(unread)};
}

}  // namespace peerup::net
