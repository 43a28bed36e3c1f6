#include "tun/core/packet_switch.hpp"

#include <algorithm>

#include "tun/core/icmp.hpp"

namespace peerup::tun {

std::string_view to_string(drop_reason r) {
  switch (r) {
    case drop_reason::malformed: return "malformed";
    case drop_reason::not_from_self: return "not_from_self";
    case drop_reason::no_route: return "no_route";
    case drop_reason::too_big: return "too_big";
    case drop_reason::unknown_peer: return "unknown_peer";
    case drop_reason::spoofed: return "spoofed";
    case drop_reason::not_for_us: return "not_for_us";
    case drop_reason::filtered: return "filtered";
    case drop_reason::queue_full: return "queue_full";
    case drop_reason::no_path: return "no_path";
    case drop_reason::count_: break;
  }
  return "?";
}

std::uint64_t switch_counters::dropped_total() const {
  std::uint64_t n = 0;
  for (auto d : dropped) n += d;
  return n;
}

packet_switch::packet_switch(address_book book, switch_config cfg)
    : book_(std::move(book)), cfg_(std::move(cfg)), icmp_tokens_(cfg_.icmp_per_second) {}

void packet_switch::set_path_limit(const peer_id& peer, std::size_t limit) {
  if (limit == 0)
    path_limits_.erase(peer);
  else
    path_limits_[peer] = limit;
}

bool packet_switch::take_icmp_token(steady_time now) {
  if (icmp_refill_ == steady_time{}) icmp_refill_ = now;
  const double elapsed = std::chrono::duration<double>(now - icmp_refill_).count();
  icmp_refill_ = now;
  const double cap = cfg_.icmp_per_second;
  icmp_tokens_ = std::min(cap, icmp_tokens_ + std::max(0.0, elapsed) * cap);
  if (icmp_tokens_ < 1) return false;
  icmp_tokens_ -= 1;
  return true;
}

packet_switch::tun_verdict packet_switch::from_tun(byte_span packet, steady_time now) {
  auto info = parse_packet(packet);
  if (!info) return drop(drop_reason::malformed);
  if (!book_.is_self(info->src)) return drop(drop_reason::not_from_self);
  auto peer = book_.peer_at(info->dst);
  if (!peer) {
    count_drop(drop_reason::no_route);
    // Only for our own prefix: anything else reached us by a route we did
    // not install, and is not ours to answer.
    const bool ours = book_.prefix4().contains(info->dst) || book_.prefix6().contains(info->dst);
    if (ours && take_icmp_token(now))
      if (auto icmp = make_host_unreachable(*info)) {
        ++counters_.icmp_sent;
        return reply_to_tun{std::move(*icmp)};
      }
    return dropped{drop_reason::no_route};
  }
  std::size_t limit = info->version == 6 ? std::max<std::size_t>(cfg_.mtu, ipv6_min_mtu)
                                          : cfg_.mtu;
  if (auto it = path_limits_.find(*peer); it != path_limits_.end())
    limit = std::min(limit, it->second);
  if (packet.size() > limit) {
    count_drop(drop_reason::too_big);
    if (take_icmp_token(now))
      if (auto icmp = make_packet_too_big(*info, static_cast<std::uint16_t>(limit))) {
        ++counters_.icmp_sent;
        return reply_to_tun{std::move(*icmp)};
      }
    return dropped{drop_reason::too_big};
  }
  flows_.note_outbound(*info, now);
  ++counters_.to_peer_packets;
  counters_.to_peer_bytes += packet.size();
  return send_to_peer{*peer};
}

std::optional<drop_reason> packet_switch::from_peer(const peer_id& peer, byte_span packet,
                                                    steady_time now) {
  auto fail = [&](drop_reason r) {
    count_drop(r);
    return std::optional<drop_reason>{r};
  };
  auto info = parse_packet(packet);
  if (!info) return fail(drop_reason::malformed);
  auto v4 = book_.v4_of(peer);
  if (!v4) return fail(drop_reason::unknown_peer);
  // SECURITY: anti-spoofing. A peer speaks only from its own address, so a
  // source address here proves which authenticated peer sent the packet.
  if (info->src != *v4 && info->src != book_.v6_of(peer)) return fail(drop_reason::spoofed);
  // SECURITY: no transit. Only packets for us go into the TUN device.
  if (!book_.is_self(info->dst)) return fail(drop_reason::not_for_us);
  auto rules = cfg_.peer_rules.find(peer);
  const filter_rules& r = rules == cfg_.peer_rules.end() ? cfg_.default_rules : rules->second;
  if (!r.allows(*info) && !info->is_icmp_error() && !flows_.is_reply(*info, now))
    return fail(drop_reason::filtered);
  ++counters_.to_tun_packets;
  counters_.to_tun_bytes += packet.size();
  return std::nullopt;
}

}  // namespace peerup::tun
