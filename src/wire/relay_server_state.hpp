// Sans-I/O core of our Circuit Relay v2 server: the reservation table, the
// circuit accounting and the limits. The I/O layer (src/protocols) parses hop
// messages, asks this class for a decision, and writes the reply.
//
// Access modes:
// - closed: only peers the caller says are authorized may reserve or open
//   circuits; everyone else gets PERMISSION_DENIED.
// - open: anyone may; unauthorized peers get the open_* limits.
// A circuit gets the authorized limits only when both its source and the
// target's reservation are authorized, so an unknown peer never obtains an
// unlimited circuit.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "multiformats/peer_id.hpp"
#include "wire/relay_message.hpp"

namespace peerup::wire {

struct relay_limits {
  std::size_t max_reservations = 1024;
  std::size_t max_reservations_per_ip = 8;
  std::size_t max_circuits_per_peer = 16;  // as source or target
  std::size_t max_circuits = 1024;
  std::chrono::seconds reservation_ttl{3600};
  // For authorized peers; 0 = unlimited.
  std::chrono::seconds circuit_duration{0};
  std::uint64_t circuit_data{0};
  // For unauthorized peers in open mode (go-libp2p's defaults); 0 = unlimited.
  std::chrono::seconds open_circuit_duration{120};
  std::uint64_t open_circuit_data{128 * 1024};
  // Bytes per second in each direction for each reservation: all circuits
  // to the reserving peer share it (a token bucket in the relay's splice).
  // 0 = unlimited; else 1024 to 10^10 (relay.yaml checks).
  std::uint64_t reservation_rate{0};
};

enum class relay_access { closed, open };

// Who sent a hop request, as the I/O layer observed it.
struct relay_requester {
  peer_id peer;
  std::string_view ip;        // remote IP of the connection, for the per-IP cap
  bool authorized = false;    // decided by the caller (authorized_keys)
  bool over_relayed = false;  // the request came over a relayed connection
};

struct reservation_decision {
  relay_status status = relay_status::ok;
  std::uint64_t expire = 0;          // UNIX seconds; set when status is ok
  std::optional<relay_limit> limit;  // absent = no limit
};

using circuit_id = std::uint64_t;

// The tightest of two limits, axis by axis (absent or 0: no limit).
std::optional<relay_limit> tighter(const std::optional<relay_limit>& a,
                                   const std::optional<relay_limit>& b);

// A forwarded circuit (relay federation, docs/federation.md): one whose other
// end is a peer relay of a federation.
// - inbound (onward = false): the peer relay `peer_relay` forwards a CONNECT
//   on behalf of its member (the requester's `peer`); the target must hold a
//   reservation here as for any circuit;
// - onward (onward = true): we forward our member's CONNECT to `peer_relay`,
//   the target's home relay; no reservation is needed here.
// Both count against the usual total and per-peer caps, and against
// max_per_relay forwarded circuits through that peer relay (both ways
// together); the circuit's limit is the tighter of ours and `cap`.
struct circuit_via {
  peer_id peer_relay;
  std::size_t max_per_relay = 32;
  std::optional<relay_limit> cap;
  bool onward = false;
};

struct connect_decision {
  relay_status status = relay_status::ok;
  std::optional<relay_limit> limit;  // absent = no limit
  circuit_id circuit = 0;            // set when status is ok
};

class relay_server_state {
 public:
  // Wall-clock time, because the reservation expiry goes on the wire as
  // UNIX time. Always passed in: this class reads no clock.
  using time_point = std::chrono::system_clock::time_point;

  relay_server_state(relay_limits limits, relay_access access);

  // A RESERVE request. A peer that already holds a reservation refreshes it
  // (new expiry, re-checked per-IP cap if its IP changed) without counting
  // against max_reservations.
  reservation_decision reserve(const relay_requester& from, time_point now);

  // A CONNECT request from `from` to `target`. On ok the circuit is counted
  // at once (so concurrent requests cannot overshoot the caps) and the caller
  // must call circuit_closed(decision.circuit) exactly once: when the stop
  // handshake fails or the circuit ends.
  connect_decision connect(const relay_requester& from, const peer_id& target, time_point now,
                           const circuit_via* via = nullptr);
  // Forwarded circuits through `peer_relay` now open (both ways).
  std::size_t forwarded_through(const peer_id& peer_relay) const;
  // Returns false for an unknown (or already closed) circuit.
  bool circuit_closed(circuit_id id);

  // The spec: a reservation is valid only while the peer stays connected.
  void peer_disconnected(const peer_id& peer);
  // Drops expired reservations; returns how many.
  std::size_t expire(time_point now);

  bool has_reservation(const peer_id& peer, time_point now) const;
  std::size_t reservation_count() const { return reservations_.size(); }
  std::size_t circuit_count() const { return circuits_.size(); }
  std::size_t circuits_of(const peer_id& peer) const;
  const relay_limits& limits() const { return limits_; }

 private:
  struct reservation {
    std::string ip;
    time_point expires;
    bool authorized;
  };
  struct circuit {
    peer_id source;
    peer_id target;
    std::optional<peer_id> via;  // forwarded through this peer relay
  };

  std::optional<relay_limit> limit_for(bool authorized) const;
  void erase_reservation(std::unordered_map<peer_id, reservation>::iterator it);
  std::size_t reservations_from(std::string_view ip) const;

  relay_limits limits_;
  relay_access access_;
  std::unordered_map<peer_id, reservation> reservations_;
  std::map<std::string, std::size_t, std::less<>> reservations_per_ip_;
  std::unordered_map<circuit_id, circuit> circuits_;
  std::unordered_map<peer_id, std::size_t> circuits_per_peer_;
  std::unordered_map<peer_id, std::size_t> forwarded_per_relay_;
  circuit_id next_circuit_ = 1;
};

// Builds the hop STATUS reply for a reservation decision. `relay_addrs` are
// the relay's public addrs including /p2p/<relay>; `voucher` the sealed
// envelope. Both are used only when the decision is ok.
hop_message make_reservation_reply(const reservation_decision& d, std::vector<bytes> relay_addrs,
                                   std::optional<bytes> voucher);
// Builds the hop STATUS reply for a connect decision.
hop_message make_connect_reply(const connect_decision& d);

}  // namespace peerup::wire
