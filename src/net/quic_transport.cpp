#include "net/quic_transport.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "multiformats/multiaddr_protocols.hpp"

namespace peerup::net {

namespace {

namespace mcode = multiaddr_protocols::code;

// Datagrams taken per recvmmsg/sendmmsg call.
constexpr std::size_t batch = 32;
// SECURITY: a receive slot; longer datagrams are truncated by the kernel
// and dropped (we advertise a smaller max_udp_payload_size anyway).
constexpr std::size_t slot_size = 2048;
// With GRO a receive holds a run of datagrams: fewer, larger slots.
constexpr std::size_t gro_batch = 8;
constexpr std::size_t gro_slot_size = 65535;
// SECURITY: a coalesced receive is split into at most this many datagrams
// (the kernel's own UDP_MAX_SEGMENTS); GSO sends no more per sendmsg.
constexpr std::size_t max_segments = 64;
constexpr std::size_t max_gso_bytes = 65000;
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

// Fits one connection into the host's memory budget before it exists:
// reserves on `res` what the peer may make us hold, and lowers the config's
// maxima to what was granted.
// 1. the receive window: the connection window's maximum (ngtcp2 grows the
//    window with the RTT up to it), halved until it fits a share of the
//    budget left, down to the initial window, which is forced (a connection
//    needs one to work); streams' windows never exceed it
// 2. RFC 9221 datagrams: both queues at their full frame size, halved until
//    they fit the share, down to min_datagram_queue; below that none are
//    offered (peers without datagrams are unaffected)
// The share (1/16 of the headroom) leaves room for later connections,
// streams and Yamux windows: reserving the full maximum for every
// connection would let eight busy QUIC peers refuse everything else.
// What is reserved is a bound, not an allocation: ngtcp2 holds at most the
// window of unread data.
constexpr std::size_t min_datagram_queue = 16;
constexpr std::size_t budget_share = 16;

quic::config fit_to_budget(quic::config cfg, connection_resources* res) {
  if (!res) return cfg;
  const std::size_t min_window =
      std::min<std::size_t>(cfg.connection_window, cfg.max_connection_window);
  const std::size_t share = res->memory_headroom() / budget_share;
  std::size_t window = cfg.max_connection_window;
  while (window > min_window && (window > share || !res->reserve_memory(window))) window /= 2;
  if (window <= min_window) {
    window = min_window;
    res->force_memory(window);
  }
  cfg.max_connection_window = window;
  cfg.connection_window = std::min<std::uint64_t>(cfg.connection_window, window);
  cfg.max_stream_window = std::min<std::uint64_t>(cfg.max_stream_window, window);
  cfg.stream_window = std::min<std::uint64_t>(cfg.stream_window, window);
  if (cfg.max_datagram_frame_size > 0) {
    const auto per_entry = 2 * static_cast<std::size_t>(cfg.max_datagram_frame_size);
    std::size_t queue = cfg.datagram_queue;
    while (queue >= min_datagram_queue &&
           (queue * per_entry > share || !res->reserve_memory(queue * per_entry)))
      queue /= 2;
    if (queue >= min_datagram_queue) {
      cfg.datagram_queue = queue;
    } else {
      cfg.datagram_queue = 0;
      cfg.max_datagram_frame_size = 0;
    }
  }
  return cfg;
}

// Room for one control message carrying a T, aligned as the kernel wants.
template <class T>
struct cmsg_buffer {
  alignas(cmsghdr) std::uint8_t bytes[CMSG_SPACE(sizeof(T))] = {};
};

bool offload_wanted(const char* env) {
  const char* v = std::getenv(env);
  return !(v && std::string_view(v) == "off");
}

// The most datagrams one connection writes per flush (pacing allows less).
constexpr std::size_t max_flush = 64;
// Liveness (as for Yamux): a connection that heard nothing for this long is
// probed when a stream opens on it, and fails if the probe gets no answer in
// 4 RTT (3 to 15 s). QUIC's own idle timeout (30 s) is too slow for a path
// that died under a NAT: new streams would wait on it.
constexpr auto probe_after_quiet = std::chrono::seconds(1);
constexpr auto min_probe_timeout = std::chrono::seconds(3);
constexpr auto max_probe_timeout = std::chrono::seconds(15);
// A connection that received something after use and then nothing for this
// long is probed once even if we send nothing (checked every
// quiet_check_interval), as yamux_connection does: the probe heals a NAT
// mapping flushed on our side (the peer's packets are dropped there until
// we send) and fails a dead path within quiet_probe_after + the probe
// timeout instead of at the idle timeout. The probe is a PING, no stream,
// so the peer does not count it as use and two idle peers do not keep
// probing each other.
// 1 s and 0.5 s, as for Yamux: the peer's loss recovery (QUIC's probe
// timeout, like TCP's retransmission timer) backs off exponentially, so a
// mapping healed sooner is used by an earlier retransmission.
constexpr auto quiet_probe_after = std::chrono::seconds(1);
constexpr auto quiet_check_interval = std::chrono::milliseconds(500);

quic::address to_address(const udp::endpoint& ep) {
  return quic::address::from(ep.data(), static_cast<socklen_t>(ep.size()));
}

udp::endpoint to_endpoint(const quic::address& a) {
  udp::endpoint ep;
  std::memcpy(ep.data(), a.sa(), std::min<std::size_t>(a.len, ep.capacity()));
  ep.resize(a.len);
  return ep;
}

std::string key_of(const bytes& cid) { return std::string(cid.begin(), cid.end()); }

}  // namespace

bool is_quic_addr(const multiaddr& addr) { return to_udp_endpoint(addr).has_value(); }

result<udp::endpoint> to_udp_endpoint(const multiaddr& addr) {
  const multiaddr bare = addr.without_peer();
  const auto& c = bare.components();
  if (c.size() != 3 || c[1].code != mcode::udp || c[2].code != mcode::quic_v1)
    return errc::invalid_multiaddr;
  if (c[1].value.size() != 2) return errc::invalid_multiaddr;
  const auto port = static_cast<std::uint16_t>((c[1].value[0] << 8) | c[1].value[1]);
  if (c[0].code == mcode::ip4 && c[0].value.size() == 4) {
    asio::ip::address_v4::bytes_type b;
    std::copy(c[0].value.begin(), c[0].value.end(), b.begin());
    return udp::endpoint(asio::ip::address_v4(b), port);
  }
  if (c[0].code == mcode::ip6 && c[0].value.size() == 16) {
    asio::ip::address_v6::bytes_type b;
    std::copy(c[0].value.begin(), c[0].value.end(), b.begin());
    return udp::endpoint(asio::ip::address_v6(b), port);
  }
  return errc::invalid_multiaddr;
}

multiaddr to_quic_multiaddr(const udp::endpoint& ep) {
  auto ip = ep.address();
  if (ip.is_v6() && ip.to_v6().is_v4_mapped())
    ip = asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  const std::string text = std::string(ip.is_v4() ? "/ip4/" : "/ip6/") + ip.to_string() + "/udp/" +
                           std::to_string(ep.port()) + "/quic-v1";
  return multiaddr::parse(text).value();
}

// --- streams ----------------------------------------------------------------

struct quic_connection::stream_state {
  explicit stream_state(asio::any_io_executor ex, bool inbound)
      : readable(ex), writable(ex), inbound(inbound) {}
  signal readable;
  signal writable;
  bool inbound;
};

// A QUIC stream handle. Dropping it after close_write lets the FIN and the
// data in flight complete; dropping it earlier resets the stream.
class quic_stream final : public byte_stream {
 public:
  quic_stream(std::shared_ptr<quic_connection> conn, std::int64_t id,
              std::shared_ptr<quic_connection::stream_state> st)
      : conn_(std::move(conn)), id_(id), st_(std::move(st)) {}
  ~quic_stream() override { conn_->release(id_); }

