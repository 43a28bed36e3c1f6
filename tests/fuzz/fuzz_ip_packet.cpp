// The TUN packet path (src/tun/core): parse_packet, the packet switch in both
// directions, the ICMP errors it generates, and the /peerup/ip/1.0.0 frame
// splitter, on the same bytes. Layout: [u8 selector][packet or stream bytes].
// selector bit 0: the bytes come from the TUN device (1) or from a peer (0);
// bit 1: a per-peer path limit of 600 bytes; bit 2: read as a frame stream.
//
// Invariants: a parsed packet describes exactly the input (lengths inside it,
// version 4 or 6, ports only for TCP/UDP first fragments); every ICMP error
// the switch writes back into the TUN device is itself a valid packet, at
// most 576 (IPv4) or 1280 (IPv6) bytes, addressed to the sender; a packet
// the switch accepts from a peer is from that peer's address to ours; frames
// never point outside the input.
#include <chrono>

#include "crypto/keys.hpp"
#include "fuzz_common.hpp"
#include "tun/core/framing.hpp"
#include "tun/core/packet_switch.hpp"

using namespace peerup;
using namespace peerup::tun;

namespace {

peer_id peer(std::uint8_t n) {
  bytes seed(32, n);
  return private_key::from_seed(seed)->to_peer_id();
}

struct world {
  peer_id self = peer(1), laptop = peer(2), phone = peer(3);
  ip_address me = *ip_address::parse("10.64.0.1");
  ip_address lap = *ip_address::parse("10.64.0.2");
  address_book book{*ip_prefix::parse("10.64.0.0/16"), default_prefix6(), {self, me},
                    {{laptop, lap}, {phone, *ip_address::parse("10.64.0.3")}}};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const world w;
  fuzz::input in(data, size);
  const std::uint8_t sel = in.u8();
  const byte_span rest(data + std::min<std::size_t>(1, size), size - std::min<std::size_t>(1, size));

  if (sel & 4) {
    byte_span s = rest;
    for (std::size_t guard = 0; guard <= rest.size(); ++guard) {
      auto f = next_frame(s);
      if (!f || !*f) break;
      FUZZ_CHECK((*f)->consumed <= s.size());
      FUZZ_CHECK((*f)->consumed > (*f)->payload.size());
      FUZZ_CHECK((*f)->payload.size() >= 1 && (*f)->payload.size() <= max_frame);
      FUZZ_CHECK((*f)->payload.data() >= s.data() &&
                 (*f)->payload.data() + (*f)->payload.size() <= s.data() + s.size());
      if (is_control((*f)->payload)) (void)decode_hello((*f)->payload);
      s = s.subspan((*f)->consumed);
    }
    return 0;
  }

  auto info = parse_packet(rest);
  if (info) {
    FUZZ_CHECK(info->version == 4 || info->version == 6);
    FUZZ_CHECK(info->total_length == rest.size());
    FUZZ_CHECK(info->header_length <= rest.size());
    FUZZ_CHECK(info->src.version == info->version && info->dst.version == info->version);
    if (info->src_port)
      FUZZ_CHECK((info->protocol == ip_proto::tcp || info->protocol == ip_proto::udp) &&
                 !info->later_fragment);
  }

  packet_switch sw(w.book, switch_config{});
  if (sel & 2) sw.set_path_limit(w.laptop, 600);
  const auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  if (sel & 1) {
    auto v = sw.from_tun(rest, now);
    if (auto* r = std::get_if<packet_switch::reply_to_tun>(&v)) {
      FUZZ_CHECK(info.has_value());
      auto icmp = parse_packet(r->packet);
      FUZZ_CHECK(icmp.has_value());
      FUZZ_CHECK(icmp->is_icmp_error());
      FUZZ_CHECK(r->packet.size() <= (icmp->version == 4 ? 576u : 1280u));
      FUZZ_CHECK(icmp->dst == info->src);
    } else if (std::holds_alternative<packet_switch::send_to_peer>(v)) {
      FUZZ_CHECK(info.has_value() && w.book.is_self(info->src));
      FUZZ_CHECK(rest.size() <= ((sel & 2) ? 600u : switch_config{}.mtu));
    }
  } else {
    if (!sw.from_peer(w.laptop, rest, now)) {
      FUZZ_CHECK(info.has_value());
      FUZZ_CHECK(info->src == w.lap || info->src == w.book.v6_of(w.laptop));
      FUZZ_CHECK(w.book.is_self(info->dst));
    }
  }
  FUZZ_CHECK(sw.counters().dropped_total() + sw.counters().to_peer_packets +
                 sw.counters().to_tun_packets >= 1);
  return 0;
}
