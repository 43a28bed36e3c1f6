// A QUIC connection as libp2p uses it (specs quic/README.md, tls/tls.md),
// sans-I/O: UDP datagrams and the current time go in; datagrams to send,
// stream events and the next expiry come out. No sockets, no asio, so unit
// tests and the fuzzer drive it with in-memory datagrams and a fake clock.
//
// ngtcp2 (0.12, GnuTLS crypto backend) does the QUIC work behind this
// header; nothing of ngtcp2 or GnuTLS shows here, so a later ngtcp2 or
// another QUIC stack replaces connection.cpp alone.
//
// Policy:
// - QUIC v1 only; TLS 1.3 with ALPN "libp2p" required on both sides.
// - Both sides present exactly one self-signed libp2p certificate
//   (crypto/tls_certificate.hpp); the server requires a client certificate.
//   We send no SNI and ignore the SNI a client sends.
// - The peer ID comes from the certificate's libp2p extension. A dialer
//   refuses a peer other than the one it dialed; the gate (the connection
//   gater) runs inside certificate verification, so a refused peer never
//   completes the handshake and never gets a stream.
// - Streams are bidirectional QUIC streams, each a libp2p stream (no Yamux).
//   Unidirectional streams are not allowed (libp2p does not use them).
//
// Datagram buffers are recycled: a sent datagram's buffer, and the one a
// caller hands back through take_datagram(bytes&), carries the next datagram
// (at most config::datagram_queue spares, none larger than a frame), so a
// steady flow allocates nothing per datagram.
//
// SECURITY bounds:
// - The peer may hold at most config::max_streams streams open at once
//   (QUIC MAX_STREAMS); more are a QUIC protocol error for it.
// - Receive buffers are bounded by our flow-control windows (ngtcp2 closes
//   the connection of a peer that sends past them): per stream at most
//   max_stream_window, in all at most max_connection_window.
// - Send buffers: write() takes at most config::send_buffer unacknowledged
//   bytes per stream; the caller waits for stream_writable.
// - A malformed or undecryptable datagram is dropped (counted in
//   dropped_datagrams()); it never closes the connection.
// - RFC 9221 DATAGRAM frames: offered when config::max_datagram_frame_size
//   is not 0 and used only when the peer offers them too. ngtcp2 closes the
//   connection of a peer that sends one larger than we offered (or any when
//   we offered none). Received datagrams wait in a queue of at most
//   config::datagram_queue entries, and so do the ones to send; a full
//   queue drops one (config::datagram_policy) and counts it. They are never
//   retransmitted.
#pragma once

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "crypto/tls_certificate.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::quic {

using time_point = std::chrono::steady_clock::time_point;
using error_code = boost::system::error_code;
using stream_id = std::int64_t;

// A UDP address as the socket layer gives it (sockaddr_in or sockaddr_in6).
struct address {
  sockaddr_storage storage{};
  socklen_t len = 0;

  static address from(const sockaddr* sa, socklen_t len);
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
  bool operator==(const address& o) const;
};

// What a full datagram queue gives up: the oldest datagram in it (fresh
// data wins, as for voice or IP packets), or the one arriving.
enum class datagram_drop { oldest, newest };

struct config {
  // Closes a connection that received nothing for this long (QUIC
  // max_idle_timeout; the smaller of both sides' values applies).
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(30);
  // Gives up a handshake after this long.
  std::chrono::nanoseconds handshake_timeout = std::chrono::seconds(10);
  // Sends a PING after this long without sending, so NAT mappings and the
  // peer's idle timer stay fresh. Zero: off.
  std::chrono::nanoseconds keep_alive = std::chrono::seconds(15);
  // SECURITY: streams the peer may have open at once.
  std::uint64_t max_streams = 256;
  // Flow control: initial windows, grown by ngtcp2 with the RTT up to the
  // maxima when the application reads fast enough.
  std::uint64_t stream_window = 256 * 1024;
  std::uint64_t max_stream_window = 16 * 1024 * 1024;
  std::uint64_t connection_window = 1024 * 1024;
  std::uint64_t max_connection_window = 64 * 1024 * 1024;
  // SECURITY: unacknowledged bytes we hold per stream.
  std::size_t send_buffer = 1024 * 1024;
  // RFC 9221: the largest DATAGRAM frame we accept (transport parameter
  // max_datagram_frame_size); 0 offers no datagrams. A frame must fit in
  // one packet, so more than the largest UDP payload buys nothing.
  std::uint64_t max_datagram_frame_size = 1452;
  // SECURITY: datagrams held per direction (received and not yet taken,
  // queued and not yet sent). With frames of at most 1452 bytes this bounds
  // a connection's datagram memory to about 2 x 256 x 1.5 KiB.
  std::size_t datagram_queue = 256;
  datagram_drop datagram_policy = datagram_drop::oldest;
  // The wall clock certificates are checked against (validity period);
  // tests may fix it.
  std::function<std::chrono::system_clock::time_point()> wall_clock = [] {
    return std::chrono::system_clock::now();
  };
};

