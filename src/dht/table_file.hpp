// The routing table kept across restarts: <config dir>/dht_peers, one DHT
// server per line, "<peer-id> <multiaddr> <multiaddr>...", written by the
// daemon at every refresh and when it stops, read when it starts. Sans-I/O:
// text in, entries out.
//
// SECURITY: the file is ours, but validated as if it were not (a truncated
// write, a hand edit): at most max_entries lines of max_line bytes, at most
// max_addrs addresses per line, every peer ID and multiaddr parsed. A line
// that fails is an error naming its number; the daemon then starts from its
// bootstrap peers alone. Entries still go through routing_table::add, so its
// diversity limits hold for them too.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/error.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::dht {

struct table_file_limits {
  static constexpr std::size_t max_entries = 1024;
  static constexpr std::size_t max_addrs = 8;
  static constexpr std::size_t max_line = 4096;
  static constexpr std::size_t max_size = max_entries * max_line;
};

using table_entry = std::pair<peer_id, std::vector<multiaddr>>;

// Entries beyond the bounds are left out (addresses past max_addrs, lines
// past max_entries).
std::string encode_table_file(const std::vector<table_entry>& entries);

struct table_file_error {
  int line = 0;  // 1-based; 0 for the whole file
  std::string message;
};
// Blank lines and lines starting with '#' are skipped.
std::variant<std::vector<table_entry>, table_file_error> decode_table_file(std::string_view text);

}  // namespace peerup::dht
