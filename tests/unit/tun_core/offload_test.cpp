// TSO splitting and GRO-style merging for the TUN device (tun/core/offload).
// Checksums are verified with a reference written here from RFC 1071
// (big-endian 16-bit words, summed and folded one by one), independent of
// checksum_add.
#include "tun/core/offload.hpp"

#include <gtest/gtest.h>

#include <random>

#include "unit/tun_core/packets.hpp"

namespace peerup::tun {
namespace {

using namespace test;

constexpr std::uint8_t fin = 0x01, syn = 0x02, psh = 0x08, ack = 0x10, cwr = 0x80;

std::uint16_t reference_sum(const bytes& data) {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i < data.size(); i += 2) {
    const std::uint32_t hi = data[i];
    const std::uint32_t lo = i + 1 < data.size() ? data[i + 1] : 0;
    s += hi << 8 | lo;
    s = (s & 0xffff) + (s >> 16);
  }
  return static_cast<std::uint16_t>(s);
}

// The pseudo-header + transport bytes of `p`; their reference sum is 0xffff
// exactly when the transport checksum is right.
bool transport_checksum_ok(byte_span p) {
  const bool v4 = (p[0] >> 4) == 4;
  const std::size_t ip_hl = v4 ? (p[0] & 0x0f) * 4u : 40u;
  const std::size_t l4 = p.size() - ip_hl;
  bytes pseudo;
  if (v4) {
    pseudo.assign(p.begin() + 12, p.begin() + 20);
    pseudo.insert(pseudo.end(), {0, p[9], static_cast<std::uint8_t>(l4 >> 8),
                                 static_cast<std::uint8_t>(l4)});
  } else {
    pseudo.assign(p.begin() + 8, p.begin() + 40);
    pseudo.insert(pseudo.end(), {0, 0, static_cast<std::uint8_t>(l4 >> 8),
                                 static_cast<std::uint8_t>(l4), 0, 0, 0, p[6]});
  }
  pseudo.insert(pseudo.end(), p.begin() + static_cast<std::ptrdiff_t>(ip_hl), p.end());
  return reference_sum(pseudo) == 0xffff;
}

bytes pattern(std::size_t n, std::uint8_t seed) {
  bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7 + (i >> 8));
  return b;
}

std::uint32_t seq_of(byte_span p, std::size_t ip_hl) {
  return std::uint32_t{p[ip_hl + 4]} << 24 | std::uint32_t{p[ip_hl + 5]} << 16 |
         std::uint32_t{p[ip_hl + 6]} << 8 | p[ip_hl + 7];
}

// A TCP segment with a timestamp option (12 bytes: the common case), valid
// checksums, IPv4 ID `id`.
bytes tcp_segment(bool v6, std::uint32_t seq, std::uint8_t flags, const bytes& payload,
                  std::uint16_t id = 1, std::uint16_t sport = 40000) {
  bytes t(32, 0);
  put16(t, 0, sport);
  put16(t, 2, 5201);
  for (int i = 0; i < 4; ++i) t[4 + i] = static_cast<std::uint8_t>(seq >> (24 - 8 * i));
  put16(t, 8, 0x1234);
  put16(t, 10, 0x5678);  // ack
  t[12] = 0x80;          // 8 words
  t[13] = flags;
  put16(t, 14, 502);     // window
  t[20] = 1;
  t[21] = 1;
  t[22] = 8;
  t[23] = 10;
  put16(t, 24, 0xaabb);  // TSval
  put16(t, 28, 0xccdd);  // TSecr
  append(t, payload);
  bytes p = v6 ? v6_packet(ip("fd70:6565:7275::1"), ip("fd70:6565:7275::2"), ip_proto::tcp, t)
               : v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::tcp, t);
  const std::size_t ip_hl = v6 ? 40 : 20;
  if (!v6) {
    put16(p, 4, id);
    put16(p, 6, 0x4000);  // DF
    put16(p, 10, 0);
    put16(p, 10, static_cast<std::uint16_t>(~reference_sum(bytes(p.begin(), p.begin() + 20))));
  }
  put16(p, ip_hl + 16, transport_checksum(p, ip_hl, ip_proto::tcp));
  return p;
}

