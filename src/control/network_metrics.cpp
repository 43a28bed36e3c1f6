// add_network_metrics: the TUN network mode's counters as Prometheus
// families (control/metrics.hpp).
#include "control/metrics.hpp"

namespace peerup::control {

namespace {
// SECURITY: members come from authorized_keys (up to 4096), so the per-peer
// family is bounded like peerup_peer_bytes_total.
constexpr std::size_t max_network_peer_series = 64;
}  // namespace

void add_network_metrics(metrics_registry& m, const app::network_status& n) {
  using mt = metric_type;
  m.declare("peerup_network_packets_total", mt::counter,
            "TUN network packets to and from peers, by how they travelled (datagram: QUIC "
            "datagrams; stream: /peerup/ip/1.0.0)",
            {"direction", "via"});
  m.declare("peerup_network_bytes_total", mt::counter,
            "TUN network IP bytes to and from peers, by how they travelled", {"direction", "via"});
  m.declare("peerup_network_datagram_fallbacks_total", mt::counter,
            "Packets sent on the stream although the path has QUIC datagrams (too large)");
  m.declare("peerup_network_quic_datagrams_total", mt::counter,
            "RFC 9221 datagrams of the network's QUIC connections (sent, received, and dropped "
            "by a full send or receive queue)",
            {"event"});
  m.declare("peerup_network_dropped_total", mt::counter, "TUN network packets dropped, by reason",
            {"reason"});
  m.declare("peerup_network_icmp_sent_total", mt::counter,
            "ICMP errors the network mode wrote back into the interface");
  m.declare("peerup_network_peer_packets_total", mt::counter,
            "TUN network packets per peer (in: from the peer); at most 64 peers, the rest as other",
            {"peer", "direction"}, max_network_peer_series * 2);
  const auto& t = n.total;
  const auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  m.set("peerup_network_packets_total", d(t.datagram_packets_out), {"out", "datagram"});
  m.set("peerup_network_packets_total", d(t.stream_packets_out), {"out", "stream"});
  m.set("peerup_network_packets_total", d(t.datagram_packets_in), {"in", "datagram"});
  m.set("peerup_network_packets_total", d(t.stream_packets_in), {"in", "stream"});
  m.set("peerup_network_bytes_total", d(t.datagram_bytes_out), {"out", "datagram"});
  m.set("peerup_network_bytes_total", d(t.stream_bytes_out), {"out", "stream"});
  m.set("peerup_network_bytes_total", d(t.datagram_bytes_in), {"in", "datagram"});
  m.set("peerup_network_bytes_total", d(t.stream_bytes_in), {"in", "stream"});
  m.set("peerup_network_datagram_fallbacks_total", d(t.datagram_fallbacks));
  m.set("peerup_network_quic_datagrams_total", d(t.quic_datagrams_sent), {"sent"});
  m.set("peerup_network_quic_datagrams_total", d(t.quic_datagrams_received), {"received"});
  m.set("peerup_network_quic_datagrams_total", d(t.quic_send_dropped), {"send_dropped"});
  m.set("peerup_network_quic_datagrams_total", d(t.quic_receive_dropped), {"receive_dropped"});
  for (const auto& [why, count] : n.dropped) m.set("peerup_network_dropped_total", d(count), {why});
  m.set("peerup_network_icmp_sent_total", d(n.icmp_sent));
  for (const auto& p : n.peers) {
    const std::string label = p.name.empty() ? p.peer : p.name;
    // add, not set: past the bound several peers share "other".
    m.add("peerup_network_peer_packets_total",
          d(p.traffic.datagram_packets_out + p.traffic.stream_packets_out), {label, "out"});
    m.add("peerup_network_peer_packets_total",
          d(p.traffic.datagram_packets_in + p.traffic.stream_packets_in), {label, "in"});
  }
}

}  // namespace peerup::control
