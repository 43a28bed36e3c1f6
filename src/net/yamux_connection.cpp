#include "net/yamux_connection.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "net/noise_stream.hpp"
#include "net/optimistic_stream.hpp"
#include "net/resource_log.hpp"
#include "net/tcp_transport.hpp"
#include "net/wait_readable.hpp"

namespace peerup::net {

namespace {
// The read loop's buffer starts small, because a relay holds thousands of
// idle connections (bench/relay_capacity.cpp); it grows while reads fill it
// and goes away after a run of small reads (only pings and acks left).
constexpr std::size_t min_read_chunk = 4 * 1024;
constexpr std::size_t max_read_chunk = 64 * 1024;
constexpr std::size_t small_read = 1024;
// After this many small reads in a row the loop waits without a buffer and
// takes a min_read_chunk one when bytes arrive (a burst grows it again).
constexpr int small_reads_before_idle = 4;
// Streams stop queueing frames when this much output waits for the socket, so
// a fast writer cannot make the connection buffer without bound.
constexpr std::size_t output_high_water = 1024 * 1024;
constexpr auto keepalive_interval = std::chrono::seconds(15);
// A peer that answers none of this many pings in a row is gone (its NAT
// mapping died, or the path did): fail the connection so callers fall back.
constexpr int max_unanswered_pings = 3;
// A connection that has received nothing for this long gets a liveness probe
// when we next send something that needs an answer (expect_reply).
constexpr auto probe_after_quiet = std::chrono::seconds(1);
// A connection that received something and then nothing for this long is
// probed once even if we send nothing (the keepalive loop checks every
// quiet_check_interval). The probe is what heals a path whose NAT mapping
// was flushed on our side: the peer's packets are dropped at our NAT until
// we send, and a side that only answers would otherwise stay black-holed
// until the next keepalive (up to 15 s; the soak's conntrack -F showed it).
// It also fails a dead path in quiet_probe_after + the probe timeout.
// 1 s and 0.5 s: the peer's TCP retransmits what our NAT dropped 0.2, 0.6,
// 1.4, 3.0, 6.2 s after sending it (exponential backoff), so a mapping
// healed within 1.5 s is used by the 3.0 s retransmission at the latest;
// one healed after 3 s (2 s and 1 s, as first written) often waited for
// the 6.2 s one (the soak's flushes recovered in up to 6.2 s).
constexpr auto quiet_probe_after = std::chrono::seconds(1);
constexpr auto quiet_check_interval = std::chrono::milliseconds(500);
// The probe's answer may queue behind up to output_high_water of the peer's
// output: allow a few RTTs on top of a floor that slow links need.
constexpr auto min_probe_timeout = std::chrono::seconds(3);
constexpr auto max_probe_timeout = std::chrono::seconds(15);
// An orderly close waits this long for the peer's FIN after sending ours.
constexpr auto close_linger = std::chrono::seconds(2);
// Writes of at least this much are sent from the writer's buffer (one copy
// fewer per byte: perf showed the copy into the session's output at ~5% of
// the forwarding CPU); smaller ones are queued, so they return at once.
constexpr std::size_t borrow_min = 32 * 1024;
}  // namespace

struct yamux_connection::borrowed_write {
  std::vector<yamux::borrowed_frame> frames;
  std::vector<byte_span> parts;  // header, payload, header, payload, ...
  bool done = false;
  error_code ec;
};

struct yamux_connection::stream_state {
  stream_state(asio::any_io_executor ex, std::uint32_t id, connection_resources_ptr res,
               std::size_t window, bool inbound)
      : id(id), readable(ex), writable(ex), res(std::move(res)), window(window), inbound(inbound) {}
  // Gives back what add_stream charged, once neither the connection's map nor
  // a handle refers to the stream any more.
  ~stream_state() {
    if (!res) return;
    if (inbound) res->close_inbound_stream();
    res->release_memory(window);
  }
  stream_state(const stream_state&) = delete;
  stream_state& operator=(const stream_state&) = delete;

