// The control API's request handling on arbitrary bytes: Beast's HTTP parser
// with the API's bounds (parse_http_request), then routing and JSON
// validation (parse_command), the cookie check, and the metrics registry
// with label values taken from the input.
//
// Checks beyond "no crash":
// - a parsed request never carries a body over api_limits::max_body_bytes
// - every error has an HTTP status 400-431 and a non-empty message; a 405
//   names the allowed methods
// - a command that needs a target has one, and auth routes have a peer
// - rendered metrics never contain a raw newline inside a label value (the
//   exposition format would break)
#include <string>
#include <variant>

#include "control/api.hpp"
#include "control/metrics.hpp"
#include "fuzz_common.hpp"

using namespace peerup;
using namespace peerup::control;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto req = parse_http_request(in);
  if (auto* e = std::get_if<api_error>(&req)) {
    if (e->status < 400 || e->status > 431 || e->message.empty()) __builtin_trap();
  } else {
    const auto& r = std::get<http_request>(req);
    if (r.body.size() > api_limits::max_body_bytes) __builtin_trap();
    (void)cookie_matches(std::string(64, 'a'), r.authorization, r.cookie);
    auto cmd = parse_command(r.method, r.target, r.body);
    if (auto* ce = std::get_if<api_error>(&cmd)) {
      if (ce->status < 400 || ce->status > 431 || ce->message.empty()) __builtin_trap();
      if (ce->status == 405 && ce->allow.empty()) __builtin_trap();
    } else {
      const auto& c = std::get<command>(cmd);
      switch (c.what) {
        case route::ping:
        case route::traceroute:
        case route::disconnect:
        case route::connect:
          if (c.target.empty()) __builtin_trap();
          if (c.what == route::ping && (c.count < 1 || c.count > api_limits::max_ping_count))
            __builtin_trap();
          break;
        case route::auth_add:
        case route::auth_remove:
          if (!c.peer) __builtin_trap();
          break;
        default:
          break;
      }
    }
  }
  // The body (or the whole input) as label values.
  metrics_registry m;
  m.declare("fuzz_total", metric_type::counter, "h\nelp", {"a", "b"}, 4);
  const auto half = in.size() / 2;
  m.add("fuzz_total", 1, {std::string(in.substr(0, half)), std::string(in.substr(half))});
  m.add("fuzz_total", 2, {std::string(in.substr(half)), std::string(in.substr(0, half))});
  const auto text = m.render();
  // Each series is one line: HELP, TYPE, then at most 2 series.
  std::size_t lines = 0;
  for (char ch : text) lines += ch == '\n';
  if (lines > 4) __builtin_trap();
  return 0;
}
