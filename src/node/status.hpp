// What `peerup status` shows: the daemon writes this snapshot as JSON to
// <config dir>/status.json every few seconds (atomically), and the status
// command reads it. A snapshot older than `stale_after` or naming a dead pid
// means the daemon is not running.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace peerup::app {

struct relay_status {
  std::string addr;
  std::string state;  // "connecting", "reserved", "failed"
  std::uint64_t expires_unix = 0;
  std::string error;
};

// Hole punching (DCUtR) with one peer, both roles, since the daemon started.
struct holepunch_status {
  std::uint32_t attempts = 0;
  std::uint32_t successes = 0;
  std::string last_error;  // of the last failed attempt; empty after a success
  std::string method;      // how the last direct path was found: "dcutr", "birthday", or empty
};

struct connection_status {
  std::string peer;
  std::string name;                     // from the config's names:, if any
  std::string path;                     // "direct" or "relayed"
  std::string addr;                     // remote address
  std::string direction;                // "inbound" or "outbound"
  std::uint64_t path_changed_unix = 0;  // when the peer's best path last changed
  holepunch_status holepunch;
  // "quic" or "tcp": what carries the path; for a relayed path, the hop to
  // the relay. Empty in status files of older daemons.
  std::string transport;
};

struct service_status {
  std::string name;
  std::string local_address;
  bool enabled = false;
  std::uint64_t streams = 0, active = 0, denied = 0, failed = 0;
};

// The TUN network mode (src/tun, docs/network-mode.md): packets each way per
// peer, split by how they travelled (QUIC datagrams or the /peerup/ip/1.0.0
// stream). Counters since the daemon started.
struct network_traffic {
  std::uint64_t datagram_packets_out = 0, datagram_bytes_out = 0;
  std::uint64_t stream_packets_out = 0, stream_bytes_out = 0;
  std::uint64_t datagram_packets_in = 0, datagram_bytes_in = 0;
  std::uint64_t stream_packets_in = 0, stream_bytes_in = 0;
  std::uint64_t datagram_fallbacks = 0;  // fit no datagram: sent on the stream
  std::uint64_t dropped_in = 0;          // from the peer, refused by the switch
  // The QUIC layer's RFC 9221 counters on this peer's connections (open and
  // closed since start): where datagrams are lost inside this process.
  std::uint64_t quic_datagrams_sent = 0;      // put on the wire
  std::uint64_t quic_datagrams_received = 0;  // arrived from the peer
  std::uint64_t quic_send_dropped = 0;        // the send queue was full (or the path shrank)
  std::uint64_t quic_receive_dropped = 0;     // the receive queue was full (we read too slowly)
  friend bool operator==(const network_traffic&, const network_traffic&) = default;
};

struct network_peer_status {
  std::string peer;
  std::string name;       // from names:, if any
  std::string address;    // its 10.64 address
  std::string transport;  // of the stream we send on: "quic", "tcp", "relayed"; "" none yet
  bool datagrams = false;  // we send to it as QUIC datagrams now
  network_traffic traffic;
};

struct network_status {
  std::string interface;  // e.g. peerup0
  std::string address;    // our IPv4 address
  std::string address6;   // our IPv6 address ("" when none)
  std::uint64_t mtu = 0;
  // The switch: packets that passed each way and the ICMP errors we made.
  std::uint64_t packets_out = 0, bytes_out = 0, packets_in = 0, bytes_in = 0, icmp_sent = 0;
  network_traffic total;  // the sum over peers
  std::vector<std::pair<std::string, std::uint64_t>> dropped;  // by reason, every reason
  std::vector<network_peer_status> peers;
};

// The Kademlia DHT (docs/dht.md): its mode and the routing table.
struct dht_status {
  std::string mode;              // "server" or "client" (what it is now)
  std::string protocol;
  std::uint64_t routing_table = 0;  // peers in the routing table
  std::vector<std::uint64_t> buckets;  // members per bucket, up to the deepest non-empty one
  std::uint64_t records = 0, provider_records = 0;  // held for others
  std::uint64_t requests_served = 0, requests_refused = 0, rate_limited = 0;
  std::uint64_t lookups = 0, records_published = 0;
};

struct daemon_status {
  long pid = 0;
  std::string peer_id;
  std::string config_file;
  std::uint64_t started_unix = 0;
  std::uint64_t updated_unix = 0;
  std::uint64_t authorized_peers = 0;
  std::vector<std::string> listen;
  std::string reachability = "unknown";   // AutoNAT: "public", "private" or "unknown"
  std::vector<std::string> public_addrs;  // observed by peers and confirmed
  std::vector<relay_status> relays;
  std::vector<connection_status> connections;
  std::vector<service_status> services;
  std::optional<network_status> network;  // only with network mode on
  std::optional<dht_status> dht;          // only with the DHT enabled
};

inline constexpr std::uint64_t status_stale_after_s = 15;
// SECURITY: a status file is small; refuse to parse a large one.
inline constexpr std::size_t max_status_file = 4 << 20;

std::filesystem::path status_file_path(const std::filesystem::path& config_dir);
std::string to_json(const daemon_status& s);
// nullopt when `json` is not a status document.
std::optional<daemon_status> parse_status(std::string_view json);
std::string render_status(const daemon_status& s);
std::uint64_t unix_now();

}  // namespace peerup::app
