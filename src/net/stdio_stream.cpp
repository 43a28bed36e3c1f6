#include "net/stdio_stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace peerup::app {

namespace {
boost::system::error_code last_errno() { return {errno, boost::system::system_category()}; }
}  // namespace

void stdio_stream::end::open(net::asio::any_io_executor ex, int fd) {
  original_fd = fd;
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return;  // fd closed: reads see EOF, writes fail
  net::asio::posix::stream_descriptor d(ex);
  boost::system::error_code ec;
  d.assign(copy, ec);
  if (!ec) d.non_blocking(true, ec);
  if (ec) {
    // epoll refuses regular files and /dev/null: use blocking calls, which
    // return at once on those.
    (void)d.release();
    sync_fd = copy;
    return;
  }
  async.emplace(std::move(d));
}

void stdio_stream::end::close() {
  // Restore the flags first: the file description is shared with our parent.
  if (original_flags >= 0 && original_fd >= 0) ::fcntl(original_fd, F_SETFL, original_flags);
  boost::system::error_code ignored;
  if (async) async->close(ignored);
  async.reset();
  if (sync_fd >= 0) ::close(sync_fd);
  sync_fd = -1;
}

stdio_stream::stdio_stream(net::asio::any_io_executor ex, int in, int out) : ex_(ex) {
  // Both flags are taken before either fd is made non-blocking: on a
  // terminal, fds 0 and 1 share one file description.
  in_.original_flags = ::fcntl(in, F_GETFL);
  out_.original_flags = ::fcntl(out, F_GETFL);
  in_.open(ex, in);
  out_.open(ex, out);
}

stdio_stream::~stdio_stream() {
  out_.close();
  in_.close();
}

net::awaitable<result<std::size_t>> stdio_stream::read_some(mutable_byte_span buf) {
  if (in_.async) {
    auto [ec, n] = co_await in_.async->async_read_some(net::asio::buffer(buf.data(), buf.size()),
                                                       net::use_nothrow);
    if (ec == net::asio::error::eof) co_return std::size_t{0};
    if (ec) co_return ec;
    co_return n;
  }
  if (in_.sync_fd < 0) co_return std::size_t{0};
  for (;;) {
    const auto n = ::read(in_.sync_fd, buf.data(), buf.size());
    if (n >= 0) co_return static_cast<std::size_t>(n);
    if (errno != EINTR) co_return last_errno();
  }
}

net::awaitable<result<void>> stdio_stream::write(byte_span data) {
  if (out_.async) {
    auto [ec, n] = co_await net::asio::async_write(
        *out_.async, net::asio::buffer(data.data(), data.size()), net::use_nothrow);
    if (ec) co_return ec;
    co_return result<void>{};
  }
  if (out_.sync_fd < 0) co_return make_error_code(errc::stream_closed);
  while (!data.empty()) {
    const auto n = ::write(out_.sync_fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) co_return last_errno();
    data = data.subspan(static_cast<std::size_t>(n));
  }
  co_return result<void>{};
}

net::awaitable<result<void>> stdio_stream::close_write() {
  out_.close();
  // Our copy is closed; close the original too (pointing it at /dev/null so
  // the fd number is not reused by accident), or the reader never sees EOF.
  if (out_.original_fd >= 0) {
    const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_fd >= 0) {
      ::dup2(null_fd, out_.original_fd);
      ::close(null_fd);
    }
    out_.original_fd = -1;
  }
  co_return result<void>{};
}

void stdio_stream::reset() {
  boost::system::error_code ignored;
  if (in_.async) in_.async->cancel(ignored);
  if (out_.async) out_.async->cancel(ignored);
}

}  // namespace peerup::app
