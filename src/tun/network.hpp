// The TUN network mode of the daemon (docs/network-mode.md): the device, the
// packet switch (tun/core/packet_switch.hpp) and one packet pump per peer.
//
// Data path, this machine -> peer P:
//   kernel -> TUN device -> read_batch (up to 64 packets per wake-up)
//   -> packet_switch::from_tun (validate, no transit, route, MTU)
//   -> P's bounded queue (drops when full; the TUN reader never waits)
//   -> P's writer coroutine: over the best connection (direct before
//      relayed, so a hole punch moves the flow to the direct path) it keeps
//      one /peerup/ip/1.0.0 stream open (our hello; the fallback). When that
//      connection is QUIC with RFC 9221 datagrams, each packet that fits
//      datagram_channel::max_size() leaves as one QUIC datagram (no
//      retransmission, no head-of-line blocking, no TCP inside TCP); the
//      others (TCP, relayed, a packet too large for a datagram) are framed
//      into one write on the stream.
// and peer P -> this machine:
//   P's stream (inbound, one coroutine per stream) -> hello, then frames,
//   and P's QUIC datagrams (one reader per connection with datagrams)
//   -> packet_switch::from_peer (anti-spoofing, no transit, filter)
//   -> TUN device write
// A datagram holds one IP packet with no prefix (framing.hpp). It is taken
// only from a member that authorized_ accepts, like a stream; since it
// carries no hello, the address checks use the book as the hellos left it.
//
// Streams are one-way: each side sends on the stream it opened and reads the
// streams the other side opened, so neither waits for the other to choose.
// When a better connection to P appears (relayed -> direct) the writer opens
// a stream on it and closes the old one; the receiver reads both until the
// old one ends, so inner TCP connections see at most a few reordered or
// lost packets, never a reset.
//
// Access: only peers of the main authorized_keys file (checked when a stream
// is proposed, so a refused peer gets "na") that have an address.
//
// Contract: runs on the daemon's executor (single-threaded); owns the device.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "config/config.hpp"
#include "net/host.hpp"
#include "net/signal.hpp"
#include "node/status.hpp"
#include "tun/core/packet_switch.hpp"
#include "tun/device.hpp"

namespace peerup::tun {

// SECURITY: per-peer send queue bounds; past them packets are dropped
// (counted as queue_full), never buffered.
inline constexpr std::size_t max_queued_packets = 1024;
inline constexpr std::size_t max_queued_bytes = 2 << 20;
// Buffers of sent packets a peer's queue keeps for the next ones.
inline constexpr std::size_t max_spare_buffers = 128;
inline constexpr std::size_t max_spare_capacity = 16 * 1024;
// Datagrams taken from a connection's queue per wake-up and written to the
// device as one batch.
inline constexpr std::size_t max_datagram_batch = 128;

// Per-peer packet counts of the pump, by the way the packets travelled.
struct peer_traffic {
  std::uint64_t datagram_packets_out = 0, datagram_bytes_out = 0;
  std::uint64_t stream_packets_out = 0, stream_bytes_out = 0;
  std::uint64_t datagram_packets_in = 0, datagram_bytes_in = 0;
  std::uint64_t stream_packets_in = 0, stream_bytes_in = 0;
  // A packet that went on the stream although the path has datagrams: larger
  // than max_size(), or the datagram queue refused it.
  std::uint64_t datagram_fallbacks = 0;
  std::uint64_t dropped_in = 0;  // from this peer, refused by the switch
  // The QUIC layer's datagram counters of this peer's connections (filled
  // by network::status and traffic_total, not by the pump).
  net::datagram_stats quic;
  std::string transport;         // of the stream we send on: quic, tcp, relayed ("" none)
  bool datagrams = false;        // we send on QUIC datagrams now
  peer_traffic& operator+=(const peer_traffic& o);
};

// Opens the packet device for a network (tests pass an in-memory one).
using device_opener = std::function<result<std::unique_ptr<packet_device>>(
    const device_config&, std::string& why)>;

class network {
 public:
  // `members`: peers of the main authorized_keys file (and only those: the
  // address book holds nobody else). `authorized` is asked again for every
  // stream, so keys removed by a reload lose access at once.
  // Opens the device; throws std::runtime_error with the message of
  // device::open (naming the fix and the rootless alternatives).
  // `open_device`: null opens the Linux TUN device (device::open).
  network(net::host& host, const app::config& cfg, const std::vector<peer_id>& members,
          std::function<bool(const peer_id&)> authorized,
          const device_opener& open_device = nullptr);
  ~network();
  network(const network&) = delete;
  network& operator=(const network&) = delete;