  awaitable<result<std::size_t>> read_some(mutable_byte_span buf) override {
    for (;;) {
      if (buf.empty()) co_return std::size_t{0};
      auto r = conn_->core_->read(id_, buf);
      if (r.n > 0) {
        conn_->last_activity_ = steady_clock::now();
        conn_->flush_soon();  // window updates
        co_return r.n;
      }
      if (r.reset) co_return make_error_code(errc::stream_reset);
      if (r.fin) co_return std::size_t{0};
      if (conn_->closed_) co_return conn_->stream_error();
      co_await st_->readable.wait();
    }
  }

  awaitable<result<void>> write(byte_span data) override {
    std::size_t off = 0;
    while (off < data.size()) {
      if (conn_->closed_) co_return conn_->stream_error();
      auto n = conn_->core_->write(id_, data.subspan(off));
      if (!n) co_return n.error();
      off += *n;
      conn_->last_activity_ = steady_clock::now();
      conn_->flush_soon();
      if (*n == 0) co_await st_->writable.wait();
    }
    co_return result<void>{};
  }

  awaitable<result<void>> close_write() override {
    if (conn_->closed_) co_return make_error_code(errc::connection_closed);
    auto r = conn_->core_->shutdown_write(id_);
    conn_->flush_soon();
    co_return r;
  }

