// TSO splitting and GRO-style merging of the TUN device (tun/core/offload).
// Layout: [u8 selector][rest].
// selector bit 0 = 1: rest is one TUN read (virtio_net_hdr + packet) for
//   split_offload. bit 0 = 0: rest is packets for coalesce, each as
//   [u16 length][bytes] (at most 256); with bit 1 their IPv4 header and TCP
//   checksums are made right first, so mutations reach the merging paths.
//
// Invariants: split output lies inside the arena, is at most max_segments
// packets, and for a TCP GSO read every packet parses (lengths, IPv4 header
// checksum) and has a right TCP checksum; for a UDP GSO read (USO) every
// packet parses as UDP with its own UDP length and a right UDP checksum. Coalesce accounts for every input
// packet exactly once; a single write is a zero header plus one input packet
// unchanged; a merged write is a valid GSO packet that splits back into as
// many packets as it merged, each valid with a right TCP checksum and the
// same flow.
#include <algorithm>

#include "fuzz_common.hpp"
#include "tun/core/ip_packet.hpp"
#include "tun/core/offload.hpp"

using namespace peerup;
using namespace peerup::tun;

namespace {

bool checksum_right(byte_span p, std::size_t ip_hl, std::uint8_t proto) {
  const std::size_t at = ip_hl + (proto == ip_proto::tcp ? 16 : 6);
  bytes copy(p.begin(), p.end());
  const std::uint16_t stored_value = static_cast<std::uint16_t>(copy[at] << 8 | copy[at + 1]);
  copy[at] = copy[at + 1] = 0;
  return transport_checksum(copy, ip_hl, proto) == stored_value;
}

void fix_checksums(bytes& p) {
  if (p.size() < 20) return;
  const unsigned version = p[0] >> 4;
  std::size_t ip_hl = 0;
  if (version == 4) {
    ip_hl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
    if (ip_hl < 20 || ip_hl > p.size()) return;
    p[2] = static_cast<std::uint8_t>(p.size() >> 8);
    p[3] = static_cast<std::uint8_t>(p.size());
    p[10] = p[11] = 0;
    const auto c = checksum_fold(checksum_add(0, byte_span(p).first(ip_hl)));
    p[10] = static_cast<std::uint8_t>(c >> 8);
    p[11] = static_cast<std::uint8_t>(c);
    if (p[9] != ip_proto::tcp) return;
  } else if (version == 6) {
    if (p.size() < 40) return;
    ip_hl = 40;
    p[4] = static_cast<std::uint8_t>((p.size() - 40) >> 8);
    p[5] = static_cast<std::uint8_t>(p.size() - 40);
    if (p[6] != ip_proto::tcp) return;
  } else {
    return;
  }
  if (p.size() < ip_hl + 20) return;
  p[ip_hl + 16] = p[ip_hl + 17] = 0;
  const auto c = transport_checksum(p, ip_hl, ip_proto::tcp);
  p[ip_hl + 16] = static_cast<std::uint8_t>(c >> 8);
  p[ip_hl + 17] = static_cast<std::uint8_t>(c);
}

void check_split(byte_span read, mutable_byte_span arena) {
  std::vector<byte_span> out;
  auto used = split_offload(read, arena, out);
  if (!used) {
    FUZZ_CHECK(used.error() == errc::tun_offload_invalid);
    return;
  }
  FUZZ_CHECK(*used <= arena.size());
  FUZZ_CHECK(!out.empty() && out.size() <= max_segments);
  std::size_t sum = 0;
  for (const auto& p : out) {
    FUZZ_CHECK(p.data() >= arena.data() && p.data() + p.size() <= arena.data() + *used);
    sum += p.size();
  }
  FUZZ_CHECK(sum == *used);
  const auto h = vnet_header::decode(read);
  const std::uint8_t gso = h->gso_type & 0x7f;
  if (gso == vnet_header::gso_tcpv4 || gso == vnet_header::gso_tcpv6 ||
      gso == vnet_header::gso_udp_l4) {
    const std::uint8_t proto = gso == vnet_header::gso_udp_l4 ? ip_proto::udp : ip_proto::tcp;
    for (const auto& p : out) {
      auto info = parse_packet(p);
      FUZZ_CHECK(info.has_value());
      FUZZ_CHECK(info->protocol == proto && info->header_length == (info->version == 4 ? (p[0] & 0x0f) * 4u : 40u));
      FUZZ_CHECK(checksum_right(p, info->header_length, proto));
      if (proto == ip_proto::udp) {  // the UDP length is this datagram's
        const std::size_t l4 = p.size() - info->header_length;
        FUZZ_CHECK((std::size_t{p[info->header_length + 4]} << 8 | p[info->header_length + 5]) == l4);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bytes arena(split_arena_size(70000));
  fuzz::input in(data, size);
  const std::uint8_t sel = in.u8();
  if (sel & 1) {
    check_split(in.rest(), arena);
    return 0;
  }
  std::vector<bytes> packets;
  while (!in.empty() && packets.size() < 256) {
    const auto p = in.chunk16();
    packets.emplace_back(p.begin(), p.end());
    if (sel & 2) fix_checksums(packets.back());
  }
  std::vector<byte_span> spans(packets.begin(), packets.end());
  bytes out;
  std::vector<coalesced_write> writes;
  coalesce(spans, out, writes);
  std::size_t total = 0;
  for (const auto& w : writes) {
    FUZZ_CHECK(w.packets >= 1 && w.packets <= max_coalesce);
    FUZZ_CHECK(w.offset + w.size <= out.size() && w.size >= vnet_header::size);
    total += w.packets;
    const byte_span bytes_of = byte_span(out).subspan(w.offset, w.size);
    const auto h = vnet_header::decode(bytes_of);
    FUZZ_CHECK(h.has_value());
    const byte_span p = bytes_of.subspan(vnet_header::size);
    if (w.packets == 1) {
      FUZZ_CHECK(*h == vnet_header{});
      FUZZ_CHECK(std::any_of(spans.begin(), spans.end(), [&](byte_span s) {
        return s.size() == p.size() && std::equal(s.begin(), s.end(), p.begin());
      }));
      continue;
    }
    FUZZ_CHECK(p.size() <= 65535);
    FUZZ_CHECK(parse_packet(p).has_value());
    std::vector<byte_span> segs;
    auto used = split_offload(bytes_of, arena, segs);
    FUZZ_CHECK(used.has_value());
    FUZZ_CHECK(segs.size() == w.packets);
    for (const auto& s : segs) {
      auto info = parse_packet(s);
      FUZZ_CHECK(info.has_value());
      FUZZ_CHECK(checksum_right(s, info->header_length, ip_proto::tcp));  // coalesce merges TCP only
    }
  }
  FUZZ_CHECK(total == packets.size());
  return 0;
}