// A TUN read: `h` encoded in front of `packet`.
bytes with_vnet_header(const vnet_header& h, const bytes& packet) {
  bytes r(vnet_header::size);
  h.encode(r.data());
  append(r, packet);
  return r;
}

// What the kernel hands us with TSO: one header over all of `payload`.
bytes gso_read(bool v6, std::uint32_t seq, std::uint8_t flags, const bytes& payload,
               std::uint16_t mss) {
  bytes p = tcp_segment(v6, seq, flags, payload, 100);
  return with_vnet_header({vnet_header::needs_csum,
                           v6 ? vnet_header::gso_tcpv6 : vnet_header::gso_tcpv4,
                           999,  // hdr_len: unreliable, must not be used
                           mss, static_cast<std::uint16_t>(v6 ? 40 : 20), 16},
                          p);
}

struct split_out {
  bytes arena = bytes(split_arena_size(70000));
  std::vector<byte_span> packets;
};

result<std::size_t> split(const bytes& read, split_out& o) {
  return split_offload(read, o.arena, o.packets);
}

TEST(offload, checksum_add_matches_the_rfc_1071_reference) {
  std::mt19937 rng(7);
  for (std::size_t n : {0u, 1u, 2u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 1151u, 1400u, 65535u}) {
    bytes d(n);
    for (auto& b : d) b = static_cast<std::uint8_t>(rng());
    const std::uint32_t mine = checksum_add(0, d);
    EXPECT_EQ(mine, reference_sum(d)) << n;
    // In two chunks split at an even offset, as callers continue a sum.
    if (n >= 4) {
      const std::size_t half = (n / 2) & ~std::size_t{1};
      const auto two = checksum_add(checksum_add(0, byte_span(d).first(half)),
                                    byte_span(d).subspan(half));
      EXPECT_EQ(checksum_fold(two), checksum_fold(mine)) << n;
    }
  }
  bytes ones(4096, 0xff);  // the all-ones worst case for carries
  EXPECT_EQ(checksum_add(0, ones), reference_sum(ones));
}

TEST(offload, vnet_header_round_trips_little_endian) {
  vnet_header h{1, 4, 0x1234, 1388, 40, 16};
  std::uint8_t b[vnet_header::size];
  h.encode(b);
  EXPECT_EQ(b[2], 0x34);
  EXPECT_EQ(b[3], 0x12);
  EXPECT_EQ(*vnet_header::decode(b), h);
  EXPECT_EQ(vnet_header::decode(byte_span(b, 9)).error(), errc::tun_offload_invalid);
}

void check_split(bool v6, std::size_t payload_size, std::uint16_t mss, std::uint8_t flags) {
  SCOPED_TRACE(testing::Message() << (v6 ? "v6" : "v4") << " payload " << payload_size << " mss "
                                  << mss);
  const bytes payload = pattern(payload_size, 3);
  const std::uint32_t seq0 = 0xfffffff0;  // wraps during the split
  split_out o;
  ASSERT_TRUE(split(gso_read(v6, seq0, flags, payload, mss), o));
  const std::size_t n = (payload_size + mss - 1) / mss;
  ASSERT_EQ(o.packets.size(), n);
  const std::size_t ip_hl = v6 ? 40 : 20, hl = ip_hl + 32;
  bytes joined;
  for (std::size_t i = 0; i < n; ++i) {
    const byte_span p = o.packets[i];
    auto info = parse_packet(p);  // lengths and the IPv4 header checksum
    ASSERT_TRUE(info) << i << ": " << info.error().message();
    EXPECT_TRUE(transport_checksum_ok(p)) << i;
    EXPECT_EQ(p.size() - hl, std::min<std::size_t>(mss, payload_size - i * mss)) << i;
    EXPECT_EQ(seq_of(p, ip_hl), seq0 + static_cast<std::uint32_t>(i * mss)) << i;
    const std::uint8_t f = p[ip_hl + 13];
    const bool last = i + 1 == n, first = i == 0;
    EXPECT_EQ((f & psh) != 0, last && (flags & psh)) << i;
    EXPECT_EQ((f & fin) != 0, last && (flags & fin)) << i;
    EXPECT_EQ((f & cwr) != 0, first && (flags & cwr)) << i;
    EXPECT_TRUE(f & ack);
    if (!v6) {
      EXPECT_EQ(p[4] << 8 | p[5], 100 + static_cast<int>(i)) << i;  // IPv4 ID + i
    }
    // The options travel on every segment.
    EXPECT_EQ(p[ip_hl + 22], 8);
    joined.insert(joined.end(), p.begin() + static_cast<std::ptrdiff_t>(hl), p.end());
  }
  EXPECT_EQ(joined, payload);
}