  void reset() override {
    conn_->core_->reset(id_, 0);
    st_->readable.notify();
    st_->writable.notify();
    conn_->flush_soon();
  }

  asio::any_io_executor get_executor() override { return conn_->get_executor(); }

 private:
  std::shared_ptr<quic_connection> conn_;
  std::int64_t id_;
  std::shared_ptr<quic_connection::stream_state> st_;
};

// --- connection ---------------------------------------------------------------

quic_connection::quic_connection(std::shared_ptr<quic_endpoint> ep,
                                 std::unique_ptr<quic::connection> core,
                                 connection_resources_ptr res)
    : ep_(std::move(ep)),
      core_(std::move(core)),
      res_(std::move(res)),
      state_changed_(ep_->get_executor()),
      datagram_arrived_(ep_->get_executor()),
      datagram_room_(ep_->get_executor()),
      timer_(ep_->get_executor()),
      quiet_timer_(ep_->get_executor()),
      probe_timer_(ep_->get_executor()) {}

quic_connection::~quic_connection() {
  for (const auto& cid : core_->local_cids()) ep_->remove_route(cid);
}

asio::any_io_executor quic_connection::get_executor() { return ep_->get_executor(); }

multiaddr quic_connection::remote_multiaddr() const {
  return to_quic_multiaddr(to_endpoint(core_->remote_address()));
}

multiaddr quic_connection::local_multiaddr() const { return to_quic_multiaddr(ep_->local_); }

std::optional<std::chrono::milliseconds> quic_connection::rtt() const {
  auto r = core_->smoothed_rtt();
  if (!r) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*r);
}

void quic_connection::start(inbound_handler on_inbound) {
  on_inbound_ = std::move(on_inbound);
  started_ = true;
  auto pending = std::move(pending_inbound_);
  for (auto& s : pending) on_inbound_(std::move(s));
  if (!closed_) asio::co_spawn(get_executor(), quiet_loop(shared_from_this()), asio::detached);
}

awaitable<void> quic_connection::quiet_loop(std::shared_ptr<quic_connection> self) {
  // last_activity_ (streams, datagrams; not PINGs or ACKs) when the last
  // quiet probe went out: one probe per spell of use, so an idle connection
  // costs one PING, not one every quiet_probe_after.
  auto quiet_probed = steady_clock::time_point{};
  while (!closed_) {
    quiet_timer_.expires_after(quiet_check_interval);
    co_await quiet_timer_.async_wait(use_nothrow);
    if (closed_) break;
    const auto now = steady_clock::now();
    if (now - last_received_ >= quiet_probe_after && last_activity_ != quiet_probed) {
      quiet_probed = last_activity_;
      check_alive();
    }
  }
}

result<stream_ptr> quic_connection::open_stream() {
  if (closed_) return make_error_code(errc::connection_closed);
  auto id = core_->open_stream();
  if (!id) return id.error();
  auto st = std::make_shared<stream_state>(get_executor(), false);
  streams_[*id] = st;
  last_activity_ = steady_clock::now();
  if (last_activity_ - last_received_ >= probe_after_quiet) check_alive();
  return stream_ptr(std::make_unique<quic_stream>(shared_from_this(), *id, st));
}

datagram_channel* quic_connection::datagrams() {
  if (closed_ || core_->max_datagram_size() == 0) return nullptr;
  return this;
}

result<void> quic_connection::send(byte_span data) {
  if (closed_) return make_error_code(errc::connection_closed);
  auto r = core_->send_datagram(data);
  if (!r) return r;
  last_activity_ = steady_clock::now();
  flush_soon();
  return r;
}

awaitable<void> quic_connection::wait_send_room() {
  auto self = shared_from_this();
  if (closed_ || core_->datagram_send_room() > 0) co_return;
  co_await datagram_room_.wait();
}

awaitable<result<bytes>> quic_connection::receive() {
  auto self = shared_from_this();
  for (;;) {
    if (auto d = core_->take_datagram()) co_return std::move(*d);
    if (closed_) co_return make_error_code(errc::connection_closed);
    co_await datagram_arrived_.wait();
  }
}

datagram_stats quic_connection::stats() const {
  const auto c = core_->datagram_counters();
  return {.sent = c.sent,
          .received = c.received,
          .send_dropped = c.send_dropped,
          .receive_dropped = c.receive_dropped};
}

void quic_connection::release(std::int64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if (it->second->inbound && res_) res_->close_inbound_stream();
  streams_.erase(it);
  core_->release(id);
  last_activity_ = steady_clock::now();
  flush_soon();
}

