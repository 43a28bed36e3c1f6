#include "e2e/gateway_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>

namespace peerup::e2e {

int connect_to(std::uint16_t port, int type) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string receive(int fd, std::size_t want, std::chrono::milliseconds limit) {
  std::string out;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (out.size() < want) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    const auto n = ::recv(fd, buf, std::min(sizeof buf, want - out.size()), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool closed_by_peer(int fd, std::chrono::milliseconds limit) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, 0) <= 0;
}

std::string socks_connect_bytes(const std::string& host, std::uint16_t port) {
  std::string req{'\x05', '\x01', '\x00', '\x03', static_cast<char>(host.size())};
  req += host;
  req += static_cast<char>(port >> 8);
  req += static_cast<char>(port & 0xff);
  return req;
}

int socks_reply(std::uint16_t proxy, const std::string& host, std::uint16_t port,
                std::uint8_t command) {
  const int fd = connect_to(proxy);
  if (fd < 0) return -1;
  std::string req = std::string("\x05\x01\x00", 3) + socks_connect_bytes(host, port);
  req[4] = static_cast<char>(command);
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  const std::string method = receive(fd, 2, 5000ms);
  const std::string reply = receive(fd, 10, 30000ms);
  ::close(fd);
  if (method != std::string("\x05\x00", 2) || reply.size() < 2) return -1;
  return static_cast<std::uint8_t>(reply[1]);
}

std::string dns_exchange(std::uint16_t port, const std::string& packet) {
  const int fd = connect_to(port, SOCK_DGRAM);
  if (fd < 0) return "";
  (void)::send(fd, packet.data(), packet.size(), 0);
  const std::string out = receive(fd, 65535, 1500ms);
  ::close(fd);
  return out;
}

gateway_process start_gateway(const node& n, std::vector<std::string> extra) {
  auto argv =
      n.cmd({"gateway", "--socks", "127.0.0.1:0", "--dns", "127.0.0.1:0", "--log-level", "debug"});
  argv.insert(argv.end(), extra.begin(), extra.end());
  test::spawn_options opts;
  const fs::path log = n.dir / "gateway.log";
  opts.stderr_file = test::stderr_to_file{log.string()};
  gateway_process g{test::child_process::spawn(argv, opts), log};
  const std::regex socks_line(R"(socks5 127\.0\.0\.1:(\d+))"),
      dns_line(R"(dns 127\.0\.0\.1:(\d+) .*)");
  const auto end = std::chrono::steady_clock::now() + 20s;
  while ((g.socks == 0 || g.dns == 0) && std::chrono::steady_clock::now() < end) {
    auto line = g.proc.read_line(1000ms);
    std::smatch m;
    if (!line) continue;
    if (std::regex_match(*line, m, socks_line))
      g.socks = static_cast<std::uint16_t>(std::stoi(m[1]));
    if (std::regex_match(*line, m, dns_line)) g.dns = static_cast<std::uint16_t>(std::stoi(m[1]));
  }
  if (g.socks == 0 || g.dns == 0)
    throw std::runtime_error("gateway did not start:\n" + g.log_text());
  return g;
}

std::string gateway_e2e::make_page() {
  std::string p(512 * 1024, 'x');
  for (std::size_t i = 0; i < p.size(); i += 7) p[i] = static_cast<char>('a' + i % 26);
  return p;
}

std::string gateway_e2e::network() const {
  return "networks:\n  grewal:\n    - " + relay.addr + "\n";
}

daemon_process gateway_e2e::start_home(const std::string& services, const std::string& client_extra,
                                       bool authorize_client) {
  write_file(home.config(),
             "identity_key: identity.key\nlisten: []\nhost_name: laptop\nrelays:\n  - " +
                 relay.addr + "\n" + network() + "services:\n" + services,
             0644);
  // 0600: a gateway: section with users holds passwords.
  write_file(client.config(),
             "identity_key: identity.key\nrelays:\n  - " + relay.addr + "\n" + network() +
                 "names:\n  home: " + home.id + "\n" + client_extra,
             0600);
  if (authorize_client) {
    EXPECT_EQ(home.peerup({"auth", "add", client.id}).code, 0);
  }
  auto d = start_daemon(home);
  EXPECT_TRUE(wait_for_status(home, "\"state\":\"reserved\"")) << d.log_text();
  EXPECT_TRUE(eventually([&] {
    return d.log_text().find("registered laptop.grewal") != std::string::npos;
  })) << d.log_text();
  return d;
}

http_server gateway_e2e::serve_page() {
  const auto www = root.path() / "www";
  fs::create_directories(www);
  write_file(www / "page.txt", page, 0644);
  return start_http_server(www, root.path() / "http.log");
}

run_result gateway_e2e::curl_socks(std::uint16_t proxy, const std::string& url,
                                   std::vector<std::string> extra) {
  const auto out = root.path() / "fetched.txt";
  fs::remove(out);
  std::vector<std::string> argv{"curl",
                                "-sS",
                                "--max-time",
                                "30",
                                "--socks5-hostname",
                                "127.0.0.1:" + std::to_string(proxy),
                                "-o",
                                out.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  auto r = run(argv);
  if (r.code == 0) r.out = read_file(out);
  return r;
}

}  // namespace peerup::e2e
