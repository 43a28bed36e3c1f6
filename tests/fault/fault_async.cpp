// The many-connection helpers (echo service, echo clients, flood), each one
// asio io_context on one thread. g++ 12: no braced lists or class temporaries
// with destructors inside co_await expressions (see notes/common.md).
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "fault/fault_support.hpp"

namespace peerup::fault {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

void bump_peak(std::atomic<std::size_t>& now, std::atomic<std::size_t>& peak) {
  const auto n = ++now;
  if (n > peak) peak = n;
}

}  // namespace

// ---- echo service ----------------------------------------------------------

struct echo_service::impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<std::size_t> accepted{0}, open_now{0}, peak_open{0};
  std::thread thread;

  asio::awaitable<void> session(tcp::socket s) {
    bump_peak(open_now, peak_open);
    co_await echo(s);
    --open_now;
  }

  asio::awaitable<void> echo(tcp::socket& s) {
    std::vector<std::uint8_t> buf(64 * 1024);
    for (;;) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), nothrow);
      if (ec) break;  // EOF: echo it as a half-close
      auto [wec, wn] = co_await asio::async_write(s, asio::buffer(buf.data(), n), nothrow);
      if (wec) co_return;
    }
    error_code ignored;
    s.shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, s] = co_await acceptor.async_accept(nothrow);
      if (ec) co_return;
      ++accepted;
      asio::co_spawn(io, session(std::move(s)), asio::detached);
    }
  }
};

echo_service::echo_service() : impl_(std::make_unique<impl>()) {
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(4096);
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

echo_service::~echo_service() {
  impl_->io.stop();
  impl_->thread.join();
}

std::uint16_t echo_service::port() const { return impl_->acceptor.local_endpoint().port(); }
std::size_t echo_service::accepted() const { return impl_->accepted; }
std::size_t echo_service::peak_sessions() const { return impl_->peak_open; }

// ---- many echo clients -----------------------------------------------------

namespace {

struct echo_run {
  std::size_t count = 0, size = 0;
  tcp::endpoint target;
  std::size_t settled = 0;  // clients past the first echo, or failed before it
  echo_report report;

  void fail(std::size_t& counter, const std::string& what) {
    ++counter;
    if (report.first_error.empty()) report.first_error = what;
  }

  // 1. connect, send one byte, read its echo: the proxied stream and the
  //    service connection behind it exist
  // 2. wait until every client got there, so all `count` are open at once
  // 3. send the rest while reading the echo, half-close, compare
  asio::awaitable<void> client(std::size_t index) {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::uint8_t> out(size), in(size);
    generator(index * 7919 + 1).fill(out.data(), size);
    tcp::socket s(ex);
    auto [cec] = co_await s.async_connect(target, nothrow);
    if (!cec) {
      auto [wec, wn] = co_await asio::async_write(s, asio::buffer(out.data(), 1), nothrow);
      cec = wec;
    }
    if (!cec) {
      auto [rec, rn] = co_await asio::async_read(s, asio::buffer(in.data(), 1), nothrow);
      cec = rec;
    }
    ++settled;
    if (cec) co_return fail(report.failed, "first byte: " + cec.message());
    asio::steady_timer wait(ex);
    while (settled < count) {
      wait.expires_after(std::chrono::milliseconds(10));
      co_await wait.async_wait(nothrow);
    }
    auto writer = [&]() -> asio::awaitable<error_code> {
      auto [ec, n] = co_await asio::async_write(s, asio::buffer(out.data() + 1, size - 1), nothrow);
      error_code ignored;
      if (!ec) s.shutdown(tcp::socket::shutdown_send, ignored);
      co_return ec;
    };
    auto reader = [&]() -> asio::awaitable<std::size_t> {
      auto [ec, n] = co_await asio::async_read(s, asio::buffer(in.data() + 1, size - 1), nothrow);
      co_return n + 1;
    };
    auto both = writer() && reader();
    auto [wec, got] = co_await std::move(both);
    if (wec) co_return fail(report.failed, "write: " + wec.message());
    if (got != size || in != out)
      co_return fail(report.mismatched, "connection " + std::to_string(index) + ": got " +
                                            std::to_string(got) + " bytes, expected " +
                                            std::to_string(size) + " equal ones");
    ++report.ok;
  }
};

}  // namespace

echo_report echo_many(std::uint16_t port, std::size_t count, std::size_t size,
                      std::chrono::seconds limit) {
  echo_run run;  // outlives io: unfinished clients are destroyed with io
  asio::io_context io;
  run.count = count;
  run.size = size;
  run.target = tcp::endpoint(asio::ip::make_address("127.0.0.1"), port);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < count; ++i) asio::co_spawn(io, run.client(i), asio::detached);
  io.run_for(limit);
  run.report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto done = run.report.ok + run.report.mismatched + run.report.failed;
  if (done < count && run.report.first_error.empty())
    run.report.first_error = std::to_string(count - done) + " unfinished at the time limit";
  run.report.failed += count - done;
  return run.report;
}