void quic_connection::close() {
  if (closed_) return;
  core_->close();
  process();
}

void quic_connection::abort(error_code why) {
  if (closed_) return;
  // Silent, as a broken path ends: the peer times out.
  on_closed(why);
}

awaitable<void> quic_connection::wait_closed() {
  while (!closed_) co_await state_changed_.wait();
}

void quic_connection::check_alive() {
  if (closed_ || !core_->handshake_done()) return;
  // A probe under way covers this call only until its answer (see
  // yamux_connection::check_alive: an answered probe whose timer ran on
  // kept a path that died since unprobed).
  if (probing_ && last_received_ <= probe_sent_) return;
  // 1. a PING (quic::connection::ping): the peer must acknowledge it, and
  //    it is no stream, so the peer does not see it as use
  // 2. any datagram from the peer within the timeout proves the path
  // 3. otherwise the connection fails with errc::timeout, as a broken path
  core_->ping();
  probe_sent_ = steady_clock::now();
  flush_soon();
  const auto r = rtt();
  const auto limit = std::clamp<steady_clock::duration>(
      r ? steady_clock::duration(*r * 4) : steady_clock::duration(min_probe_timeout),
      min_probe_timeout, max_probe_timeout);
  probe_timer_.expires_at(probe_sent_ + limit);  // wakes a waiting probe to re-check
  if (probing_) return;
  probing_ = true;
  asio::co_spawn(
      get_executor(),
      [self = shared_from_this()]() -> awaitable<void> {
        while (!self->closed_) {
          co_await self->probe_timer_.async_wait(use_nothrow);
          if (self->closed_ || self->last_received_ > self->probe_sent_) break;
          if (steady_clock::now() >= self->probe_timer_.expiry()) {
            self->abort(make_error_code(errc::timeout));
            break;
          }
        }
        self->probing_ = false;
      },
      asio::detached);
}

void quic_connection::set_keepalive_interval(steady_clock::duration d) {
  if (d <= steady_clock::duration::zero() || closed_) return;
  core_->set_keep_alive(d);
  flush_soon();  // re-arms the timer for the new keep-alive deadline
}

awaitable<result<void>> quic_connection::handshake() {
  auto self = shared_from_this();
  while (!core_->handshake_done() && !closed_) co_await state_changed_.wait();
  if (closed_) co_return close_reason_;
  co_return result<void>{};
}

void quic_connection::on_datagram(byte_span data, const udp::endpoint& from) {
  if (closed_) return;
  last_received_ = steady_clock::now();
  core_->on_datagram(data, ep_->local_addr_, to_address(from), last_received_);
  // Events are dispatched and the answer (ACKs, more data) written once per
  // receive burst, in the posted process(): a reader wakes once for many
  // packets, and one flush acknowledges them all.
  flush_soon();
}

void quic_connection::flush_soon() {
  if (flush_posted_ || closed_) return;
  flush_posted_ = true;
  asio::post(get_executor(), [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->process();
  });
}

void quic_connection::process() {
  dispatch();
  bool more = ep_->flush(*core_, max_flush);
  // A flush that found nothing more to send (the window is full, the
  // buffers are empty) leaves ngtcp2's pacing deadline of what it sent
  // within ngtcp2's 1 ms slack: a timer for it would only wake to clear it.
  // Clear it now (on_expiry acts on due deadlines only) and flush once more
  // in case a due loss timer queued a probe; the timer is then armed for
  // the next real deadline, not for a wake-up that does nothing.
  if (!more && !closed_ &&
      core_->expiry() <= steady_clock::now() + std::chrono::milliseconds(1)) {
    core_->on_expiry(steady_clock::now());
    more = ep_->flush(*core_, max_flush);
  }
  // A flush may have freed datagram queue room: wake a writer waiting for it
  // (the TUN pump). No waiter: the signal does nothing.
  if (core_->datagram_send_room() > 0) datagram_room_.notify();
  dispatch();
  if (closed_) return;
  // Stopped at the flush cap with more allowed: continue after the
  // executor's other work (the receive loop, readers) had its turn, rather
  // than on a timer.
  if (more) flush_soon();
  const auto next = core_->expiry();
  if (!timer_running_) {
    timer_running_ = true;
    asio::co_spawn(get_executor(), timer_loop(shared_from_this()), asio::detached);
  } else if (next < armed_) {
    timer_.cancel();  // the loop re-arms for the earlier time
  }
}

