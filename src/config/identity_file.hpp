// The identity key file: the libp2p PrivateKey protobuf, mode 0600.
#pragma once

#include <filesystem>

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

// Throws when `path` can be read by group or others; `what` names the file's role.
void check_private_file_mode(const std::filesystem::path& path, std::string_view what);

}  // namespace peerup::app
