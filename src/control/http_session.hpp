// One HTTP/1.1 connection of the control socket, /metrics or the status
// page: Beast parses each request with the bounds of api_limits, `handle`
// answers it, Beast writes the answer. One coroutine per connection.
//
// Contract: runs on the socket's executor (the daemon's); owns the socket.
// A request that does not parse (too large, malformed) gets its error answer
// and the connection closes; an idle connection closes after idle_timeout.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "control/api.hpp"
#include "net/asio.hpp"

namespace peerup::control {

struct http_answer {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra, e.g. Allow
};

struct http_request_view {
  std::string method, target, body, authorization, cookie, host;
};

inline constexpr auto idle_timeout = std::chrono::seconds(30);
inline constexpr int max_requests_per_connection = 1000;

http_answer json_answer(unsigned status, std::string body);
http_answer error_answer(const api_error& e);

template <class Stream, class Handler>
net::awaitable<void> http_session(Stream s, Handler handle) {
  namespace http = boost::beast::http;
  using namespace net::asio::experimental::awaitable_operators;
  boost::beast::flat_buffer buf;
  net::asio::steady_timer timer(s.get_executor());
  for (int i = 0; i < max_requests_per_connection; ++i) {
    http::request_parser<http::string_body> p;
    // SECURITY: bounded header and body; Beast refuses more.
    p.header_limit(api_limits::max_header_bytes);
    p.body_limit(api_limits::max_body_bytes);
    timer.expires_after(idle_timeout);
    auto r = co_await (http::async_read(s, buf, p, net::use_nothrow) ||
                       timer.async_wait(net::use_nothrow));
    if (r.index() == 1) co_return;  // idle
    auto [ec, n] = std::get<0>(r);
    (void)n;
    http_answer a;
    bool keep = false;
    if (ec == http::error::end_of_stream || ec == net::asio::error::eof ||
        ec == net::asio::error::connection_reset || ec == net::asio::error::operation_aborted)
      co_return;
    if (ec == http::error::header_limit) {
      a = error_answer({431, "request headers larger than " +
                                 std::to_string(api_limits::max_header_bytes) + " bytes", {}});
    } else if (ec == http::error::body_limit) {
      a = error_answer({413, "request body larger than " +
                                 std::to_string(api_limits::max_body_bytes) + " bytes", {}});
    } else if (ec) {
      a = error_answer({400, "malformed HTTP request: " + ec.message(), {}});
    } else {
      const auto& req = p.get();
      http_request_view v{std::string(req.method_string()), std::string(req.target()),
                          req.body(), {}, {}, {}};
      if (auto it = req.find(http::field::authorization); it != req.end())
        v.authorization = std::string(it->value());
      if (auto it = req.find(http::field::cookie); it != req.end())
        v.cookie = std::string(it->value());
      if (auto it = req.find(http::field::host); it != req.end()) v.host = std::string(it->value());
      keep = req.keep_alive();
      a = co_await handle(std::move(v));
    }
    http::response<http::string_body> res{static_cast<http::status>(a.status), 11};
    res.set(http::field::server, "peerup");
    res.set(http::field::content_type, a.content_type);
    res.set(http::field::cache_control, "no-store");
    for (const auto& [k, v] : a.headers) res.set(k, v);
    res.body() = std::move(a.body);
    res.keep_alive(keep);
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(s, res, net::use_nothrow);
    (void)wn;
    if (wec || !keep) break;
  }
  boost::system::error_code ignored;
  s.shutdown(Stream::shutdown_both, ignored);
  s.close(ignored);
}

}  // namespace peerup::control