  std::uint32_t id;
  bytes recv;                 // received, not yet read; bounded by the receive window
  std::size_t recv_head = 0;  // first unread byte in recv
  // The buffer of a read_some waiting on an empty queue: data that arrives
  // then goes straight into it, one copy instead of two (in and out of recv).
  // Set only while that read waits; cleared when it returns or unwinds.
  mutable_byte_span waiting_read;
  std::size_t delivered = 0;  // bytes of waiting_read filled
  bool remote_fin = false;
  bool reset = false;
  bool local_fin = false;
  bool detached = false;  // handle dropped after our FIN: discard until remote FIN
  signal readable;
  signal writable;
  connection_resources_ptr res;  // null: not accounted
  std::size_t window;            // receive window charged to res
  bool inbound;                  // counted as an inbound stream of res
};

// A Yamux stream handle. Dropping it without a FIN resets the stream.
class yamux_stream final : public byte_stream {
 public:
  yamux_stream(std::shared_ptr<yamux_connection> conn,
               std::shared_ptr<yamux_connection::stream_state> st)
      : conn_(std::move(conn)), st_(std::move(st)) {}

  ~yamux_stream() override {
    conn_->touch();
    if (st_->reset || (st_->local_fin && st_->remote_fin)) {
      conn_->streams_.erase(st_->id);
    } else if (st_->local_fin && !conn_->closed_) {
      st_->detached = true;  // let the remote finish; its data is discarded
      const std::size_t unread = st_->recv.size() - st_->recv_head;
      if (unread) conn_->credit(*st_, unread);
      st_->recv.clear();
      st_->recv_head = 0;
      conn_->flush_soon();
    } else {
      reset();
    }
  }

  awaitable<result<std::size_t>> read_some(mutable_byte_span buf) override {
    for (;;) {
      auto& st = *st_;
      if (st.recv_head < st.recv.size()) {
        const std::size_t n = std::min(buf.size(), st.recv.size() - st.recv_head);
        std::memcpy(buf.data(), st.recv.data() + st.recv_head, n);
        st.recv_head += n;
        if (st.recv_head == st.recv.size()) {
          st.recv.clear();
          st.recv_head = 0;
        } else if (st.recv_head > 64 * 1024 && st.recv_head * 2 > st.recv.size()) {
          st.recv.erase(st.recv.begin(),
                        st.recv.begin() + static_cast<std::ptrdiff_t>(st.recv_head));
          st.recv_head = 0;
        }
        if (!st.reset && !conn_->closed_) conn_->credit(st, n);
        co_return n;
      }
      if (st.reset) co_return make_error_code(errc::stream_reset);
      if (st.remote_fin) co_return std::size_t{0};
      if (conn_->closed_) co_return make_error_code(errc::connection_closed);
      if (auto n = co_await wait_for_data(buf); n > 0) {
        if (!st.reset && !conn_->closed_) conn_->credit(st, n);
        co_return n;
      }
    }
  }

  awaitable<void> wait_readable() {
    // Data queued, FIN, reset or a closed connection: a read_some returns at
    // once. Every dispatch() for this stream notifies `readable`.
    for (auto& st = *st_;
         st.recv_head >= st.recv.size() && !st.reset && !st.remote_fin && !conn_->closed_;)
      co_await st.readable.wait();
  }

  // Waits with `buf` offered to dispatch(); returns how much it put there.
  awaitable<std::size_t> wait_for_data(mutable_byte_span buf) {
    auto& st = *st_;
    st.waiting_read = buf;
    st.delivered = 0;
    // The buffer is the caller's: it must not outlive this wait, also when the
    // wait is cancelled and the coroutine unwinds. The guard owns a reference,
    // so it is safe even when frames are destroyed after this handle.
    struct withdraw {
      std::shared_ptr<yamux_connection::stream_state> st;
      ~withdraw() { st->waiting_read = {}; }
    } guard{st_};
    co_await st.readable.wait();
    co_return std::exchange(st.delivered, 0);
  }

