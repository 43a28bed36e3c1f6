#include "tun/device.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/ipv6.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace peerup::tun {

namespace {

// Closes a descriptor on every early return of open().
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

sockaddr_in v4_sockaddr(std::uint32_t host_order) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(host_order);
  return sa;
}

}  // namespace

std::string tun_unavailable_help(const std::string& name, const std::string& cause) {
  return "cannot create the TUN interface " + name + ": " + cause +
         ".\n"
         "Network mode needs /dev/net/tun and CAP_NET_ADMIN: run `peerup daemon --tun` as root,\n"
         "or give the binary the capability once: sudo setcap cap_net_admin=ep $(command -v peerup)\n"
         "(in a container: --cap-add NET_ADMIN --device /dev/net/tun; without the device: "
         "sudo modprobe tun).\n"
         "Without root, the rootless gateway reaches the same peers: `peerup gateway` serves SOCKS5\n"
         "and a .p2p DNS zone, so browsers, ssh and curl work with no TUN (docs/gateway.md).";
}

result<std::unique_ptr<device>> device::open(net::asio::any_io_executor ex,
                                             const device_config& cfg, std::string& why) {
  // 1. open the clone device
  fd_guard fd{::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)};
  if (fd.fd < 0) {
    const int e = errno;
    why = tun_unavailable_help(cfg.name, e == ENOENT ? "/dev/net/tun does not exist"
                                                     : "/dev/net/tun: " + std::string(std::strerror(e)));
    return errc::tun_unavailable;
  }
  // 2. create the interface: layer 3 (IFF_TUN), no packet-info header
  ifreq ifr{};
  // SECURITY: the config loader bounds the name to 15 characters (IFNAMSIZ - 1).
  if (cfg.name.empty() || cfg.name.size() >= IFNAMSIZ) {
    why = "TUN interface name \"" + cfg.name + "\" must be 1-15 characters";
    return errc::tun_device;
  }
  std::memcpy(ifr.ifr_name, cfg.name.c_str(), cfg.name.size());
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (::ioctl(fd.fd, TUNSETIFF, &ifr) != 0) {
    const int e = errno;
    if (e == EPERM || e == EACCES) {
      why = tun_unavailable_help(cfg.name, "operation not permitted (no CAP_NET_ADMIN)");
      return errc::tun_unavailable;
    }
    why = "cannot create the TUN interface " + cfg.name + ": " + std::strerror(e) +
          (e == EBUSY || e == EINVAL
               ? " (is another process, e.g. a second `peerup daemon --tun`, using that name? "
                 "pick another with network.name)"
               : "");
    return errc::tun_unavailable;
  }
  // 3. address, netmask (the kernel adds the prefix route), MTU, up
  fd_guard sock{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (sock.fd < 0) {
    why = std::string("socket(AF_INET): ") + std::strerror(errno);
    return errc::tun_device;
  }
  auto step = [&](unsigned long req, const char* what) {
    if (::ioctl(sock.fd, req, &ifr) == 0) return true;
    why = "cannot configure " + cfg.name + " (" + what + "): " + std::strerror(errno);
    return false;
  };
  const auto addr = v4_sockaddr(cfg.address.v4_value());
  std::memcpy(&ifr.ifr_addr, &addr, sizeof addr);
  if (!step(SIOCSIFADDR, "address")) return errc::tun_device;
  const std::uint32_t mask =
      cfg.prefix_length == 0 ? 0 : ~std::uint32_t{0} << (32 - cfg.prefix_length);
  const auto netmask = v4_sockaddr(mask);
  std::memcpy(&ifr.ifr_netmask, &netmask, sizeof netmask);
  if (!step(SIOCSIFNETMASK, "netmask")) return errc::tun_device;
  // SECURITY: the interface MTU is what the kernel hands us at most; the
  // switch still checks every packet against the configured MTU.
  ifr.ifr_mtu = cfg.address6 ? std::max<int>(cfg.mtu, 1280) : cfg.mtu;
  if (!step(SIOCSIFMTU, "MTU")) return errc::tun_device;
  if (!step(SIOCGIFFLAGS, "flags")) return errc::tun_device;
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (!step(SIOCSIFFLAGS, "up")) return errc::tun_device;
  // 4. IPv6: our address with the /48, so the kernel routes the prefix here
  if (cfg.address6) {
    if (!step(SIOCGIFINDEX, "interface index")) return errc::tun_device;
    // No duplicate address detection: nobody else is on this link, and DAD
    // would hold the address "tentative" (unusable) for a second or more.
    // Best effort: without it the address works after DAD.
    if (std::FILE* f = std::fopen(("/proc/sys/net/ipv6/conf/" + cfg.name + "/accept_dad").c_str(), "w")) {
      std::fputs("0", f);
      std::fclose(f);
    }
    fd_guard sock6{::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
    in6_ifreq r6{};
    std::memcpy(&r6.ifr6_addr, cfg.address6->bytes.data(), 16);
    r6.ifr6_prefixlen = cfg.prefix6_length;
    r6.ifr6_ifindex = ifr.ifr_ifindex;
    if (sock6.fd < 0 || ::ioctl(sock6.fd, SIOCSIFADDR, &r6) != 0) {
      why = "cannot give " + cfg.name + " its IPv6 address " + cfg.address6->to_string() + ": " +
            std::strerror(errno) +
            " (is IPv6 disabled, e.g. net.ipv6.conf.all.disable_ipv6=1? set network.ipv6: false)";
      return errc::tun_device;
    }
  }
  return std::unique_ptr<device>(new device(ex, fd.release(), cfg.name));
}

device::device(net::asio::any_io_executor ex, int fd, std::string name)
    : fd_(ex, fd), name_(std::move(name)) {}

device::~device() { close(); }

void device::close() {
  boost::system::error_code ignored;
  if (fd_.is_open()) fd_.close(ignored);  // the kernel deletes the interface
}

net::awaitable<result<std::span<const byte_span>>> device::read_batch() {
  if (buffers_.empty()) buffers_.assign(max_batch, bytes(max_packet));
  for (;;) {
    if (!fd_.is_open()) co_return make_error_code(errc::connection_closed);
    packets_.clear();
    while (packets_.size() < max_batch) {
      auto& b = buffers_[packets_.size()];
      const ssize_t r = ::read(fd_.native_handle(), b.data(), b.size());
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        co_return boost::system::error_code(errno, boost::system::system_category());
      }
      packets_.emplace_back(b.data(), static_cast<std::size_t>(r));
    }
    if (!packets_.empty()) co_return std::span<const byte_span>(packets_);
    auto [ec] = co_await fd_.async_wait(net::asio::posix::stream_descriptor::wait_read,
                                        net::use_nothrow);
    if (ec) co_return ec;
  }
}

bool device::write(byte_span packet) {
  if (!fd_.is_open()) return false;
  for (;;) {
    const ssize_t r = ::write(fd_.native_handle(), packet.data(), packet.size());
    if (r >= 0) return true;
    if (errno != EINTR) return false;
  }
}

}  // namespace peerup::tun
