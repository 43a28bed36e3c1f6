// The home node's pending invites, in <config dir>/invites (mode 0600):
// `peerup invite` appends one, the daemon's pairing handler reads it at each
// attempt and writes back failures, use and the result. A file rather than
// IPC, so the daemon needs no control socket and an invite survives a
// daemon restart.
//
// One invite per line, fields separated by one space:
//   v1 <id hex> <secret hex> <relay multiaddr> <expires unix> <failures>
//      <max failures> <used 0|1> <services,..|*> <paired peer|-> <verification|->
//      <device name (rest of the line)>
// The verification string is stored with '-' for its spaces.
//
// SECURITY: the file holds live secrets: it is written 0600 and refused if
// group or others can read it; it is at most max_file_bytes and
// max_invites lines; each field is validated as the wire format is.
#pragma once

#include <filesystem>
#include <vector>

#include "common/error.hpp"
#include "wire/pairing.hpp"

namespace peerup::app {

struct invite_store_limits {
  static constexpr std::size_t max_file_bytes = 64 * 1024;
  static constexpr std::size_t max_invites = 64;
};

std::filesystem::path invites_file_path(const std::filesystem::path& config_dir);

// Parses the file for the home node `home`. A missing file is no invites.
// Throws std::runtime_error "<file>:<line>: <what>" on a malformed line or
// a file others can read.
std::vector<pairing::invite_record> load_invites(const std::filesystem::path& file,
                                                 const peer_id& home);
// Writes all records (0600), dropping those expired for more than a day.
void save_invites(const std::filesystem::path& file,
                  const std::vector<pairing::invite_record>& records, std::int64_t now_unix);

// Copies the attempt state (failures, used, result) of `attempted` into the
// records of `on_disk` with the same invite ID. The daemon saves this merge,
// not the list it loaded, so an invite that `peerup invite` added during an
// attempt is kept, and one it removed stays removed.
void merge_attempt_state(std::vector<pairing::invite_record>& on_disk,
                         const std::vector<pairing::invite_record>& attempted);

// A new invite for `home` at `relay` (a transport address): an ID none of
// `records` uses and a fresh secret, both from libsodium's CSPRNG. Throws
// when no free ID turns up (the store is bounded far below 65536 IDs).
pairing::invite_record make_invite(const std::vector<pairing::invite_record>& records,
                                   const peer_id& home, const multiaddr& relay,
                                   std::int64_t expires_unix, std::string name,
                                   std::vector<std::string> services);

// True if some invite can still be used at `now_unix`.
bool any_live_invite(const std::vector<pairing::invite_record>& records, std::int64_t now_unix);
// True if some invite is live or ended (expired, used, locked) less than
// `grace` seconds ago: the daemon then still lets unknown peers in, so a
// late or replayed join hears "expired" or "used" rather than a closed
// connection.
bool any_recent_invite(const std::vector<pairing::invite_record>& records, std::int64_t now_unix,
                       std::int64_t grace = 3600);

}  // namespace peerup::app
