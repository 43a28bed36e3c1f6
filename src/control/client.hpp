// The CLI's side of the control socket: one request, one answer, with the
// cookie when this user can read it. Used by `peerup status`, `peers`,
// `ping` and `traceroute` when a daemon runs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace peerup::control {

struct client_reply {
  unsigned status = 0;
  std::string body;  // JSON
};

// Sends one request to the daemon of config folder `dir`. nullopt when no
// daemon listens there (no socket file, or a stale one). Throws
// std::runtime_error with the fix when the socket exists but this user may
// not open it, or the daemon does not answer within `timeout_s`.
std::optional<client_reply> call_daemon(const std::filesystem::path& dir, std::string_view method,
                                        std::string_view target, std::string_view body = {},
                                        int timeout_s = 60);

// The "error" field of a JSON error body, or the body itself.
std::string error_message(const client_reply& r);

}  // namespace peerup::control