awaitable<void> quic_connection::timer_loop(std::shared_ptr<quic_connection> self) {
  while (!closed_) {
    armed_ = core_->expiry();
    // A deadline ngtcp2 keeps in the past (one it clears only when a packet
    // can go out) must not spin the executor.
    armed_ = std::max(armed_, steady_clock::now() + std::chrono::microseconds(200));
    timer_.expires_at(armed_);
    co_await timer_.async_wait(use_nothrow);
    armed_ = steady_clock::time_point::max();
    if (closed_) break;
    const auto now = steady_clock::now();
    if (core_->expiry() <= now) {
      core_->on_expiry(now);
      process();
    }
  }
  timer_running_ = false;
}

void quic_connection::dispatch() {
  // Taken out of the member: a handler below that closes the connection
  // dispatches again, and that nested call gets a vector of its own.
  auto events = std::move(events_);
  core_->take_events(events);
  for (auto& e : events) {
    switch (e.type) {
      case quic::event_type::handshake_done: state_changed_.notify(); break;
      case quic::event_type::stream_opened: {
        // SECURITY: the peer's streams count against the resource manager
        // on top of QUIC's MAX_STREAMS.
        if (res_) {
          if (auto ok = res_->open_inbound_stream(); !ok) {
            core_->reset(e.stream, 0);
            core_->release(e.stream);
            break;
          }
        }
        auto st = std::make_shared<stream_state>(get_executor(), true);
        streams_[e.stream] = st;
        last_activity_ = steady_clock::now();
        stream_ptr s = std::make_unique<quic_stream>(shared_from_this(), e.stream, st);
        if (started_)
          on_inbound_(std::move(s));
        else
          pending_inbound_.push_back(std::move(s));
        break;
      }
      case quic::event_type::stream_readable:
      case quic::event_type::stream_reset:
        if (auto it = streams_.find(e.stream); it != streams_.end()) {
          it->second->readable.notify();
          if (e.type == quic::event_type::stream_reset) it->second->writable.notify();
        }
        break;
      case quic::event_type::stream_writable:
        if (auto it = streams_.find(e.stream); it != streams_.end()) it->second->writable.notify();
        break;
      case quic::event_type::closed: on_closed(e.error); break;
      case quic::event_type::cid_added: ep_->add_route(e.cid, shared_from_this()); break;
      case quic::event_type::cid_retired: ep_->remove_route(e.cid); break;
      case quic::event_type::datagram_received:
        last_activity_ = steady_clock::now();
        datagram_arrived_.notify();
        break;
    }
  }
  events.clear();
  events_ = std::move(events);
}

void quic_connection::on_closed(error_code why) {
  if (closed_) return;
  closed_ = true;
  close_reason_ = why;
  for (auto& [id, st] : streams_) {
    st->readable.notify();
    st->writable.notify();
  }
  auto pending = std::move(pending_inbound_);
  pending.clear();
  for (const auto& cid : core_->local_cids()) ep_->remove_route(cid);
  timer_.cancel();
  quiet_timer_.cancel();
  probe_timer_.cancel();
  state_changed_.notify();
  datagram_arrived_.notify();
  datagram_room_.notify();
  if (res_) {
    // What fit_to_budget reserved (the only memory a QUIC connection
    // charges) goes back with the slot.
    res_->release_memory(res_->memory());
    res_->close();
  }
  // The CONNECTION_CLOSE the core queued (a refused certificate, our
  // close()) leaves now: flush_soon() does nothing once closed.
  ep_->flush(*core_, max_flush);
}

// --- endpoint -------------------------------------------------------------------

std::shared_ptr<quic_endpoint> quic_endpoint::open(asio::any_io_executor ex,
                                                   const udp::endpoint& bind,
                                                   quic::tls_context_ptr tls, quic::config cfg,
                                                   std::optional<quic_accept_policy> policy) {
  auto ep = std::shared_ptr<quic_endpoint>(
      new quic_endpoint(std::move(ex), bind, std::move(tls), std::move(cfg), std::move(policy)));
  asio::co_spawn(ep->socket_.get_executor(), ep->receive_loop(ep), asio::detached);
  return ep;
}

