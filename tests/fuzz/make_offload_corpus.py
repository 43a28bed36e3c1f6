#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_tun_offload (tests/fuzz/corpus/tun_offload).

  python3 tests/fuzz/make_offload_corpus.py tests/fuzz/corpus/tun_offload

Selector (first byte, see fuzz_tun_offload.cpp): 1 = one TUN read for
split_offload; 0 = [u16 length][packet]... for coalesce; 2 = the same with
checksums fixed by the harness. Checksums here are computed in full, so the
seeds are valid as they stand.
"""
import ipaddress
import os
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


A4, B4 = ipaddress.ip_address("10.64.0.1").packed, ipaddress.ip_address("10.64.0.2").packed
A6 = ipaddress.ip_address("fd70:6565:7275::1").packed
B6 = ipaddress.ip_address("fd70:6565:7275::2").packed


def tcp_packet(v6, seq, flags, payload, ident=1, sport=40000, fix=True):
    opts = bytes([1, 1, 8, 10]) + struct.pack("!II", 0xAABBCCDD, 0x11223344)
    th = struct.pack("!HHIIBBHHH", sport, 5201, seq & 0xFFFFFFFF, 0x12345678, 0x80, flags, 502,
                     0, 0) + opts
    seg = th + payload
    if v6:
        ip = struct.pack("!IHBB", 0x60000000, len(seg), 6, 64) + A6 + B6
        pseudo = A6 + B6 + struct.pack("!IxxxB", len(seg), 6)
    else:
        ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(seg), ident, 0x4000, 64, 6, 0) + A4 + B4
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        pseudo = A4 + B4 + struct.pack("!xBH", 6, len(seg))
    if fix:
        c = csum(pseudo + seg) or 0xFFFF
        seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return ip + seg


def udp_packet(v6, payload):
    """A UDP super-segment as USO hands it over: one header, the UDP
    checksum field holding the pseudo-header sum (NEEDS_CSUM)."""
    seg = struct.pack("!HHHH", 4433, 443, 8 + len(payload), 0) + payload
    if v6:
        ip = struct.pack("!IHBB", 0x60000000, len(seg), 17, 64) + A6 + B6
    else:
        ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(seg), 7, 0x4000, 64, 17, 0) + A4 + B4
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + seg


def vnet(flags, gso, gso_size, start, off, hdr_len=0):
    return struct.pack("<BBHHHH", flags, gso, hdr_len, gso_size, start, off)


def run(v6, n, mss, last=0x18):
    return [tcp_packet(v6, 1000 + i * mss, last if i == n - 1 else 0x10,
                       bytes((i + j) & 0xFF for j in range(mss if i < n - 1 else mss // 2)),
                       ident=100 + i) for i in range(n)]


def batch(sel, packets):
    return bytes([sel]) + b"".join(struct.pack("!H", len(p)) + p for p in packets)


payload = bytes(j * 7 & 0xFF for j in range(5001))
seeds = {
    "split_tso4": b"\x01" + vnet(1, 1, 1099, 20, 16) + tcp_packet(False, 1, 0x18, payload),
    "split_tso6": b"\x01" + vnet(1, 4, 1099, 40, 16) + tcp_packet(True, 1, 0x19, payload),
    "split_tso4_ecn_cwr": b"\x01" + vnet(1, 0x81, 500, 20, 16) + tcp_packet(False, 7, 0x90,
                                                                          payload[:1777]),
    "split_needs_csum_udp": b"\x01" + vnet(1, 0, 0, 20, 6) +
    struct.pack("!BBHHHBBH", 0x45, 0, 28 + 5, 1, 0, 64, 17, 0) + A4 + B4 +
    struct.pack("!HHHH", 53, 53, 13, 0x1234) + b"hello",
    "split_plain": b"\x01" + vnet(0, 0, 0, 0, 0) + tcp_packet(False, 1, 0x02, b""),
    "split_uso4": b"\x01" + vnet(1, 5, 1200, 20, 6) + udp_packet(False, payload),
    "split_uso6": b"\x01" + vnet(1, 5, 1000, 40, 6) + udp_packet(True, payload[:4000]),
    "split_bad_type": b"\x01" + vnet(1, 3, 1000, 20, 6) + tcp_packet(False, 1, 0x10, payload[:3000]),
    "coalesce_v4_run": batch(0, run(False, 9, 1099)),
    "coalesce_v6_run": batch(0, run(True, 6, 1200)),
    "coalesce_two_flows": batch(0, [p for pair in zip(run(False, 4, 800), [
        tcp_packet(False, 50 + i * 800, 0x10, bytes(800), sport=40001) for i in range(4)])
        for p in pair]),
    "coalesce_gap_fin": batch(0, [tcp_packet(False, 0, 0x10, bytes(900)),
                                  tcp_packet(False, 1800, 0x10, bytes(900)),
                                  tcp_packet(False, 2700, 0x11, bytes(900))]),
    "coalesce_fixed_by_harness": batch(2, [tcp_packet(False, i * 700, 0x10, bytes(700), fix=False)
                                           for i in range(5)]),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {out}")
