// Resource accounting for one host, in the spirit of go-libp2p's resource
// manager but sized for a home relay on a small VPS: counts connections (in
// total, per source IP, per peer), unfinished inbound handshakes, inbound
// streams (per connection, per peer) and buffer memory (Noise and Yamux read
// buffers, Yamux receive windows), and refuses what would go beyond a limit.
//
// Sans-I/O: counters and limits only, no asio and no clock (the refusal log
// rate limit takes `now`), so the accounting is unit-tested on its own. The
// I/O layer (host, yamux_connection, noise_stream, relay_server) asks before
// it allocates and turns a refusal into a closed connection, a reset stream or
// a RESOURCE_LIMIT_EXCEEDED relay status.
//
// Unfinished inbound handshakes are not refused but evicted, oldest first: a
// new inbound connection that finds the pending table full (or its IP's slots
// full with at least one of them still handshaking) takes the slot of the
// oldest unfinished handshake (of that IP). An honest handshake takes
// milliseconds and a stalled one holds its slot until the handshake timeout,
// so stalled connections cannot lock newcomers out (slowloris).
//
// Contract: single-threaded, like the host that owns it. Handles
// (connection_resources, memory_reservation) keep the manager alive.
#pragma once

#include <array>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "multiformats/peer_id.hpp"

namespace peerup::net {

struct host_limits {
  // Connections in both directions, established or still handshaking.
  std::size_t max_connections = 4096;
  std::size_t max_connections_per_ip = 64;  // inbound, direct (not relayed)
  std::size_t max_connections_per_peer = 8;
  std::size_t max_pending_handshakes = 256;  // unfinished inbound upgrades
  // Streams the remote opened.
  std::size_t max_streams_per_connection = 256;
  std::size_t max_streams_per_peer = 512;
  // Noise and Yamux read buffers plus Yamux receive windows (what peers may
  // make us buffer). New connections and streams are refused beyond it, and
  // windows stop growing.
  std::size_t max_memory = std::size_t{512} << 20;
  std::chrono::steady_clock::duration handshake_timeout = std::chrono::seconds(10);
  std::chrono::steady_clock::duration negotiate_timeout = std::chrono::seconds(10);
  std::chrono::steady_clock::duration dial_timeout = std::chrono::seconds(10);
  // A connection without streams and without stream traffic for this long is
  // closed; connections holding a relay reservation are exempt. 0 = never.
  std::chrono::steady_clock::duration idle_timeout = std::chrono::minutes(5);
};

// Which limit refused something; to_string gives the host_limits field (and
// config key) name, for log lines.
enum class resource_limit : std::uint8_t {
  connections,
  connections_per_ip,
  connections_per_peer,
  pending_handshakes,
  streams_per_connection,
  streams_per_peer,
  memory,
};
inline constexpr std::size_t resource_limit_count = 7;
std::string_view to_string(resource_limit l);

template <class T>
using admission = boost::system::result<T, resource_limit>;
// Lets admission<T>::value() throw; callers check instead.
[[noreturn]] void throw_exception_from_error(const resource_limit& l,
                                             const boost::source_location& loc);

struct resource_usage {
  std::size_t connections = 0;
  std::size_t pending_handshakes = 0;
  std::size_t inbound_streams = 0;
  std::size_t memory = 0;
};

class resource_manager;

// One connection's share of the host's resources. Holds its slot (total,
// per IP, per peer, pending handshake) until close() or destruction, and the
// inbound streams and memory it was granted until they are given back.
class connection_resources {
 public:
  connection_resources(std::shared_ptr<resource_manager> mgr, bool inbound, std::string ip);
  ~connection_resources();
  connection_resources(const connection_resources&) = delete;
  connection_resources& operator=(const connection_resources&) = delete;

  // The handshake authenticated `peer`: counts the connection for it and ends
  // the pending handshake. On refusal nothing changes; close the connection.
  // An evicted handshake is refused with the limit that evicted it.
  admission<void> authenticated(const peer_id& peer);
  // Called (once) when a newer connection evicts this unfinished handshake;
  // the slot is already given back, the owner must close the connection.
  void on_evict(std::function<void(resource_limit)> f) { on_evict_ = std::move(f); }
  bool evicted() const { return evicted_.has_value(); }
  // Gives back the connection slot (the connection closed). Streams and
  // memory are given back by their owners, which may outlive the slot.
  void close();

  // A stream the remote opened; release with close_inbound_stream().
  admission<void> open_inbound_stream();
  void close_inbound_stream();