TEST(offload, splits_tcp_super_segments_with_fixed_headers_and_checksums) {
  for (bool v6 : {false, true}) {
    check_split(v6, 65535 - (v6 ? 72 : 52), 1388, ack | psh);  // a full 64 KiB read
    check_split(v6, 5001, 1099, ack | psh | fin | cwr);  // odd sizes, short last
    check_split(v6, 4000, 1000, ack);                     // exact multiple
    check_split(v6, 999, 1000, ack | psh);                // one segment
  }
}

TEST(offload, finishes_a_partial_checksum_of_an_unsegmented_packet) {
  for (bool v6 : {false, true}) {
    for (std::uint8_t proto : {ip_proto::tcp, ip_proto::udp}) {
      bytes l4 = transport(proto, 1234, 53, ack, 333);  // odd payload
      for (std::size_t i = (proto == ip_proto::tcp ? 20 : 8); i < l4.size(); ++i)
        l4[i] = static_cast<std::uint8_t>(i * 13);
      bytes p = v6 ? v6_packet(ip("fd70:6565:7275::1"), ip("fd70:6565:7275::2"), proto, l4)
                   : v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), proto, l4);
      const std::size_t ip_hl = v6 ? 40 : 20, off = proto == ip_proto::tcp ? 16 : 6;
      // What the kernel leaves: the folded pseudo-header sum in the field.
      const auto full = transport_checksum(p, ip_hl, proto);
      put16(p, ip_hl + off, 0);
      bytes zeroed_l4(p.begin() + static_cast<std::ptrdiff_t>(ip_hl), p.end());
      const std::uint16_t l4_sum = reference_sum(zeroed_l4);
      // pseudo = ~full - l4_sum (one's complement)
      std::uint32_t pseudo = static_cast<std::uint16_t>(~full) + (0xffffu - l4_sum);
      pseudo = (pseudo & 0xffff) + (pseudo >> 16);
      put16(p, ip_hl + off, static_cast<std::uint16_t>(pseudo));
      vnet_header h{vnet_header::needs_csum, vnet_header::gso_none, 0, 0,
                    static_cast<std::uint16_t>(ip_hl), static_cast<std::uint16_t>(off)};
      bytes read(vnet_header::size);
      h.encode(read.data());
      append(read, p);
      split_out o;
      ASSERT_TRUE(split(read, o));
      ASSERT_EQ(o.packets.size(), 1u);
      EXPECT_TRUE(transport_checksum_ok(o.packets[0])) << v6 << " " << int(proto);
      EXPECT_TRUE(parse_packet(o.packets[0]));
    }
  }
}

TEST(offload, refuses_headers_that_do_not_describe_the_packet) {
  const bytes good = gso_read(false, 1, ack, pattern(3000, 1), 1000);
  split_out o;
  ASSERT_TRUE(split(good, o));
  auto with = [&](auto change) {
    bytes r = good;
    change(r);
    o.packets.clear();
    return split(r, o);
  };
  EXPECT_FALSE(with([](bytes& r) { r.resize(9); }));                     // short header
  EXPECT_FALSE(with([](bytes& r) { r.resize(10); }));                    // no packet
  EXPECT_FALSE(with([](bytes& r) { r[1] = 3; }));                        // UDP fragmentation (UFO)
  EXPECT_FALSE(with([](bytes& r) { r[1] = vnet_header::gso_tcpv6; }));  // version mismatch
  EXPECT_FALSE(with([](bytes& r) { r[4] = r[5] = 0; }));                 // gso_size 0
  EXPECT_FALSE(with([](bytes& r) { r[4] = 2; r[5] = 0; }));              // 1500 segments
  EXPECT_FALSE(with([](bytes& r) { r[6] = 21; }));                       // csum_start
  EXPECT_FALSE(with([](bytes& r) { r[10 + 3] ^= 1; }));                  // IPv4 total length
  EXPECT_FALSE(with([](bytes& r) { r[10 + 32] = 0x40; }));               // TCP doff 4 words
  EXPECT_FALSE(with([](bytes& r) { r[10 + 6] = 0x20; }));                // a fragment (MF)
  // Not segmented, but the checksum field lies past the end.
  EXPECT_FALSE(with([](bytes& r) { r[1] = 0; r[6] = 0xff; r[7] = 0x0f; }));
  // An arena too small for the segments.
  o.packets.clear();
  bytes small(2000);
  EXPECT_EQ(split_offload(good, small, o.packets).error(), errc::tun_offload_invalid);
  EXPECT_TRUE(o.packets.empty());
}