quic_endpoint::quic_endpoint(asio::any_io_executor ex, const udp::endpoint& bind,
                             quic::tls_context_ptr tls, quic::config cfg,
                             std::optional<quic_accept_policy> policy)
    : socket_(ex), tls_(std::move(tls)), cfg_(std::move(cfg)), policy_(std::move(policy)) {
  socket_.open(bind.protocol());
  if (bind.address().is_v6()) socket_.set_option(asio::ip::v6_only(true));
  socket_.bind(bind);
  socket_.non_blocking(true);
  // Room for bursts at high rates: the kernel queues what one batch of
  // recvmmsg has not taken yet.
  error_code ignored;
  socket_.set_option(asio::socket_base::receive_buffer_size(4 * 1024 * 1024), ignored);
  socket_.set_option(asio::socket_base::send_buffer_size(4 * 1024 * 1024), ignored);
  local_ = socket_.local_endpoint();
  local_addr_ = to_address(local_);
  // UDP offload where the kernel has it (GSO: 4.18, GRO: 5.0). A failed
  // setsockopt leaves the plain path.
  const int fd = socket_.native_handle();
  if (offload_wanted("PEERUP_QUIC_GSO")) {
    int size = 0;
    socklen_t len = sizeof(size);
    gso_ = ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, &len) == 0;
  }
  if (offload_wanted("PEERUP_QUIC_GRO")) {
    const int on = 1;
    gro_ = ::setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
  }
}

quic_endpoint::~quic_endpoint() { close(); }

void quic_endpoint::close() {
  if (closed_) return;
  closed_ = true;
  // Copy: closing a connection removes its routes.
  std::vector<std::shared_ptr<quic_connection>> conns;
  for (auto& [cid, weak] : routes_)
    if (auto c = weak.lock()) conns.push_back(std::move(c));
  for (auto& c : conns) c->close();
  error_code ignored;
  socket_.close(ignored);
}

void quic_endpoint::add_route(const bytes& cid, const std::shared_ptr<quic_connection>& c) {
  routes_[key_of(cid)] = c;
}

void quic_endpoint::remove_route(const bytes& cid) { routes_.erase(key_of(cid)); }

awaitable<void> quic_endpoint::receive_loop(std::shared_ptr<quic_endpoint> self) {
  const std::size_t n_slots = gro_ ? gro_batch : batch;
  const std::size_t size = gro_ ? gro_slot_size : slot_size;
  std::vector<std::uint8_t> buffer(n_slots * size);
  std::vector<mmsghdr> msgs(n_slots);
  std::vector<iovec> iov(n_slots);
  std::vector<sockaddr_storage> from(n_slots);
  // Room for the UDP_GRO control message (an int: the segment size).
  std::vector<cmsg_buffer<int>> control(n_slots);
  while (!closed_) {
    auto [ec] = co_await socket_.async_wait(udp::socket::wait_read, use_nothrow);
    if (closed_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      spdlog::warn("quic: receive on {} failed: {}", to_quic_multiaddr(local_).to_string(),
                   ec.message());
      co_return;
    }
    // Drain what the kernel holds, one batch per recvmmsg; bounded so one
    // busy socket cannot starve the executor's other work.
    for (int round = 0; round < 16 && !closed_; ++round) {
      for (std::size_t i = 0; i < n_slots; ++i) {
        iov[i] = {buffer.data() + i * size, size};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
        if (gro_) {
          msgs[i].msg_hdr.msg_control = control[i].bytes;
          msgs[i].msg_hdr.msg_controllen = sizeof(control[i].bytes);
        }
      }
      const int n = ::recvmmsg(socket_.native_handle(), msgs.data(),
                               static_cast<unsigned>(n_slots), MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      for (int i = 0; i < n; ++i) {
        // SECURITY: a truncated datagram is not what the peer sent.
        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
          ++dropped_;
          continue;
        }
        udp::endpoint sender;
        std::memcpy(sender.data(), &from[i], msgs[i].msg_hdr.msg_namelen);
        sender.resize(msgs[i].msg_hdr.msg_namelen);
        const std::span<const std::uint8_t> got(buffer.data() + i * size, msgs[i].msg_len);
        std::size_t segment = 0;
        if (gro_) {
          for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c;
               c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
              int v = 0;
              std::memcpy(&v, CMSG_DATA(c), sizeof(v));
              segment = v > 0 ? static_cast<std::size_t>(v) : 0;
            }
        }
        // SECURITY: a segment size the kernel gave must split the run into
        // at most max_segments datagrams; anything else is taken whole.
        if (segment == 0 || segment >= got.size() ||
            (got.size() + segment - 1) / segment > max_segments) {
          route(got, sender);
          continue;
        }
        ++gro_receives_;
        for (std::size_t off = 0; off < got.size() && !closed_; off += segment)
          route(got.subspan(off, std::min(segment, got.size() - off)), sender);
      }
      if (static_cast<std::size_t>(n) < n_slots) break;
      // More is waiting: let the coroutines that read what this round
      // delivered (QUIC datagram readers, stream readers) run first, so a
      // burst does not overflow a connection's bounded datagram queue
      // while we keep receiving.
      co_await asio::post(socket_.get_executor(), use_awaitable);
    }
  }
}

