// TCP segmentation and receive coalescing for a TUN device opened with
// IFF_VNET_HDR (docs/network-mode.md, "Speed"). Sans-I/O: bytes in, packets
// out; the device (tun/device.cpp) does the reads and writes.
//
// With IFF_VNET_HDR every read and write on the TUN device starts with a
// 10-byte virtio_net_hdr. After TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 |
// TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6) the kernel hands us TCP and UDP
// "super-segments" of up to 64 KiB (one header, gso_size bytes of payload per
// segment; UDP ones come from applications that send with UDP_SEGMENT, e.g.
// QUIC stacks) and packets whose transport checksum is left for us to finish
// (NEEDS_CSUM). Our peers expect plain IP
// packets that fit the MTU, so:
//
// - split_offload (TUN -> peers): one read becomes the IP packets the kernel
//   would have put on a wire: a GSO TCP packet is cut into gso_size payloads,
//   each with a copy of the IP and TCP headers in which the IPv4 total length,
//   ID (+1 per segment) and header checksum, or the IPv6 payload length, the
//   TCP sequence number and the TCP checksum are set per segment; FIN and PSH
//   stay only on the last segment, CWR only on the first (as Linux's own
//   tcp_gso_segment does). A GSO UDP packet is cut the same way, each
//   datagram with its UDP length and checksum. A NEEDS_CSUM packet gets its
//   checksum finished.
// - coalesce (peers -> TUN): consecutive TCP segments of one flow in a batch
//   are merged into one GSO packet written with a virtio_net_hdr, so the
//   local TCP stack handles one 64 KiB packet instead of ~50 (what GRO does
//   on a NIC). Everything else is written as it came, behind a zero header.
//
// Policy of coalesce (a segment joins the flow's open group only when all
// hold; otherwise it starts a new group, so a flow's bytes keep their order):
//   same IP version, addresses, ports; IPv4 without options or fragmentation,
//   same TOS, TTL and DF; IPv6 without extension headers, same traffic class,
//   flow label and hop limit; same TCP header length and option bytes, same
//   ACK number and window; flags exactly ACK, or ACK|PSH (which ends the
//   group); a payload of at least one byte and at most the group's first
//   payload (a shorter one ends the group); its sequence number follows the
//   group's last byte; its TCP checksum is valid (a merged packet's checksum
//   is no longer checked by the receiving stack, so a bad segment is written
//   alone for the kernel to drop); the merged IP packet stays <= 65535 bytes.
//
// Errors are reported as tun_offload_invalid: the virtio_net_hdr is a
// header whose sizes or offsets do not fit its packet.
//
// SECURITY: both directions take bytes that are bounded here, not by the
// caller: a read's header is checked against the packet it describes
// (versions, header lengths, checksum offsets inside the packet), the number
// of segments is capped (max_segments) and the output never exceeds the
// arena the caller gives (tun_offload_invalid otherwise).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::tun {

// struct virtio_net_hdr (linux/virtio_net.h), little endian (the device sets
// TUNSETVNETLE; on a little-endian host that is also the legacy default).
struct vnet_header {
  static constexpr std::size_t size = 10;
  static constexpr std::uint8_t needs_csum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr std::uint8_t gso_none = 0;
  static constexpr std::uint8_t gso_tcpv4 = 1;
  static constexpr std::uint8_t gso_tcpv6 = 4;
  static constexpr std::uint8_t gso_udp_l4 = 5;  // USO (TUN_F_USO4/6, Linux >= 6.2), v4 or v6
  static constexpr std::uint8_t gso_ecn = 0x80;  // a flag on the type: the flow uses ECN

  std::uint8_t flags = 0;
  std::uint8_t gso_type = gso_none;
  std::uint16_t hdr_len = 0;  // not trusted on reads: the kernel may put its linear length here
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;

  // tun_offload_invalid when `in` is shorter than size.
  static result<vnet_header> decode(byte_span in);
  void encode(std::uint8_t* out) const;  // writes `size` bytes
  friend bool operator==(const vnet_header&, const vnet_header&) = default;
};

// The largest packet a read may hold: an IPv6 packet with a 65535-byte
// payload (IPv4 tops out at 65535 in all).
inline constexpr std::size_t max_offload_packet = 65535 + 40;

// SECURITY: a GSO read is cut into at most this many packets (Linux's
// smallest TCP MSS, 88 bytes, makes at most 745 of a 64 KiB packet).
inline constexpr std::size_t max_segments = 1024;
// The arena split_offload may need for one read of `read_size` bytes.
std::size_t split_arena_size(std::size_t read_size);

// One TUN read (header + packet) -> plain IP packets with finished
// checksums, appended to `out` as spans into `arena` (which the caller keeps
// alive). Returns the arena bytes used. Errors: tun_offload_invalid (the
// header or the packet it describes is malformed, a GSO type other than TCP
// or UDP, more than max_segments, or the arena is too small).
result<std::size_t> split_offload(byte_span read, mutable_byte_span arena,
                                  std::vector<byte_span>& out);

// One write for the TUN device: `packets` of the input merged into `bytes`
// (a virtio_net_hdr + one IP packet) at [offset, offset + size) of the
// output buffer.
struct coalesced_write {
  std::size_t offset = 0, size = 0;
  std::size_t packets = 0;  // input packets it carries (1 when not merged)
};

// The most packets merged into one write (64 KiB / the smallest useful MSS).
inline constexpr std::size_t max_coalesce = 64;

// Turns `packets` (IP packets, in arrival order) into writes for a TUN device
// with IFF_VNET_HDR, appended to `writes`, their bytes appended to `out`.
// Never fails: a packet that cannot be merged (not TCP, malformed, a bad
// checksum) is written alone, unchanged. Packets of one flow keep their
// order; packets of different flows may be reordered relative to each other.
void coalesce(std::span<const byte_span> packets, bytes& out, std::vector<coalesced_write>& writes);

// The TCP or UDP checksum over the pseudo-header of `packet` (IPv4 or IPv6
// without extension headers) and its transport bytes from `l4_offset`, as
// it must be stored (0 is returned as 0xffff). For tests and callers that
// build packets.
std::uint16_t transport_checksum(byte_span packet, std::size_t l4_offset, std::uint8_t protocol);

}  // namespace peerup::tun