// Our certificate and its key (crypto/tls_certificate.hpp), loaded into the
// TLS library once per host identity and shared by every connection.
class tls_context {
 public:
  static result<std::shared_ptr<const tls_context>> make(const tls_identity& id);
  ~tls_context();
  struct impl;
  const impl& get() const { return *impl_; }

 private:
  explicit tls_context(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};
using tls_context_ptr = std::shared_ptr<const tls_context>;

struct datagram {
  bytes data;
  address to;
};

// Datagrams written back to back into one buffer that is kept from flush
// to flush: no allocation per packet, and a run of packets to one address
// lies contiguous in memory, ready for one GSO send. Reused with clear(),
// which keeps the memory.
class packet_batch {
 public:
  struct packet {
    std::size_t offset = 0;
    std::size_t len = 0;
    std::size_t to = 0;  // index into addresses()
  };
  void clear() {
    used_ = 0;
    packets_.clear();
    addresses_.clear();
  }
  bool empty() const { return packets_.empty(); }
  std::size_t size() const { return packets_.size(); }
  const packet& operator[](std::size_t i) const { return packets_[i]; }
  const std::uint8_t* data(const packet& p) const { return buf_.get() + p.offset; }
  byte_span bytes_of(const packet& p) const { return {data(p), p.len}; }
  const address& to(const packet& p) const { return addresses_[p.to]; }
  // Room for the next packet of at most `len` bytes, at the end of the
  // buffer. Grows the buffer (moving what is committed) only here, between
  // packets, so nothing may hold a pointer into it across two calls.
  std::uint8_t* room(std::size_t len);
  // Appends the `len` bytes just written at room() as a packet to `to`.
  void commit(std::size_t len, const address& to);
  void append(byte_span data, const address& to);

 private:
  std::unique_ptr<std::uint8_t[]> buf_;
  std::size_t cap_ = 0;
  std::size_t used_ = 0;
  std::vector<packet> packets_;
  std::vector<address> addresses_;  // distinct, in first use order (usually one)
};

// The key a listener seals its Retry tokens with (address validation, RFC
// 9000 section 8.1); random per listener, never sent.
struct retry_secret {
  std::array<std::uint8_t, 32> key{};
  static retry_secret random();
};

enum class event_type {
  handshake_done,   // TLS done, peer authenticated: remote_peer() is set
  stream_opened,    // the peer opened `stream`
  stream_readable,  // `stream` has bytes to read, its FIN, or was reset
  stream_writable,  // `stream` has send-buffer room again (half of it free)
  stream_reset,     // the peer reset `stream` (RESET_STREAM or STOP_SENDING)
  closed,           // the connection ended; `error` says why
  cid_added,        // we issued `cid`: datagrams for it belong here
  cid_retired,      // `cid` no longer routes here
  datagram_received,  // a DATAGRAM frame arrived: take_datagram() has it
};

struct event {
  event_type type;
  stream_id stream = -1;
  error_code error;
  bytes cid;
};

struct read_result {
  std::size_t n = 0;
  bool fin = false;    // the peer's FIN: no more bytes follow
  bool reset = false;  // the peer reset the stream
};

// RFC 9221 datagram counters of one connection.
struct datagram_stats {
  std::uint64_t sent = 0;             // put into QUIC packets
  std::uint64_t received = 0;         // arrived from the peer
  std::uint64_t send_dropped = 0;     // a full send queue, or no longer fitting the path
  std::uint64_t receive_dropped = 0;  // a full receive queue
};

class connection {
 public:
  // Called during the handshake with the authenticated peer; false refuses it.
  using gate = std::function<bool(const peer_id&)>;

