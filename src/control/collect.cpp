// control_server::render_metrics: the daemon's counters as Prometheus
// families (docs/operations.md lists them; docs/grafana-dashboard.json plots
// them). Gauges are read from the live state at each scrape; counters from
// counters the daemon keeps since start.
#include <map>

#include "control/server.hpp"
#include "naming/resolver.hpp"
#include "protocols/path_manager.hpp"
#include "protocols/relay_reservations.hpp"

namespace peerup::control {

namespace {

// SECURITY: per-peer series are bounded: authorized peers only reach the
// services, and the family folds anything past max_peer_series into "other".
constexpr std::size_t max_peer_series = 64;

// A peer as a label: its name from names: when it has one, else the peer ID.
std::string peer_label(app::daemon& d, const peer_id& p) {
  auto n = d.name_of(p);
  return n.empty() ? p.to_string() : n;
}

double seconds(rate_limiter::clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::string control_server::render_metrics() {
  metrics_registry m;
  using mt = metric_type;
  m.declare("peerup_up", mt::gauge, "1 while the daemon runs");
  m.declare("peerup_start_time_seconds", mt::gauge, "Unix time the daemon started");
  m.declare("peerup_connections", mt::gauge, "Open connections",
            {"direction", "transport", "path"});
  m.declare("peerup_connections_opened_total", mt::counter, "Connections opened since start",
            {"direction", "transport", "path"});
  m.declare("peerup_streams", mt::gauge, "Open streams over all connections");
  m.declare("peerup_peers", mt::gauge, "Peers with at least one open connection");
  m.declare("peerup_authorized_peers", mt::gauge, "Peers in authorized_keys");
  m.declare("peerup_service_streams_total", mt::counter, "Service streams proxied", {"service"});
  m.declare("peerup_service_streams_active", mt::gauge, "Service streams open", {"service"});
  m.declare("peerup_service_denied_total", mt::counter,
            "Service streams refused: peer not authorized for the service", {"service"});
  m.declare("peerup_service_failed_total", mt::counter,
            "Service streams refused: the local service was unreachable", {"service"});
  m.declare("peerup_service_bytes_total", mt::counter,
            "Bytes proxied per service (in: from peers to the service)", {"service", "direction"});
  m.declare("peerup_peer_bytes_total", mt::counter,
            "Service bytes per peer (in: from the peer); at most 64 peers, the rest as other",
            {"peer", "direction"}, max_peer_series * 2);
  m.declare("peerup_service_rate_limit_bytes", mt::gauge,
            "services.<name>.rate_limit: bytes/s each way, all streams together (0: unlimited)",
            {"service"});
  m.declare("peerup_service_throttled_seconds_total", mt::counter,
            "Time streams of the service waited on its rate limit, summed over streams",
            {"service", "direction"});
  m.declare("peerup_peer_rate_limit_bytes", mt::gauge,
            "peer_rate_limit: bytes/s each way for each peer's service traffic (0: unlimited)");
  m.declare("peerup_peer_throttled_seconds_total", mt::counter,
            "Time service streams of the peer waited on peer_rate_limit; at most 64 peers",
            {"peer", "direction"}, max_peer_series * 2);
  m.declare("peerup_relay_reservations", mt::gauge, "Our reservations on relays, by state",
            {"state"});
  m.declare("peerup_relayed_connections", mt::gauge,
            "Connections carried by relay circuits (ours through relays)");
  m.declare("peerup_holepunch_attempts_total", mt::counter, "DCUtR hole punching runs");
  m.declare("peerup_holepunch_outcomes_total", mt::counter, "DCUtR hole punching outcomes",
            {"outcome"});
  m.declare("peerup_resource_refusals_total", mt::counter,
            "Connections, streams or memory the resource manager refused, by limit", {"limit"});
  m.declare("peerup_name_lookups_total", mt::counter,
            "Name lookups by the daemon's resolver (ping, connect by name)", {"result"});
  m.declare("peerup_name_relay_queries_total", mt::counter, "Name queries sent to relays");
  m.declare("peerup_reachability", mt::gauge, "AutoNAT reachability (1 for the current one)",
            {"status"});
  m.declare("peerup_events_total", mt::gauge, "Events kept for the status page");

  const auto st = d_.status();
  m.set("peerup_up", 1);
  m.set("peerup_start_time_seconds", static_cast<double>(st.started_unix));
  std::map<std::vector<std::string>, double> open;
  double streams = 0, relayed = 0;
  std::set<peer_id> peers;
  for (const auto& c : d_.host().all_connections()) {
    ++open[{c->dir == net::direction::inbound ? "inbound" : "outbound",
            std::string(c->transport()), c->relayed ? "relayed" : "direct"}];
    if (c->mux) streams += static_cast<double>(c->mux->stream_count());
    if (c->relayed) ++relayed;
    peers.insert(c->remote_peer);
  }
  // Every label set seen since start stays present (at 0), so rate() works.
  for (const auto& [labels, n] : opened_) {
    m.set("peerup_connections", 0, labels);
    m.set("peerup_connections_opened_total", static_cast<double>(n), labels);
  }
  for (const auto& [labels, n] : open) m.set("peerup_connections", n, labels);
  m.set("peerup_streams", streams);
  m.set("peerup_peers", static_cast<double>(peers.size()));
  m.set("peerup_relayed_connections", relayed);
  m.set("peerup_authorized_peers", static_cast<double>(d_.policy().peer_count()));
  for (const auto& [name, svc] : d_.services().services()) {
    const auto n = d_.services().counters(name);
    m.set("peerup_service_streams_total", static_cast<double>(n.streams), {name});
    m.set("peerup_service_streams_active", static_cast<double>(n.active), {name});
    m.set("peerup_service_denied_total", static_cast<double>(n.denied), {name});
    m.set("peerup_service_failed_total", static_cast<double>(n.failed), {name});
    m.set("peerup_service_bytes_total", static_cast<double>(n.bytes_in), {name, "in"});
    m.set("peerup_service_bytes_total", static_cast<double>(n.bytes_out), {name, "out"});
    m.set("peerup_service_rate_limit_bytes", static_cast<double>(svc.rate_limit), {name});
    const auto waited = d_.services().service_throttled(name);
    m.set("peerup_service_throttled_seconds_total", seconds(waited.in), {name, "in"});
    m.set("peerup_service_throttled_seconds_total", seconds(waited.out), {name, "out"});
  }
  m.set("peerup_peer_rate_limit_bytes", static_cast<double>(d_.services().peer_rate_limit()));
  for (const auto& [peer, t] : d_.services().traffic_by_peer()) {
    const auto label = peer_label(d_, peer);
    m.set("peerup_peer_bytes_total", static_cast<double>(t.bytes_in), {label, "in"});
    m.set("peerup_peer_bytes_total", static_cast<double>(t.bytes_out), {label, "out"});
    if (d_.services().peer_rate_limit()) {
      const auto waited = d_.services().peer_throttled(peer);
      m.set("peerup_peer_throttled_seconds_total", seconds(waited.in), {label, "in"});
      m.set("peerup_peer_throttled_seconds_total", seconds(waited.out), {label, "out"});
    }
  }
  for (auto s : {protocols::relay_slot::state::connecting, protocols::relay_slot::state::reserved,
                 protocols::relay_slot::state::backoff})
    m.set("peerup_relay_reservations", 0, {std::string(protocols::to_string(s))});
  for (const auto& slot : d_.relays().slots())
    m.add("peerup_relay_reservations", 1, {std::string(protocols::to_string(slot.current))});
  const auto punches = d_.paths().totals();
  m.set("peerup_holepunch_attempts_total", static_cast<double>(punches.attempts));
  m.set("peerup_holepunch_outcomes_total", static_cast<double>(punches.successes), {"success"});
  m.set("peerup_holepunch_outcomes_total", static_cast<double>(punches.failures), {"failure"});
  for (std::size_t i = 0; i < net::resource_limit_count; ++i) {
    const auto l = static_cast<net::resource_limit>(i);
    m.set("peerup_resource_refusals_total",
          static_cast<double>(d_.host().resources().refusals(l)), {std::string(net::to_string(l))});
  }
  const auto rs = resolver_->statistics();
  m.set("peerup_name_lookups_total", static_cast<double>(rs.hits), {"cache_hit"});
  m.set("peerup_name_lookups_total", static_cast<double>(rs.misses), {"cache_miss"});
  m.set("peerup_name_relay_queries_total", static_cast<double>(rs.relay_queries));
  for (std::string_view s : {"public", "private", "unknown"})
    m.set("peerup_reachability", st.reachability == s ? 1 : 0, {std::string(s)});
  m.set("peerup_events_total", static_cast<double>(d_.events().size()));
  if (st.network) add_network_metrics(m, *st.network);
  return m.render();
}

}  // namespace peerup::control
