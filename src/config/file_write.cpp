#include "config/file_write.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace peerup::app {

namespace fs = std::filesystem;

namespace {

std::string why() { return std::strerror(errno); }

// Closes and removes the temp file unless released.
struct temp_file {
  int fd = -1;
  std::string path;
  ~temp_file() {
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
};

bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const auto n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

void replace_file(const fs::path& path, std::string_view text, const replace_options& o) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (path.has_parent_path()) fs::create_directories(dir);
  struct stat old {};
  const fs::path& model = o.like ? *o.like : path;
  const bool existed = ::stat(model.c_str(), &old) == 0;

  // 1. the temp file: mkstemp creates it 0600 whatever the umask
  temp_file tmp;
  std::string name = path.string() + ".tmp.XXXXXX";
  tmp.fd = ::mkstemp(name.data());
  if (tmp.fd < 0) throw std::runtime_error("cannot create a temp file next to " + path.string() +
                                           ": " + why());
  tmp.path = name;
  // 2. contents
  if (!write_all(tmp.fd, text) || (o.durable && ::fsync(tmp.fd) != 0))
    throw std::runtime_error("cannot write " + name + ": " + why());
  // 3. mode and owner of the file being replaced (owner first: chown may
  //    clear setuid/setgid bits that fchmod then sets)
  if (existed && (old.st_uid != ::geteuid() || old.st_gid != ::getegid()) &&
      ::fchown(tmp.fd, old.st_uid, old.st_gid) != 0)
    throw std::runtime_error("cannot keep the owner (uid " + std::to_string(old.st_uid) +
                             ", gid " + std::to_string(old.st_gid) + ") of " + model.string() +
                             ": " + why() + "; edit it as that user or as root");
  const mode_t mode = existed ? (old.st_mode & o.keep_mask) : o.new_mode;
  if (::fchmod(tmp.fd, mode) != 0)
    throw std::runtime_error("cannot set the mode of " + name + ": " + why());
  ::close(tmp.fd);
  tmp.fd = -1;
  // 4. the switch, then make it durable
  if (::rename(name.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot replace " + path.string() + ": " + why());
  tmp.path.clear();
  if (o.durable) {
    const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0) {
      ::fsync(d);  // best effort: some file systems refuse fsync on folders
      ::close(d);
    }
  }
}

}  // namespace peerup::app
