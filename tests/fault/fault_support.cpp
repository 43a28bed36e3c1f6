#include "fault/fault_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace peerup::fault {

namespace {

using clock = std::chrono::steady_clock;
constexpr std::size_t chunk = 256 * 1024;
constexpr std::size_t request_size = 17;

double since(clock::time_point t) {
  return std::chrono::duration<double>(clock::now() - t).count();
}

// Blocking socket calls wake up every 200 ms so loops can check deadlines.
void set_io_timeouts(int fd) {
  timeval tv{0, 200 * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

// Sends all of [p, p+n) before `deadline`; 0 or the errno (ETIMEDOUT on the deadline).
int send_all(int fd, const std::uint8_t* p, std::size_t n, clock::time_point deadline,
             const std::atomic<bool>* stop = nullptr) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= static_cast<std::size_t>(w);
      continue;
    }
    if (w < 0 && !would_block(errno)) return errno;
    if (clock::now() > deadline || (stop && *stop)) return ETIMEDOUT;
  }
  return 0;
}

// Reads exactly n bytes; 0, the errno, or ECONNABORTED for EOF before n.
int recv_all(int fd, std::uint8_t* p, std::size_t n, clock::time_point deadline,
             const std::atomic<bool>* stop = nullptr) {
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r > 0) {
      p += r;
      n -= static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0) return ECONNABORTED;
    if (!would_block(errno)) return errno;
    if (clock::now() > deadline || (stop && *stop)) return ETIMEDOUT;
  }
  return 0;
}

void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  set_io_timeouts(fd);
  return fd;
}

std::string to_hex(const std::uint8_t* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

// Opens a connection and sends the request; fills r.error on failure.
int open_request(std::uint16_t port, char mode, std::uint64_t n, std::uint64_t seed,
                 clock::time_point deadline, transfer_result& r) {
  const int fd = connect_loopback(port);
  if (fd < 0) {
    r.error = errno;
    return -1;
  }
  std::uint8_t req[request_size];
  req[0] = static_cast<std::uint8_t>(mode);
  put_u64(req + 1, n);
  put_u64(req + 9, seed);
  if (int e = send_all(fd, req, sizeof req, deadline); e != 0) {
    r.error = e;
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

void generator::fill(std::uint8_t* out, std::size_t n) {
  while (n > 0) {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    const std::uint64_t v = state_ * 0x2545F4914F6CDD1Dull;
    const std::size_t k = std::min<std::size_t>(n, 8);
    std::memcpy(out, &v, k);
    out += k;
    n -= k;
  }
}

sha256_stream::sha256_stream() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
sha256_stream::~sha256_stream() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void sha256_stream::update(const std::uint8_t* p, std::size_t n) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), p, n);
}
std::string sha256_stream::hex() {
  std::uint8_t md[32];
  unsigned len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  return to_hex(md, len);
}

data_service::data_service() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd_, 64) != 0)
    throw std::runtime_error("data_service: cannot listen");
  socklen_t len = sizeof a;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      set_io_timeouts(c);
      std::lock_guard lock(mu_);
      workers_.emplace_back([this, c] { serve(c); });
    }
  });
}

data_service::~data_service() {
  stop_ = true;
  acceptor_.join();
  for (auto& w : workers_) w.join();
  ::close(fd_);
}

std::optional<std::string> data_service::digest_for(std::uint64_t seed) const {
  std::lock_guard lock(mu_);
  auto it = digests_.find(seed);
  if (it == digests_.end()) return std::nullopt;
  return it->second;
}

void data_service::serve(int fd) {
  // A transfer of 1 GiB through three processes on two shared cores takes
  // well under a minute; a stuck peer is cut after 5 minutes or at stop.
  const auto deadline = clock::now() + std::chrono::minutes(5);
  std::uint8_t req[request_size];
  std::vector<std::uint8_t> buf(chunk);
  sha256_stream hash;
  bool ok = recv_all(fd, req, sizeof req, deadline, &stop_) == 0;
  const std::uint64_t n = ok ? get_u64(req + 1) : 0;
  const std::uint64_t seed = ok ? get_u64(req + 9) : 0;
  if (ok && req[0] == 'D') {
    generator gen(seed);
    for (std::uint64_t left = n; ok && left > 0;) {
      const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk));
      gen.fill(buf.data(), k);
      hash.update(buf.data(), k);
      ok = send_all(fd, buf.data(), k, deadline, &stop_) == 0;
      left -= k;
    }
  } else if (ok && req[0] == 'U') {
    for (std::uint64_t left = n; ok && left > 0;) {
      const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk));
      const ssize_t r = ::recv(fd, buf.data(), k, 0);
      if (r > 0) {
        hash.update(buf.data(), static_cast<std::size_t>(r));
        left -= static_cast<std::uint64_t>(r);
      } else {
        ok = r < 0 && would_block(errno) && clock::now() < deadline && !stop_;
      }
    }
  } else {
    ok = false;
  }
  if (ok) {
    const auto digest = hash.hex();
    {
      std::lock_guard lock(mu_);
      digests_[seed] = digest;
    }
    if (req[0] == 'U')
      send_all(fd, reinterpret_cast<const std::uint8_t*>(digest.data()), digest.size(), deadline,
               &stop_);
  }
  ::close(fd);
}

