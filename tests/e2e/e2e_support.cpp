#include "e2e/e2e_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace peerup::e2e {

namespace {

fs::path temp_file_path(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd >= 0) ::close(fd);
  return tmpl;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Reads stdout lines until `pred(line)` holds; false on EOF or timeout.
template <class Pred>
bool read_until(service_process& s, Pred pred, std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    auto line = s.proc.read_line(std::max(left, 1ms));
    if (!line) return false;
    s.lines.push_back(*line);
    if (pred(*line)) return true;
  }
  return false;
}

template <class T>
T spawn_service(std::vector<std::string> argv, const fs::path& log) {
  test::spawn_options opts;
  opts.stderr_file = test::stderr_to_file{log.string()};
  return T{{test::child_process::spawn(std::move(argv), opts), log, {}}};
}

}  // namespace

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text, unsigned mode) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
  ::chmod(p.c_str(), mode);
}

run_result run(std::vector<std::string> argv, std::chrono::seconds limit) {
  const auto err_path = temp_file_path("peerup-e2e-stderr");
  test::spawn_options opts;
  opts.stderr_file = test::stderr_to_file{err_path.string()};
  auto p = test::child_process::spawn(std::move(argv), opts);
  p.close_stdin();
  run_result r;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    auto line = p.read_line(std::max(left, 1ms));
    if (!line) break;
    r.out += *line + "\n";
  }
  r.code = p.wait(1000ms);
  r.err = read_file(err_path);
  fs::remove(err_path);
  return r;
}

run_result shell(const std::string& script, std::chrono::seconds limit) {
  return run({"sh", "-c", script}, limit);
}

temp_dir::temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "peerup-e2e-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::vector<std::string> node::cmd(std::vector<std::string> args) const {
  std::vector<std::string> argv{peerup_binary, "--config", config().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

run_result node::peerup(std::vector<std::string> args, std::chrono::seconds limit) const {
  return run(cmd(std::move(args)), limit);
}

node init_node(const fs::path& dir) {
  auto r = run({peerup_binary, "init", "--dir", dir.string()});
  if (r.code != 0) throw std::runtime_error("peerup init failed: " + r.err);
  return node{dir, r.out.substr(0, r.out.find('\n'))};
}

daemon_process start_daemon(const node& n) {
  auto d = spawn_service<daemon_process>(n.cmd({"daemon", "--log-level", "debug"}),
                                         n.dir / "daemon.log");
  const bool ready = read_until(
      d, [](const std::string& l) { return l == "ready"; }, 20s);
  if (!ready) throw std::runtime_error("daemon did not start:\n" + d.log_text());
  for (const auto& l : d.lines)
    if (l.rfind("listen ", 0) == 0 && d.listen.empty()) d.listen = l.substr(7);
  return d;
}

proxy_process start_proxy(const node& client, const std::string& target,
                          const std::string& service, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"proxy", target, service, "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto p = spawn_service<proxy_process>(client.cmd(std::move(args)),
                                        client.dir / ("proxy-" + service + ".log"));
  const bool up = read_until(
      p, [](const std::string& l) { return l.rfind("proxy ", 0) == 0; }, 30s);
  if (!up) throw std::runtime_error("proxy did not start:\n" + p.log_text());
  const auto& line = p.lines.back();  // "proxy 127.0.0.1:<port> -> ..."
  const auto colon = line.find(':');
  p.port = static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
  return p;
}

http_server start_http_server(const fs::path& dir, const fs::path& log) {
  auto h = spawn_service<http_server>({"python3", "-u", "-m", "http.server", "--bind", "127.0.0.1",
                                       "--directory", dir.string(), "0"},
                                      log);
  // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
  const bool up = read_until(
      h, [](const std::string& l) { return l.find(" port ") != std::string::npos; }, 20s);
  if (!up) throw std::runtime_error("http.server did not start:\n" + h.log_text());
  const auto& line = h.lines.back();
  h.port = static_cast<std::uint16_t>(std::stoi(line.substr(line.find(" port ") + 6)));
  return h;
}

std::string sshd_process::client_options() const {
  return "-F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i " + sh_quote(user_key.string()) +
         " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR";
}

