#include "support/js_peer.hpp"

#include <boost/json/parse.hpp>
// Boost.JSON header-only mode: its implementation is compiled here, once.
#include <boost/json/src.hpp>

#include <filesystem>

namespace peerup::test {

std::string js_peer_dir() { return std::string(PEERUP_SOURCE_DIR) + "/tests/interop/js"; }

std::vector<std::string> js_peer_command(const std::vector<std::string>& flags) {
  std::string dir = js_peer_dir();
  std::vector<std::string> argv{"node", "--import", dir + "/polyfill.mjs", dir + "/peer.mjs"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return argv;
}

bool js_peer_installed() {
  return std::filesystem::exists(js_peer_dir() + "/node_modules/libp2p/package.json");
}

child_process spawn_js_peer(const std::vector<std::string>& flags) {
  return child_process::spawn(js_peer_command(flags));
}

std::string js_quic_peer_dir() { return std::string(PEERUP_SOURCE_DIR) + "/tests/interop/js-quic"; }

bool js_quic_peer_installed() {
  return std::filesystem::exists(js_quic_peer_dir() +
                                 "/node_modules/@chainsafe/libp2p-quic/package.json");
}

child_process spawn_js_quic_peer(const std::vector<std::string>& flags) {
  // The polyfill of tests/interop/js serves both trees (Node 20 lacks
  // Promise.withResolvers).
  std::vector<std::string> argv{"node", "--import", js_peer_dir() + "/polyfill.mjs",
                                js_quic_peer_dir() + "/peer.mjs"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return child_process::spawn(argv);
}

std::optional<boost::json::object> parse_event(std::string_view line) {
  boost::system::error_code ec;
  auto value = boost::json::parse(line, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

std::optional<boost::json::object> wait_for_event(child_process& child, std::string_view event,
                                                  std::chrono::milliseconds timeout,
                                                  std::vector<boost::json::object>* skipped) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto line = child.read_line(left);
    if (!line) return std::nullopt;
    auto obj = parse_event(*line);
    if (!obj) continue;
    if (const auto* e = obj->if_contains("event"); e && e->is_string() && e->as_string() == event)
      return obj;
    if (skipped) skipped->push_back(std::move(*obj));
  }
}

std::string first_addr(const boost::json::object& listening_event) {
  const auto* addrs = listening_event.if_contains("addrs");
  if (!addrs || !addrs->is_array() || addrs->as_array().empty()) return {};
  const auto& first = addrs->as_array().front();
  return first.is_string() ? std::string(first.as_string()) : std::string();
}

}  // namespace peerup::test