// ---- flood -----------------------------------------------------------------

struct flood::impl {
  asio::io_context io;
  std::thread thread;
  tcp::endpoint target;
  std::chrono::milliseconds reopen_delay{500};
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> opened{0}, connect_failed{0}, closed_by_target{0}, bytes_sent{0};
  std::atomic<std::size_t> open_now{0}, peak_open{0};

  // What one hostile connection does until the target closes it.
  asio::awaitable<void> attack(tcp::socket& s, int kind, generator& gen) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    static const std::string multistream = "\x13/multistream/1.0.0\n";
    static const std::string noise = "\x07/noise\n";
    std::vector<std::uint8_t> out;
    std::size_t drip = 0;
    for (int round = 0; !stopping; ++round) {
      out.clear();
      if (kind == 0) {  // random bytes, 4 KiB every 100 ms
        out.resize(4096);
        gen.fill(out.data(), out.size());
      } else if (kind == 1 && round == 0) {  // half a multistream header
        out.assign(multistream.begin(), multistream.begin() + 9);
      } else if (kind == 2 && round == 0) {  // header, /noise, half of XX message 1
        out.assign(multistream.begin(), multistream.end());
        out.insert(out.end(), noise.begin(), noise.end());
        out.push_back(0);
        out.push_back(32);                                  // a 32-byte ephemeral key follows...
        out.resize(out.size() + 16);                        // ...but only half of it
      } else if (kind == 3 && drip < multistream.size()) {  // one byte a second
        out.push_back(static_cast<std::uint8_t>(multistream[drip++]));
      }
      if (!out.empty()) {
        auto [ec, n] = co_await asio::async_write(s, asio::buffer(out), nothrow);
        if (ec) co_return;
        bytes_sent += n;
      }
      timer.expires_after(std::chrono::milliseconds(kind == 0 ? 100 : kind == 3 ? 1000 : 200));
      auto [tec] = co_await timer.async_wait(nothrow);
      if (tec) co_return;  // cancelled: the target closed the connection
    }
  }

  // Completes when the target closes the connection.
  asio::awaitable<void> watch(tcp::socket& s) {
    std::vector<std::uint8_t> sink(4096);
    for (;;) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(sink), nothrow);
      if (ec) co_return;
    }
  }

  asio::awaitable<void> slot(std::size_t index, flood_mix mix) {
    auto ex = co_await asio::this_coro::executor;
    const int kind =
        mix == flood_mix::mixed ? static_cast<int>(index % 4) : 1 + static_cast<int>(index % 3);
    const auto group = index / 8;  // 8 connections per source address
    const asio::ip::address_v4::bytes_type src{{127, 2, static_cast<unsigned char>(group / 250),
                                                static_cast<unsigned char>(group % 250 + 1)}};
    generator gen(index + 1);
    asio::steady_timer pause(ex);
    while (!stopping) {
      tcp::socket s(ex);
      error_code ec;
      s.open(tcp::v4(), ec);
      if (!ec) s.bind(tcp::endpoint(asio::ip::address_v4(src), 0), ec);
      if (!ec) {
        auto [cec] = co_await s.async_connect(target, nothrow);
        ec = cec;
      }
      if (ec) {
        ++connect_failed;
      } else {
        ++opened;
        bump_peak(open_now, peak_open);
        auto both = attack(s, kind, gen) || watch(s);
        co_await std::move(both);  // ends only when the target closes or at stop
        --open_now;
        if (!stopping) ++closed_by_target;
      }
      s.close(ec);
      pause.expires_after(reopen_delay);
      co_await pause.async_wait(nothrow);
    }
  }
};

flood::flood(std::uint16_t port, std::size_t connections, std::chrono::milliseconds reopen_delay,
             flood_mix mix)
    : impl_(std::make_unique<impl>()) {
  impl_->target = tcp::endpoint(asio::ip::make_address("127.0.0.1"), port);
  impl_->reopen_delay = reopen_delay;
  for (std::size_t i = 0; i < connections; ++i)
    asio::co_spawn(impl_->io, impl_->slot(i, mix), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

flood::~flood() {
  impl_->stopping = true;
  impl_->io.stop();
  impl_->thread.join();
}

flood_stats flood::stats() const {
  flood_stats s;
  s.opened = impl_->opened;
  s.connect_failed = impl_->connect_failed;
  s.closed_by_target = impl_->closed_by_target;
  s.bytes_sent = impl_->bytes_sent;
  s.open_now = impl_->open_now;
  s.peak_open = impl_->peak_open;
  return s;
}

}  // namespace peerup::fault