// What the kernel hands us with USO (an application sent with UDP_SEGMENT):
// one IP + UDP header over all of `payload`, the UDP checksum left partial.
bytes uso_read(bool v6, const bytes& payload, std::uint16_t segment) {
  bytes u(8, 0);
  put16(u, 0, 4433);
  put16(u, 2, 443);
  put16(u, 4, static_cast<std::uint16_t>(8 + payload.size()));
  append(u, payload);
  bytes p = v6 ? v6_packet(ip("fd70:6565:7275::1"), ip("fd70:6565:7275::2"), ip_proto::udp, u)
               : v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::udp, u);
  if (!v6) {
    put16(p, 4, 200);  // IPv4 ID
    put16(p, 10, 0);
    put16(p, 10, static_cast<std::uint16_t>(~reference_sum(bytes(p.begin(), p.begin() + 20))));
  }
  return with_vnet_header({vnet_header::needs_csum, vnet_header::gso_udp_l4, 0, segment,
                           static_cast<std::uint16_t>(v6 ? 40 : 20), 6},
                          p);
}

TEST(offload, splits_udp_super_segments_into_datagrams_with_their_lengths_and_checksums) {
  for (bool v6 : {false, true}) {
    for (std::size_t size : {std::size_t{1200 * 40}, std::size_t{5001}, std::size_t{700}}) {
      SCOPED_TRACE(testing::Message() << (v6 ? "v6" : "v4") << " payload " << size);
      const std::uint16_t seg = 1200;
      const bytes payload = pattern(size, 9);
      split_out o;
      auto used = split(uso_read(v6, payload, seg), o);
      ASSERT_TRUE(used) << used.error().message();
      const std::size_t n = (size + seg - 1) / seg, ip_hl = v6 ? 40 : 20;
      ASSERT_EQ(o.packets.size(), n);
      bytes joined;
      for (std::size_t i = 0; i < n; ++i) {
        const byte_span p = o.packets[i];
        auto info = parse_packet(p);
        ASSERT_TRUE(info) << i << ": " << info.error().message();
        EXPECT_TRUE(transport_checksum_ok(p)) << i;
        const std::size_t len = std::min<std::size_t>(seg, size - i * seg);
        EXPECT_EQ(p.size(), ip_hl + 8 + len) << i;
        EXPECT_EQ(std::size_t{p[ip_hl + 4]} << 8 | p[ip_hl + 5], 8 + len) << i;  // UDP length
        EXPECT_EQ(p[ip_hl] << 8 | p[ip_hl + 1], 4433) << i;                     // ports kept
        if (!v6) {
          EXPECT_EQ(p[4] << 8 | p[5], 200 + static_cast<int>(i)) << i;  // IPv4 ID + i
        }
        joined.insert(joined.end(), p.begin() + static_cast<std::ptrdiff_t>(ip_hl + 8), p.end());
      }
      EXPECT_EQ(joined, payload);
    }
  }
  // A USO header on a TCP packet, or a checksum offset that is not UDP's,
  // describes something else: refused with the offload error.
  split_out o;
  bytes tcp_as_udp = gso_read(false, 1, ack, pattern(3000, 1), 1000);
  tcp_as_udp[1] = vnet_header::gso_udp_l4;
  EXPECT_EQ(split(tcp_as_udp, o).error(), errc::tun_offload_invalid);
  bytes bad_offset = uso_read(true, pattern(3000, 1), 1000);
  bad_offset[8] = 16;
  EXPECT_EQ(split(bad_offset, o).error(), errc::tun_offload_invalid);
  bytes icmp = uso_read(false, pattern(3000, 1), 1000);
  icmp[10 + 9] = ip_proto::icmp;  // not UDP under a UDP GSO type
  EXPECT_EQ(split(icmp, o).error(), errc::tun_offload_invalid);
}

