// Circuit Relay v2 client (libp2p/specs relay/circuit-v2.md): reserving a
// slot on relays (home node), dialing through a relay (client), and accepting
// circuits the relay hands us with STOP.
#pragma once

#include <functional>
#include <optional>

#include "net/host.hpp"
#include "wire/relay_message.hpp"

namespace peerup::protocols {

inline const protocol_id relay_hop_protocol{std::string(wire::relay_hop_protocol_id)};
inline const protocol_id relay_stop_protocol{std::string(wire::relay_stop_protocol_id)};

struct reservation {
  peer_id relay;
  std::uint64_t expire_unix = 0;         // when the relay drops the slot (UNIX seconds)
  std::vector<multiaddr> relay_addrs;    // the relay's addresses, as it reported them
  std::vector<multiaddr> circuit_addrs;  // ours through it: <relay>/p2p-circuit/p2p/<us>
  std::optional<wire::relay_limit> limit;
  bool voucher_valid = false;  // the signed voucher names this relay and us
};

// Asks the relay on `relay_conn` for a reservation.
// 1. open a hop stream and send RESERVE
// 2. read the STATUS reply; anything but OK maps to a relay_* errc
// 3. check the voucher envelope (signed by the relay, naming us)
// Contract: runs on the host's executor; bounded by the host's negotiate
// timeout plus the message read, which the caller bounds with with_timeout.
net::awaitable<result<reservation>> reserve(net::host& h, const net::connection_ptr& relay_conn);

// Dials `target` through the relay in `circuit_addr`
// (<relay addr>/p2p/<relay>/p2p-circuit/p2p/<target>), then runs Noise and
// Yamux end to end inside the circuit.
// 1. connect to the relay (reusing a connection) and open a hop stream
// 2. send CONNECT naming the target, read STATUS
// 3. upgrade the hop stream as an outbound raw connection, marked relayed
net::awaitable<result<net::connection_ptr>> dial_through_relay(net::host& h,
                                                               const multiaddr& circuit_addr,
                                                               std::optional<peer_id> expected);

// Serves STOP: the relay tells us a peer is connecting through it.
// `accept_from` decides which relays may hand us circuits (those we reserved
// on); others get PERMISSION_DENIED.
void install_relay_stop(net::host& h, std::function<bool(const peer_id& relay)> accept_from);

// Installs dial_through_relay as the host's /p2p-circuit dialer.
void install_circuit_dialer(net::host& h);

// Splits <relay part>/p2p-circuit/p2p/<target> into its parts.
struct circuit_parts {
  multiaddr relay;  // ends in /p2p/<relay id>
  peer_id relay_id;
  std::optional<peer_id> target;
};
result<circuit_parts> split_circuit(const multiaddr& addr);

}  // namespace peerup::protocols
