#include "config/identity_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace peerup::app {

namespace fs = std::filesystem;

void check_private_file_mode(const fs::path& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error(std::string(what) + " " + path.string() + ": cannot stat");
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw std::runtime_error(std::string(what) + " " + path.string() + " has mode " + mode +
                             " and is accessible by group or others; fix it with: chmod 600 " +
                             path.string());
  }
}

private_key load_identity(const fs::path& path) {
  if (!fs::exists(path))
    throw std::runtime_error("identity key " + path.string() +
                             " does not exist; create one with: peerup keygen --key " +
                             path.string() + " (or peerup init)");
  check_private_file_mode(path, "identity key");
  std::ifstream in(path, std::ios::binary);
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
  const fs::path tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + tmp.string());
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + tmp.string());
  fs::rename(tmp, path);  // atomic: a crash never leaves half a key
}

private_key load_or_create_identity(const fs::path& path) {
  if (fs::exists(path)) return load_identity(path);
  auto key = private_key::generate();
  save_identity(path, key, false);
  return key;
}

}  // namespace peerup::app
