// The Linux TUN device of the network mode (docs/network-mode.md).
//
// open() creates a non-persistent TUN interface (IFF_TUN | IFF_NO_PI), gives
// it our address with the prefix's netmask, sets the MTU and brings it up.
// The kernel then installs the one connected route for the prefix; nothing
// else is routed here, and the default route is never touched. Because the
// interface is not persistent it exists exactly as long as our file
// descriptor: on exit, and equally on a crash or SIGKILL, the kernel deletes
// it with its address and route, so nothing is left to block a restart.
//
// Contract: every member runs on the executor given to open(); the device is
// not thread-safe. Reads and writes never block (O_NONBLOCK): the reader
// waits for readability, then drains up to a batch of packets.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/asio.hpp"
#include "tun/core/ip_packet.hpp"
#include "tun/core/offload.hpp"

namespace peerup::tun {

struct device_config {
  std::string name = "peerup0";
  ip_address address;  // our IPv4 address
  unsigned prefix_length = 16;
  std::uint16_t mtu = 1152;
  // Our IPv6 address and the length of the prefix routed to the interface;
  // unset: IPv4 only. With it the interface MTU is at least 1280 (Linux
  // turns IPv6 off below that).
  std::optional<ip_address> address6;
  unsigned prefix6_length = 48;
  // IFF_VNET_HDR with TSO and USO (reads: 64 KiB TCP or UDP super-segments,
  // split in tun/core/offload) and GRO-style merged writes. Off also when the
  // environment sets PEERUP_TUN_OFFLOAD=off; when the kernel refuses, the
  // device falls back to plain packets and logs it once.
  bool offload = true;
};

// Offload counters of a device (all zero without offload).
struct device_stats {
  std::uint64_t split_reads = 0;        // reads that held a TCP super-segment (TSO)
  std::uint64_t merged_writes = 0;      // writes that carried more than one packet (GRO)
  std::uint64_t merged_packets = 0;     // packets those writes carried
  std::uint64_t bad_offload_reads = 0;  // reads whose offload header did not fit (dropped)
  std::uint64_t udp_split_reads = 0;    // of split_reads, UDP super-segments (USO)
};

// What the network pump (tun/network.hpp) needs of a device: the Linux TUN
// device below, or an in-memory one in tests. Same contract as device.
class packet_device {
 public:
  virtual ~packet_device() = default;
  virtual device_stats stats() const { return {}; }
  virtual net::awaitable<result<std::span<const byte_span>>> read_batch() = 0;
  virtual bool write(byte_span packet) = 0;
  // Writes packets of one batch (in arrival order); returns how many
  // reached the kernel (the rest were dropped: a full queue). A device with
  // offload merges TCP segments of one flow into one write.
  virtual std::size_t write_batch(std::span<const byte_span> packets) {
    std::size_t n = 0;
    for (const auto& p : packets) n += write(p) ? 1 : 0;
    return n;
  }
  virtual void close() = 0;
  virtual const std::string& name() const = 0;
};

class device final : public packet_device {
 public:
  // SECURITY: a TUN read returns one packet; this is the largest we accept
  // (an IP packet cannot be longer).
  static constexpr std::size_t max_packet = 65535;
  static constexpr std::size_t max_batch = 64;
  // With offload: reads per batch (each up to 64 KiB, ~50 packets) and the
  // arena their packets are split into.
  static constexpr std::size_t max_offload_reads = 16;
  static constexpr std::size_t offload_arena = 2 << 20;

  // Errors: errc::tun_unavailable (no /dev/net/tun, no CAP_NET_ADMIN, the
  // name in use) or errc::tun_device (an ioctl failed), with `why` set to a
  // message for the user that names the fix.
  static result<std::unique_ptr<device>> open(net::asio::any_io_executor ex,
                                              const device_config& cfg, std::string& why);
  ~device() override;
  device(const device&) = delete;
  device& operator=(const device&) = delete;

  // Waits until at least one packet can be read, then reads up to
  // max_batch packets. The spans point into the device's buffers and stay
  // valid until the next read_batch. errc::connection_closed after close().
  net::awaitable<result<std::span<const byte_span>>> read_batch() override;
  // Writes one packet into the kernel. A full kernel queue (EAGAIN) drops
  // it: false. Never blocks.
  bool write(byte_span packet) override;
  // With offload: merged per tun/core/offload.hpp, one write per merged
  // packet. Never blocks.
  std::size_t write_batch(std::span<const byte_span> packets) override;
  void close() override;
  const std::string& name() const override { return name_; }
  // Reads and writes carry a virtio_net_hdr (IFF_VNET_HDR).
  bool has_vnet_header() const { return vnet_; }
  // The kernel hands us TCP super-segments (TUNSETOFFLOAD accepted).
  bool tso() const { return tso_; }
  // ... and UDP super-segments too (TUN_F_USO4/6 accepted: Linux >= 6.2).
  bool uso() const { return uso_; }
  device_stats stats() const override { return stats_; }

 private:
  device(net::asio::any_io_executor ex, int fd, std::string name, bool vnet, bool tso, bool uso);
  bool write_raw(byte_span packet);
  net::awaitable<result<std::span<const byte_span>>> read_offload();
  net::asio::posix::stream_descriptor fd_;
  std::string name_;
  bool vnet_ = false, tso_ = false, uso_ = false;
  std::vector<bytes> buffers_;  // max_batch x max_packet, allocated once
  std::vector<byte_span> packets_;
  bytes arena_;                 // offload: the split packets of one batch
  bytes write_buf_;             // offload: merged writes of one batch
  std::vector<coalesced_write> writes_;
  device_stats stats_;
};

// The message for a machine without TUN support or privileges, naming the
// rootless alternatives (exposed for the CLI's --tun check and tests).
std::string tun_unavailable_help(const std::string& name, const std::string& cause);

}  // namespace peerup::tun
