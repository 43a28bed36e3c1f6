// The floor of any user-space tunnel on this machine, for bench/tun.py's
// "floor" row (issue 14's RTT target): a TUN device and a UDP socket joined
// by one thread that sleeps in poll() and moves each packet across with one
// read and one send, with no encryption, no framing, no queue and no event
// library. Whatever a real tunnel (peerup, Nebula, wireguard-go) adds to the
// raw path beyond this row is its own cost; what this row adds is the price
// of two user-space hops (the wake-ups and the syscalls) that every such
// tunnel pays.
//
//   tun_floor <device> <address/prefix> <local-port> <peer-ip> <peer-port>
//   tun_floor relay <port> <a-ip> <b-ip>
//
// The relay form is the floor of a relayed tunnel (bench/tun.py --path
// relayed): a third process that sends each datagram from <a-ip> on to
// <b-ip>:<port> and back, unopened. Runs until SIGINT/SIGTERM. Needs CAP_NET_ADMIN (bench/tun.py runs it as
// root inside the namespaces it created). It sends only to <peer-ip>.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) { stop_requested = 1; }

int fail(const char* what) {
  std::perror(what);
  return 1;
}

// SECURITY: ports from the command line are bounded to 1-65535.
bool parse_port(const char* text, std::uint16_t& out) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 1 || v > 65535) return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

// A UDP socket bound to `port` on every address, with SIGINT/SIGTERM set to
// stop the loop; -1 (after printing why) when it cannot be had.
int bind_udp(std::uint16_t port) {
  const int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (udp < 0) {
    fail("socket");
    return -1;
  }
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(port);
  if (bind(udp, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
    fail("bind");
    close(udp);
    return -1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  return udp;
}

// Datagrams from a go to b and from b to a, both on `port`; anything else is
// dropped. No TUN: the relay sees only the endpoints' UDP.
int run_relay(char** argv) {
  std::uint16_t port = 0;
  sockaddr_in a{};
  sockaddr_in b{};
  a.sin_family = b.sin_family = AF_INET;
  if (!parse_port(argv[2], port) || inet_pton(AF_INET, argv[3], &a.sin_addr) != 1 ||
      inet_pton(AF_INET, argv[4], &b.sin_addr) != 1) {
    std::fprintf(stderr, "tun_floor relay: bad port or address\n");
    return 2;
  }
  a.sin_port = b.sin_port = htons(port);
  const int udp = bind_udp(port);
  if (udp < 0) return 1;
  std::array<unsigned char, 65536> buf{};
  pollfd pfd{udp, POLLIN, 0};
  std::printf("tun_floor relay: udp %u between %s and %s\n", port, argv[3], argv[4]);
  std::fflush(stdout);
  while (!stop_requested) {
    if (poll(&pfd, 1, 1000) <= 0) continue;  // re-checks stop_requested every second
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n =
        recvfrom(udp, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0 || from.sin_port != a.sin_port) continue;
    // SECURITY: only a's and b's datagrams are forwarded, each to the other.
    const sockaddr_in* to = from.sin_addr.s_addr == a.sin_addr.s_addr   ? &b
                            : from.sin_addr.s_addr == b.sin_addr.s_addr ? &a
                                                                        : nullptr;
    if (to)
      sendto(udp, buf.data(), static_cast<std::size_t>(n), 0, reinterpret_cast<const sockaddr*>(to),
             sizeof *to);
  }
  close(udp);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "relay") return run_relay(argv);
  if (argc != 6) {
    std::fprintf(stderr,
                 "usage: %s <device> <address/prefix> <local-port> <peer-ip> <peer-port>\n"
                 "       %s relay <port> <a-ip> <b-ip>\n",
                 argv[0], argv[0]);
    return 2;
  }
  const std::string dev = argv[1];
  std::uint16_t local_port = 0;
  std::uint16_t peer_port = 0;
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  // SECURITY: a device name longer than IFNAMSIZ - 1 would be cut silently.
  if (dev.empty() || dev.size() >= IFNAMSIZ) {
    std::fprintf(stderr, "tun_floor: device name must be 1-%d characters\n", IFNAMSIZ - 1);
    return 2;
  }
  if (!parse_port(argv[3], local_port) || !parse_port(argv[5], peer_port) ||
      inet_pton(AF_INET, argv[4], &peer.sin_addr) != 1) {
    std::fprintf(stderr, "tun_floor: bad port or peer address\n");
    return 2;
  }
  peer.sin_port = htons(peer_port);

  const int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (tun < 0) return fail("open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, dev.c_str(), dev.size());
  if (ioctl(tun, TUNSETIFF, &ifr) < 0) return fail("TUNSETIFF");
  const std::string up = "ip addr add " + std::string(argv[2]) + " dev " + dev + " && ip link set " +
                         dev + " mtu 1400 up";
  if (std::system(up.c_str()) != 0) {
    std::fprintf(stderr, "tun_floor: could not configure %s\n", dev.c_str());
    return 1;
  }

  const int udp = bind_udp(local_port);
  if (udp < 0) return 1;
  std::array<pollfd, 2> fds{{{tun, POLLIN, 0}, {udp, POLLIN, 0}}};
  std::array<unsigned char, 65536> buf{};
  std::printf("tun_floor: %s up, udp %u -> %s:%u\n", dev.c_str(), local_port, argv[4], peer_port);
  std::fflush(stdout);
  while (!stop_requested) {
    // 1 s timeout: the loop re-checks stop_requested at least once a second.
    if (poll(fds.data(), fds.size(), 1000) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      const ssize_t n = read(tun, buf.data(), buf.size());
      if (n > 0)
        sendto(udp, buf.data(), static_cast<std::size_t>(n), 0,
               reinterpret_cast<const sockaddr*>(&peer), sizeof peer);
    }
    if (fds[1].revents & POLLIN) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n = recvfrom(udp, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from),
                                 &len);
      // SECURITY: only the configured peer's datagrams reach the device.
      if (n > 0 && from.sin_addr.s_addr == peer.sin_addr.s_addr && from.sin_port == peer.sin_port)
        (void)!write(tun, buf.data(), static_cast<std::size_t>(n));
    }
  }
  close(udp);
  close(tun);
  return 0;
}
