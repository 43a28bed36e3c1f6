// Replacing the files peerup edits (config.yaml, authorized_keys, keys)
// without losing what the user set on them, and without ever leaving half a
// file behind.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string_view>

namespace peerup::app {

struct replace_options {
  // Mode of a file that did not exist before (never widened by the umask).
  mode_t new_mode = 0600;
  // Bits of the replaced file's mode that are kept: 07777 keeps it all;
  // 0700 keeps the owner's bits and drops any group/other access.
  mode_t keep_mask = 07777;
  // Take mode and owner from this file instead of the replaced one (a .bak
  // copy gets the original's).
  std::optional<std::filesystem::path> like;
  // fsync the file and its folder, so a crash leaves the old or the new file.
  bool durable = true;
};

// Writes `text` to `path`:
// 1. a new temp file in the same folder (so the rename is atomic), mode 0600
// 2. write, fsync
// 3. chmod/chown to the mode and owner the replaced file had (see
//    replace_options), or new_mode and our own user for a new file
// 4. rename over `path`, fsync the folder
// Throws std::runtime_error naming the file and the reason (the temp file is
// removed). Keeping another user's ownership needs root: when chown fails,
// nothing is replaced and the error says so.
void replace_file(const std::filesystem::path& path, std::string_view text,
                  const replace_options& o = {});

}  // namespace peerup::app