  // Starts a client handshake to `remote`; the first datagrams come from
  // write_datagrams(). `expected`, when set, is the only peer accepted.
  static result<std::unique_ptr<connection>> dial(const config& cfg, const tls_context_ptr& tls,
                                                  std::optional<peer_id> expected, gate g,
                                                  const address& local, const address& remote,
                                                  time_point now);
  // Accepts a client's first datagram (an Initial packet; see
  // accepts_initial) and processes it. With `secret`, an Initial carrying a
  // Retry token must carry a valid one for `remote` (errc::quic_protocol
  // otherwise); the address then counts as validated.
  static result<std::unique_ptr<connection>> accept(const config& cfg, const tls_context_ptr& tls,
                                                    gate g, const address& local,
                                                    const address& remote, byte_span first,
                                                    time_point now,
                                                    const retry_secret* secret = nullptr);
  // A listener under an Initial flood answers an Initial without a token
  // with a Retry instead of a connection: no state is kept, and only a
  // client that receives at `remote` comes back (with the token). nullopt
  // when `initial` is no acceptable Initial.
  static std::optional<datagram> make_retry(byte_span initial, const address& remote,
                                            const retry_secret& secret, time_point now);
  // True when a client Initial carries a token (after a Retry).
  static bool has_token(byte_span initial);
  // True when `datagram` is a QUIC v1 client Initial a server may accept.
  static bool accepts_initial(byte_span datagram);
  // The destination connection ID of a datagram's first packet, for
  // routing (at most 20 bytes); nullopt when it is not a QUIC v1 packet. `short_cid_len` is the
  // length of the IDs we issue (short headers do not carry it).
  static std::optional<bytes> destination_cid(byte_span datagram, std::size_t short_cid_len);
  // The same as a view into `datagram` (no allocation: the per-packet
  // routing path).
  static std::optional<byte_span> destination_cid_view(byte_span datagram,
                                                       std::size_t short_cid_len);
  // The length of every connection ID we issue.
  static constexpr std::size_t cid_length = 16;

  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Feeds one received datagram. A malformed one is dropped; errors that
  // end the connection show as an event_type::closed.
  void on_datagram(byte_span data, const address& local, const address& from, time_point now);
  // Runs timers (loss detection, idle and handshake timeouts, keep-alive).
  void on_expiry(time_point now);
  // When on_expiry must run next; time_point::max() when nothing is due.
  time_point expiry() const;
  // Appends the datagrams due now to `out`, at most `max_datagrams`; stops
  // early when congestion control or pacing says wait (see expiry()).
  void write_datagrams(std::vector<datagram>& out, time_point now, std::size_t max_datagrams);
  // The same into `out` (appended, not cleared): the I/O loop's form, which
  // allocates nothing per packet. Writes more than one send quantum when
  // ngtcp2's pacing allows it now (its timer granularity is 1 ms), up to
  // `max_datagrams`. Returns how many it wrote: `max_datagrams` means more
  // may be due at once.
  std::size_t write_packets(packet_batch& out, time_point now, std::size_t max_datagrams);
  std::vector<event> take_events();
  // Swaps the pending events into `out` (cleared first), so two vectors
  // trade their memory instead of one being allocated per call.
  void take_events(std::vector<event>& out);

  // Opens a bidirectional stream; errc::quic_too_many_streams while the
  // peer's MAX_STREAMS allows none, errc::connection_closed after close.
  result<stream_id> open_stream();
  // Queues bytes; returns how many it took (0 when the send buffer is full:
  // wait for stream_writable). Errors: errc::stream_reset, stream_closed.
  result<std::size_t> write(stream_id id, byte_span data);
  // Sends FIN after the queued bytes.
  result<void> shutdown_write(stream_id id);
  // Takes buffered bytes; n == 0 with neither fin nor reset: wait for
  // stream_readable.
  read_result read(stream_id id, mutable_byte_span buf);
  // Aborts both directions (RESET_STREAM and STOP_SENDING) with `code`.
  void reset(stream_id id, std::uint64_t code = 0);
  // The application dropped the stream: resets it if it is still open and
  // frees its state once QUIC is done with it.
  void release(stream_id id);

  // RFC 9221 unreliable datagrams.
  // The largest payload send_datagram() takes now: 0 before the handshake
  // is done, after close, and when either side offers no datagrams.
  // Otherwise the smaller of what the peer's max_datagram_frame_size and
  // one packet on the current path (its MTU less QUIC's overhead) carry;
  // at least 1156 bytes on any path QUIC runs on (1200-byte packets).
  std::size_t max_datagram_size() const;
  // Queues one datagram for the next write_datagrams(); it leaves whole in
  // one packet or not at all, ahead of stream data. Errors:
  // quic_datagrams_unsupported (not negotiated, or the handshake is not
  // done), quic_datagram_too_large (above max_datagram_size()),
  // connection_closed. A full queue drops per config (counted).
  result<void> send_datagram(byte_span data);
  // How many more datagrams send_datagram() queues before a full queue
  // starts dropping: for senders that would rather wait than lose one.
  std::size_t datagram_send_room() const;
  // The next received datagram in arrival order; nullopt when none waits.
  std::optional<bytes> take_datagram();
  // The same, moved into `into` (false when none waits, `into` untouched).
  // The buffer `into` held goes back to the connection and carries a later
  // datagram, so a caller that keeps `into` from call to call makes the
  // receive path allocate nothing per datagram.
  bool take_datagram(bytes& into);
  datagram_stats datagram_counters() const;

  // Liveness probe: the next write_packets() sends an ack-eliciting packet
  // (a PING frame when there is nothing else), so the peer answers with an
  // ACK within its ack delay. Unlike a stream, a PING is no application
  // activity on either side: two idle peers that probe a quiet connection
  // do not make each other probe again. No-op before the handshake is done
  // and after close.
  void ping();
  // Replaces config::keep_alive for this connection (zero: off).
  void set_keep_alive(std::chrono::nanoseconds d);

  // Orderly close (CONNECTION_CLOSE, application error 0).
  void close();
  bool is_closed() const;
  error_code close_reason() const;
  bool handshake_done() const;
  const std::optional<peer_id>& remote_peer() const;
  const address& remote_address() const;
  std::size_t stream_count() const;
  std::optional<std::chrono::nanoseconds> smoothed_rtt() const;
  // Connection IDs that currently route to this connection.
  std::vector<bytes> local_cids() const;
  std::uint64_t dropped_datagrams() const;

  struct impl;

 private:
  explicit connection(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace peerup::quic
