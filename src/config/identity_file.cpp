#include "config/identity_file.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

#include "config/file_write.hpp"

namespace peerup::app {

namespace fs = std::filesystem;

namespace {

std::string user_name(uid_t uid) {
  // getpwuid_r: no static buffer shared with other threads.
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(4096);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found)
    return std::string(found->pw_name) + " (uid " + std::to_string(uid) + ")";
  return "uid " + std::to_string(uid);
}

std::string plain_user_name(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(4096);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) return found->pw_name;
  return std::to_string(uid);
}

}  // namespace

std::string owner_problem(const fs::path& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  const uid_t me = ::geteuid();
  return std::string(what) + " " + path.string() + ": permission denied: it is owned by " +
         user_name(st.st_uid) + " and peerup runs as " + user_name(me) +
         "; fix it with: chown " + plain_user_name(me) + " " + path.string() +
         " (or run peerup as " + plain_user_name(st.st_uid) + ")";
}

void check_private_file_mode(const fs::path& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error(std::string(what) + " " + path.string() + ": cannot stat: " +
                             std::strerror(errno));
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw std::runtime_error(std::string(what) + " " + path.string() + " has mode " + mode +
                             " and is accessible by group or others; fix it with: chmod 600 " +
                             path.string());
  }
  // The file must belong to the user peerup runs as (docs/deployment.md),
  // like ssh's StrictModes; root may read files of the service user.
  const uid_t me = ::geteuid();
  if (st.st_uid != me && me != 0) throw std::runtime_error(owner_problem(path, what));
}

private_key load_identity(const fs::path& path) {
  if (!fs::exists(path))
    throw std::runtime_error("identity key " + path.string() +
                             " does not exist; create one with: peerup keygen --key " +
                             path.string() + " (or peerup init)");
  check_private_file_mode(path, "identity key");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == EACCES) throw std::runtime_error(owner_problem(path, "identity key"));
    throw std::runtime_error("identity key " + path.string() +
                             ": cannot read: " + std::strerror(errno));
  }
  // SECURITY: a key file is a few dozen bytes; refuse anything large.
  constexpr std::size_t max_key_file = 4096;
  bytes data;
  data.resize(max_key_file + 1);
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  if (data.size() > max_key_file)
    throw std::runtime_error("identity key " + path.string() + " is too large to be a key");
  auto key = private_key::from_protobuf(data);
  if (!key)
    throw std::runtime_error("identity key " + path.string() +
                             " is not a libp2p Ed25519 private key: " + key.error().message());
  return *key;
}

void save_identity(const fs::path& path, const private_key& key, bool force) {
  if (fs::exists(path) && !force)
    throw std::runtime_error("identity key " + path.string() +
                             " already exists; refusing to overwrite it (use --force)");
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const auto data = key.to_protobuf();
  // Atomic (a crash never leaves half a key); 0600, or the owner bits of the
  // key it replaces (--force), never group/other access.
  replace_file(path,
               std::string_view(reinterpret_cast<const char*>(data.data()), data.size()),
               {.new_mode = 0600, .keep_mask = 0700});
}

private_key load_or_create_identity(const fs::path& path) {
  if (fs::exists(path)) return load_identity(path);
  auto key = private_key::generate();
  save_identity(path, key, false);
  return key;
}

}  // namespace peerup::app
