#include "net/optimistic_stream.hpp"

#include "net/multistream_io.hpp"

namespace peerup::net {

awaitable<result<std::size_t>> optimistic_stream::read_some(mutable_byte_span buf) {
  if (refused_) co_return refused_;
  if (!confirmed_) {
    auto selected = co_await finish_optimistic_outbound(*inner_, negotiation_);
    if (!selected) {
      refused_ = selected.error();
      co_return refused_;
    }
    confirmed_ = true;
  }
  co_return co_await inner_->read_some(buf);
}

}  // namespace peerup::net
