// The ngtcp2 0.12 + GnuTLS implementation of quic::connection. Everything
// ngtcp2- or GnuTLS-specific lives in this file.
#include "quic/connection.hpp"

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "crypto/tls_gnutls.hpp"

namespace peerup::quic {

namespace {

// TLS 1.3 only, no middlebox compatibility mode (RFC 9001 section 8.4), the
// AEADs QUIC defines.
constexpr const char* priority =
    "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:"
    "+AES-256-GCM:+CHACHA20-POLY1305:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
    "+GROUP-SECP384R1";
// Bytes of a send-buffer chunk. Chunks never reallocate: ngtcp2 keeps
// pointers into them until the bytes are acknowledged.
constexpr std::size_t chunk_size = 64 * 1024;
constexpr std::size_t max_udp_payload = 1452;
// How long a client has to come back after our Retry.
constexpr std::chrono::seconds retry_token_lifetime(10);

ngtcp2_tstamp ts_of(time_point t) {
  return static_cast<ngtcp2_tstamp>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

ngtcp2_duration ns_of(std::chrono::nanoseconds d) {
  return static_cast<ngtcp2_duration>(std::max<std::int64_t>(d.count(), 0));
}

void random_fill(std::uint8_t* dest, std::size_t len) { randombytes_buf(dest, len); }

ngtcp2_cid random_cid(std::size_t len) {
  ngtcp2_cid cid;
  std::uint8_t buf[NGTCP2_MAX_CIDLEN];
  random_fill(buf, len);
  ngtcp2_cid_init(&cid, buf, len);
  return cid;
}

bytes cid_bytes(const ngtcp2_cid& cid) { return bytes(cid.data, cid.data + cid.datalen); }

}  // namespace

struct tls_context::impl {
  gnutls_tls_credentials creds;
};

tls_context::tls_context(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
tls_context::~tls_context() = default;

result<std::shared_ptr<const tls_context>> tls_context::make(const tls_identity& id) {
  auto creds = gnutls_tls_credentials::make(id);
  if (!creds) return creds.error();
  return std::shared_ptr<const tls_context>(
      new tls_context(std::make_unique<impl>(impl{std::move(*creds)})));
}

address address::from(const sockaddr* sa, socklen_t len) {
  address a;
  a.len = std::min<socklen_t>(len, sizeof(a.storage));
  std::memcpy(&a.storage, sa, a.len);
  return a;
}

bool address::operator==(const address& o) const {
  return len == o.len && std::memcmp(&storage, &o.storage, len) == 0;
}

std::uint8_t* packet_batch::room(std::size_t len) {
  if (cap_ - used_ < len) {
    // Doubling: a flush of 64 packets settles the size after a few calls.
    const std::size_t cap = std::max({cap_ * 2, used_ + len, std::size_t{64} * 1024});
    auto grown = std::make_unique_for_overwrite<std::uint8_t[]>(cap);
    if (used_ > 0) std::memcpy(grown.get(), buf_.get(), used_);
    buf_ = std::move(grown);
    cap_ = cap;
  }
  return buf_.get() + used_;
}

void packet_batch::commit(std::size_t len, const address& to) {
  std::size_t idx = addresses_.size();
  // Nearly always one address per batch: compare from the newest.
  for (std::size_t i = addresses_.size(); i-- > 0;)
    if (addresses_[i] == to) {
      idx = i;
      break;
    }
  if (idx == addresses_.size()) addresses_.push_back(to);
  packets_.push_back({.offset = used_, .len = len, .to = idx});
  used_ += len;
}

void packet_batch::append(byte_span data, const address& to) {
  std::uint8_t* at = room(data.size());
  if (!data.empty()) std::memcpy(at, data.data(), data.size());
  commit(data.size(), to);
}

namespace {

// A stream's received bytes in arrival order: a ring that grows by
// doubling (it holds at most the stream's flow-control window, which the
// application has not read yet), so reading never moves the bytes left.
class byte_ring {
 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void push(const std::uint8_t* data, std::size_t len) {
    if (len == 0) return;
    if (cap_ - size_ < len) grow(size_ + len);
    const std::size_t tail = (head_ + size_) % cap_;
    const std::size_t first = std::min(len, cap_ - tail);
    std::memcpy(buf_.get() + tail, data, first);
    std::memcpy(buf_.get(), data + first, len - first);
    size_ += len;
  }
  std::size_t pop(std::uint8_t* out, std::size_t len) {
    const std::size_t n = std::min(len, size_);
    if (n == 0) return 0;
    const std::size_t first = std::min(n, cap_ - head_);
    std::memcpy(out, buf_.get() + head_, first);
    std::memcpy(out + first, buf_.get(), n - first);
    head_ = (head_ + n) % cap_;
    size_ -= n;
    if (size_ == 0) head_ = 0;
    return n;
  }
  // Drops the bytes and the memory.
  void reset() {
    buf_.reset();
    cap_ = head_ = size_ = 0;
  }

 private:
  void grow(std::size_t need) {
    std::size_t cap = std::max<std::size_t>(cap_ * 2, 16 * 1024);
    while (cap < need) cap *= 2;
    auto grown = std::make_unique_for_overwrite<std::uint8_t[]>(cap);
    const std::size_t n = size_;
    pop(grown.get(), n);
    buf_ = std::move(grown);
    cap_ = cap;
    head_ = 0;
    size_ = n;
  }
  std::unique_ptr<std::uint8_t[]> buf_;
  std::size_t cap_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace

struct stream_state {
  // Receive side: in-order bytes from ngtcp2 the application has not read.
  byte_ring rbuf;
  bool fin_received = false;
  bool reset_received = false;
  // Send side: chunks hold bytes from offset chunk_base on; bytes below
  // `sent` were handed to ngtcp2, bytes below `acked` were acknowledged.
  std::deque<bytes> chunks;
  std::uint64_t chunk_base = 0;
  std::uint64_t written = 0;
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  bool fin_queued = false;
  bool fin_sent = false;
  bool write_stopped = false;  // peer sent STOP_SENDING, or we reset
  bool blocked = false;        // stream flow control: wait for MAX_STREAM_DATA
  bool queued = false;         // in send_queue
  bool want_writable = false;  // write() found the buffer full
  bool closed = false;         // ngtcp2 is done with it
  bool released = false;       // the application dropped it

  bool has_unsent() const { return sent < written || (fin_queued && !fin_sent); }
};

struct connection::impl {
  config cfg;
  gate gate_fn;
  std::optional<peer_id> expected;
  bool is_server = false;

  ngtcp2_conn* conn = nullptr;
  gnutls_session_t session = nullptr;
  tls_context_ptr tls;  // outlives the session, which points at its credentials
  ngtcp2_crypto_conn_ref conn_ref{};
  std::array<std::uint8_t, 32> reset_secret{};

  address local;
  address remote;
  time_point last_now{};
  std::unordered_map<stream_id, stream_state> streams;
  std::deque<stream_id> send_queue;
  std::vector<event> events;
  std::vector<stream_id> deferred;  // write_packets' scratch, kept for its memory
  std::vector<datagram> pending;  // written outside write_datagrams (close)
  std::vector<bytes> cids;
  std::optional<peer_id> peer;
  error_code verify_error;
  bool done_handshake = false;
  bool closed = false;
  // ping() asked for an ack-eliciting packet that has not left yet; the
  // keep-alive timeout is 1 ns meanwhile (see ping()).
  bool ping_wanted = false;
  error_code reason;
  std::uint64_t dropped = 0;
  bytes token;  // the client's Retry token, once validated
  // RFC 9221: datagrams received and not yet taken, and queued to send.
  std::deque<bytes> dgram_in;
  std::deque<bytes> dgram_out;
  datagram_stats dgram_stats;
  // Buffers of datagrams that left (sent, or taken by the application),
  // kept to carry the next ones instead of one allocation per datagram.
  // SECURITY: at most datagram_queue of them, none larger than a frame
  // may need (recycle_datagram), so they add at most what one full queue
  // holds.
  std::vector<bytes> dgram_spare;
  // Packets the head of dgram_out was offered to first and did not fit in:
  // control frames (ACKs, NEW_CONNECTION_ID, a coalesced Handshake packet)
  // go first and may leave too little room a few times; many misses in a
  // row mean it cannot fit, and it is dropped rather than stall the queue.
  unsigned dgram_head_misses = 0;

  ~impl() {
    if (conn) ngtcp2_conn_del(conn);
    if (session) gnutls_deinit(session);
  }

  // --- ngtcp2 callbacks ---------------------------------------------------
  static impl& self(void* user_data) { return *static_cast<impl*>(user_data); }

  static void rand_cb(std::uint8_t* dest, std::size_t len, const ngtcp2_rand_ctx*) {
    random_fill(dest, len);
  }

  static int new_cid_cb(ngtcp2_conn*, ngtcp2_cid* cid, std::uint8_t* token, std::size_t len,
                        void* ud) {
    auto& s = self(ud);
    *cid = random_cid(len);
    if (ngtcp2_crypto_generate_stateless_reset_token(token, s.reset_secret.data(),
                                                     s.reset_secret.size(), cid) != 0)
      return NGTCP2_ERR_CALLBACK_FAILURE;
    s.add_cid(cid_bytes(*cid));
    return 0;
  }

  static int remove_cid_cb(ngtcp2_conn*, const ngtcp2_cid* cid, void* ud) {
    auto& s = self(ud);
    auto b = cid_bytes(*cid);
    std::erase(s.cids, b);
    s.events.push_back({.type = event_type::cid_retired, .cid = std::move(b)});
    return 0;
  }

  static int handshake_completed_cb(ngtcp2_conn*, void* ud) {
    auto& s = self(ud);
    // ALPN is mandatory on both sides (GNUTLS_ALPN_MANDATORY); checked
    // again here so a TLS library that let it pass cannot open streams.
    gnutls_datum_t proto{};
    if (gnutls_alpn_get_selected_protocol(s.session, &proto) != 0 ||
        std::string_view(reinterpret_cast<const char*>(proto.data), proto.size) !=
            libp2p_tls_alpn) {
      s.verify_error = make_error_code(errc::quic_handshake_failed);
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    // SECURITY: no handshake completes without a verified certificate
    // (the verify callback sets peer); this is the second lock on it.
    if (!s.peer) {
      s.verify_error = make_error_code(errc::quic_handshake_failed);
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    s.done_handshake = true;
    s.events.push_back({.type = event_type::handshake_done});
    return 0;
  }

  static int recv_stream_data_cb(ngtcp2_conn*, std::uint32_t flags, stream_id id, std::uint64_t,
                                 const std::uint8_t* data, std::size_t len, void* ud, void*) {
    auto& s = self(ud);
    auto it = s.streams.find(id);
    if (it == s.streams.end()) return 0;  // released: ngtcp2 was told to stop
    auto& st = it->second;
    if (st.released) {
      // Nobody reads this stream any more (we finished our side and dropped
      // it): discard what the peer still sends and credit it, so the peer
      // can finish with its FIN and the stream closes. Nothing is kept.
      if (flags & NGTCP2_STREAM_DATA_FLAG_FIN) st.fin_received = true;
      if (len > 0) {
        ngtcp2_conn_extend_max_stream_offset(s.conn, id, len);
        ngtcp2_conn_extend_max_offset(s.conn, len);
      }
      return 0;
    }
    // SECURITY: ngtcp2 enforces our flow-control window, so rbuf holds at
    // most the stream window (unread bytes are not credited back).
    st.rbuf.push(data, len);
    if (flags & NGTCP2_STREAM_DATA_FLAG_FIN) st.fin_received = true;
    // One wake-up per stream per batch of packets is enough: the reader
    // takes all that is buffered.
    if (s.events.empty() || s.events.back().type != event_type::stream_readable ||
        s.events.back().stream != id)
      s.events.push_back({.type = event_type::stream_readable, .stream = id});
    return 0;
  }

  static int recv_datagram_cb(ngtcp2_conn*, std::uint32_t, const std::uint8_t* data,
                              std::size_t len, void* ud) {
    auto& s = self(ud);
    // SECURITY: ngtcp2 refuses (closes the connection over) DATAGRAM frames
    // larger than our max_datagram_frame_size, or any when we offered 0;
    // checked again so the queue bound below is a bound in bytes too.
    if (s.cfg.max_datagram_frame_size == 0 || len > s.cfg.max_datagram_frame_size) {
      ++s.dgram_stats.receive_dropped;
      return 0;
    }
    ++s.dgram_stats.received;
    // SECURITY: at most datagram_queue datagrams wait for the application.
    if (s.dgram_in.size() >= std::max<std::size_t>(s.cfg.datagram_queue, 1)) {
      ++s.dgram_stats.receive_dropped;
      if (s.cfg.datagram_policy == datagram_drop::newest) return 0;
      s.recycle_datagram(std::move(s.dgram_in.front()));
      s.dgram_in.pop_front();
    }
    s.dgram_in.push_back(s.datagram_buffer(data, len));
    // One wake-up per batch of packets: the reader takes all that waits.
    if (s.events.empty() || s.events.back().type != event_type::datagram_received)
      s.events.push_back({.type = event_type::datagram_received});
    return 0;
  }

  static int acked_cb(ngtcp2_conn*, stream_id id, std::uint64_t offset, std::uint64_t len, void* ud,
                      void*) {
    auto& s = self(ud);
    auto it = s.streams.find(id);
    if (it == s.streams.end()) return 0;
    auto& st = it->second;
    st.acked = std::max(st.acked, offset + len);
    while (!st.chunks.empty() && st.chunk_base + st.chunks.front().size() <= st.acked &&
           st.chunk_base + st.chunks.front().size() <= st.sent) {
      st.chunk_base += st.chunks.front().size();
      s.recycle(std::move(st.chunks.front()));
      st.chunks.pop_front();
    }
    // Drained: the spare chunks go back to the allocator, so an idle
    // connection holds none.
    if (st.acked >= st.written) s.spare_chunks.clear();
    // Wakes the writer once half the buffer is free, not at the first
    // acknowledged byte: it then copies large pieces, once per many ACKs.
    if (st.want_writable && st.written - st.acked <= s.cfg.send_buffer / 2) {
      st.want_writable = false;
      s.events.push_back({.type = event_type::stream_writable, .stream = id});
    }
    return 0;
  }

  static int stream_open_cb(ngtcp2_conn*, stream_id id, void* ud) {
    auto& s = self(ud);
    // SECURITY: unidirectional streams are refused by MAX_STREAMS_UNI = 0,
    // so every stream here is bidirectional and counted by MAX_STREAMS.
    s.streams.try_emplace(id);
    s.events.push_back({.type = event_type::stream_opened, .stream = id});
    return 0;
  }

  static int stream_close_cb(ngtcp2_conn* c, std::uint32_t, stream_id id, std::uint64_t, void* ud,
                             void*) {
    auto& s = self(ud);
    // A stream the peer opened frees one of its slots.
    if (!ngtcp2_conn_is_local_stream(c, id)) ngtcp2_conn_extend_max_streams_bidi(c, 1);
    auto it = s.streams.find(id);
    if (it == s.streams.end()) return 0;
    auto& st = it->second;
    st.closed = true;
    if (st.released) {
      s.streams.erase(it);
      return 0;
    }
    // Wake readers and writers: reads drain what is buffered, writes fail.
    s.events.push_back({.type = event_type::stream_readable, .stream = id});
    s.events.push_back({.type = event_type::stream_writable, .stream = id});
    return 0;
  }

  static int stream_reset_cb(ngtcp2_conn*, stream_id id, std::uint64_t, std::uint64_t, void* ud,
                             void*) {
    auto& s = self(ud);
    auto it = s.streams.find(id);
    if (it == s.streams.end()) return 0;
    it->second.reset_received = true;
    it->second.rbuf.reset();
    s.events.push_back({.type = event_type::stream_reset, .stream = id});
    s.events.push_back({.type = event_type::stream_readable, .stream = id});
    return 0;
  }

  static int stop_sending_cb(ngtcp2_conn*, stream_id id, std::uint64_t, void* ud, void*) {
    auto& s = self(ud);
    auto it = s.streams.find(id);
    if (it == s.streams.end()) return 0;
    // ngtcp2 answers with RESET_STREAM itself; our writes end here.
    it->second.write_stopped = true;
    s.events.push_back({.type = event_type::stream_reset, .stream = id});
    s.events.push_back({.type = event_type::stream_writable, .stream = id});
    return 0;
  }

  static int extend_stream_data_cb(ngtcp2_conn*, stream_id id, std::uint64_t, void* ud, void*) {
    auto& s = self(ud);
    auto it = s.streams.find(id);
    if (it == s.streams.end()) return 0;
    it->second.blocked = false;
    s.enqueue(id, it->second);
    return 0;
  }

  static ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* ref) {
    return static_cast<impl*>(ref->user_data)->conn;
  }

  // GnuTLS calls this when the peer's Certificate arrives, before its
  // Finished: a refusal here ends the handshake.
  // 1. exactly one certificate (libp2p sends no chain)
  // 2. the libp2p extension verifies and yields the peer's key
  // 3. a dialer accepts only the peer it dialed
  // 4. the gater accepts the peer
  static int verify_cb(gnutls_session_t session) {
    auto* ref = static_cast<ngtcp2_crypto_conn_ref*>(gnutls_session_get_ptr(session));
    auto& s = *static_cast<impl*>(ref->user_data);
    // SECURITY: verify_gnutls_peer refuses a chain of other than one
    // certificate and bounds its size before parsing it.
    auto key = verify_gnutls_peer(session, s.cfg.wall_clock());
    if (!key) {
      s.verify_error = key.error();
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
    auto id = key->to_peer_id();
    if (s.expected && id != *s.expected) {
      s.verify_error = make_error_code(errc::peer_id_mismatch);
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
    if (s.gate_fn && !s.gate_fn(id)) {
      s.verify_error = make_error_code(errc::connection_denied);
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
    s.peer = std::move(id);
    return 0;
  }

  // --- helpers -------------------------------------------------------------
  // Send chunks acknowledged and kept for the next write: during a bulk
  // transfer every acknowledged chunk is soon needed again, and freeing and
  // allocating 64 KiB blocks made glibc shrink and grow the heap (brk, page
  // faults on every fresh page the writer copied into). SECURITY: at most
  // max_spare_chunks, and none once a stream's sent bytes are all acknowledged.
  static constexpr std::size_t max_spare_chunks = 8;
  std::vector<bytes> spare_chunks;
  void recycle(bytes&& c) {
    if (spare_chunks.size() >= max_spare_chunks || c.capacity() != chunk_size) return;
    c.clear();
    spare_chunks.push_back(std::move(c));
  }
  bytes take_chunk() {
    if (spare_chunks.empty()) {
      bytes c;
      c.reserve(chunk_size);
      return c;
    }
    bytes c = std::move(spare_chunks.back());
    spare_chunks.pop_back();
    return c;
  }

  // A buffer holding `len` bytes of `data`: a spare one when there is one.
  bytes datagram_buffer(const std::uint8_t* data, std::size_t len) {
    bytes b;
    if (!dgram_spare.empty()) {
      b = std::move(dgram_spare.back());
      dgram_spare.pop_back();
    }
    b.assign(data, data + len);
    return b;
  }
  // Keeps a datagram's buffer for a later one, within the SECURITY bound
  // above (a buffer larger than the largest frame is freed, not kept).
  void recycle_datagram(bytes&& b) {
    const std::size_t largest = std::max<std::size_t>(cfg.max_datagram_frame_size, max_udp_payload);
    if (dgram_spare.size() >= cfg.datagram_queue || b.capacity() > largest) return;
    b.clear();
    dgram_spare.push_back(std::move(b));
  }

  void add_cid(bytes cid) {
    cids.push_back(cid);
    events.push_back({.type = event_type::cid_added, .cid = std::move(cid)});
  }

  void enqueue(stream_id id, stream_state& st) {
    if (st.queued || st.blocked || st.write_stopped || !st.has_unsent()) return;
    st.queued = true;
    send_queue.push_back(id);
  }

  void finish(error_code why) {
    if (closed) return;
    closed = true;
    reason = why;
    events.push_back({.type = event_type::closed, .error = why});
  }

  ngtcp2_path path_to(const address& from) {
    ngtcp2_path p{};
    p.local.addr = const_cast<sockaddr*>(local.sa());
    p.local.addrlen = local.len;
    p.remote.addr = const_cast<sockaddr*>(from.sa());
    p.remote.addrlen = from.len;
    return p;
  }

  // Queues a CONNECTION_CLOSE carrying `ccerr`, then ends the connection.
  void send_close(const ngtcp2_connection_close_error& ccerr, error_code why) {
    if (closed) return;
    if (!ngtcp2_conn_is_in_closing_period(conn) && !ngtcp2_conn_is_in_draining_period(conn)) {
      ngtcp2_path_storage ps;
      ngtcp2_path_storage_zero(&ps);
      ngtcp2_pkt_info pi{};
      bytes buf(max_udp_payload);
      auto n = ngtcp2_conn_write_connection_close(conn, &ps.path, &pi, buf.data(), buf.size(),
                                                  &ccerr, ts_of(last_now));
      if (n > 0) {
        buf.resize(static_cast<std::size_t>(n));
        pending.push_back({std::move(buf), remote});
      }
    }
    finish(why);
  }

  // An ngtcp2 error ended the connection: tell the peer why (a TLS alert
  // for a refused certificate) unless it is already gone.
  void fail(int rv) {
    if (closed) return;
    if (rv == NGTCP2_ERR_DRAINING) return finish(make_error_code(errc::connection_closed));
    if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT)
      return finish(make_error_code(errc::timeout));
    if (rv == NGTCP2_ERR_DROP_CONN || rv == NGTCP2_ERR_CLOSING)
      return finish(verify_error ? verify_error : make_error_code(errc::connection_closed));
    ngtcp2_connection_close_error ccerr;
    ngtcp2_connection_close_error_default(&ccerr);
    const bool tls_failed =
        rv == NGTCP2_ERR_CRYPTO || (rv == NGTCP2_ERR_CALLBACK_FAILURE && verify_error);
    if (rv == NGTCP2_ERR_CRYPTO)
      ngtcp2_connection_close_error_set_transport_error_tls_alert(
          &ccerr, ngtcp2_conn_get_tls_alert(conn), nullptr, 0);
    else
      ngtcp2_connection_close_error_set_transport_error_liberr(&ccerr, rv, nullptr, 0);
    error_code why = verify_error ? verify_error
                     : tls_failed ? make_error_code(errc::quic_handshake_failed)
                     : rv == NGTCP2_ERR_CALLBACK_FAILURE ? make_error_code(errc::quic_internal)
                                                         : make_error_code(errc::quic_protocol);
    send_close(ccerr, why);
  }

  // 1. a session in our role, without TLS 1.3 middlebox compatibility
  //    (QUIC forbids it) and without session tickets
  // 2. ngtcp2's GnuTLS hooks (secrets, transport parameters)
  // 3. the libp2p settings: our certificate, client certificate required,
  //    ALPN "libp2p" mandatory, no SNI sent (a server ignores the SNI it gets)
  // 4. our certificate check (verify_cb)
  result<void> setup_tls(const tls_context_ptr& ctx) {
    tls = ctx;
    const unsigned flags = (is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
                           GNUTLS_NO_END_OF_EARLY_DATA | GNUTLS_NO_AUTO_SEND_TICKET;
    if (gnutls_init(&session, flags) != 0) return make_error_code(errc::quic_internal);
    const int configured = is_server ? ngtcp2_crypto_gnutls_configure_server_session(session)
                                     : ngtcp2_crypto_gnutls_configure_client_session(session);
    if (configured != 0 || gnutls_priority_set_direct(session, priority, nullptr) != 0)
      return make_error_code(errc::quic_internal);
    if (auto r = configure_libp2p_session(session, tls->get().creds,
                                          is_server ? tls_role::server : tls_role::client);
        !r)
      return r.error();
    gnutls_session_set_verify_function(session, verify_cb);
    conn_ref.get_conn = get_conn;
    conn_ref.user_data = this;
    gnutls_session_set_ptr(session, &conn_ref);
    return {};
  }

  static ngtcp2_callbacks callbacks(bool server) {
    ngtcp2_callbacks cb{};
    if (server) {
      cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    } else {
      cb.client_initial = ngtcp2_crypto_client_initial_cb;
      cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
    }
    cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb.encrypt = ngtcp2_crypto_encrypt_cb;
    cb.decrypt = ngtcp2_crypto_decrypt_cb;
    cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb.update_key = ngtcp2_crypto_update_key_cb;
    cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    // ngtcp2 0.12 asserts when these two are missing.
    cb.rand = rand_cb;
    cb.get_new_connection_id = new_cid_cb;
    cb.remove_connection_id = remove_cid_cb;
    cb.handshake_completed = handshake_completed_cb;
    cb.recv_stream_data = recv_stream_data_cb;
    cb.acked_stream_data_offset = acked_cb;
    cb.stream_open = stream_open_cb;
    cb.stream_close = stream_close_cb;
    cb.stream_reset = stream_reset_cb;
    cb.stream_stop_sending = stop_sending_cb;
    cb.extend_max_stream_data = extend_stream_data_cb;
    cb.recv_datagram = recv_datagram_cb;
    return cb;
  }

  void settings_and_params(ngtcp2_settings& s, ngtcp2_transport_params& p, time_point now) const {
    ngtcp2_settings_default(&s);
    s.initial_ts = ts_of(now);
    s.cc_algo = NGTCP2_CC_ALGO_CUBIC;
    // Fits a 1500-byte path over IPv6 (and IPv4); paths start at 1200 and
    // PMTUD raises them (see write_packets).
    s.max_tx_udp_payload_size = max_udp_payload;
    // Flow-control windows start at the transport parameters below and
    // ngtcp2 grows them (doubling when the peer uses a window within about
    // two RTTs) up to these.
    s.max_window = cfg.max_connection_window;
    s.max_stream_window = cfg.max_stream_window;
    s.handshake_timeout = ns_of(cfg.handshake_timeout);
    ngtcp2_transport_params_default(&p);
    p.initial_max_stream_data_bidi_local = cfg.stream_window;
    p.initial_max_stream_data_bidi_remote = cfg.stream_window;
    p.initial_max_stream_data_uni = 0;
    p.initial_max_data = cfg.connection_window;
    p.initial_max_streams_bidi = cfg.max_streams;
    p.initial_max_streams_uni = 0;
    p.max_idle_timeout = ns_of(cfg.idle_timeout);
    p.active_connection_id_limit = 4;
    p.max_datagram_frame_size = cfg.max_datagram_frame_size;
  }

  // The largest DATAGRAM payload that fits the peer's limit and one packet
  // of `mtu` bytes; 0 when datagrams are not negotiated.
  std::size_t datagram_room(std::size_t mtu) {
    if (closed || !done_handshake || cfg.max_datagram_frame_size == 0) return 0;
    const ngtcp2_transport_params* rp = ngtcp2_conn_get_remote_transport_params(conn);
    if (!rp || rp->max_datagram_frame_size == 0) return 0;
    // A DATAGRAM frame with a length: type (1 byte) and a varint length (2
    // bytes below 16384, 4 above).
    const std::uint64_t peer_limit = rp->max_datagram_frame_size;
    const std::uint64_t by_peer = peer_limit > 16384 + 5 ? peer_limit - 5
                                  : peer_limit > 3      ? peer_limit - 3
                                                        : 0;
    // A 1-RTT packet: first byte, the peer's connection ID, a packet
    // number of up to 4 bytes, the AEAD tag (16), then the frame's 3 bytes.
    const std::size_t overhead = 1 + ngtcp2_conn_get_dcid(conn)->datalen + 4 + 16 + 3;
    const std::size_t by_path = mtu > overhead ? mtu - overhead : 0;
    return static_cast<std::size_t>(std::min<std::uint64_t>(by_peer, by_path));
  }

  std::size_t path_mtu() {
    return std::min(ngtcp2_conn_get_path_max_tx_udp_payload_size(conn), max_udp_payload);
  }

  void after_create() {
    ngtcp2_conn_set_tls_native_handle(conn, session);
    restore_keep_alive();
  }

  void restore_keep_alive() {
    ngtcp2_conn_set_keep_alive_timeout(
        conn, cfg.keep_alive.count() > 0 ? ns_of(cfg.keep_alive) : ngtcp2_duration{0});
  }

  std::uint64_t bytes_in_flight() const {
    ngtcp2_conn_stat st;
    ngtcp2_conn_get_conn_stat(conn, &st);
    return st.bytes_in_flight;
  }

  stream_state* find(stream_id id) {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : &it->second;
  }

  // Writes one datagram's worth; returns its size, 0 when nothing more may
  // be sent now, or a negative ngtcp2 error.
  ngtcp2_ssize write_one(std::uint8_t* buf, std::size_t cap, ngtcp2_path_storage& ps,
                         ngtcp2_tstamp ts, std::vector<stream_id>& deferred) {
    ngtcp2_pkt_info pi{};
    // Datagrams go first: they are small, latency-bound and never wait for
    // a retransmission, so bulk stream data must not hold them back.
    // SECURITY: bounded by the queue's length plus one.
    bool packet_started = false;
    for (std::size_t guard = 0; !dgram_out.empty() && guard <= dgram_out.size() + 1; ++guard) {
      if (dgram_out.front().size() > datagram_room(path_mtu())) {
        // The path or the peer's limit no longer allows it (checked at
        // send_datagram() against the same bound): drop, do not stall.
        recycle_datagram(std::move(dgram_out.front()));
        dgram_out.pop_front();
        ++dgram_stats.send_dropped;
        continue;
      }
      ngtcp2_vec v{dgram_out.front().data(), dgram_out.front().size()};
      int accepted = 0;
      const auto n = ngtcp2_conn_writev_datagram(conn, &ps.path, &pi, buf, cap, &accepted,
                                                 NGTCP2_WRITE_DATAGRAM_FLAG_MORE, 0, &v, 1, ts);
      if (accepted) {
        // ngtcp2 copied it into the packet: the buffer is free.
        recycle_datagram(std::move(dgram_out.front()));
        dgram_out.pop_front();
        dgram_head_misses = 0;
        ++dgram_stats.sent;
      }
      if (n == NGTCP2_ERR_WRITE_MORE) {
        packet_started = true;
        continue;
      }
      if (n == NGTCP2_ERR_INVALID_STATE || n == NGTCP2_ERR_INVALID_ARGUMENT) {
        // Not negotiated or above the peer's limit: never sendable.
        if (!accepted && !dgram_out.empty()) {
          dgram_out.pop_front();
          ++dgram_stats.send_dropped;
        }
        continue;
      }
      if (n > 0 && !accepted && !packet_started && ++dgram_head_misses >= 16) {
        // SECURITY: bounded: a datagram that never fits is dropped.
        dgram_out.pop_front();
        ++dgram_stats.send_dropped;
        dgram_head_misses = 0;
      }
      // A complete packet (n > 0), nothing allowed now (0), or a fatal error.
      return n;
    }
    // SECURITY: bounded by the streams queued plus one closing call.
    for (std::size_t guard = 0; guard <= streams.size() + send_queue.size() + 2; ++guard) {
      stream_id id = -1;
      stream_state* st = nullptr;
      while (!send_queue.empty() && st == nullptr) {
        id = send_queue.front();
        send_queue.pop_front();
        st = find(id);
        if (st) st->queued = false;
        if (st && (st->blocked || st->write_stopped || st->closed || !st->has_unsent()))
          st = nullptr;
      }
      if (!st) id = -1;
      std::array<ngtcp2_vec, 8> vec{};
      std::size_t nvec = 0;
      std::uint64_t len = 0;
      std::uint32_t flags = 0;
      if (st) {
        std::uint64_t base = st->chunk_base;
        for (auto& c : st->chunks) {
          const std::uint64_t end = base + c.size();
          if (end > st->sent && nvec < vec.size()) {
            const std::uint64_t from = std::max(base, st->sent) - base;
            vec[nvec].base = c.data() + from;
            vec[nvec].len = c.size() - from;
            len += vec[nvec].len;
            ++nvec;
          }
          base = end;
        }
        flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
        if (st->fin_queued && st->sent + len == st->written) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
      }
      ngtcp2_ssize accepted = -1;
      auto n = ngtcp2_conn_writev_stream(conn, &ps.path, &pi, buf, cap, &accepted, flags, id,
                                         vec.data(), nvec, ts);
      if (st) {
        if (accepted >= 0) {
          st->sent += static_cast<std::uint64_t>(accepted);
          if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) && static_cast<std::uint64_t>(accepted) == len)
            st->fin_sent = true;
        }
        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
          st->blocked = true;
          continue;
        }
        if (n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) {
          st->write_stopped = true;
          continue;
        }
        // Connection flow control or a full packet took none of it: try
        // it again in the next datagram, not in this one.
        if (st->has_unsent()) {
          if (accepted <= 0) {
            deferred.push_back(id);
            st->queued = true;
          } else {
            enqueue(id, *st);
          }
        }
      }
      if (n == NGTCP2_ERR_WRITE_MORE) continue;
      return n;
    }
    // The bound ran out, maybe with a packet still open (WRITE_MORE): close
    // it with no stream, so ngtcp2 is never left with a pending packet
    // (ngtcp2_conn_handle_expiry asserts on one).
    ngtcp2_ssize accepted = -1;
    return ngtcp2_conn_writev_stream(conn, &ps.path, &pi, buf, cap, &accepted,
                                     NGTCP2_WRITE_STREAM_FLAG_NONE, -1, nullptr, 0, ts);
  }
};

connection::connection(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
connection::~connection() = default;

result<std::unique_ptr<connection>> connection::dial(const config& cfg, const tls_context_ptr& tls,
                                                     std::optional<peer_id> expected, gate g,
                                                     const address& local, const address& remote,
                                                     time_point now) {
  auto p = std::make_unique<impl>();
  p->cfg = cfg;
  p->gate_fn = std::move(g);
  p->expected = std::move(expected);
  p->local = local;
  p->remote = remote;
  p->last_now = now;
  random_fill(p->reset_secret.data(), p->reset_secret.size());
  if (auto r = p->setup_tls(tls); !r) return r.error();
  const ngtcp2_cid dcid = random_cid(cid_length);
  const ngtcp2_cid scid = random_cid(cid_length);
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  p->settings_and_params(settings, params, now);
  const auto cb = impl::callbacks(false);
  auto path = p->path_to(remote);
  if (ngtcp2_conn_client_new(&p->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &settings,
                             &params, nullptr, p.get()) != 0)
    return make_error_code(errc::quic_internal);
  p->after_create();
  p->add_cid(cid_bytes(scid));
  return std::unique_ptr<connection>(new connection(std::move(p)));
}

retry_secret retry_secret::random() {
  retry_secret s;
  random_fill(s.key.data(), s.key.size());
  return s;
}

bool connection::has_token(byte_span initial) {
  if (initial.empty()) return false;
  ngtcp2_pkt_hd hd;
  return ngtcp2_accept(&hd, initial.data(), initial.size()) == 0 && hd.token.len > 0;
}

std::optional<datagram> connection::make_retry(byte_span initial, const address& remote,
                                               const retry_secret& secret, time_point now) {
  if (initial.empty()) return std::nullopt;
  ngtcp2_pkt_hd hd;
  if (ngtcp2_accept(&hd, initial.data(), initial.size()) != 0 || hd.version != NGTCP2_PROTO_VER_V1)
    return std::nullopt;
  // 1. a fresh ID the client must address next
  // 2. a token sealing the client's address, its first DCID and the time
  // 3. the Retry packet (with its integrity tag) carrying both
  const ngtcp2_cid scid = random_cid(cid_length);
  std::array<std::uint8_t, NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN> token{};
  const auto tokenlen = ngtcp2_crypto_generate_retry_token(
      token.data(), secret.key.data(), secret.key.size(), hd.version, remote.sa(), remote.len,
      &scid, &hd.dcid, ts_of(now));
  if (tokenlen < 0) return std::nullopt;
  bytes buf(max_udp_payload);
  const auto n =
      ngtcp2_crypto_write_retry(buf.data(), buf.size(), hd.version, &hd.scid, &scid, &hd.dcid,
                                token.data(), static_cast<std::size_t>(tokenlen));
  if (n < 0) return std::nullopt;
  buf.resize(static_cast<std::size_t>(n));
  return datagram{std::move(buf), remote};
}

bool connection::accepts_initial(byte_span datagram) {
  // SECURITY: ngtcp2 asserts on empty input.
  if (datagram.empty()) return false;
  ngtcp2_pkt_hd hd;
  return ngtcp2_accept(&hd, datagram.data(), datagram.size()) == 0 &&
         hd.version == NGTCP2_PROTO_VER_V1;
}

std::optional<bytes> connection::destination_cid(byte_span datagram, std::size_t short_cid_len) {
  auto v = destination_cid_view(datagram, short_cid_len);
  if (!v) return std::nullopt;
  return bytes(v->begin(), v->end());
}

std::optional<byte_span> connection::destination_cid_view(byte_span datagram,
                                                          std::size_t short_cid_len) {
  // SECURITY: ngtcp2 asserts on empty input.
  if (datagram.empty()) return std::nullopt;
  ngtcp2_version_cid vc;
  const int rv =
      ngtcp2_pkt_decode_version_cid(&vc, datagram.data(), datagram.size(), short_cid_len);
  // A version other than v1 (ngtcp2 then allows IDs of up to 255 bytes) is
  // dropped: we send no Version Negotiation, and v1 is all libp2p uses.
  if (rv != 0) return std::nullopt;
  // SECURITY: a Version Negotiation packet (version 0) may carry IDs of up
  // to 255 bytes; no ID of ours or of a v1 peer is longer than 20.
  if (vc.dcidlen > NGTCP2_MAX_CIDLEN) return std::nullopt;
  return byte_span(vc.dcid, vc.dcidlen);
}

result<std::unique_ptr<connection>> connection::accept(const config& cfg,
                                                       const tls_context_ptr& tls, gate g,
                                                       const address& local, const address& remote,
                                                       byte_span first, time_point now,
                                                       const retry_secret* secret) {
  ngtcp2_pkt_hd hd;
  if (first.empty() || ngtcp2_accept(&hd, first.data(), first.size()) != 0 ||
      hd.version != NGTCP2_PROTO_VER_V1)
    return make_error_code(errc::quic_protocol);
  auto p = std::make_unique<impl>();
  p->cfg = cfg;
  p->gate_fn = std::move(g);
  p->is_server = true;
  p->local = local;
  p->remote = remote;
  p->last_now = now;
  random_fill(p->reset_secret.data(), p->reset_secret.size());
  if (auto r = p->setup_tls(tls); !r) return r.error();
  const ngtcp2_cid scid = random_cid(cid_length);
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  p->settings_and_params(settings, params, now);
  params.original_dcid = hd.dcid;
  // SECURITY: a Retry token proves the client receives at `remote`; a
  // forged, expired or replayed-from-elsewhere one is refused. Other tokens
  // (NEW_TOKEN, which we never send) count as none.
  if (secret && hd.token.len > 0 && hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
    ngtcp2_cid odcid;
    if (ngtcp2_crypto_verify_retry_token(&odcid, hd.token.base, hd.token.len, secret->key.data(),
                                         secret->key.size(), hd.version, remote.sa(), remote.len,
                                         &hd.dcid, ns_of(retry_token_lifetime), ts_of(now)) != 0)
      return make_error_code(errc::quic_protocol);
    params.original_dcid = odcid;
    params.retry_scid = hd.dcid;
    params.retry_scid_present = 1;
    // Kept in the connection: ngtcp2 may refer to it after this call.
    p->token.assign(hd.token.base, hd.token.base + hd.token.len);
    settings.token.base = p->token.data();
    settings.token.len = p->token.size();
  }
  const auto cb = impl::callbacks(true);
  auto path = p->path_to(remote);
  if (ngtcp2_conn_server_new(&p->conn, &hd.scid, &scid, &path, hd.version, &cb, &settings, &params,
                             nullptr, p.get()) != 0)
    return make_error_code(errc::quic_internal);
  p->after_create();
  // Until the client learns our ID, it addresses us by the one it chose.
  p->add_cid(cid_bytes(hd.dcid));
  p->add_cid(cid_bytes(scid));
  auto c = std::unique_ptr<connection>(new connection(std::move(p)));
  c->on_datagram(first, local, remote, now);
  if (c->is_closed()) return c->close_reason();
  return c;
}

void connection::on_datagram(byte_span data, const address& local, const address& from,
                             time_point now) {
  auto& p = *impl_;
  if (p.closed) return;
  // SECURITY: an empty datagram is no QUIC packet (ngtcp2 would treat it
  // as a fatal error of the connection).
  if (data.empty()) {
    ++p.dropped;
    return;
  }
  p.last_now = now;
  p.local = local;
  auto path = p.path_to(from);
  ngtcp2_pkt_info pi{};
  const int rv = ngtcp2_conn_read_pkt(p.conn, &path, &pi, data.data(), data.size(), ts_of(now));
  if (rv == 0) return;
  // SECURITY: ngtcp2 itself drops what it cannot use (garbage, a bad tag,
  // a stale key) and returns 0; a packet it discards explicitly is counted.
  // Any other error is the peer's protocol violation, a refused
  // certificate or the peer's close, and ends the connection.
  if (rv == NGTCP2_ERR_DISCARD_PKT) {
    ++p.dropped;
    return;
  }
  p.fail(rv);
}

void connection::on_expiry(time_point now) {
  auto& p = *impl_;
  if (p.closed) return;
  p.last_now = now;
  const int rv = ngtcp2_conn_handle_expiry(p.conn, ts_of(now));
  if (rv != 0) p.fail(rv);
}

time_point connection::expiry() const {
  if (impl_->closed) return time_point::max();
  const ngtcp2_tstamp t = ngtcp2_conn_get_expiry(impl_->conn);
  if (t == UINT64_MAX) return time_point::max();
  return time_point(std::chrono::duration_cast<time_point::duration>(
      std::chrono::nanoseconds(static_cast<std::int64_t>(t))));
}

void connection::write_datagrams(std::vector<datagram>& out, time_point now,
                                 std::size_t max_datagrams) {
  packet_batch batch;
  write_packets(batch, now, max_datagrams);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto d = batch.bytes_of(batch[i]);
    out.push_back({bytes(d.begin(), d.end()), batch.to(batch[i])});
  }
}

std::size_t connection::write_packets(packet_batch& out, time_point now,
                                      std::size_t max_datagrams) {
  auto& p = *impl_;
  for (auto& d : p.pending) out.append(d.data, d.to);
  p.pending.clear();
  if (p.closed) return 0;
  p.last_now = now;
  const auto ts = ts_of(now);
  const std::size_t mtu = p.path_mtu();
  // ngtcp2 gets room for the largest packet we ever send and sizes packets
  // to the path itself: its path MTU probes (PMTUD, 1406 and 1444 bytes)
  // are larger than the 1200 bytes a path starts with, and a buffer of
  // only the path's current size would never let one out, leaving every
  // packet at 1200 bytes for good.
  const std::size_t cap = max_udp_payload;
  // Pacing: after each send quantum ngtcp2 is told what left
  // (update_pkt_tx_time) and sets when the next may go; write_one then
  // yields nothing but ACKs until then. ngtcp2 lets a packet go up to 1 ms
  // early (its allowance for event loop latency), so at high rates several
  // quanta leave in one call instead of one timer wake-up each.
  const std::size_t quantum = std::clamp<std::size_t>(
      ngtcp2_conn_get_send_quantum(p.conn) / mtu, 1, std::max<std::size_t>(max_datagrams, 1));
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  std::vector<stream_id>& deferred = p.deferred;
  deferred.clear();
  std::size_t written = 0;
  std::size_t in_quantum = 0;
  address to = p.remote;
  const auto requeue = [&] {
    for (auto id : deferred) {
      if (auto* st = p.find(id)) {
        st->queued = false;
        p.enqueue(id, *st);
      }
    }
    deferred.clear();
  };
  while (written < max_datagrams) {
    std::uint8_t* buf = out.room(cap);
    // Only ack-eliciting packets count in flight (ACK-only ones do not):
    // one that left answers a pending ping().
    const std::uint64_t in_flight = p.ping_wanted ? p.bytes_in_flight() : 0;
    const auto n = p.write_one(buf, cap, ps, ts, deferred);
    if (n < 0) {
      p.fail(static_cast<int>(n));
      break;
    }
    if (n == 0) break;
    if (p.ping_wanted && p.bytes_in_flight() > in_flight) {
      p.ping_wanted = false;
      p.restore_keep_alive();
    }
    if (ps.path.remote.addrlen != to.len ||
        std::memcmp(ps.path.remote.addr, &to.storage, to.len) != 0)
      to = address::from(ps.path.remote.addr, ps.path.remote.addrlen);
    out.commit(static_cast<std::size_t>(n), to);
    ++written;
    requeue();
    if (++in_quantum == quantum) {
      ngtcp2_conn_update_pkt_tx_time(p.conn, ts);
      in_quantum = 0;
    }
  }
  requeue();
  if (in_quantum > 0 && !p.closed) ngtcp2_conn_update_pkt_tx_time(p.conn, ts);
  for (auto& d : p.pending) out.append(d.data, d.to);
  p.pending.clear();
  return written;
}

void connection::ping() {
  auto& p = *impl_;
  if (p.closed || !p.done_handshake) return;
  // ngtcp2 0.12 has no call that queues a PING. Its keep-alive writes one
  // into a packet that would otherwise carry nothing ack-eliciting, once
  // the keep-alive timeout has passed since the last packet sent or
  // received. A 1 ns timeout makes that true at the next write; the
  // configured one is restored as soon as an ack-eliciting packet left
  // (write_packets). A write that only had ACKs to send moves the
  // keep-alive's base to now, so expiry() becomes now + 1 ns and the
  // caller's timer writes the PING a moment later.
  p.ping_wanted = true;
  ngtcp2_conn_set_keep_alive_timeout(p.conn, 1);
}

void connection::set_keep_alive(std::chrono::nanoseconds d) {
  auto& p = *impl_;
  p.cfg.keep_alive = std::max(d, std::chrono::nanoseconds::zero());
  if (!p.closed && !p.ping_wanted) p.restore_keep_alive();  // else once the PING left
}

std::vector<event> connection::take_events() { return std::exchange(impl_->events, {}); }

void connection::take_events(std::vector<event>& out) {
  out.clear();
  out.swap(impl_->events);
}

result<stream_id> connection::open_stream() {
  auto& p = *impl_;
  if (p.closed) return make_error_code(errc::connection_closed);
  if (!p.done_handshake) return make_error_code(errc::connection_closed);
  stream_id id = -1;
  const int rv = ngtcp2_conn_open_bidi_stream(p.conn, &id, nullptr);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED) return make_error_code(errc::quic_too_many_streams);
  if (rv != 0) return make_error_code(errc::quic_internal);
  p.streams.try_emplace(id);
  return id;
}

result<std::size_t> connection::write(stream_id id, byte_span data) {
  auto& p = *impl_;
  if (p.closed) return make_error_code(errc::connection_closed);
  auto* st = p.find(id);
  if (!st || st->released) return make_error_code(errc::stream_closed);
  if (st->write_stopped) return make_error_code(errc::stream_reset);
  if (st->fin_queued || st->closed) return make_error_code(errc::stream_closed);
  const std::uint64_t held = st->written - st->acked;
  const std::size_t room = held >= p.cfg.send_buffer ? 0 : p.cfg.send_buffer - held;
  const std::size_t n = std::min(room, data.size());
  if (n == 0) {
    st->want_writable = !data.empty();
    return std::size_t{0};
  }
  std::size_t done = 0;
  while (done < n) {
    if (st->chunks.empty() || st->chunks.back().size() == st->chunks.back().capacity()) {
      st->chunks.push_back(p.take_chunk());
    }
    auto& c = st->chunks.back();
    const std::size_t take = std::min(n - done, c.capacity() - c.size());
    c.insert(c.end(), data.begin() + done, data.begin() + done + take);  // within capacity
    done += take;
  }
  st->written += n;
  p.enqueue(id, *st);
  return n;
}

result<void> connection::shutdown_write(stream_id id) {
  auto& p = *impl_;
  if (p.closed) return make_error_code(errc::connection_closed);
  auto* st = p.find(id);
  if (!st || st->released) return make_error_code(errc::stream_closed);
  if (st->write_stopped) return make_error_code(errc::stream_reset);
  if (st->fin_queued || st->closed) return {};
  st->fin_queued = true;
  p.enqueue(id, *st);
  return {};
}

read_result connection::read(stream_id id, mutable_byte_span buf) {
  auto& p = *impl_;
  auto* st = p.find(id);
  if (!st) return {.n = 0, .fin = false, .reset = true};
  if (st->reset_received) return {.n = 0, .fin = false, .reset = true};
  const std::size_t n = st->rbuf.pop(buf.data(), buf.size());
  if (n > 0 && !p.closed && !st->closed) {
    // Credit what the application consumed: the windows move on only as
    // fast as it reads.
    ngtcp2_conn_extend_max_stream_offset(p.conn, id, n);
    ngtcp2_conn_extend_max_offset(p.conn, n);
  }
  const bool at_end = st->rbuf.empty();
  if (n == 0 && at_end && !st->fin_received && st->closed)
    return {.n = 0, .fin = false, .reset = true};  // closed without FIN: it was reset
  return {.n = n, .fin = at_end && st->fin_received, .reset = false};
}

void connection::reset(stream_id id, std::uint64_t code) {
  auto& p = *impl_;
  auto* st = p.find(id);
  if (!st) return;
  st->write_stopped = true;
  st->reset_received = true;
  if (!p.closed && !st->closed) ngtcp2_conn_shutdown_stream(p.conn, id, code);
}

void connection::release(stream_id id) {
  auto& p = *impl_;
  auto it = p.streams.find(id);
  if (it == p.streams.end()) return;
  auto& st = it->second;
  st.released = true;
  if (st.closed || p.closed) {
    p.streams.erase(it);
    return;
  }
  // Our side finished cleanly: let the FIN and data in flight complete.
  // No STOP_SENDING for the peer's direction: js-libp2p over quinn aborts
  // the whole stream when its own FIN or a write meets one, and drops our
  // answer unread (its identify at connection open timed out that way in
  // about 1 of 5 runs). What the peer still sends is discarded and credited
  // (recv_stream_data_cb), so it holds no memory; a peer that never sends
  // its FIN keeps one of its own MAX_STREAMS slots until the connection ends.
  // Otherwise abort both directions.
  if (st.fin_queued && !st.write_stopped) {
    const std::size_t unread = st.rbuf.size();
    st.rbuf.reset();
    if (unread > 0) {
      ngtcp2_conn_extend_max_stream_offset(p.conn, id, unread);
      ngtcp2_conn_extend_max_offset(p.conn, unread);
    }
  } else {
    ngtcp2_conn_shutdown_stream(p.conn, id, 0);
  }
}

void connection::close() {
  auto& p = *impl_;
  if (p.closed) return;
  ngtcp2_connection_close_error ccerr;
  ngtcp2_connection_close_error_default(&ccerr);
  ngtcp2_connection_close_error_set_application_error(&ccerr, 0, nullptr, 0);
  p.send_close(ccerr, make_error_code(errc::connection_closed));
}

std::size_t connection::max_datagram_size() const {
  auto& p = *impl_;
  if (p.closed || !p.done_handshake) return 0;
  return p.datagram_room(p.path_mtu());
}

result<void> connection::send_datagram(byte_span data) {
  auto& p = *impl_;
  if (p.closed) return make_error_code(errc::connection_closed);
  const std::size_t room = max_datagram_size();
  if (room == 0) return make_error_code(errc::quic_datagrams_unsupported);
  if (data.size() > room) return make_error_code(errc::quic_datagram_too_large);
  // SECURITY: at most datagram_queue datagrams wait to be sent.
  if (p.dgram_out.size() >= std::max<std::size_t>(p.cfg.datagram_queue, 1)) {
    ++p.dgram_stats.send_dropped;
    if (p.cfg.datagram_policy == datagram_drop::newest) return {};
    p.recycle_datagram(std::move(p.dgram_out.front()));
    p.dgram_out.pop_front();
    p.dgram_head_misses = 0;
  }
  p.dgram_out.push_back(p.datagram_buffer(data.data(), data.size()));
  return {};
}

std::size_t connection::datagram_send_room() const {
  const auto& p = *impl_;
  const std::size_t cap = std::max<std::size_t>(p.cfg.datagram_queue, 1);
  return p.dgram_out.size() >= cap ? 0 : cap - p.dgram_out.size();
}

std::optional<bytes> connection::take_datagram() {
  auto& p = *impl_;
  if (p.dgram_in.empty()) return std::nullopt;
  bytes d = std::move(p.dgram_in.front());
  p.dgram_in.pop_front();
  return d;
}

bool connection::take_datagram(bytes& into) {
  auto& p = *impl_;
  if (p.dgram_in.empty()) return false;
  // The caller's old buffer takes the datagram's place and is kept.
  std::swap(into, p.dgram_in.front());
  p.recycle_datagram(std::move(p.dgram_in.front()));
  p.dgram_in.pop_front();
  return true;
}

datagram_stats connection::datagram_counters() const { return impl_->dgram_stats; }

bool connection::is_closed() const { return impl_->closed; }
error_code connection::close_reason() const { return impl_->reason; }
bool connection::handshake_done() const { return impl_->done_handshake; }
const std::optional<peer_id>& connection::remote_peer() const { return impl_->peer; }
const address& connection::remote_address() const { return impl_->remote; }
std::size_t connection::stream_count() const { return impl_->streams.size(); }
std::vector<bytes> connection::local_cids() const { return impl_->cids; }
std::uint64_t connection::dropped_datagrams() const { return impl_->dropped; }

std::optional<std::chrono::nanoseconds> connection::smoothed_rtt() const {
  if (!impl_->done_handshake) return std::nullopt;
  ngtcp2_conn_stat stat;
  ngtcp2_conn_get_conn_stat(impl_->conn, &stat);
  return std::chrono::nanoseconds(stat.smoothed_rtt);
}

}  // namespace peerup::quic