  awaitable<result<void>> write(byte_span data) override {
    while (!data.empty()) {
      auto& st = *st_;
      if (st.reset) co_return make_error_code(errc::stream_reset);
      if (conn_->closed_) co_return make_error_code(errc::connection_closed);
      if (st.local_fin) co_return make_error_code(errc::stream_closed);
      if (conn_->session_.output().size() >= output_high_water) {
        co_await conn_->output_drained_.wait();
        continue;
      }
      if (data.size() >= borrow_min && !conn_->borrowed_ && conn_->session_.output().empty() &&
          !conn_->closing_) {
        auto sent = co_await write_borrowed(data);
        if (!sent) co_return sent.error();
        if (*sent == 0) {
          co_await st.writable.wait();
          continue;
        }
        data = data.subspan(*sent);
        continue;
      }
      const std::size_t n = conn_->session_.write(st.id, data);
      if (n == 0) {
        co_await st.writable.wait();
        continue;
      }
      data = data.subspan(n);
      conn_->touch();
      conn_->expect_reply();
      conn_->flush_soon();
    }
    co_return result<void>{};
  }

  // Hands frames for as much of `data` as the window allows to the writer,
  // which sends them straight from `data`; returns the bytes sent (0: the
  // window is closed). Contract: returns only after the writer is done with
  // `data`, also when the awaiting coroutine is cancelled (the wait goes on,
  // bounded by the connection: fail() completes it), because `data` is the
  // caller's and must not be read after this returns.
  awaitable<result<std::size_t>> write_borrowed(byte_span data) {
    auto& conn = *conn_;
    yamux_connection::borrowed_write bw;
    const std::size_t n = conn.session_.write_borrowed(st_->id, data, bw.frames);
    if (n == 0) co_return std::size_t{0};
    bw.parts.reserve(2 * bw.frames.size());
    for (const auto& f : bw.frames) {
      bw.parts.emplace_back(f.header.data(), f.header.size());
      bw.parts.push_back(f.payload);
    }
    conn.borrowed_ = &bw;
    conn.touch();
    conn.expect_reply();
    conn.flush_soon();
    // A cancellation must not unwind this frame while the writer reads bw and
    // `data`: waits do not throw here; the previous setting is put back.
    const bool throws = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    while (!bw.done) co_await conn.borrowed_done_.wait();
    co_await asio::this_coro::throw_if_cancelled(throws);
    if (bw.ec) co_return bw.ec;
    co_return n;
  }

  awaitable<result<void>> close_write() override {
    if (st_->reset) co_return make_error_code(errc::stream_reset);
    if (conn_->closed_) co_return make_error_code(errc::connection_closed);
    if (!st_->local_fin) {
      st_->local_fin = true;
      conn_->session_.close_write(st_->id);
      conn_->flush_soon();
    }
    co_return result<void>{};
  }

  void reset() override {
    if (st_->reset) return;
    st_->reset = true;
    conn_->touch();
    if (!conn_->closed_) {
      conn_->session_.reset(st_->id);
      conn_->flush_soon();
    }
    conn_->streams_.erase(st_->id);
    st_->readable.notify();
    st_->writable.notify();
  }

  asio::any_io_executor get_executor() override { return conn_->get_executor(); }