transfer_result download(std::uint16_t port, std::uint64_t n, std::uint64_t seed,
                         std::chrono::seconds limit, std::atomic<std::uint64_t>* progress) {
  transfer_result r;
  const auto start = clock::now();
  const auto deadline = start + limit;
  const int fd = open_request(port, 'D', n, seed, deadline, r);
  if (fd < 0) return r;
  std::vector<std::uint8_t> buf(chunk);
  sha256_stream hash;
  for (;;) {
    const ssize_t got = ::recv(fd, buf.data(), buf.size(), 0);
    if (got > 0) {
      hash.update(buf.data(), static_cast<std::size_t>(got));
      r.bytes += static_cast<std::uint64_t>(got);
      if (progress) *progress = r.bytes;
      continue;
    }
    if (got == 0) {
      r.eof = true;
      break;
    }
    if (!would_block(errno)) {
      r.error = errno;
      break;
    }
    if (clock::now() > deadline) {
      r.timed_out = true;
      break;
    }
  }
  r.seconds = since(start);
  r.sha256 = hash.hex();
  ::close(fd);
  return r;
}

transfer_result upload(std::uint16_t port, std::uint64_t n, std::uint64_t seed,
                       std::chrono::seconds limit) {
  transfer_result r;
  const auto start = clock::now();
  const auto deadline = start + limit;
  const int fd = open_request(port, 'U', n, seed, deadline, r);
  if (fd < 0) return r;
  std::vector<std::uint8_t> buf(chunk);
  sha256_stream hash;
  generator gen(seed);
  for (std::uint64_t left = n; left > 0 && r.error == 0;) {
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk));
    gen.fill(buf.data(), k);
    hash.update(buf.data(), k);
    r.error = send_all(fd, buf.data(), k, deadline);
    if (r.error == 0) r.bytes += k;
    left -= k;
  }
  r.sha256 = hash.hex();
  if (r.error == 0) {
    ::shutdown(fd, SHUT_WR);  // half-close: EOF must travel through the proxy
    std::uint8_t answer[64];
    r.error = recv_all(fd, answer, sizeof answer, deadline);
    if (r.error == 0) r.peer_sha256.assign(reinterpret_cast<char*>(answer), sizeof answer);
  }
  r.timed_out = r.error == ETIMEDOUT;
  r.seconds = since(start);
  ::close(fd);
  return r;
}

bool raise_fd_limit(std::size_t n) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  if (rl.rlim_cur >= n) return true;
  if (rl.rlim_max < n) return false;
  rl.rlim_cur = n;
  return ::setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

std::uint16_t tcp_port_of(const std::string& multiaddr) {
  const auto at = multiaddr.find("/tcp/");
  if (at == std::string::npos) throw std::runtime_error("no /tcp/ in " + multiaddr);
  return static_cast<std::uint16_t>(std::stoi(multiaddr.substr(at + 5)));
}

relay_process serve_relay_at(const fs::path& dir, std::uint16_t port, const std::string& log_name) {
  test::spawn_options opts;
  opts.stderr_file = test::stderr_to_file{(dir / log_name).string()};
  auto proc = test::child_process::spawn({peerup_binary, "relay", "serve", "--dir", dir.string(),
                                          "--listen", "/ip4/127.0.0.1/tcp/" + std::to_string(port)},
                                         opts);
  relay_process r{{std::move(proc), dir / log_name, {}}, {}};
  const auto end = clock::now() + std::chrono::seconds(20);
  while (clock::now() < end) {
    auto line = r.proc.read_line(std::chrono::milliseconds(500));
    if (!line) {
      if (!r.proc.running()) break;
      continue;
    }
    r.lines.push_back(*line);
    if (line->rfind("/ip4/", 0) == 0) {
      r.addr = *line;
      return r;
    }
  }
  throw std::runtime_error("relay did not start on port " + std::to_string(port) + ":\n" +
                           r.log_text());
}

void kill_hard(test::child_process& p) {
  ::kill(p.pid(), SIGKILL);
  p.wait(std::chrono::milliseconds(5000));
}

std::size_t peak_rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoul(line.substr(6));
  return 0;
}

double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the ")" that ends the command name: state is field 3,
  // utime 14 and stime 15.
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i)
    if (i >= 14) ticks += std::stod(f);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace peerup::fault
