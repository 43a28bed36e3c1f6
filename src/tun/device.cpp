#include "tun/device.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/ipv6.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <spdlog/spdlog.h>

// UDP segmentation offload for TUN (Linux 6.2); the build host's headers
// may predate it.
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

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

bool offload_allowed() {
  const char* v = std::getenv("PEERUP_TUN_OFFLOAD");
  return !(v && std::string_view(v) == "off");
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
  // With offload every read and write carries a virtio_net_hdr, which is
  // what lets the kernel hand us 64 KiB TCP segments and take merged ones.
  bool vnet = cfg.offload && offload_allowed();
  ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
  int set = ::ioctl(fd.fd, TUNSETIFF, &ifr);
  if (set != 0 && vnet && errno == EINVAL) {
    // A kernel without IFF_VNET_HDR for TUN: plain packets.
    vnet = false;
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    set = ::ioctl(fd.fd, TUNSETIFF, &ifr);
    if (set == 0)
      spdlog::info("network mode: the kernel refused IFF_VNET_HDR on {}; reading and writing "
                   "packet by packet (no TCP offload)", cfg.name);
  }
  if (set != 0) {
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
  bool tso = false, uso = false;
  if (vnet) {
    // 10-byte headers, little endian (offload.hpp encodes them so); both
    // are the defaults on a little-endian host, so failures are harmless there.
    int hdr = static_cast<int>(vnet_header::size), le = 1;
    (void)::ioctl(fd.fd, TUNSETVNETHDRSZ, &hdr);
    (void)::ioctl(fd.fd, TUNSETVNETLE, &le);
    // Checksums left to us and TCP segmentation, IPv4 and IPv6, and UDP
    // segmentation (USO: QUIC and other UDP_SEGMENT senders inside the
    // tunnel hand us 64 KiB at once). A kernel before 6.2 refuses the USO
    // bits (EINVAL): then TCP only.
    const unsigned tcp = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    uso = tso = ::ioctl(fd.fd, TUNSETOFFLOAD, tcp | TUN_F_USO4 | TUN_F_USO6) == 0;
    if (!tso) tso = ::ioctl(fd.fd, TUNSETOFFLOAD, tcp) == 0;
    if (tso)
      spdlog::info("network mode: {} offload: TCP segmentation on, UDP segmentation {}", cfg.name,
                   uso ? "on" : "off (kernel before 6.2)");
    if (!tso)
      spdlog::info("network mode: the kernel refused TCP offload (TUNSETOFFLOAD) on {}: {}; "
                   "TCP is read packet by packet, writes are still merged",
                   cfg.name, std::strerror(errno));
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
  return std::unique_ptr<device>(new device(ex, fd.release(), cfg.name, vnet, tso, uso));
}

device::device(net::asio::any_io_executor ex, int fd, std::string name, bool vnet, bool tso,
               bool uso)
    : fd_(ex, fd), name_(std::move(name)), vnet_(vnet), tso_(tso), uso_(uso) {}

device::~device() { close(); }

void device::close() {
  boost::system::error_code ignored;
  if (fd_.is_open()) fd_.close(ignored);  // the kernel deletes the interface
}

net::awaitable<result<std::span<const byte_span>>> device::read_batch() {
  if (vnet_) co_return co_await read_offload();
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

net::awaitable<result<std::span<const byte_span>>> device::read_offload() {
  // One read buffer (header + the largest packet); what it held is split
  // into the arena before the next read.
  if (buffers_.empty()) buffers_.assign(1, bytes(vnet_header::size + max_offload_packet));
  if (arena_.empty()) arena_.resize(offload_arena);
  auto& b = buffers_.front();
  const std::size_t worst = split_arena_size(b.size());
  for (;;) {
    if (!fd_.is_open()) co_return make_error_code(errc::connection_closed);
    packets_.clear();
    std::size_t used = 0;
    // SECURITY: bounded reads per batch, and each starts only when the
    // arena has room for the worst split of a full read.
    for (std::size_t reads = 0; reads < max_offload_reads && arena_.size() - used >= worst;) {
      const ssize_t r = ::read(fd_.native_handle(), b.data(), b.size());
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        co_return boost::system::error_code(errno, boost::system::system_category());
      }
      ++reads;
      const std::size_t before = packets_.size();
      auto n = split_offload(byte_span(b.data(), static_cast<std::size_t>(r)),
                             mutable_byte_span(arena_).subspan(used), packets_);
      if (!n) {
        if (stats_.bad_offload_reads++ == 0)
          spdlog::warn("network mode: {} handed us a packet whose offload header does not fit it "
                       "({} bytes); dropped (logged once, counted)", name_, r);
        continue;
      }
      used += *n;
      if (packets_.size() > before + 1) {
        ++stats_.split_reads;
        if ((b[1] & ~vnet_header::gso_ecn) == vnet_header::gso_udp_l4) ++stats_.udp_split_reads;
      }
    }
    if (!packets_.empty()) co_return std::span<const byte_span>(packets_);
    auto [ec] = co_await fd_.async_wait(net::asio::posix::stream_descriptor::wait_read,
                                        net::use_nothrow);
    if (ec) co_return ec;
  }
}

bool device::write_raw(byte_span packet) {
  for (;;) {
    const ssize_t r = ::write(fd_.native_handle(), packet.data(), packet.size());
    if (r >= 0) return true;
    if (errno != EINTR) return false;
  }
}

bool device::write(byte_span packet) {
  if (!fd_.is_open()) return false;
  if (!vnet_) return write_raw(packet);
  // A zero header (no offload, checksums complete) in front of the packet.
  std::uint8_t hdr[vnet_header::size] = {};
  iovec iov[2] = {{hdr, sizeof hdr}, {const_cast<std::uint8_t*>(packet.data()), packet.size()}};
  for (;;) {
    if (::writev(fd_.native_handle(), iov, 2) >= 0) return true;
    if (errno != EINTR) return false;
  }
}

std::size_t device::write_batch(std::span<const byte_span> packets) {
  if (!vnet_) return packet_device::write_batch(packets);
  if (!fd_.is_open()) return 0;
  write_buf_.clear();
  writes_.clear();
  coalesce(packets, write_buf_, writes_);
  std::size_t n = 0;
  for (const auto& w : writes_) {
    if (!write_raw(byte_span(write_buf_).subspan(w.offset, w.size))) continue;
    n += w.packets;
    if (w.packets > 1) {
      ++stats_.merged_writes;
      stats_.merged_packets += w.packets;
    }
  }
  return n;
}

}  // namespace peerup::tun