 private:
  std::shared_ptr<yamux_connection> conn_;
  std::shared_ptr<yamux_connection::stream_state> st_;
};

yamux_connection::yamux_connection(stream_ptr secure, bool is_client, yamux::config cfg,
                                   connection_resources_ptr res)
    : res_(std::move(res)),
      cfg_(cfg),
      secure_(std::move(secure)),
      session_(is_client, cfg),
      output_ready_(secure_->get_executor()),
      output_drained_(secure_->get_executor()),
      borrowed_done_(secure_->get_executor()),
      closed_signal_(secure_->get_executor()),
      keepalive_timer_(secure_->get_executor()),
      keepalive_interval_(keepalive_interval),
      next_ping_(steady_clock::now() + keepalive_interval_),
      probe_timer_(secure_->get_executor()) {}

yamux_connection::~yamux_connection() = default;

void yamux_connection::start(inbound_handler on_inbound) {
  on_inbound_ = std::move(on_inbound);
  auto ex = get_executor();
  session_.ping(now_ms());  // first RTT sample for window tuning
  asio::co_spawn(ex, read_loop(shared_from_this()), asio::detached);
  asio::co_spawn(ex, write_loop(shared_from_this()), asio::detached);
  asio::co_spawn(ex, keepalive_loop(shared_from_this()), asio::detached);
}

std::shared_ptr<yamux_connection::stream_state> yamux_connection::add_stream(std::uint32_t id,
                                                                             std::size_t window,
                                                                             bool inbound) {
  auto st = std::make_shared<stream_state>(get_executor(), id, res_, window, inbound);
  streams_[id] = st;
  touch();
  return st;
}

result<stream_ptr> yamux_connection::open_stream() {
  if (closed_ || closing_) return errc::connection_closed;
  // Our receive window is memory the peer may fill: charge it before the SYN.
  const std::size_t window = std::max(cfg_.initial_window, yamux::default_window);
  if (res_ && !res_->reserve_memory(window)) {
    log_refusal(res_->manager(), resource_limit::memory, "an outbound stream");
    return errc::resource_limit;
  }
  auto id = session_.open_stream();
  if (!id) {
    if (res_) res_->release_memory(window);
    return id.error();
  }
  auto st = add_stream(*id, res_ ? window : 0, false);
  expect_reply();
  flush_soon();
  return stream_ptr(std::make_unique<yamux_stream>(shared_from_this(), std::move(st)));
}

void yamux_connection::accept_inbound(std::uint32_t id) {
  // The session has ACKed the stream and granted its window; a refusal resets it.
  const std::size_t window = session_.receive_window(id);
  if (res_) {
    auto refuse = [&](resource_limit l) {
      session_.reset(id);
      flush_soon();
      const auto& peer = res_->peer();
      log_refusal(res_->manager(), l,
                  fmt::format("an inbound stream from {}", peer ? peer->to_string() : "?"));
    };
    if (auto admitted = res_->open_inbound_stream(); !admitted) return refuse(admitted.error());
    if (!res_->reserve_memory(window)) {
      res_->close_inbound_stream();
      return refuse(resource_limit::memory);
    }
  }
  auto st = add_stream(id, res_ ? window : 0, res_ != nullptr);
  if (on_inbound_) on_inbound_(std::make_unique<yamux_stream>(shared_from_this(), std::move(st)));
}

void yamux_connection::credit(stream_state& st, std::size_t n) {
  if (res_) {
    // A window may double here: allow it only if the budget has room for that.
    const std::size_t window = session_.receive_window(st.id);
    session_.set_max_window(res_->memory_headroom() >= window ? cfg_.max_window : 0);
  }
  session_.consumed(st.id, n, now_ms());
  if (res_) {
    const std::size_t window = session_.receive_window(st.id);
    if (window > st.window) {
      res_->force_memory(window - st.window);  // granted already
      st.window = window;
    }
  }
  flush_soon();
}

void yamux_connection::dispatch(const yamux::event& ev) {
  using k = yamux::event_kind;
  if (ev.kind == k::inbound_stream) return accept_inbound(ev.stream);
  if (ev.kind == k::ping_ack) {
    rtt_ = std::chrono::milliseconds(ev.rtt_ms);
    unanswered_pings_ = 0;
    return;
  }
  if (ev.kind == k::go_away) return;  // the session refuses new streams from now on

  auto it = streams_.find(ev.stream);
  if (it == streams_.end()) return;
  auto& st = *it->second;
  switch (ev.kind) {
    case k::data:
      touch();
      if (st.detached) {
        credit(st, ev.data.size());
      } else {
        byte_span data = ev.data;
        // Straight into a waiting reader's buffer, as long as nothing queued
        // is older (order is kept: the queue only ever follows the buffer).
        if (st.recv_head == st.recv.size() && st.delivered < st.waiting_read.size()) {
          const std::size_t n = std::min(data.size(), st.waiting_read.size() - st.delivered);
          std::memcpy(st.waiting_read.data() + st.delivered, data.data(), n);
          st.delivered += n;
          data = data.subspan(n);
        }
        st.recv.insert(st.recv.end(), data.begin(), data.end());
        st.readable.notify();
      }
      break;
    case k::send_window: st.writable.notify(); break;
    case k::remote_fin:
      st.remote_fin = true;
      st.readable.notify();
      if (st.detached) streams_.erase(it);
      break;
    case k::remote_reset:
      st.reset = true;
      st.readable.notify();
      st.writable.notify();
      streams_.erase(it);
      break;
    default: break;
  }
}

awaitable<void> yamux_connection::read_loop(std::shared_ptr<yamux_connection> self) {
  bytes buf(min_read_chunk);
  if (res_) res_->force_memory(buf.size());
  int small_reads = 0;
  const bool can_wait = can_wait_readable(*secure_);
  while (!closed_) {
    if (small_reads >= small_reads_before_idle && can_wait) {
      // Idle (only pings and acks lately): wait for the next bytes without
      // holding a buffer; at 100,000 idle relay connections that is
      // min_read_chunk each (bench/relay_capacity.cpp).
      if (res_) res_->release_memory(buf.size());
      bytes().swap(buf);
      co_await wait_readable(*secure_);
      if (closed_) break;
      buf.resize(min_read_chunk);
      if (res_) res_->force_memory(buf.size());
    }
    auto n = co_await secure_->read_some(buf);
    if (!n) {
      fail(n.error());
      break;
    }
    if (*n == 0) {
      fail(make_error_code(errc::connection_closed));
      break;
    }
    last_received_ = steady_clock::now();
    events_.clear();
    if (auto r = session_.on_bytes({buf.data(), *n}, events_, now_ms()); !r) {
      fail(r.error());
      break;
    }
    for (const auto& ev : events_) {
      if (closed_) break;
      dispatch(ev);
    }
    if (!session_.output().empty()) flush_soon();
    // The events pointed into buf; from here on it may be reallocated.
    small_reads = *n < small_read ? small_reads + 1 : 0;
    if (*n == buf.size() && buf.size() < max_read_chunk &&
        (!res_ || res_->reserve_memory(max_read_chunk - buf.size()))) {
      buf.resize(max_read_chunk);
    }
  }
  if (res_) res_->release_memory(buf.size());
}

awaitable<void> yamux_connection::write_loop(std::shared_ptr<yamux_connection> self) {
  bytes out;
  bool yielded = false;
  while (!closed_) {
    if (borrowed_) {
      // Everything queued before it has been written (the stream borrows only
      // when the output is empty); newer output waits for it.
      // The stream waits until `done`, so bw and the bytes it points to live
      // while this write reads them, even if the connection fails meanwhile.
      auto* bw = borrowed_;
      borrowed_in_flight_ = true;
      auto r = co_await secure_->write_parts(bw->parts);
      borrowed_in_flight_ = false;
      borrowed_ = nullptr;
      bw->done = true;
      bw->ec = !r ? r.error() : closed_ ? close_reason_ : error_code{};
      borrowed_done_.notify();
      if (!r) fail(r.error());
      continue;
    }
    if (session_.output().empty()) {
      if (closing_) break;
      co_await output_ready_.wait();
      continue;
    }
    // A small batch (control frames, a request, an answer) waits one pass of
    // the executor's queue first: frames that handlers already due to run
    // will queue (a stream's multistream echo after the ACK of its SYN; at
    // start, the identify stream or first stream the caller opens right
    // after the first ping) then leave in the same write, not in a second
    // one: a relay's sends per reservation (issue 19). Bulk goes at once.
    if (!std::exchange(yielded, true) && session_.output().size() < small_read) {
      co_await asio::post(get_executor(), use_nothrow);
      continue;
    }
    yielded = false;
    out.clear();
    std::swap(out, session_.output());
    auto r = co_await secure_->write(out);
    output_drained_.notify();
    if (!r) {
      fail(r.error());
      break;
    }
    // After a small batch (pings, acks, a request) the connection is likely
    // to idle: let both output buffers go (this one, swapped with the
    // session's, and the session's own), which an idle relay connection would
    // otherwise keep at the size of its largest batch.
    if (out.size() < small_read) {
      bytes().swap(out);
      if (session_.output().empty()) bytes().swap(session_.output());
    }
  }
  if (closing_ && !closed_) {
    // fail() resets the transport, and a TCP reset discards whatever of our
    // output the kernel has not sent yet (the GoAway, a stream's last bytes
    // and FIN). So after our FIN, wait for the peer's (the read loop ends the
    // connection on it), bounded by close_linger.
    if (co_await secure_->close_write()) {
      using namespace asio::experimental::awaitable_operators;
      asio::steady_timer linger(secure_->get_executor(), close_linger);
      co_await (wait_closed() || linger.async_wait(use_nothrow));
    }
    fail(make_error_code(errc::connection_closed));
  }
}

void yamux_connection::set_keepalive_interval(steady_clock::duration d) {
  if (d <= steady_clock::duration::zero()) return;
  keepalive_interval_ = d;
  next_ping_ = std::min(next_ping_, steady_clock::now() + d);
  // The keepalive loop may be asleep until the old next ping: let it recompute.
  keepalive_timer_.cancel();
}

awaitable<void> yamux_connection::keepalive_loop(std::shared_ptr<yamux_connection> self) {
  // last_activity_ (stream traffic, not pings) when the last quiet probe
  // went out: one probe per spell of use, so an idle connection costs one
  // extra ping, not one every quiet_probe_after (the pong is no activity).
  auto quiet_probed = steady_clock::time_point{};
  while (!closed_) {
    // While there is use to probe after, a tick of quiet_check_interval (or
    // the next ping, if sooner): the quiet probe below heals an idle path
    // whose NAT mapping went (lab_conntrack_flush) and fails a dead one in
    // seconds. Once the probe for the last use went out, nothing is due
    // before the next ping: sleep until then, and let touch() wake the loop
    // when use starts again. A relay's 100,000 idle connections then wake
    // once per keepalive interval each, not twice a second.
    auto now = steady_clock::now();
    keepalive_asleep_ = last_activity_ == quiet_probed;
    const auto wake =
        keepalive_asleep_ ? next_ping_ : std::min(next_ping_, now + quiet_check_interval);
    keepalive_timer_.expires_at(std::max(wake, now + steady_clock::duration(1)));
    co_await keepalive_timer_.async_wait(use_nothrow);
    keepalive_asleep_ = false;
    if (closed_ || closing_) break;
    now = steady_clock::now();
    if (now >= next_ping_) {
      next_ping_ = now + keepalive_interval_;
      if (++unanswered_pings_ > max_unanswered_pings) {
        fail(make_error_code(errc::timeout));
        break;
      }
      session_.ping(now_ms());
      flush_soon();
    } else if (now - last_received_ >= quiet_probe_after && last_activity_ != quiet_probed) {
      quiet_probed = last_activity_;
      check_alive();
    }
  }
}

void yamux_connection::expect_reply() {
  if (steady_clock::now() - last_received_ >= probe_after_quiet) check_alive();
}

void yamux_connection::check_alive() {
  if (closed_ || closing_) return;
  // A probe under way covers this call only until its answer: after that it
  // proves nothing about what we send now. Skipping the ping then (as this
  // did while the answered probe's timer ran on, up to 3 s) left a path
  // that died in that window unprobed until the next call: in
  // lab_conntrack_flush a fetch right after the NATs' flush, 1-3 s after
  // the quiet probe, went unprobed, and so did the quiet probe after it;
  // the dead direct path was found only on curl's retry, 7 s after the
  // flush (tcpdump in the NATs, main's binary and scale2's alike).
  if (probing_ && last_received_ <= probe_sent_) return;
  probe_sent_ = steady_clock::now();
  session_.ping(now_ms());
  flush_soon();
  // Armed here, not in probe(): the deadline must not depend on when the
  // spawned coroutine first runs. Re-arming wakes a waiting probe().
  probe_timer_.expires_at(probe_sent_ + probe_timeout());
  if (probing_) return;
  probing_ = true;
  asio::co_spawn(get_executor(), probe(shared_from_this()), asio::detached);
}

steady_clock::duration yamux_connection::probe_timeout() const {
  const steady_clock::duration rtts = rtt_ ? *rtt_ * 4 : steady_clock::duration::zero();
  return std::clamp<steady_clock::duration>(rtts, min_probe_timeout, max_probe_timeout);
}

awaitable<void> yamux_connection::probe(std::shared_ptr<yamux_connection> self) {
  // Until the latest probe's deadline (check_alive moves it when it pings
  // again): anything received since that ping is the answer.
  while (!closed_) {
    co_await probe_timer_.async_wait(use_nothrow);
    if (closed_ || last_received_ > probe_sent_) break;
    if (steady_clock::now() >= probe_timer_.expiry()) {
      fail(make_error_code(errc::timeout));
      break;
    }
  }
  probing_ = false;
}

void yamux_connection::close() {
  if (closed_ || closing_) return;
  closing_ = true;
  session_.go_away(0);
  flush_soon();
}

awaitable<void> yamux_connection::wait_closed() {
  while (!closed_) co_await closed_signal_.wait();
}

void yamux_connection::fail(error_code ec) {
  if (closed_) return;
  closed_ = true;
  close_reason_ = ec;
  if (res_) res_->close();  // the slot is free now; buffers go with their owners
  secure_->reset();
  for (auto& [id, st] : streams_) {
    st->readable.notify();
    st->writable.notify();
  }
  if (borrowed_ && !borrowed_in_flight_) {
    // Not picked up by the writer yet: complete it here. One in flight is
    // completed by the writer when that write returns (the transport was
    // just reset, so soon), never before: it still reads the stream's bytes.
    borrowed_->done = true;
    borrowed_->ec = ec ? ec : make_error_code(errc::connection_closed);
    borrowed_ = nullptr;
  }
  borrowed_done_.notify();
  output_ready_.notify();
  output_drained_.notify();
  closed_signal_.notify();
  keepalive_timer_.cancel();
  probe_timer_.cancel();
}

bool can_wait_readable(byte_stream& s) {
  if (dynamic_cast<tcp_stream*>(&s) || dynamic_cast<yamux_stream*>(&s)) return true;
  if (auto* n = dynamic_cast<noise_stream*>(&s)) return n->can_wait_readable();
  if (auto* o = dynamic_cast<optimistic_stream*>(&s)) return can_wait_readable(o->inner());
  return false;
}

awaitable<void> wait_readable(byte_stream& s) {
  if (auto* t = dynamic_cast<tcp_stream*>(&s)) {
    co_await t->wait_readable();
  } else if (auto* y = dynamic_cast<yamux_stream*>(&s)) {
    co_await y->wait_readable();
  } else if (auto* n = dynamic_cast<noise_stream*>(&s)) {
    co_await n->wait_readable();
  } else if (auto* o = dynamic_cast<optimistic_stream*>(&s)) {
    // Before the answer, at once: its read_some reads the answer first.
    if (o->confirmed()) co_await wait_readable(o->inner());
  }
}

}  // namespace peerup::net