std::vector<byte_span> spans(const std::vector<bytes>& v) { return {v.begin(), v.end()}; }

TEST(offload, coalesces_a_run_of_one_flow_and_splits_back_to_the_same_segments) {
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "v6" : "v4");
    std::vector<bytes> in;
    const std::uint16_t mss = 1099;
    for (int i = 0; i < 9; ++i)
      in.push_back(tcp_segment(v6, 5000 + i * mss, i == 8 ? ack | psh : ack,
                               pattern(i == 8 ? 501 : mss, static_cast<std::uint8_t>(i)),
                               static_cast<std::uint16_t>(100 + i)));
    bytes out;
    std::vector<coalesced_write> writes;
    coalesce(spans(in), out, writes);
    ASSERT_EQ(writes.size(), 1u);
    EXPECT_EQ(writes[0].packets, 9u);
    const byte_span w = byte_span(out).subspan(writes[0].offset, writes[0].size);
    auto h = vnet_header::decode(w);
    EXPECT_EQ(h->flags, vnet_header::needs_csum);
    EXPECT_EQ(h->gso_type, v6 ? vnet_header::gso_tcpv6 : vnet_header::gso_tcpv4);
    EXPECT_EQ(h->gso_size, mss);
    EXPECT_EQ(h->csum_start, v6 ? 40 : 20);
    EXPECT_EQ(h->csum_offset, 16);
    EXPECT_EQ(h->hdr_len, (v6 ? 40 : 20) + 32);
    EXPECT_TRUE(parse_packet(w.subspan(vnet_header::size)));  // lengths, IPv4 header checksum
    // What the kernel would do with it on a wire: the very same segments.
    split_out o;
    ASSERT_TRUE(split(bytes(w.begin(), w.end()), o));
    ASSERT_EQ(o.packets.size(), in.size());
    for (std::size_t i = 0; i < in.size(); ++i)
      EXPECT_EQ(bytes(o.packets[i].begin(), o.packets[i].end()), in[i]) << i;
  }
}

TEST(offload, keeps_flows_apart_and_in_order) {
  const std::uint16_t mss = 1000;
  std::vector<bytes> in;
  for (int i = 0; i < 4; ++i) {
    in.push_back(tcp_segment(false, 1 + i * mss, ack, pattern(mss, 1), 1, 40000));
    in.push_back(tcp_segment(false, 9 + i * mss, ack, pattern(mss, 2), 1, 40001));
  }
  in.push_back(v4_packet(ip("10.64.0.1"), ip("10.64.0.2"), ip_proto::icmp,
                         transport(ip_proto::icmp, 8, 1)));
  bytes out;
  std::vector<coalesced_write> writes;
  coalesce(spans(in), out, writes);
  ASSERT_EQ(writes.size(), 3u);
  EXPECT_EQ(writes[0].packets, 4u);
  EXPECT_EQ(writes[1].packets, 4u);
  EXPECT_EQ(writes[2].packets, 1u);
  // The flows' first segments, in arrival order; the ICMP packet unchanged
  // behind a zero header.
  EXPECT_EQ(out[writes[0].offset + 10 + 21], 40000 & 0xff);
  EXPECT_EQ(out[writes[1].offset + 10 + 21], 40001 & 0xff);
  EXPECT_EQ(*vnet_header::decode(byte_span(out).subspan(writes[2].offset)), vnet_header{});
  EXPECT_EQ(bytes(out.begin() + static_cast<std::ptrdiff_t>(writes[2].offset + 10),
                  out.begin() + static_cast<std::ptrdiff_t>(writes[2].offset + writes[2].size)),
            in.back());
}

