#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

extern char** environ;

namespace peerup::test {
namespace {

using clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::vector<std::string> merged_environment(const environment& extras) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    vars[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& [k, v] : extras) vars[k] = v;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Runs in the forked child: only async-signal-safe calls until exec. On
// failure the errno is written to `report_fd` (close-on-exec, so a successful
// exec closes it and the parent reads EOF).
[[noreturn]] void exec_child(int stdin_fd, int stdout_fd, int stderr_fd, const char* cwd,
                             char** argv, char** envp, int report_fd, pid_t parent) {
  // Die with the test process even if it is SIGKILLed before our destructor.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(127);
  // Own process group, so cleanup also reaches grandchildren (sh -c '...').
  ::setpgid(0, 0);
  ::signal(SIGPIPE, SIG_DFL);
  if (::dup2(stdin_fd, STDIN_FILENO) < 0 || ::dup2(stdout_fd, STDOUT_FILENO) < 0 ||
      (stderr_fd >= 0 && ::dup2(stderr_fd, STDERR_FILENO) < 0) ||
      (cwd != nullptr && ::chdir(cwd) != 0)) {
    int err = errno;
    [[maybe_unused]] auto n = ::write(report_fd, &err, sizeof err);
    ::_exit(127);
  }
  ::execvpe(argv[0], argv, envp);
  int err = errno;
  [[maybe_unused]] auto n = ::write(report_fd, &err, sizeof err);
  ::_exit(127);
}

}  // namespace

child_process child_process::spawn(std::vector<std::string> argv, std::optional<std::string> cwd,
                                   environment extras) {
  spawn_options opts;
  opts.cwd = std::move(cwd);
  opts.env = std::move(extras);
  return spawn(std::move(argv), std::move(opts));
}

child_process child_process::spawn(std::vector<std::string> argv, spawn_options opts) {
  if (argv.empty()) throw std::invalid_argument("child_process::spawn: empty argv");
  auto env_strings = merged_environment(opts.env);
  auto c_argv = c_strings(argv);
  auto c_env = c_strings(env_strings);

  int in_pipe[2] = {-1, -1};
  int out_pipe[2] = {-1, -1};
  int report[2] = {-1, -1};
  int err_fd = -1;
  auto cleanup = [&] {
    for (int* fd :
         {&in_pipe[0], &in_pipe[1], &out_pipe[0], &out_pipe[1], &report[0], &report[1], &err_fd})
      close_fd(*fd);
  };
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(report, O_CLOEXEC) != 0) {
    cleanup();
    throw_errno("pipe2");
  }
  if (opts.stderr_file) {
    err_fd = ::open(opts.stderr_file->path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err_fd < 0) {
      cleanup();
      throw_errno("open stderr file");
    }
  }

  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    cleanup();
    throw_errno("fork");
  }
  if (pid == 0) {
    exec_child(in_pipe[0], out_pipe[1], err_fd, opts.cwd ? opts.cwd->c_str() : nullptr,
               c_argv.data(), c_env.data(), report[1], parent);
  }

  close_fd(in_pipe[0]);
  close_fd(out_pipe[1]);
  close_fd(report[1]);
  close_fd(err_fd);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close_fd(report[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    ::waitpid(pid, nullptr, 0);
    cleanup();
    throw std::system_error(child_errno, std::generic_category(), "exec " + argv[0]);
  }

  child_process child;
  child.pid_ = pid;
  child.stdin_fd_ = in_pipe[1];
  child.stdout_fd_ = out_pipe[0];
  child.max_line_ = opts.max_line;
  return child;
}

child_process::child_process(child_process&& other) noexcept { *this = std::move(other); }

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    reset();
    pid_ = std::exchange(other.pid_, -1);
    stdin_fd_ = std::exchange(other.stdin_fd_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
    buffer_ = std::move(other.buffer_);
    discarding_ = other.discarding_;
    max_line_ = other.max_line_;
  }
  return *this;
}

child_process::~child_process() { reset(); }

void child_process::reset() noexcept {
  close_fd(stdin_fd_);
  if (pid_ > 0 && !status_) {
    ::kill(-pid_, SIGTERM);
    if (wait(std::chrono::seconds(2)) < 0) {
      ::kill(-pid_, SIGKILL);
      try_reap(0);
    }
  }

  close_fd(stdout_fd_);
  pid_ = -1;
  status_.reset();
  buffer_.clear();
  discarding_ = false;
}

bool child_process::try_reap(int flags) {
  if (status_) return true;
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, flags);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  // Whatever the child left behind in its group goes too. The group id
  // cannot be reused while a member lives, so this reaches nobody else.
  ::kill(-pid_, SIGKILL);
  return true;
}

bool child_process::running() { return pid_ > 0 && !try_reap(WNOHANG); }

int child_process::wait(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (!try_reap(WNOHANG)) {
    if (pid_ <= 0 || clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return *status_;
}

void child_process::close_stdin() { close_fd(stdin_fd_); }

void child_process::terminate() {
  if (pid_ > 0 && !try_reap(WNOHANG)) ::kill(-pid_, SIGTERM);
}

std::optional<std::string> child_process::read_line(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (std::exchange(discarding_, false)) continue;  // tail of an over-long line
      return line;
    }
    if (buffer_.size() >= max_line_) {
      // Over-long line: hand out its head, drop the rest up to the newline.
      std::string line = buffer_.substr(0, max_line_);
      buffer_.clear();
      if (std::exchange(discarding_, true)) continue;
      return line;
    }
    if (stdout_fd_ < 0) {
      if (buffer_.empty() || discarding_) return std::nullopt;
      return std::exchange(buffer_, {});  // last line without '\n'
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd pfd{stdout_fd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char chunk[4096];
    ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      close_fd(stdout_fd_);
      continue;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace peerup::test
