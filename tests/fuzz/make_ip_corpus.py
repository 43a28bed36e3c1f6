#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_ip_packet (tests/fuzz/corpus/ip_packet).

  python3 tests/fuzz/make_ip_corpus.py tests/fuzz/corpus/ip_packet

Addresses match the fuzz target's world: we are 10.64.0.1, the laptop
10.64.0.2, the phone 10.64.0.3 (prefix 10.64.0.0/16). The first byte of each
file is the selector (see fuzz_ip_packet.cpp).
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


def v4(src, dst, proto, l4, frag=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, frag, 64, proto, 0,
                    ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + l4


def v6(src, dst, nh, rest):
    return struct.pack("!IHBB16s16s", 0x60000000, len(rest), nh, 64,
                       ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed) + rest


def tcp(sp, dp, flags=0x02, payload=b""):
    return struct.pack("!HHIIBBHHH", sp, dp, 1, 0, 0x50, flags, 65535, 0, 0) + payload


def udp(sp, dp, payload=b""):
    return struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload


def echo(t, ident):
    return struct.pack("!BBHHH", t, 0, 0, ident, 1) + b"ping"


def frame(p):
    out, n = b"", len(p)
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out + p


ME, LAP, PH = "10.64.0.1", "10.64.0.2", "10.64.0.3"
hello = bytes([0, 1]) + ipaddress.ip_address(LAP).packed + \
    ipaddress.ip_address("fd70:6565:7275::2").packed + struct.pack("!H", 1152)
seeds = {
    "tun_tcp_syn": b"\x01" + v4(ME, LAP, 6, tcp(40000, 22)),
    "tun_udp_big": b"\x01" + v4(ME, LAP, 17, udp(5000, 5001, b"x" * 1300)),
    "tun_udp_path_limit": b"\x03" + v4(ME, LAP, 17, udp(5000, 5001, b"x" * 700)),
    "tun_unknown_dest": b"\x01" + v4(ME, "10.64.9.9", 1, echo(8, 7)),
    "tun_outside_prefix": b"\x01" + v4(ME, "8.8.8.8", 17, udp(1, 53)),
    "tun_not_from_self": b"\x01" + v4("192.168.1.2", LAP, 6, tcp(1, 22)),
    "tun_v6_ext_headers": b"\x01" + v6("fd70:6565:7275::1", "fd70:6565:7275::9", 0,
                                       bytes([60, 0]) + b"\0" * 6 + bytes([17, 0]) + b"\0" * 6 +
                                       udp(1, 2)),
    "peer_echo": b"\x00" + v4(LAP, ME, 1, echo(8, 1)),
    "peer_echo_reply": b"\x00" + v4(LAP, ME, 1, echo(0, 1)),
    "peer_tcp_filtered": b"\x00" + v4(LAP, ME, 6, tcp(40000, 80)),
    "peer_spoofed": b"\x00" + v4(PH, ME, 1, echo(8, 1)),
    "peer_transit": b"\x00" + v4(LAP, PH, 1, echo(8, 1)),
    "peer_fragment": b"\x00" + v4(LAP, ME, 17, udp(1, 2), frag=0x2010),
    "peer_icmp_error": b"\x00" + v4(LAP, ME, 1, struct.pack("!BBHHH", 3, 4, 0, 0, 1152) +
                                    v4(ME, LAP, 17, udp(1, 2))),
    "frames": b"\x04" + frame(hello) + frame(v4(LAP, ME, 1, echo(8, 1))) + b"\x05\x45",
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {out}")
