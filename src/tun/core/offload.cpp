#include "tun/core/offload.hpp"

#include <algorithm>
#include <cstring>

#include "tun/core/ip_packet.hpp"

namespace peerup::tun {

namespace {

constexpr std::uint8_t tcp_fin = 0x01, tcp_psh = 0x08, tcp_ack = 0x10, tcp_cwr = 0x80;
// The largest header a segment repeats: IPv4 with options (60) + TCP with
// options (60); IPv6 without extension headers is smaller (40 + 60).
constexpr std::size_t max_headers = 120;
constexpr std::size_t max_ip_packet = 65535;

std::uint16_t rd16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t rd32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
void wr16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void wr32(std::uint8_t* p, std::uint32_t v) {
  wr16(p, static_cast<std::uint16_t>(v >> 16));
  wr16(p + 2, static_cast<std::uint16_t>(v));
}
std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
void wr_le16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

// The pseudo-header sum (RFC 793 / RFC 8200 8.1) of an IPv4 or IPv6 packet
// for a transport segment of `l4_length` bytes.
std::uint32_t pseudo_sum(const std::uint8_t* ip, std::uint8_t protocol, std::size_t l4_length) {
  std::uint32_t sum = 0;
  if ((ip[0] >> 4) == 4) {
    sum = checksum_add(sum, byte_span(ip + 12, 8));
  } else {
    sum = checksum_add(sum, byte_span(ip + 8, 32));
    sum += static_cast<std::uint32_t>(l4_length >> 16);
  }
  sum += protocol;
  sum += static_cast<std::uint32_t>(l4_length & 0xffff);
  return sum;
}

// A checksum as stored: 0 is sent as 0xffff (the same value in one's
// complement, and the only form UDP allows).
std::uint16_t stored(std::uint16_t c) { return c == 0 ? 0xffff : c; }

void set_ipv4_checksum(std::uint8_t* ip, std::size_t ip_hl) {
  ip[10] = ip[11] = 0;
  wr16(ip + 10, checksum_fold(checksum_add(0, byte_span(ip, ip_hl))));
}

// What coalesce needs of a packet: a TCP segment it may merge, or just the
// flow it belongs to (so that later segments of the flow do not jump ahead
// of it), or nothing (not TCP).
struct tcp_view {
  bool flow = false;       // a TCP packet: version, addresses, ports are set
  bool candidate = false;  // may be merged (the policy in offload.hpp)
  std::uint8_t version = 0;
  std::size_t ip_hl = 0, tcp_hl = 0, payload = 0;
  std::uint32_t seq = 0;
  std::uint8_t flags = 0;
};

tcp_view view_of(byte_span p) {
  tcp_view v;
  if (p.size() < 20) return v;
  const std::uint8_t* d = p.data();
  v.version = d[0] >> 4;
  if (v.version == 4) {
    v.ip_hl = static_cast<std::size_t>(d[0] & 0x0f) * 4;
    if (v.ip_hl < 20 || v.ip_hl > p.size() || d[9] != ip_proto::tcp) return v;
    if (rd16(d + 2) != p.size()) return v;
  } else if (v.version == 6) {
    v.ip_hl = 40;
    if (p.size() < 40 || d[6] != ip_proto::tcp || rd16(d + 4) + 40u != p.size()) return v;
  } else {
    return v;
  }
  // SECURITY: the TCP header must be inside the packet before a field is read.
  if (p.size() < v.ip_hl + 20) return v;
  const std::uint8_t* t = d + v.ip_hl;
  v.tcp_hl = static_cast<std::size_t>(t[12] >> 4) * 4;
  if (v.tcp_hl < 20 || v.ip_hl + v.tcp_hl > p.size()) return v;
  v.flow = true;
  v.payload = p.size() - v.ip_hl - v.tcp_hl;
  v.seq = rd32(t + 4);
  v.flags = t[13];
  if (v.version == 4) {
    // No options, no fragment, a valid header checksum.
    if (v.ip_hl != 20 || (rd16(d + 6) & 0x3fff) != 0) return v;
    if (checksum_fold(checksum_add(0, p.first(20))) != 0) return v;
  }
  if (v.payload == 0 || (v.flags != tcp_ack && v.flags != (tcp_ack | tcp_psh))) return v;
  // The merged packet's checksum is not verified again by the receiving
  // stack (CHECKSUM_PARTIAL), so every segment is verified here.
  if (checksum_fold(pseudo_sum(d, ip_proto::tcp, p.size() - v.ip_hl) +
                    checksum_add(0, p.subspan(v.ip_hl))) != 0)
    return v;
  v.candidate = true;
  return v;
}

bool same_flow(byte_span a, const tcp_view& va, byte_span b, const tcp_view& vb) {
  if (!va.flow || !vb.flow || va.version != vb.version) return false;
  const std::size_t at = va.version == 4 ? 12 : 8, len = va.version == 4 ? 8 : 32;
  return std::memcmp(a.data() + at, b.data() + at, len) == 0 &&
         std::memcmp(a.data() + va.ip_hl, b.data() + vb.ip_hl, 4) == 0;
}

// Everything but lengths, checksums, IDs, sequence numbers and PSH must match
// the group's first segment (same_flow already holds).
bool same_headers(byte_span a, const tcp_view& va, byte_span b, const tcp_view& vb) {
  if (va.ip_hl != vb.ip_hl || va.tcp_hl != vb.tcp_hl) return false;
  const std::uint8_t* x = a.data();
  const std::uint8_t* y = b.data();
  if (va.version == 4) {
    if (x[1] != y[1] || (x[6] & 0x40) != (y[6] & 0x40) || x[8] != y[8]) return false;
  } else {
    if (std::memcmp(x, y, 4) != 0 || x[7] != y[7]) return false;
  }
  const std::uint8_t* tx = x + va.ip_hl;
  const std::uint8_t* ty = y + vb.ip_hl;
  return std::memcmp(tx + 8, ty + 8, 4) == 0 &&    // acknowledgment number
         std::memcmp(tx + 14, ty + 14, 2) == 0 &&  // window
         std::memcmp(tx + 20, ty + 20, va.tcp_hl - 20) == 0;  // options
}

}  // namespace

result<vnet_header> vnet_header::decode(byte_span in) {
  if (in.size() < size) return errc::tun_offload_invalid;
  vnet_header h;
  h.flags = in[0];
  h.gso_type = in[1];
  h.hdr_len = le16(&in[2]);
  h.gso_size = le16(&in[4]);
  h.csum_start = le16(&in[6]);
  h.csum_offset = le16(&in[8]);
  return h;
}

void vnet_header::encode(std::uint8_t* out) const {
  out[0] = flags;
  out[1] = gso_type;
  wr_le16(out + 2, hdr_len);
  wr_le16(out + 4, gso_size);
  wr_le16(out + 6, csum_start);
  wr_le16(out + 8, csum_offset);
}

std::uint16_t transport_checksum(byte_span packet, std::size_t l4_offset, std::uint8_t protocol) {
  const std::size_t l4 = packet.size() - l4_offset;
  return stored(checksum_fold(pseudo_sum(packet.data(), protocol, l4) +
                              checksum_add(0, packet.subspan(l4_offset))));
}

std::size_t split_arena_size(std::size_t read_size) {
  return read_size + max_segments * max_headers;
}

result<std::size_t> split_offload(byte_span read, mutable_byte_span arena,
                                  std::vector<byte_span>& out) {
  auto h = vnet_header::decode(read);
  if (!h) return h.error();
  const byte_span p = read.subspan(vnet_header::size);
  const std::uint8_t gso = h->gso_type & static_cast<std::uint8_t>(~vnet_header::gso_ecn);
  // SECURITY: nothing is written past the arena the caller gave.
  if (p.empty() || p.size() > arena.size() || p.size() > max_offload_packet)
    return errc::tun_offload_invalid;

  // 1. not segmented: the packet as it is, its checksum finished if asked
  if (gso == vnet_header::gso_none) {
    std::uint8_t* o = arena.data();
    std::memcpy(o, p.data(), p.size());
    if (h->flags & vnet_header::needs_csum) {
      // SECURITY: the checksum field and the range it covers lie inside the packet.
      const std::size_t at = std::size_t{h->csum_start} + h->csum_offset;
      if (h->csum_start >= p.size() || at + 2 > p.size()) return errc::tun_offload_invalid;
      // The field holds the pseudo-header sum; the sum over the range
      // including it is the checksum.
      const auto c = checksum_fold(checksum_add(0, byte_span(o + h->csum_start,
                                                             p.size() - h->csum_start)));
      wr16(o + at, stored(c));
    }
    out.emplace_back(o, p.size());
    return p.size();
  }
  const bool udp = gso == vnet_header::gso_udp_l4;
  if (gso != vnet_header::gso_tcpv4 && gso != vnet_header::gso_tcpv6 && !udp)
    return errc::tun_offload_invalid;

  // 2. a TCP or UDP super-segment: check the headers ourselves (hdr_len is
  //    not reliable; csum_start must be where the transport header is).
  //    TCP's GSO type names the IP version; UDP's (USO) is one for both.
  const std::uint8_t proto = udp ? ip_proto::udp : ip_proto::tcp;
  const std::uint8_t* d = p.data();
  const unsigned version = d[0] >> 4;
  const bool v4 = udp ? version == 4 : gso == vnet_header::gso_tcpv4;
  std::size_t ip_hl = 0;
  if (v4) {
    if (version != 4 || p.size() < 20) return errc::tun_offload_invalid;
    ip_hl = static_cast<std::size_t>(d[0] & 0x0f) * 4;
    // SECURITY: IHL 5..15 inside the packet, the total length the bytes we
    // got, the GSO type's protocol, not a fragment.
    if (ip_hl < 20 || ip_hl > p.size() || rd16(d + 2) != p.size() || d[9] != proto ||
        (rd16(d + 6) & 0x3fff) != 0)
      return errc::tun_offload_invalid;
  } else {
    if (version != 6 || p.size() < 40 || rd16(d + 4) + 40u != p.size() || d[6] != proto)
      return errc::tun_offload_invalid;
    ip_hl = 40;
  }
  const std::size_t min_l4 = udp ? 8 : 20;
  if (p.size() < ip_hl + min_l4) return errc::tun_offload_invalid;
  const std::size_t l4_hl = udp ? 8 : static_cast<std::size_t>(d[ip_hl + 12] >> 4) * 4;
  if (l4_hl < min_l4 || ip_hl + l4_hl > p.size()) return errc::tun_offload_invalid;
  const std::uint16_t csum_at = udp ? 6 : 16;
  if ((h->flags & vnet_header::needs_csum) && (h->csum_start != ip_hl || h->csum_offset != csum_at))
    return errc::tun_offload_invalid;
  const std::size_t hl = ip_hl + l4_hl;
  const std::size_t payload = p.size() - hl;
  const std::size_t mss = h->gso_size;
  if (mss == 0) return errc::tun_offload_invalid;
  const std::size_t n = payload == 0 ? 1 : (payload + mss - 1) / mss;
  // SECURITY: bounded count and output size.
  if (n > max_segments || n * hl + payload > arena.size()) return errc::tun_offload_invalid;

  // 3. one packet per gso_size bytes of payload, with its own lengths,
  //    IPv4 ID and checksums, and for TCP its sequence number and flags
  const std::uint16_t id0 = v4 ? rd16(d + 4) : 0;
  const std::uint32_t seq0 = udp ? 0 : rd32(d + ip_hl + 4);
  const std::uint8_t flags0 = udp ? 0 : d[ip_hl + 13];
  std::size_t used = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t from = i * mss;
    const std::size_t len = std::min(mss, payload - from);
    std::uint8_t* o = arena.data() + used;
    std::memcpy(o, d, hl);
    std::memcpy(o + hl, d + hl + from, len);
    const std::size_t total = hl + len;
    if (v4) {
      wr16(o + 2, static_cast<std::uint16_t>(total));
      wr16(o + 4, static_cast<std::uint16_t>(id0 + i));
      set_ipv4_checksum(o, ip_hl);
    } else {
      wr16(o + 4, static_cast<std::uint16_t>(total - 40));
    }
    std::uint8_t* t = o + ip_hl;
    if (udp) {
      // The UDP length of this datagram (the super-segment's is not used).
      wr16(t + 4, static_cast<std::uint16_t>(8 + len));
    } else {
      wr32(t + 4, seq0 + static_cast<std::uint32_t>(from));
      std::uint8_t f = flags0;
      if (i + 1 < n) f &= static_cast<std::uint8_t>(~(tcp_fin | tcp_psh));
      if (i > 0) f &= static_cast<std::uint8_t>(~tcp_cwr);
      t[13] = f;
    }
    t[csum_at] = t[csum_at + 1] = 0;
    wr16(t + csum_at, transport_checksum(byte_span(o, total), ip_hl, proto));
    out.emplace_back(o, total);
    used += total;
  }
  return used;
}