void quic_endpoint::note_dropped(const udp::endpoint& from, const char* why) {
  // Bad input is counted (dropped_datagrams()) and logged once per socket:
  // a flood of garbage must not flood the log. Hole punching peers send
  // random bytes on purpose (DCUtR), so this is no alarm.
  if (dropped_++ == 0)
    spdlog::info("quic: dropped a UDP datagram from {} on {}: {} (logged once; counted)",
                 from.address().to_string(), to_quic_multiaddr(local_).to_string(), why);
}

void quic_endpoint::route(std::span<const std::uint8_t> data, const udp::endpoint& from) {
  // SECURITY: a datagram that names no connection of ours and is no client
  // Initial is dropped unread.
  auto cid = quic::connection::destination_cid_view(data, quic::connection::cid_length);
  if (!cid) {
    note_dropped(from, "not a QUIC v1 packet");
    return;
  }
  if (auto it = routes_.find(as_string_view(*cid)); it != routes_.end()) {
    if (auto c = it->second.lock()) {
      c->on_datagram(data, from);
      return;
    }
    routes_.erase(it);
  }
  accept(data, from);
}

void quic_endpoint::accept(std::span<const std::uint8_t> data, const udp::endpoint& from) {
  if (!policy_ || !quic::connection::accepts_initial(data)) {
    note_dropped(from, policy_ ? "for no connection and no client Initial" : "not listening");
    return;
  }
  const auto now = steady_clock::now();
  // SECURITY: under a flood of Initials (from spoofed addresses, say) a
  // client without a token gets a Retry: one packet, no state, and only a
  // client that receives at its address comes back with the token.
  if (!quic::connection::has_token(data) && policy_->validate_addresses &&
      policy_->validate_addresses()) {
    if (auto r = quic::connection::make_retry(data, to_address(from), retry_secret_, now)) {
      std::vector<quic::datagram> out;
      out.push_back(std::move(*r));
      send(out);
      ++retries_;
    }
    return;
  }
  // SECURITY: the resource manager bounds connections in all, per IP and
  // pending handshakes before any TLS work is done for this datagram.
  auto res = policy_->admit(from);
  if (!res) return;
  auto core = quic::connection::accept(fit_to_budget(cfg_, res.get()), tls_,
                                       policy_->gate ? policy_->gate(from) : nullptr, local_addr_,
                                       to_address(from), data, now, &retry_secret_);
  if (!core) {
    note_dropped(from, "an Initial we could not accept (bad token or packet)");
    return;
  }
  auto c = std::make_shared<quic_connection>(shared_from_this(), std::move(*core), std::move(res));
  c->dispatch();  // routes its connection IDs
  c->process();   // answers the Initial
  if (policy_->accepted) policy_->accepted(std::move(c));
}

void quic_endpoint::send_unconnected(const udp::endpoint& to, byte_span data) {
  std::vector<quic::datagram> out;
  out.push_back({bytes(data.begin(), data.end()), to_address(to)});
  send(out);
}

void quic_endpoint::send(std::vector<quic::datagram>& out) {
  tx_single_.clear();
  for (const auto& d : out) tx_single_.append(d.data, d.to);
  send(tx_single_);
}

bool quic_endpoint::flush(quic::connection& c, std::size_t max_datagrams) {
  // A nested flush (none today) would get a batch of its own rather than
  // write into the one being sent.
  quic::packet_batch own;
  auto& out = tx_busy_ ? own : tx_;
  const bool shared = !tx_busy_;
  tx_busy_ = true;
  out.clear();
  const std::size_t written = c.write_packets(out, steady_clock::now(), max_datagrams);
  send(out);
  if (shared) tx_busy_ = false;
  return written >= max_datagrams;
}

void quic_endpoint::send(const quic::packet_batch& out) {
  if (closed_ || out.empty()) return;
  std::size_t failed_at = 0;
  if (gso_ && out.size() > 1) {
    if (send_gso(out, failed_at)) return;
    // The kernel refused a segmented send (a device without checksum
    // offload, an old kernel): plain sends from now on, starting with it.
    gso_ = false;
    spdlog::info("quic: UDP GSO refused on {}; sending datagram by datagram",
                 to_quic_multiaddr(local_).to_string());
  }
  send_plain(out, failed_at);
}

