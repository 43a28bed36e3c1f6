#include "protocols/relay_reservations.hpp"

#include <spdlog/spdlog.h>

namespace peerup::protocols {

namespace {
constexpr auto reserve_timeout = std::chrono::seconds(15);
constexpr auto min_backoff = std::chrono::seconds(1);
constexpr auto max_backoff = std::chrono::seconds(60);
// Refresh this long before the relay's expiry, and at least this often, so a
// relay that silently lost our slot (e.g. restarted) is noticed.
constexpr auto refresh_margin = std::chrono::seconds(60);
constexpr auto max_refresh_interval = std::chrono::minutes(10);
constexpr auto min_refresh_interval = std::chrono::seconds(5);
// Keepalive of the connection to a relay (others: 15 s). Circuits arrive on
// it, but a NAT that lost our mapping (a reboot; the soak's conntrack -F)
// drops the relay's packets until we send, and an idle node sends only its
// keepalive: this bounds how long it stays unreachable. Cost: one Yamux
// ping (or QUIC PING) and its answer per relay every 5 s.
constexpr auto relay_keepalive = std::chrono::seconds(5);
}  // namespace

std::string_view to_string(relay_slot::state s) {
  switch (s) {
    case relay_slot::state::connecting: return "connecting";
    case relay_slot::state::reserved: return "reserved";
    case relay_slot::state::backoff: return "backoff";
  }
  return "unknown";
}

reservation_keeper::reservation_keeper(net::host& h, std::vector<multiaddr> relays,
                                       std::function<void()> on_change)
    : host_(h), on_change_(std::move(on_change)) {
  for (auto& r : relays) slots_.push_back(relay_slot{.relay = std::move(r)});
  // Between refreshes the connection to a relay carries nothing, yet it is
  // the one circuits arrive on: never close it as idle.
  host_.add_idle_exemption([this, alive = std::weak_ptr<bool>(alive_)](const net::connection& c) {
    return alive.lock() && !c.relayed && is_our_relay(c.remote_peer);
  });
}

reservation_keeper::~reservation_keeper() { stop(); }

void reservation_keeper::start() {
  started_ = true;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    timers_.push_back(std::make_unique<net::asio::steady_timer>(host_.get_executor()));
    net::asio::co_spawn(host_.get_executor(), keep(i), net::asio::detached);
  }
}

bool reservation_keeper::add_relay(multiaddr relay) {
  const auto id = relay.peer();
  if (!id || is_our_relay(*id)) return false;
  slots_.push_back(relay_slot{.relay = std::move(relay), .discovered = true});
  if (started_) {
    timers_.push_back(std::make_unique<net::asio::steady_timer>(host_.get_executor()));
    net::asio::co_spawn(host_.get_executor(), keep(slots_.size() - 1), net::asio::detached);
  }
  return true;
}

void reservation_keeper::stop() {
  *alive_ = false;
  for (auto& t : timers_) t->cancel();
}

std::vector<multiaddr> reservation_keeper::circuit_addrs() const {
  std::vector<multiaddr> out;
  for (const auto& s : slots_)
    if (s.current == relay_slot::state::reserved)
      out.insert(out.end(), s.circuit_addrs.begin(), s.circuit_addrs.end());
  return out;
}

bool reservation_keeper::is_our_relay(const peer_id& p) const {
  for (const auto& s : slots_)
    if (s.relay.peer() == p) return true;
  return false;
}

void reservation_keeper::publish() {
  host_.set_extra_announce(circuit_addrs());
  if (on_change_) on_change_();
}

net::awaitable<void> reservation_keeper::keep(std::size_t index) {
  using namespace net::asio::experimental::awaitable_operators;
  auto alive = alive_;  // the keeper may be destroyed while we sleep
  auto backoff = std::chrono::duration_cast<net::steady_clock::duration>(min_backoff);
  auto set_state = [&](relay_slot::state st, std::string error) {
    auto& slot = slots_[index];
    const bool had_addrs = slot.current == relay_slot::state::reserved;
    slot.current = st;
    slot.last_error = std::move(error);
    slot.since = net::steady_clock::now();
    if (st == relay_slot::state::reserved) slot.failures = 0;
    if (st == relay_slot::state::backoff) ++slot.failures;
    if (st != relay_slot::state::reserved) slot.circuit_addrs.clear();
    if (had_addrs || st == relay_slot::state::reserved) publish();
  };

  while (*alive) {
    const multiaddr relay = slots_[index].relay;
    auto conn = co_await host_.connect(relay);
    if (!*alive) co_return;
    std::string error;
    if (conn) {
      (*conn)->mux->set_keepalive_interval(relay_keepalive);
      auto reserve_op = reserve(host_, *conn);
      auto r = co_await net::with_timeout(std::move(reserve_op), reserve_timeout);
      if (!*alive) co_return;
      if (r) {
        backoff = min_backoff;
        slots_[index].expire_unix = r->expire_unix;
        slots_[index].circuit_addrs = r->circuit_addrs;
        set_state(relay_slot::state::reserved, "");
        spdlog::info("reserved on relay {} until {}", relay.to_string(), r->expire_unix);
        const auto now_unix = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch());
        auto refresh = std::chrono::seconds(r->expire_unix) - now_unix - refresh_margin;
        refresh = std::clamp<std::chrono::seconds>(
            refresh, min_refresh_interval,
            std::chrono::duration_cast<std::chrono::seconds>(max_refresh_interval));
        auto& timer = *timers_[index];
        timer.expires_after(refresh);
        auto mux = (*conn)->mux;
        co_await (timer.async_wait(net::use_nothrow) || mux->wait_closed());
        if (!*alive) co_return;
        if (mux->is_closed()) {
          spdlog::warn("lost connection to relay {}", relay.to_string());
          set_state(relay_slot::state::backoff, "connection to relay lost");
          // Reconnect at once: the relay may only have dropped this connection.
        }
        continue;
      }
      error = "reservation failed: " + r.error().message();
    } else {
      error = "cannot reach relay: " + conn.error().message();
    }
    spdlog::warn("relay {}: {}; retrying in {} s", relay.to_string(), error,
                 std::chrono::duration_cast<std::chrono::seconds>(backoff).count());
    set_state(relay_slot::state::backoff, error);
    auto& timer = *timers_[index];
    timer.expires_after(backoff);
    co_await timer.async_wait(net::use_nothrow);
    backoff = std::min<net::steady_clock::duration>(backoff * 2, max_backoff);
  }
}

}  // namespace peerup::protocols