TEST(offload, does_not_merge_across_gaps_flags_bad_checksums_or_short_segments) {
  const std::uint16_t mss = 1000;
  auto count_writes = [](const std::vector<bytes>& in) {
    bytes out;
    std::vector<coalesced_write> writes;
    coalesce(spans(in), out, writes);
    std::vector<std::size_t> n;
    for (const auto& w : writes) n.push_back(w.packets);
    return n;
  };
  using v = std::vector<std::size_t>;
  // a gap in the sequence
  EXPECT_EQ(count_writes({tcp_segment(false, 0, ack, pattern(mss, 0)),
                          tcp_segment(false, 2 * mss, ack, pattern(mss, 0)),
                          tcp_segment(false, 3 * mss, ack, pattern(mss, 0))}),
            (v{1, 2}));
  // SYN and FIN are never merged; a later segment does not jump over them
  EXPECT_EQ(count_writes({tcp_segment(false, 0, ack, pattern(mss, 0)),
                          tcp_segment(false, mss, ack | fin, pattern(mss, 0)),
                          tcp_segment(false, 2 * mss, ack, pattern(mss, 0))}),
            (v{1, 1, 1}));
  EXPECT_EQ(count_writes({tcp_segment(false, 0, syn, {}), tcp_segment(false, 1, ack, pattern(9, 0))}),
            (v{1, 1}));
  // PSH ends a run
  EXPECT_EQ(count_writes({tcp_segment(false, 0, ack | psh, pattern(mss, 0)),
                          tcp_segment(false, mss, ack, pattern(mss, 0))}),
            (v{1, 1}));
  // a short segment ends a run; a longer one cannot follow the first
  EXPECT_EQ(count_writes({tcp_segment(false, 0, ack, pattern(mss, 0)),
                          tcp_segment(false, mss, ack, pattern(10, 0)),
                          tcp_segment(false, mss + 10, ack, pattern(mss, 0))}),
            (v{2, 1}));
  EXPECT_EQ(count_writes({tcp_segment(false, 0, ack, pattern(10, 0)),
                          tcp_segment(false, 10, ack, pattern(mss, 0))}),
            (v{1, 1}));
  // a corrupted payload (checksum no longer right) is written alone
  bytes bad = tcp_segment(false, mss, ack, pattern(mss, 0));
  bad[200] ^= 0x40;
  EXPECT_EQ(count_writes({tcp_segment(false, 0, ack, pattern(mss, 0)), bad}), (v{1, 1}));
  // a different window or ACK number
  bytes other = tcp_segment(false, mss, ack, pattern(mss, 0));
  put16(other, 20 + 14, 7);
  put16(other, 20 + 16, 0);
  put16(other, 20 + 16, transport_checksum(other, 20, ip_proto::tcp));
  EXPECT_EQ(count_writes({tcp_segment(false, 0, ack, pattern(mss, 0)), other}), (v{1, 1}));
}

TEST(offload, merged_packets_stay_within_64_kib) {
  std::vector<bytes> in;
  const std::uint16_t mss = 1400;
  for (int i = 0; i < 100; ++i)
    in.push_back(tcp_segment(false, static_cast<std::uint32_t>(i * mss), ack, pattern(mss, 5)));
  bytes out;
  std::vector<coalesced_write> writes;
  coalesce(spans(in), out, writes);
  std::size_t total = 0;
  for (const auto& w : writes) {
    EXPECT_LE(w.size - vnet_header::size, 65535u);
    EXPECT_LE(w.packets, max_coalesce);
    total += w.packets;
    split_out o;
    ASSERT_TRUE(split(bytes(out.begin() + static_cast<std::ptrdiff_t>(w.offset),
                            out.begin() + static_cast<std::ptrdiff_t>(w.offset + w.size)),
                      o));
    EXPECT_EQ(o.packets.size(), w.packets);
  }
  EXPECT_EQ(total, in.size());
  EXPECT_GE(writes.size(), 3u);  // 100 x 1452 bytes do not fit two 64 KiB packets
}

}  // namespace
}  // namespace peerup::tun
