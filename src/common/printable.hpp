// Untrusted text in log lines and error messages.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace peerup {

// `s` safe to print: printable ASCII stays as is, a backslash becomes "\\",
// every other byte "\xNN" (so a peer or a local client cannot start a forged
// log line or send terminal escapes), and input past `max_bytes` becomes "...".
std::string printable(std::string_view s, std::size_t max_bytes = 256);

}  // namespace peerup
