#include "net/resource_manager.hpp"

#include <stdexcept>

namespace peerup::net {

std::string_view to_string(resource_limit l) {
  switch (l) {
    case resource_limit::connections: return "max_connections";
    case resource_limit::connections_per_ip: return "max_connections_per_ip";
    case resource_limit::connections_per_peer: return "max_connections_per_peer";
    case resource_limit::pending_handshakes: return "max_pending_handshakes";
    case resource_limit::streams_per_connection: return "max_streams_per_connection";
    case resource_limit::streams_per_peer: return "max_streams_per_peer";
    case resource_limit::memory: return "max_memory_mib";
  }
  return "unknown";
}

void throw_exception_from_error(const resource_limit& l, const boost::source_location&) {
  throw std::runtime_error("resource limit " + std::string(to_string(l)));
}

// --- connection_resources

connection_resources::connection_resources(std::shared_ptr<resource_manager> mgr, bool inbound,
                                           std::string ip)
    : mgr_(std::move(mgr)), inbound_(inbound), ip_(std::move(ip)), pending_(inbound) {}

connection_resources::~connection_resources() {
  close();
  while (streams_ > 0) close_inbound_stream();
  release_memory(memory_);
}

admission<void> connection_resources::authenticated(const peer_id& peer) {
  if (evicted_) return *evicted_;
  if (!open_ || peer_) return {};
  auto& counts = mgr_->per_peer_[peer];
  if (counts.connections >= mgr_->limits_.max_connections_per_peer) {
    mgr_->drop_peer_if_unused(mgr_->per_peer_.find(peer));
    return resource_limit::connections_per_peer;
  }
  ++counts.connections;
  peer_ = peer;
  if (pending_) {
    pending_ = false;
    --mgr_->usage_.pending_handshakes;
    mgr_->pending_.erase(pending_pos_);
  }
  return {};
}

void connection_resources::close() {
  if (!open_) return;
  open_ = false;
  auto& m = *mgr_;
  --m.usage_.connections;
  if (pending_) {
    pending_ = false;
    --m.usage_.pending_handshakes;
    m.pending_.erase(pending_pos_);
  }
  if (!ip_.empty()) {
    auto it = m.per_ip_.find(ip_);
    if (it != m.per_ip_.end() && --it->second == 0) m.per_ip_.erase(it);
  }
  if (peer_) {
    auto it = m.per_peer_.find(*peer_);
    if (it != m.per_peer_.end()) {
      --it->second.connections;
      m.drop_peer_if_unused(it);
    }
  }
}

admission<void> connection_resources::open_inbound_stream() {
  auto& m = *mgr_;
  if (streams_ >= m.limits_.max_streams_per_connection)
    return resource_limit::streams_per_connection;
  if (peer_) {
    auto& counts = m.per_peer_[*peer_];
    if (counts.streams >= m.limits_.max_streams_per_peer) return resource_limit::streams_per_peer;
    ++counts.streams;
  }
  ++streams_;
  ++m.usage_.inbound_streams;
  return {};
}

void connection_resources::close_inbound_stream() {
  if (streams_ == 0) return;
  --streams_;
  auto& m = *mgr_;
  --m.usage_.inbound_streams;
  if (peer_) {
    auto it = m.per_peer_.find(*peer_);
    if (it != m.per_peer_.end() && it->second.streams > 0) {
      --it->second.streams;
      m.drop_peer_if_unused(it);
    }
  }
}

bool connection_resources::reserve_memory(std::size_t n) {
  if (!mgr_->memory_fits(n)) return false;
  force_memory(n);
  return true;
}

void connection_resources::force_memory(std::size_t n) {
  memory_ += n;
  mgr_->add_memory(n);
}

void connection_resources::release_memory(std::size_t n) {
  n = std::min(n, memory_);
  memory_ -= n;
  mgr_->sub_memory(n);
}

std::size_t connection_resources::memory_headroom() const { return mgr_->memory_headroom(); }

// --- memory_reservation

memory_reservation::memory_reservation(std::shared_ptr<resource_manager> mgr, std::size_t n)
    : mgr_(std::move(mgr)), n_(n) {
  mgr_->add_memory(n_);
}

memory_reservation::memory_reservation(memory_reservation&& o) noexcept
    : mgr_(std::move(o.mgr_)), n_(o.n_) {
  o.n_ = 0;
}

memory_reservation& memory_reservation::operator=(memory_reservation&& o) noexcept {
  if (this != &o) {
    if (mgr_) mgr_->sub_memory(n_);
    mgr_ = std::move(o.mgr_);
    n_ = o.n_;
    o.n_ = 0;
  }
  return *this;
}

memory_reservation::~memory_reservation() {
  if (mgr_) mgr_->sub_memory(n_);
}

// --- resource_manager

// 1. refuse beyond the memory budget
// 2. a full IP: evict its oldest unfinished handshake, or refuse if all of
//    its connections are established
// 3. a full pending table: evict the oldest unfinished handshake
// 4. refuse beyond the total; else count the new connection (inbound ones as
//    pending, at the end of the table)
admission<connection_resources_ptr> resource_manager::open_connection(bool inbound,
                                                                      std::string ip) {
  if (!inbound) ip.clear();  // the per-IP cap is about who connects to us
  // A connection needs a little buffer memory; over budget, refuse it whole.
  if (usage_.memory >= limits_.max_memory) return resource_limit::memory;
  if (!ip.empty() && connections_from(ip) >= limits_.max_connections_per_ip) {
    auto* victim = oldest_pending(ip);
    if (!victim) return resource_limit::connections_per_ip;
    evict(victim, resource_limit::connections_per_ip);
  }
  if (inbound && usage_.pending_handshakes >= limits_.max_pending_handshakes) {
    auto* victim = oldest_pending("");
    if (!victim) return resource_limit::pending_handshakes;  // the limit is 0
    evict(victim, resource_limit::pending_handshakes);
  }
  if (usage_.connections >= limits_.max_connections) return resource_limit::connections;
  ++usage_.connections;
  if (!ip.empty()) ++per_ip_[ip];
  auto res = std::make_shared<connection_resources>(shared_from_this(), inbound, std::move(ip));
  if (inbound) {
    ++usage_.pending_handshakes;
    res->pending_pos_ = pending_.insert(pending_.end(), res.get());
  }
  return res;
}

connection_resources* resource_manager::oldest_pending(std::string_view ip) const {
  for (auto* c : pending_)
    if (ip.empty() || c->ip_ == ip) return c;
  return nullptr;
}

void resource_manager::evict(connection_resources* victim, resource_limit why) {
  victim->evicted_ = why;
  victim->close();
  ++evictions_[static_cast<std::size_t>(why)];
  if (auto f = std::move(victim->on_evict_)) f(why);
}

admission<memory_reservation> resource_manager::reserve_memory(std::size_t n) {
  if (!memory_fits(n)) return resource_limit::memory;
  return memory_reservation(shared_from_this(), n);
}

std::size_t resource_manager::connections_of(const peer_id& p) const {
  auto it = per_peer_.find(p);
  return it == per_peer_.end() ? 0 : it->second.connections;
}

std::size_t resource_manager::connections_from(std::string_view ip) const {
  auto it = per_ip_.find(std::string(ip));
  return it == per_ip_.end() ? 0 : it->second;
}

std::size_t resource_manager::inbound_streams_of(const peer_id& p) const {
  auto it = per_peer_.find(p);
  return it == per_peer_.end() ? 0 : it->second.streams;
}

std::size_t resource_manager::memory_headroom() const {
  return usage_.memory >= limits_.max_memory ? 0 : limits_.max_memory - usage_.memory;
}

std::string resource_manager::limit_value(resource_limit l) const {
  switch (l) {
    case resource_limit::connections: return std::to_string(limits_.max_connections);
    case resource_limit::connections_per_ip: return std::to_string(limits_.max_connections_per_ip);
    case resource_limit::connections_per_peer:
      return std::to_string(limits_.max_connections_per_peer);
    case resource_limit::pending_handshakes: return std::to_string(limits_.max_pending_handshakes);
    case resource_limit::streams_per_connection:
      return std::to_string(limits_.max_streams_per_connection);
    case resource_limit::streams_per_peer: return std::to_string(limits_.max_streams_per_peer);
    case resource_limit::memory: {
      // Whole MiB as configured; a fraction only when set below 1 MiB (tests).
      const std::size_t mib = limits_.max_memory >> 20;
      if (mib << 20 == limits_.max_memory) return std::to_string(mib);
      const std::size_t tenths = limits_.max_memory * 10 / (std::size_t{1} << 20);
      return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10);
    }
  }
  return "?";
}

bool resource_manager::memory_fits(std::size_t n) const { return n <= memory_headroom(); }

void resource_manager::drop_peer_if_unused(std::unordered_map<peer_id, peer_counts>::iterator it) {
  if (it != per_peer_.end() && it->second.connections == 0 && it->second.streams == 0)
    per_peer_.erase(it);
}

std::optional<std::uint64_t> resource_manager::note_refusal(
    resource_limit l, std::chrono::steady_clock::time_point now,
    std::chrono::steady_clock::duration interval) {
  auto& log = refusals_[static_cast<std::size_t>(l)];
  ++log.total;
  ++log.unlogged;
  if (log.last_logged && now - *log.last_logged < interval) return std::nullopt;
  log.last_logged = now;
  const auto n = log.unlogged;
  log.unlogged = 0;
  return n;
}

std::uint64_t resource_manager::refusals(resource_limit l) const {
  return refusals_[static_cast<std::size_t>(l)].total;
}

std::uint64_t resource_manager::evictions(resource_limit l) const {
  return evictions_[static_cast<std::size_t>(l)];
}

}  // namespace peerup::net