  // Checked against the budget: false (nothing reserved) beyond it.
  bool reserve_memory(std::size_t n);
  // Already committed (a buffer a frame needs): counted even beyond the budget.
  void force_memory(std::size_t n);
  void release_memory(std::size_t n);
  // Budget left for growth (windows, buffers) on this connection.
  std::size_t memory_headroom() const;

  bool is_inbound() const { return inbound_; }
  const std::optional<peer_id>& peer() const { return peer_; }
  std::size_t inbound_streams() const { return streams_; }
  std::size_t memory() const { return memory_; }
  resource_manager& manager() { return *mgr_; }

 private:
  friend class resource_manager;  // evicts and tracks pending handshakes
  std::shared_ptr<resource_manager> mgr_;
  bool inbound_;
  std::string ip_;  // empty: not counted per IP
  std::optional<peer_id> peer_;
  bool pending_;
  bool open_ = true;
  std::optional<resource_limit> evicted_;
  std::function<void(resource_limit)> on_evict_;
  std::list<connection_resources*>::iterator pending_pos_;  // valid while pending_
  std::size_t streams_ = 0;
  std::size_t memory_ = 0;
};

using connection_resources_ptr = std::shared_ptr<connection_resources>;

// Memory not tied to one connection (e.g. the relay's copy buffers).
class memory_reservation {
 public:
  memory_reservation() = default;
  memory_reservation(std::shared_ptr<resource_manager> mgr, std::size_t n);
  memory_reservation(memory_reservation&& o) noexcept;
  memory_reservation& operator=(memory_reservation&& o) noexcept;
  ~memory_reservation();
  std::size_t size() const { return n_; }

 private:
  std::shared_ptr<resource_manager> mgr_;
  std::size_t n_ = 0;
};

class resource_manager : public std::enable_shared_from_this<resource_manager> {
 public:
  // Contract: owned by a shared_ptr (handles share it).
  explicit resource_manager(host_limits limits) : limits_(limits) {}

  // Counts a new connection before its handshake. Inbound ones also count as
  // a pending handshake and, when `ip` is not empty, against its IP.
  admission<connection_resources_ptr> open_connection(bool inbound, std::string ip);
  admission<memory_reservation> reserve_memory(std::size_t n);

  const host_limits& limits() const { return limits_; }
  // New limits apply to what comes next; what is already granted stays.
  void set_limits(const host_limits& l) { limits_ = l; }
  resource_usage usage() const { return usage_; }
  std::size_t connections_of(const peer_id& p) const;
  std::size_t connections_from(std::string_view ip) const;
  std::size_t inbound_streams_of(const peer_id& p) const;
  std::size_t memory_headroom() const;
  // The configured value of `l` as config.yaml writes it, for log lines.
  std::string limit_value(resource_limit l) const;

  // Records a refusal. Returns the number of refusals of this limit not yet
  // logged (this one included) when a log line is due, at most one per limit
  // per `interval`; nullopt when this one should stay quiet.
  std::optional<std::uint64_t> note_refusal(
      resource_limit l, std::chrono::steady_clock::time_point now,
      std::chrono::steady_clock::duration interval = std::chrono::seconds(10));
  std::uint64_t refusals(resource_limit l) const;
  // Unfinished handshakes evicted by `l` (connections_per_ip or pending_handshakes).
  std::uint64_t evictions(resource_limit l) const;

 private:
  friend class connection_resources;
  friend class memory_reservation;

  struct peer_counts {
    std::size_t connections = 0;
    std::size_t streams = 0;
  };
  struct refusal_log {
    std::uint64_t total = 0;
    std::uint64_t unlogged = 0;
    std::optional<std::chrono::steady_clock::time_point> last_logged;
  };

  bool memory_fits(std::size_t n) const;
  // The oldest unfinished inbound handshake (from `ip` when not empty).
  connection_resources* oldest_pending(std::string_view ip) const;
  void evict(connection_resources* victim, resource_limit why);
  void add_memory(std::size_t n) { usage_.memory += n; }
  void sub_memory(std::size_t n) { usage_.memory -= n; }
  void drop_peer_if_unused(std::unordered_map<peer_id, peer_counts>::iterator it);

  host_limits limits_;
  resource_usage usage_;
  std::unordered_map<std::string, std::size_t> per_ip_;
  std::unordered_map<peer_id, peer_counts> per_peer_;
  std::list<connection_resources*> pending_;  // unfinished inbound handshakes, oldest first
  std::array<refusal_log, resource_limit_count> refusals_{};
  std::array<std::uint64_t, resource_limit_count> evictions_{};
};

}  // namespace peerup::net
