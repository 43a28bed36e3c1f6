// authorized_keys: which peers may connect, and to which services.
//
// Grammar (one entry per line, like ssh's authorized_keys):
//   line    = *WSP [ entry / "#" *CHAR ]
//   entry   = [ options 1*WSP ] peer-id [ 1*WSP comment ]
//   options = "service=" name *( "," name )
//   comment = the rest of the line, kept as written
// An entry without options allows every service; with service=... only the
// services named. A line may appear once per peer; several lines for one peer
// add up. Blank lines and lines starting with '#' are ignored.
#pragma once

#include <boost/system/result.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "multiformats/peer_id.hpp"
#include "config/config.hpp"

namespace peerup::app {

// SECURITY: bounds on what an authorized_keys file can make us allocate.
struct authorized_keys_limits {
  static constexpr std::size_t max_file_size = 1 << 20;
  static constexpr std::size_t max_line = 4096;
  static constexpr std::size_t max_entries = 10000;
  static constexpr std::size_t max_services_per_entry = 64;
};

struct authorized_key {
  peer_id peer;
  std::vector<service_name> services;  // empty: every service
  std::string comment;
  int line = 0;  // 1-based line in the file it came from

  bool allows(const service_name& s) const;
  // The entry as one line of the file (without '\n').
  std::string to_line() const;
};

struct authorized_keys_problem {
  int line = 0;  // 0: about the whole file
  std::string message;
};

struct authorized_keys_file {
  std::vector<authorized_key> entries;
  std::vector<authorized_keys_problem> problems;  // empty when the file is valid
};

// Parses every line; bad lines become problems and are skipped.
authorized_keys_file parse_authorized_keys(std::string_view text);

// Reads a file of at most `max_size` bytes. Throws std::runtime_error naming
// the file when it is missing, unreadable or too large.
std::string read_small_file(const std::filesystem::path& path, std::size_t max_size);
// Writes `text` to `path` atomically (replace_file): a new file is 0600; a
// replaced one keeps its owner and its owner bits, and loses any group/other
// access. fsynced when `durable`. Throws on failure.
void write_private_file(const std::filesystem::path& path, std::string_view text,
                        bool durable = true);

// Text edits that keep every other line (comments included) as it was.
// Replaces the lines of key.peer with one line for `key`, or appends it.
std::string upsert_authorized_key(std::string_view text, const authorized_key& key);
// upsert_authorized_key for the editing commands, which must never write a
// file the daemon then refuses: throws std::invalid_argument with the reason
// (a comment with control characters, a line over max_line, a file that would
// no longer load: too large, too many entries).
std::string upsert_authorized_key_checked(std::string_view text, const authorized_key& key);
// Drops every entry line of `peer`; `removed` counts them.
std::string remove_authorized_key(std::string_view text, const peer_id& peer, int& removed);

// Who may do what, from authorized_keys and the per-service files.
class access_policy {
 public:
  // An entry of the main authorized_keys file.
  void allow(const authorized_key& k);
  // An entry of service `s`'s own authorized_keys file: it grants `s` only.
  void allow_for(const service_name& s, const authorized_key& k);

  // Layer 1 (connection gater): the peer may use at least one service.
  bool may_connect(const peer_id& p) const;
  // Layer 2 (stream handler): the peer may use service `s`.
  bool may_use(const peer_id& p, const service_name& s) const;
  std::size_t peer_count() const;
  // Network mode (docs/network-mode.md): peers of the main file whose entry
  // is not limited to some services. A key limited to services gets those
  // services only, never an address on the network.
  bool may_use_network(const peer_id& p) const;
  std::vector<peer_id> network_peers() const;

 private:
  struct grant {
    bool every_service = false;
    std::set<std::string> services;
  };
  std::unordered_map<peer_id, grant> grants_;
};

// Loads the main authorized_keys and the per-service files of enabled
// services. Refuses files readable by group or others, and files with bad
// lines (the error lists them with line numbers).
boost::system::result<access_policy, config_error> load_access_policy(const config& cfg);

}  // namespace peerup::app
