// The optional names file (`names_file:` in the config): more local names,
// one per line, like /etc/hosts turned around:
//
//   line  = *WSP [ name 1*WSP target *WSP [ "#" *CHAR ] / "#" *CHAR ]
//   name  = as in `names:` (1-64 of [A-Za-z0-9._-], not a peer ID)
//   target = peer ID / multiaddr ending in /p2p/<peer-id>
//
// A name given twice is an error (which one was meant?). `names:` in the
// config wins over the file.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace peerup::app {

// SECURITY: bounds on what a names file can make us allocate.
struct names_file_limits {
  static constexpr std::size_t max_file_size = 1 << 20;
  static constexpr std::size_t max_line = 4096;
  static constexpr std::size_t max_entries = config_limits::max_names;
};

struct names_file_problem {
  int line = 0;  // 1-based; 0: about the whole file
  std::string message;
};

struct names_file {
  std::map<std::string, name_target> names;
  std::vector<names_file_problem> problems;  // empty when the file is valid
};

// Parses every line; bad lines become problems and are skipped.
names_file parse_names_file(std::string_view text);

}  // namespace peerup::app
