// End-to-end helpers: real `peerup` processes (the binary of this build),
// real HTTP/TCP servers and clients, all on loopback, each bounded in time.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"

namespace peerup::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline const std::string peerup_binary = PEERUP_BINARY;

struct run_result {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a command to completion (killed after `limit`).
run_result run(std::vector<std::string> argv, std::chrono::seconds limit = 60s);
// Runs `sh -c script`.
run_result shell(const std::string& script, std::chrono::seconds limit = 60s);
std::string read_file(const fs::path& p);
void write_file(const fs::path& p, const std::string& text, unsigned mode = 0600);
std::string sh_quote(const std::string& s);

class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A node directory made by `peerup init`, whose config.yaml tests rewrite.
struct node {
  fs::path dir;
  std::string id;
  fs::path config() const { return dir / "config.yaml"; }
  // `peerup --config <this node> args...`
  std::vector<std::string> cmd(std::vector<std::string> args) const;
  run_result peerup(std::vector<std::string> args, std::chrono::seconds limit = 60s) const;
};
node init_node(const fs::path& dir);

// A long-running child whose stderr goes to a log file.
struct service_process {
  test::child_process proc;
  fs::path log;
  std::vector<std::string> lines;  // stdout lines read so far
  std::string log_text() const { return read_file(log); }
};

// Starts `peerup daemon` for `n`, waits for "ready"; `listen` is its first
// listen address (with /p2p/).
struct daemon_process : service_process {
  std::string listen;
};
daemon_process start_daemon(const node& n);

// Starts `peerup proxy`, returns it and its local port.
struct proxy_process : service_process {
  std::uint16_t port = 0;
};
proxy_process start_proxy(const node& client, const std::string& target,
                          const std::string& service, const std::vector<std::string>& extra = {});

// `python3 -m http.server` on 127.0.0.1 serving `dir`.
struct http_server : service_process {
  std::uint16_t port = 0;
};
http_server start_http_server(const fs::path& dir, const fs::path& log);

// A real OpenSSH server on 127.0.0.1 (a free port) with its own host key and
// config, letting `user_key` log in as root; keys, config and log live in
// `dir`. Callers skip first unless they run as root and /usr/sbin/sshd exists.
struct sshd_process : service_process {
  std::uint16_t port = 0;
  fs::path user_key;
  // ssh/scp options: no user config, no known_hosts, only `user_key`.
  std::string client_options() const;
};
// Throws std::runtime_error (with sshd's log) if it does not start listening.
sshd_process start_sshd(const fs::path& dir);

// `peerup relay serve` with `authorized` peers; `addr` ends in /p2p/<relay>.
struct relay_process : service_process {
  std::string addr;
};
// `extra_args` go to `relay serve` (e.g. {"--network", "grewal"}).
relay_process start_relay(const fs::path& dir, const std::vector<std::string>& authorized,
                          const std::vector<std::string>& extra_args = {});

// `peerup relay init --dir <dir> --network <network>`, `relay authorize` for
// each of `authorized`, then `relay serve --config <dir>/relay.yaml` on
// loopback: edits of relay.yaml's federation: apply within 2 s.
relay_process start_network_relay(const fs::path& dir, const std::string& network,
                                  const std::vector<std::string>& authorized);

// Polls `peerup status --json` of `n` until it contains `needle`.
bool wait_for_status(const node& n, const std::string& needle, std::chrono::seconds limit = 20s);
// Polls until `pred` holds.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return pred();
}

// A TCP server on 127.0.0.1 that counts accepted connections, sends `banner`
// and closes each one: proves whether a service was dialed at all.
class counting_server {
 public:
  explicit counting_server(std::string banner);
  ~counting_server();
  std::uint16_t port() const { return port_; }
  int accepts() const { return accepts_.load(); }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::string banner_;
  std::atomic<int> accepts_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A port that was free a moment ago (for servers that need one up front).
std::uint16_t free_port();
// True when something accepts TCP connections on 127.0.0.1:port.
bool port_open(std::uint16_t port);

}  // namespace peerup::e2e