sshd_process start_sshd(const fs::path& dir) {
  fs::create_directories(dir);
  for (const char* k : {"host_key", "user_key"}) {
    auto r =
        run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", (dir / k).string()});
    if (r.code != 0) throw std::runtime_error("ssh-keygen failed: " + r.err);
  }
  write_file(dir / "authorized_keys", read_file(dir / "user_key.pub"));
  // sshd refuses to start without its privilege separation directory.
  fs::create_directories("/run/sshd");
  const auto port = free_port();
  // scp speaks SFTP by default since OpenSSH 9.0, hence the subsystem.
  write_file(dir / "sshd_config",
             "Port " + std::to_string(port) + "\nListenAddress 127.0.0.1\nHostKey " +
                 (dir / "host_key").string() + "\nPidFile " + (dir / "sshd.pid").string() +
                 "\nAuthorizedKeysFile " + (dir / "authorized_keys").string() +
                 "\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                 "KbdInteractiveAuthentication no\nUsePAM no\nSubsystem sftp internal-sftp\n",
             0600);
  auto s = spawn_service<sshd_process>(
      {"/usr/sbin/sshd", "-D", "-e", "-f", (dir / "sshd_config").string(), "-o", "StrictModes=no"},
      dir / "sshd.log");
  s.port = port;
  s.user_key = dir / "user_key";
  if (!eventually([&] { return port_open(port); }))
    throw std::runtime_error("sshd did not listen on port " + std::to_string(port) + ":\n" +
                             s.log_text());
  return s;
}

relay_process start_relay(const fs::path& dir, const std::vector<std::string>& authorized,
                          const std::vector<std::string>& extra_args) {
  fs::create_directories(dir);
  auto k = run({peerup_binary, "keygen", "--key", (dir / "identity.key").string()});
  if (k.code != 0) throw std::runtime_error("keygen failed: " + k.err);
  for (const auto& peer : authorized) {
    auto a = run({peerup_binary, "relay", "authorize", "--dir", dir.string(), peer});
    if (a.code != 0) throw std::runtime_error("relay authorize failed: " + a.err);
  }
  std::vector<std::string> argv{
      peerup_binary, "relay", "serve", "--dir", dir.string(), "--listen", "/ip4/127.0.0.1/tcp/0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto r = spawn_service<relay_process>(argv, dir / "relay.log");
  const bool up = read_until(
      r, [](const std::string& l) { return l.rfind("/ip4/", 0) == 0; }, 20s);
  if (!up) throw std::runtime_error("relay did not start:\n" + r.log_text());
  r.addr = r.lines.back();
  return r;
}

relay_process start_network_relay(const fs::path& dir, const std::string& network,
                                  const std::vector<std::string>& authorized) {
  auto init = run({peerup_binary, "relay", "init", "--dir", dir.string(), "--network", network});
  if (init.code != 0) throw std::runtime_error("relay init failed: " + init.err);
  for (const auto& peer : authorized) {
    auto a = run({peerup_binary, "relay", "authorize", "--dir", dir.string(), peer});
    if (a.code != 0) throw std::runtime_error("relay authorize failed: " + a.err);
  }
  auto r = spawn_service<relay_process>({peerup_binary, "relay", "serve", "--config",
                                         (dir / "relay.yaml").string(), "--listen",
                                         "/ip4/127.0.0.1/tcp/0"},
                                        dir / "relay.log");
  const bool up = read_until(
      r, [](const std::string& l) { return l.rfind("/ip4/", 0) == 0; }, 20s);
  if (!up) throw std::runtime_error("relay did not start:\n" + r.log_text());
  r.addr = r.lines.back();
  return r;
}

bool wait_for_status(const node& n, const std::string& needle, std::chrono::seconds limit) {
  return eventually(
      [&] {
        auto r = n.peerup({"status", "--json"}, 10s);
        return r.code == 0 && r.out.find(needle) != std::string::npos;
      },
      limit);
}

counting_server::counting_server(std::string banner) : banner_(std::move(banner)) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto addr = loopback(0);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd_, 16) != 0)
    throw std::runtime_error("counting_server: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepts_;
      (void)::send(c, banner_.data(), banner_.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  });
}

counting_server::~counting_server() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto addr = loopback(0);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_open(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto addr = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace peerup::e2e
