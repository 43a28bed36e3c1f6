// stdin + stdout as one byte_stream, for `peerup connect` (ssh ProxyCommand):
// reads come from fd 0, writes go to fd 1, close_write closes fd 1 so the
// reader of our stdout sees EOF.
#pragma once

#include <optional>

#include "net/byte_stream.hpp"

namespace peerup::app {

class stdio_stream final : public net::byte_stream {
 public:
  // Duplicates fds `in` and `out` and makes the copies non-blocking. Pipes,
  // sockets and terminals are read with epoll; regular files and /dev/null
  // (which epoll refuses) with plain reads and writes, which never block long.
  // The original file status flags are restored on destruction, so a shell
  // sharing the terminal is not left with O_NONBLOCK.
  stdio_stream(net::asio::any_io_executor ex, int in = 0, int out = 1);
  ~stdio_stream() override;

  net::awaitable<result<std::size_t>> read_some(mutable_byte_span buf) override;
  net::awaitable<result<void>> write(byte_span data) override;
  net::awaitable<result<void>> close_write() override;
  void reset() override;
  net::asio::any_io_executor get_executor() override { return ex_; }

 private:
  struct end {
    int original_fd = -1;
    int original_flags = -1;
    std::optional<net::asio::posix::stream_descriptor> async;  // when epoll accepts the fd
    int sync_fd = -1;                                          // otherwise
    void open(net::asio::any_io_executor ex, int fd);
    void close();
  };
  net::asio::any_io_executor ex_;
  end in_, out_;
};

}  // namespace peerup::app
