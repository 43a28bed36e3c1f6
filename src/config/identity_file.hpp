// The identity key file: the libp2p PrivateKey protobuf, mode 0600.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "crypto/keys.hpp"

namespace peerup::app {

// Loads the key at `path`. Throws std::runtime_error with a message naming
// the file and the fix when it is missing, malformed, or readable by group or
// others (like ssh's StrictModes).
private_key load_identity(const std::filesystem::path& path);

// Writes a new key with mode 0600. Refuses to overwrite unless `force`.
void save_identity(const std::filesystem::path& path, const private_key& key, bool force);

// Loads the key, or generates and saves one when the file does not exist.
private_key load_or_create_identity(const std::filesystem::path& path);

// Throws when `path` can be accessed by group or others, or is owned by
// another user than the one peerup runs as (root may read any owner's);
// `what` names the file's role. The message names the owner and the fix.
void check_private_file_mode(const std::filesystem::path& path, std::string_view what);
// "<what> <path>: permission denied: it is owned by <user> (uid N) and peerup
// runs as <user> (uid M); fix it with: chown ..." (empty if `path` is gone).
std::string owner_problem(const std::filesystem::path& path, std::string_view what);

}  // namespace peerup::app
