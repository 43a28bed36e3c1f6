#pragma once
// Drives tests/interop/js/peer.mjs (the js-libp2p interop peer) from gtest:
// builds its command line and reads the JSON events it prints on stdout.

#include <boost/json/object.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.hpp"

namespace peerup::test {

// <source dir>/tests/interop/js (from the PEERUP_SOURCE_DIR compile definition).
std::string js_peer_dir();

// node --import <dir>/polyfill.mjs <dir>/peer.mjs <flags...>
std::vector<std::string> js_peer_command(const std::vector<std::string>& flags = {});

// True once `npm ci` has run in js_peer_dir(), i.e. the peer can start.
bool js_peer_installed();

// Starts peer.mjs with `flags`; its stderr goes to the test's stderr.
child_process spawn_js_peer(const std::vector<std::string>& flags);

// The QUIC interop peer, tests/interop/js-quic (js-libp2p 2.x with
// @chainsafe/libp2p-quic 1.1.x; its own npm tree): the same event protocol.
std::string js_quic_peer_dir();
bool js_quic_peer_installed();
child_process spawn_js_quic_peer(const std::vector<std::string>& flags);

// Parses one stdout line; nullopt if it is not a JSON object.
std::optional<boost::json::object> parse_event(std::string_view line);

// Reads lines until one whose "event" equals `event` (others are skipped,
// and kept in `skipped` if given). nullopt on timeout or child exit.
std::optional<boost::json::object> wait_for_event(
    child_process& child, std::string_view event, std::chrono::milliseconds timeout,
    std::vector<boost::json::object>* skipped = nullptr);

// First listening address of a "listening" event (full, with /p2p/).
std::string first_addr(const boost::json::object& listening_event);

}  // namespace peerup::test
