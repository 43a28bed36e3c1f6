#include "control/client.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fstream>

#include "control/api.hpp"
#include "control/server.hpp"

namespace peerup::control {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using local = boost::asio::local::stream_protocol;

namespace {

std::string read_cookie(const fs::path& p) {
  std::ifstream f(p);
  std::string c;
  if (f) std::getline(f, c);
  return c.size() == 64 ? c : std::string();
}

}  // namespace

std::optional<client_reply> call_daemon(const fs::path& dir, std::string_view method,
                                        std::string_view target, std::string_view body,
                                        int timeout_s) {
  const auto path = control_socket_path(dir);
  std::error_code fec;
  if (!fs::is_socket(fs::status(path, fec))) return std::nullopt;
  boost::asio::io_context io;
  local::socket s(io);
  boost::system::error_code ec;
  s.connect(local::endpoint(path.string()), ec);
  if (ec == boost::asio::error::connection_refused || ec == boost::asio::error::not_found)
    return std::nullopt;  // a socket left by a daemon that died
  if (ec == boost::asio::error::access_denied) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    throw std::runtime_error("cannot open the daemon's control socket " + path.string() +
                             ": permission denied (it is owner-only and belongs to uid " +
                             std::to_string(st.st_uid) + ", you are uid " +
                             std::to_string(::geteuid()) +
                             "); run as the daemon's user, e.g. sudo -u <user> peerup ...");
  }
  if (ec) throw std::runtime_error("control socket " + path.string() + ": " + ec.message());
  http::request<http::string_body> req{http::string_to_verb(std::string(method)),
                                       std::string(target), 11};
  req.set(http::field::host, "localhost");
  req.set(http::field::user_agent, "peerup-cli");
  // Sent whenever we can read it: the daemon needs it when we are not its uid.
  if (auto c = read_cookie(cookie_path(dir)); !c.empty())
    req.set(http::field::authorization, "Bearer " + c);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  req.keep_alive(false);
  req.prepare_payload();
  client_reply out;
  bool done = false;
  boost::beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);  // a status of many peers is still far below this
  http::async_write(s, req, [&](boost::system::error_code wec, std::size_t) {
    if (wec) {
      ec = wec;
      done = true;
      return;
    }
    http::async_read(s, buf, parser, [&](boost::system::error_code rec, std::size_t) {
      ec = rec;
      done = true;
    });
  });
  io.run_for(std::chrono::seconds(timeout_s));
  if (!done)
    throw std::runtime_error("the daemon did not answer on " + path.string() + " within " +
                             std::to_string(timeout_s) + " s");
  if (ec) throw std::runtime_error("control socket " + path.string() + ": " + ec.message());
  out.status = parser.get().result_int();
  out.body = parser.get().body();
  return out;
}

std::string error_message(const client_reply& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object())
    if (auto* e = v.as_object().if_contains("error"); e && e->is_string())
      return std::string(e->as_string());
  return "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 200);
}

}  // namespace peerup::control