  // Spawns the TUN reader and the datagram readers of connections that
  // already exist. The stream handler is installed by the constructor; call
  // start() right after it (no suspension between the two).
  void start();
  // Closes the device (the interface goes away) and every stream.
  void stop();

  const packet_switch& switch_state() const { return sw_; }
  const std::string& interface_name() const { return dev_->name(); }
  // One line: packets and bytes each way, by datagram and stream, drops by
  // reason.
  std::string counters_line() const;
  // Per peer that sent or received anything, and their sum.
  const std::map<peer_id, peer_traffic, peer_less>& traffic() const { return traffic_; }
  peer_traffic traffic_total() const;
  // The status document's "network" section; `name_of` names a peer (from
  // names:) or returns "".
  app::network_status status(const std::function<std::string(const peer_id&)>& name_of) const;

 private:
  struct link {
    explicit link(net::asio::any_io_executor ex) : wake(ex) {}
    // A copy of `packet`, in a spare buffer when there is one.
    bytes buffer(byte_span packet) {
      bytes b;
      if (!spare.empty()) {
        b = std::move(spare.back());
        spare.pop_back();
      }
      b.assign(packet.begin(), packet.end());
      return b;
    }
    // Keeps a sent packet's buffer for a later packet (bounded).
    void recycle(bytes&& b) {
      if (spare.size() >= max_spare_buffers || b.capacity() > max_spare_capacity) return;
      b.clear();
      spare.push_back(std::move(b));
    }
    std::deque<bytes> queue;
    // Buffers of packets that left, carrying the next ones: no allocation
    // per packet while traffic flows. SECURITY: at most max_spare_buffers
    // of at most max_spare_capacity bytes.
    std::vector<bytes> spare;
    std::size_t queued_bytes = 0;
    net::signal wake;
    net::stream_ptr stream;      // the stream we send on
    net::connection_ptr conn;    // the connection it belongs to
    bool better_path = false;    // a better connection appeared: switch
    bool writer_running = false;
  };

  net::awaitable<void> tun_reader();
  net::awaitable<void> writer(peer_id peer, std::shared_ptr<link> l);
  // Opens a stream on the best connection to `peer` and sends our hello.
  net::awaitable<result<void>> open_stream(const peer_id& peer, link& l);
  net::awaitable<void> serve(net::stream_ptr s, net::stream_context ctx);
  // Reads c's QUIC datagrams until the connection closes.
  net::awaitable<void> datagram_reader(net::connection_ptr c);
  void watch_datagrams(const net::connection_ptr& c);
  // One packet from `peer` (stream or datagram) through the switch; what
  // passes is appended to `pass` for to_tun.
  void accept(const peer_id& peer, byte_span packet, steady_time now,
              std::vector<byte_span>& pass);
  // Writes one batch of accepted packets (the device may merge TCP
  // segments); what the device refused is counted as queue_full.
  void to_tun(std::span<const byte_span> packets);
  void enqueue(const peer_id& peer, byte_span packet);
  void on_connection(const net::connection_ptr& c);

  // systemd-resolved: registers gateway.dns for the zone on the interface
  // when resolved runs; undone by stop() (and by the interface going away).
  // A gateway.dns on loopback is registered as our interface address, where
  // dns_relay() forwards queries to it (resolved cannot reach loopback
  // through the interface).
  void register_dns();
  void unregister_dns();
  // Relays DNS queries from this machine arriving on `s` (our interface
  // address) to `gateway`, one dns_forward() each, until `s` closes.
  net::awaitable<void> dns_relay(std::shared_ptr<net::asio::ip::udp::socket> s,
                                 net::asio::ip::udp::endpoint gateway);
  net::awaitable<void> dns_forward(std::shared_ptr<net::asio::ip::udp::socket> s, bytes query,
                                   net::asio::ip::udp::endpoint from,
                                   net::asio::ip::udp::endpoint gateway);
  std::shared_ptr<net::asio::ip::udp::socket> dns_relay_;
  std::size_t dns_in_flight_ = 0;

  net::host& host_;
  std::function<bool(const peer_id&)> authorized_;
  std::optional<std::string> dns_server_;  // gateway.dns
  std::string zone_;
  bool dns_registered_ = false;
  bool ipv6_ = false;  // the interface has our IPv6 address
  packet_switch sw_;
  std::unique_ptr<packet_device> dev_;
  std::map<peer_id, peer_traffic, peer_less> traffic_;
  // Datagram counters of members' QUIC connections that have closed (the
  // open ones are asked when status is built).
  std::map<peer_id, net::datagram_stats, peer_less> quic_closed_;
  net::datagram_stats quic_stats(const peer_id& peer) const;
  std::map<peer_id, std::shared_ptr<link>, peer_less> links_;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::tun
