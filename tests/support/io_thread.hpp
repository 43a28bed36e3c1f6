// An io_context running on its own thread, for tests where the test thread
// must block on child processes while our hosts keep serving.
#pragma once

#include <future>
#include <optional>
#include <thread>

#include "net/asio.hpp"

namespace peerup::test {

class io_thread {
 public:
  // Build hosts on io() first, then start(); everything after start() must
  // reach them through call().
  net::asio::io_context& io() { return io_; }
  void start() {
    thread_ = std::thread([this] { io_.run(); });
  }

  template <class F>
  auto call(F f) {
    std::promise<decltype(f())> p;
    net::asio::post(io_, [&] { p.set_value(f()); });
    return p.get_future().get();
  }

  // Runs `f` on the io thread, then stops and joins. Call before destroying
  // what the thread serves.
  template <class F>
  void stop(F f) {
    if (!thread_.joinable()) return;
    net::asio::post(io_, f);
    work_.reset();
    io_.stop();
    thread_.join();
  }
  ~io_thread() {
    if (thread_.joinable()) stop([] {});
  }

 private:
  net::asio::io_context io_;
  std::optional<net::asio::executor_work_guard<net::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::thread thread_;
};

}  // namespace peerup::test
