// The relay server's reservation and circuit accounting driven by a sequence
// of operations decoded from the input, among 8 peers and 4 IPs.
// Layout: [u8 limits][u8 flags] then operations [u8 op][args]...
// Checks the caps and the access rules after every step, and that circuit ids
// close exactly once.
#include <array>
#include <optional>
#include <set>

#include "fuzz_common.hpp"
#include "wire/relay_message.hpp"
#include "wire/relay_server_state.hpp"

using namespace peerup;
using namespace peerup::wire;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t peer_count = 8;

const std::array<std::string_view, 4> ips = {"192.0.2.1", "192.0.2.2", "2001:db8::1", ""};

peer_id make_peer(std::uint8_t n) {
  return peer_id::from_public_key(bytes{0x08, 0x01, 0x12, 0x01, n});
}

relay_limits limits_from(std::uint8_t b) {
  relay_limits l;
  l.max_reservations = 1 + (b & 3);
  l.max_reservations_per_ip = (b >> 2) & 3;
  l.max_circuits_per_peer = (b >> 4) & 3;
  l.max_circuits = 1 + ((b >> 6) & 3);
  l.reservation_ttl = std::chrono::seconds{(b & 1) ? 60 : 0};
  if (b & 0x80) {
    l.circuit_duration = 30s;
    l.circuit_data = 1000;
  }
  if (b & 0x40) {
    l.open_circuit_duration = 0s;
    l.open_circuit_data = 0;
  }
  return l;
}

void check_reply(const hop_message& m) {
  auto again = hop_message::decode(m.encode());
  FUZZ_CHECK(again.has_value() && *again == m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const relay_limits limits = limits_from(in.u8());
  const std::uint8_t flags = in.u8();
  const relay_access access = (flags & 1) ? relay_access::open : relay_access::closed;
  relay_server_state state(limits, access);

  std::array<peer_id, peer_count> peers = {make_peer(0), make_peer(1), make_peer(2), make_peer(3),
                                           make_peer(4), make_peer(5), make_peer(6), make_peer(7)};
  // Around 2023, moving in whole seconds; may jump back like a real wall clock.
  relay_server_state::time_point now{std::chrono::seconds{1'700'000'000}};
  std::set<circuit_id> open_circuits;
  circuit_id last_circuit = 0;

  for (std::size_t ops = 0; !in.empty() && ops < 4096; ++ops) {
    const std::uint8_t op = in.u8();
    const std::uint8_t arg = in.u8();
    const relay_requester from{peers[arg % peer_count], ips[(arg >> 3) % ips.size()],
                               (arg & 0x20) != 0, (arg & 0x40) != 0 && (op & 0x80) != 0};
    // Low 5 bits pick the operation; 0x20, 0x40 and 0x80 are flags.
    switch ((op & 0x1f) % 7) {
      case 0: {
        const auto d = state.reserve(from, now);
        if (from.over_relayed || (access == relay_access::closed && !from.authorized)) {
          FUZZ_CHECK(d.status == relay_status::permission_denied);
        }
        if (d.status == relay_status::ok) {
          FUZZ_CHECK(d.expire == static_cast<std::uint64_t>(
                                     std::chrono::duration_cast<std::chrono::seconds>(
                                         (now + limits.reservation_ttl).time_since_epoch())
                                         .count()));
          if (limits.reservation_ttl.count() > 0) FUZZ_CHECK(state.has_reservation(from.peer, now));
        } else {
          FUZZ_CHECK(!d.limit);
        }
        check_reply(make_reservation_reply(d, {bytes{0x04, 127, 0, 0, 1}}, bytes{1, 2, 3}));
        break;
      }
      case 1: {
        const peer_id& target = peers[in.u8() % peer_count];
        const bool target_had = state.has_reservation(target, now);
        // op bit 0x40: a forwarded circuit (federation) through the peer relay
        // named by the next byte (low 3 bits), at most (byte >> 3) & 3 of
        // them, onward (no reservation needed) when op bit 0x20 is set.
        std::optional<circuit_via> via;
        if (op & 0x40) {
          const std::uint8_t v = in.u8();
          via = circuit_via{peers[v % peer_count], static_cast<std::size_t>((v >> 3) & 3),
                            relay_limit{60, 4096}, (op & 0x20) != 0};
        }
        const std::size_t through_before = via ? state.forwarded_through(via->peer_relay) : 0;
        const auto d = state.connect(from, target, now, via ? &*via : nullptr);
        // A circuit to oneself would count twice against one peer's cap.
        if (from.over_relayed || (access == relay_access::closed && !from.authorized) ||
            from.peer == target) {
          FUZZ_CHECK(d.status == relay_status::permission_denied);
        }
        // A relay never forwards to itself or back to the relay it came from.
        if (via && (via->peer_relay == target || via->peer_relay == from.peer)) {
          FUZZ_CHECK(d.status == relay_status::permission_denied);
        }
        if (d.status == relay_status::ok && via) {
          FUZZ_CHECK(through_before < via->max_per_relay);
          FUZZ_CHECK(state.forwarded_through(via->peer_relay) == through_before + 1);
          // The forwarding cap always applies.
          FUZZ_CHECK(d.limit && d.limit->duration && *d.limit->duration <= 60);
          FUZZ_CHECK(d.limit->data && *d.limit->data <= 4096);
        }
        if (d.status == relay_status::ok) {
          FUZZ_CHECK(target_had || (via && via->onward));
          FUZZ_CHECK(d.circuit > last_circuit);
          last_circuit = d.circuit;
          open_circuits.insert(d.circuit);
          // An unauthorized source never gets an unlimited circuit when open limits exist.
          if (!from.authorized &&
              (limits.open_circuit_duration.count() > 0 || limits.open_circuit_data > 0)) {
            FUZZ_CHECK(d.limit.has_value());
          }
        }
        check_reply(make_connect_reply(d));
        break;
      }
      case 2: {
        // Close a circuit we know of, or a random id.
        circuit_id id = in.u8();
        if (!open_circuits.empty() && (arg & 1)) {
          auto it = open_circuits.begin();
          std::advance(it, in.u8() % open_circuits.size());
          id = *it;
        }
        const bool expected = open_circuits.erase(id) > 0;
        FUZZ_CHECK(state.circuit_closed(id) == expected);
        break;
      }
      case 3:
        state.peer_disconnected(from.peer);
        FUZZ_CHECK(!state.has_reservation(from.peer, now));
        break;
      case 4: {
        const std::size_t before = state.reservation_count();
        const std::size_t dropped = state.expire(now);
        FUZZ_CHECK(state.reservation_count() == before - dropped);
        break;
      }
      case 5: now += std::chrono::seconds{arg}; break;
      case 6: now -= std::chrono::seconds{arg % 8}; break;
    }

    FUZZ_CHECK(state.reservation_count() <= limits.max_reservations);
    FUZZ_CHECK(state.circuit_count() <= limits.max_circuits);
    FUZZ_CHECK(state.circuit_count() == open_circuits.size());
    std::size_t ends = 0, live = 0;
    for (const auto& p : peers) {
      FUZZ_CHECK(state.circuits_of(p) <= limits.max_circuits_per_peer);
      ends += state.circuits_of(p);
      live += state.has_reservation(p, now) ? 1 : 0;
    }
    FUZZ_CHECK(ends == 2 * state.circuit_count());  // each circuit has a source and a target
    std::size_t forwarded = 0;
    for (const auto& p : peers) forwarded += state.forwarded_through(p);
    FUZZ_CHECK(forwarded <= state.circuit_count());
    FUZZ_CHECK(live <= state.reservation_count());
  }
  return 0;
}