bool quic_endpoint::send_gso(const quic::packet_batch& out, std::size_t& failed_at) {
  // 1. runs: consecutive packets to one address, all of the first one's
  //    size except a shorter last one, at most max_segments and
  //    max_gso_bytes; each run is one message. The batch holds them back
  //    to back, so a run is one iovec.
  runs_.clear();
  for (std::size_t i = 0; i < out.size();) {
    const auto& first = out[i];
    const std::size_t seg = first.len;
    std::size_t n = 1, bytes_in = seg;
    while (i + n < out.size() && n < max_segments) {
      const auto& next = out[i + n];
      if (next.to != first.to || next.len > seg || bytes_in + next.len > max_gso_bytes ||
          next.offset != first.offset + bytes_in)
        break;
      bytes_in += next.len;
      ++n;
      if (next.len < seg) break;  // a shorter one ends the run
    }
    runs_.push_back({i, n, bytes_in, static_cast<std::uint16_t>(seg)});
    i += n;
  }
  iov_.resize(runs_.size());
  control_.resize(runs_.size());
  msgs_.resize(runs_.size());
  for (std::size_t r = 0; r < runs_.size(); ++r) {
    const auto& run = runs_[r];
    const auto& first = out[run.first];
    iov_[r] = {const_cast<std::uint8_t*>(out.data(first)), run.bytes};
    auto& h = msgs_[r].msg_hdr;
    h = {};
    msgs_[r].msg_len = 0;
    h.msg_iov = &iov_[r];
    h.msg_iovlen = 1;
    h.msg_name = const_cast<sockaddr*>(out.to(first).sa());
    h.msg_namelen = out.to(first).len;
    if (run.count > 1) {
      h.msg_control = control_[r].bytes;
      h.msg_controllen = sizeof(control_[r].bytes);
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      std::memcpy(CMSG_DATA(c), &run.segment, sizeof(run.segment));
    }
  }
  // 2. sendmmsg in batches; a full socket buffer drops the rest (QUIC
  //    counts it as loss), a refusal hands the rest to the plain path
  std::size_t sent = 0;
  for (int tries = 0; sent < msgs_.size() && tries < 8; ++tries) {
    const auto n = std::min(batch, msgs_.size() - sent);
    const int r = ::sendmmsg(socket_.native_handle(), msgs_.data() + sent,
                             static_cast<unsigned>(n), MSG_DONTWAIT);
    if (r < 0 && (errno == EIO || errno == EINVAL) && runs_[sent].count > 1) {
      failed_at = runs_[sent].first;
      return false;
    }
    if (r <= 0) break;
    for (std::size_t k = sent; k < sent + static_cast<std::size_t>(r); ++k)
      if (runs_[k].count > 1) ++gso_sends_;
    sent += static_cast<std::size_t>(r);
  }
  return true;
}

void quic_endpoint::send_plain(const quic::packet_batch& out, std::size_t first) {
  std::array<mmsghdr, batch> msgs{};
  std::array<iovec, batch> iov{};
  for (std::size_t start = first; start < out.size(); start += batch) {
    const std::size_t n = std::min(batch, out.size() - start);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& d = out[start + i];
      iov[i] = {const_cast<std::uint8_t*>(out.data(d)), d.len};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = const_cast<sockaddr*>(out.to(d).sa());
      msgs[i].msg_hdr.msg_namelen = out.to(d).len;
    }
    std::size_t sent = 0;
    // A full socket buffer drops the rest: QUIC treats it as loss, and
    // congestion control slows down.
    for (int tries = 0; sent < n && tries < 4; ++tries) {
      const int r = ::sendmmsg(socket_.native_handle(), msgs.data() + sent,
                               static_cast<unsigned>(n - sent), MSG_DONTWAIT);
      if (r <= 0) break;
      sent += static_cast<std::size_t>(r);
    }
  }
}

awaitable<result<std::shared_ptr<quic_connection>>> quic_endpoint::dial(
    const udp::endpoint& remote, std::optional<peer_id> expected, quic::connection::gate gate,
    connection_resources_ptr res) {
  if (closed_) co_return make_error_code(errc::connection_closed);
  auto core = quic::connection::dial(fit_to_budget(cfg_, res.get()), tls_, std::move(expected),
                                     std::move(gate), local_addr_, to_address(remote),
                                     steady_clock::now());
  if (!core) co_return core.error();
  auto c = std::make_shared<quic_connection>(shared_from_this(), std::move(*core), std::move(res));
  c->process();
  // Closes the connection unless it is handed out: also when the caller
  // cancels this dial (a timeout) while the handshake runs.
  struct close_unless_kept {
    std::shared_ptr<quic_connection> c;
    bool kept = false;
    ~close_unless_kept() {
      if (!kept) c->close();
    }
  } guard{c};
  auto hs = co_await c->handshake();
  if (!hs) co_return hs.error();
  guard.kept = true;
  co_return c;
}

}  // namespace peerup::net