void coalesce(std::span<const byte_span> packets, bytes& out, std::vector<coalesced_write>& writes) {
  struct group {
    std::size_t first = 0, last = 0;  // packet indices; next[] links the members
    std::size_t count = 1;
    std::size_t total = 0;            // IP length of the merged packet
    std::uint32_t next_seq = 0;
    std::size_t gso_size = 0;
    bool open = false;                // more segments may join
    bool psh = false;
  };
  constexpr std::size_t none = ~std::size_t{0};
  std::vector<tcp_view> views(packets.size());
  std::vector<std::size_t> next(packets.size(), none);
  std::vector<group> groups;
  groups.reserve(packets.size());

  for (std::size_t i = 0; i < packets.size(); ++i) {
    const byte_span p = packets[i];
    const tcp_view& v = views[i] = view_of(p);
    // The flow's newest group, if any: only it may take the segment, so the
    // flow's bytes keep their order.
    group* g = nullptr;
    if (v.flow) {
      for (std::size_t k = groups.size(); k-- > 0;) {
        const std::size_t f = groups[k].first;
        if (same_flow(packets[f], views[f], p, v)) {
          g = &groups[k];
          break;
        }
      }
    }
    if (g && g->open && v.candidate && g->count < max_coalesce && v.seq == g->next_seq &&
        v.payload <= g->gso_size && g->total + v.payload <= max_ip_packet &&
        same_headers(packets[g->first], views[g->first], p, v)) {
      next[g->last] = i;
      g->last = i;
      ++g->count;
      g->total += v.payload;
      g->next_seq += static_cast<std::uint32_t>(v.payload);
      g->psh = (v.flags & tcp_psh) != 0;
      // A short segment or PSH ends what the sender sent in one go.
      if (v.payload < g->gso_size || g->psh) g->open = false;
      continue;
    }
    group n;
    n.first = n.last = i;
    n.total = p.size();
    if (v.candidate) {
      n.next_seq = v.seq + static_cast<std::uint32_t>(v.payload);
      n.gso_size = v.payload;
      n.psh = (v.flags & tcp_psh) != 0;
      n.open = !n.psh;
    }
    groups.push_back(n);
  }

  for (const auto& g : groups) {
    const std::size_t at = out.size();
    if (g.count == 1) {
      const byte_span p = packets[g.first];
      out.resize(at + vnet_header::size + p.size());
      vnet_header{}.encode(out.data() + at);
      if (!p.empty()) std::memcpy(out.data() + at + vnet_header::size, p.data(), p.size());
      writes.push_back({at, vnet_header::size + p.size(), 1});
      continue;
    }
    const tcp_view& v = views[g.first];
    const std::size_t hl = v.ip_hl + v.tcp_hl;
    vnet_header h;
    h.flags = vnet_header::needs_csum;
    h.gso_type = v.version == 4 ? vnet_header::gso_tcpv4 : vnet_header::gso_tcpv6;
    h.hdr_len = static_cast<std::uint16_t>(hl);
    h.gso_size = static_cast<std::uint16_t>(g.gso_size);
    h.csum_start = static_cast<std::uint16_t>(v.ip_hl);
    h.csum_offset = 16;
    out.resize(at + vnet_header::size + g.total);
    std::uint8_t* o = out.data() + at;
    h.encode(o);
    o += vnet_header::size;
    std::memcpy(o, packets[g.first].data(), hl);
    std::size_t w = hl;
    for (std::size_t i = g.first; i != none; i = next[i]) {
      const byte_span payload = packets[i].subspan(hl);
      std::memcpy(o + w, payload.data(), payload.size());
      w += payload.size();
    }
    if (v.version == 4) {
      wr16(o + 2, static_cast<std::uint16_t>(g.total));
      set_ipv4_checksum(o, v.ip_hl);
    } else {
      wr16(o + 4, static_cast<std::uint16_t>(g.total - 40));
    }
    std::uint8_t* t = o + v.ip_hl;
    if (g.psh) t[13] |= tcp_psh;
    // NEEDS_CSUM: the field holds the pseudo-header sum (not inverted); the
    // kernel adds the segment to it.
    const std::uint16_t pseudo = static_cast<std::uint16_t>(
        ~checksum_fold(pseudo_sum(o, ip_proto::tcp, g.total - v.ip_hl)) & 0xffff);
    wr16(t + 16, pseudo);
    writes.push_back({at, vnet_header::size + g.total, g.count});
  }
}

}  // namespace peerup::tun
