#pragma once
// A small POSIX child process for tests: spawn a program with piped stdin and
// stdout, read stdout line by line with a timeout, wait, terminate. No asio,
// so tests of any layer can use it.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace peerup::test {

// Extra environment variables for the child, added to (or overriding) ours.
using environment = std::vector<std::pair<std::string, std::string>>;

// Where the child's stderr goes.
struct stderr_to_file {
  std::string path;  // truncated on spawn
};

struct spawn_options {
  std::optional<std::string> cwd;
  environment env;
  // Default: inherited, so a failing test shows the child's logs.
  std::optional<stderr_to_file> stderr_file;
  // Longest stdout line kept; longer lines are truncated (the rest dropped)
  // so a runaway child cannot make the test allocate without bound.
  std::size_t max_line = 1 << 20;
};

class child_process {
 public:
  // Starts argv[0] (looked up in PATH) with the given arguments. Throws
  // std::system_error if the program cannot be started: a test cannot go on.
  static child_process spawn(std::vector<std::string> argv, spawn_options opts = {});
  static child_process spawn(std::vector<std::string> argv, std::optional<std::string> cwd,
                             environment extras = {});

  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  // Closes stdin, SIGTERMs the child's process group, SIGKILLs it after 2 s
  // if the child is still alive, reaps the child.
  ~child_process();

  // Next stdout line without its '\n'; nullopt on timeout or when stdout is
  // closed and no partial line is left.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  // Exit status (0-255), 128+signal if killed by a signal, -1 on timeout.
  // Once the child is reaped, what it left running in its process group
  // (e.g. the children of `sh -c`) is SIGKILLed.
  int wait(std::chrono::milliseconds timeout);

  // Closes the child's stdin: children that exit on stdin EOF stop gracefully.
  void close_stdin();
  // Sends SIGTERM to the child's process group (nothing once reaped).
  void terminate();

  pid_t pid() const { return pid_; }
  bool running();

 private:
  child_process() = default;
  void reset() noexcept;
  bool try_reap(int flags);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::optional<int> status_;
  std::string buffer_;
  bool discarding_ = false;  // inside an over-long line
  std::size_t max_line_ = 1 << 20;
};

}  // namespace peerup::test
