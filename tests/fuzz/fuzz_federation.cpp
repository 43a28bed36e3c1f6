// The relay federation codecs (/peerup/federation/1.0.0 requests and
// responses, signed name records) and the federation state driven by a
// sequence of operations. First byte selects:
//   0 request, 1 response, 2 name record body: decode; a decoded message
//     must encode to bytes that decode to the same encoding
//   3 signed record: open it, and verify it as an answer for <host>.bob at a
//     relay peered with bob (key 0x02) and alice (key 0x03); an accepted
//     record is signed by bob's key and names bob and the host asked
//   4 state: [u8 limits] then [u8 op][u8 arg]...; checks the cache bound,
//     that strangers and forwarded requests are never answered, that
//     one_way peers are never asked, and that buckets never grant more than
//     their burst at one instant; MEMBER requests are granted only to full
//     peerings, and cached members always belong to a current peering;
//     forward routes are full peerings holding a record for that peer; the
//     per-IP bucket for unknown CONNECTs never grants more than its burst
#include <array>

#include "fuzz_common.hpp"
#include "noise_fixtures.hpp"
#include "wire/federation_message.hpp"
#include "wire/federation_state.hpp"

using namespace peerup;
using namespace peerup::wire;
using namespace std::chrono_literals;

namespace {

template <class Message>
void round_trip(const Message& m) {
  const bytes once = m.encode();
  auto again = Message::decode(once);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->encode() == once);
}

dns_label label(std::string_view s) { return dns_label::parse(s).value(); }

multiaddr relay_addr(const private_key& k) {
  return multiaddr::parse("/ip4/127.0.0.1/tcp/4001").value().with_peer(k.to_peer_id());
}

federation_state make_state(federation_limits l) {
  federation_state s(label("grewal"), l);
  FUZZ_CHECK(s.add_peering(federation_peering::make(label("bob"), relay_addr(fuzz::fixed_identity(2)),
                                                    federation_trust::full)
                               .value()));
  FUZZ_CHECK(s.add_peering(federation_peering::make(label("alice"),
                                                    relay_addr(fuzz::fixed_identity(3)),
                                                    federation_trust::one_way)
                               .value()));
  return s;
}

void signed_record(fuzz::input& in) {
  const std::uint8_t host_pick = in.u8();
  const std::uint64_t now_unix = 1700000000 + in.u16();
  const auto envelope = in.rest();
  auto opened = open_name_record(envelope);
  if (opened) round_trip(opened->body);
  auto s = make_state({});
  const std::array<dns_label, 3> hosts{label("server"), label("home"), label("a")};
  const auto& host = hosts[host_pick % hosts.size()];
  auto ok = s.verify_record(label("bob"), host, envelope, now_unix);
  if (!ok) return;
  FUZZ_CHECK(opened.has_value());
  FUZZ_CHECK(opened->signer == fuzz::fixed_identity(2).to_peer_id());
  FUZZ_CHECK(ok->network.str() == "bob" && ok->host == host);
  FUZZ_CHECK(ok->issued <= now_unix + 60 && ok->issued + ok->ttl + 60 > now_unix);
}

void state_ops(fuzz::input& in) {
  const std::uint8_t l = in.u8();
  federation_limits limits;
  limits.max_cache = l & 7;
  limits.lookups_per_second = 1 + ((l >> 3) & 3);
  limits.cache_ttl = std::chrono::seconds(1 + ((l >> 5) & 7) * 10);
  limits.stale_ttl = std::chrono::seconds(10);
  limits.unknown_connects_per_ip = 1 + (l & 3);
  limits.max_ip_buckets = 2;
  auto s = make_state(limits);
  const std::array<dns_label, 4> nets{label("bob"), label("alice"), label("grewal"), label("carol")};
  const std::array<dns_label, 4> hosts{label("a"), label("b"), label("c"), label("d")};
  const std::array<peer_id, 3> relays{fuzz::fixed_identity(2).to_peer_id(),
                                      fuzz::fixed_identity(3).to_peer_id(),
                                      fuzz::fixed_identity(4).to_peer_id()};
  federation_state::time_point now{1000h};
  const std::uint64_t unix0 = 1700000000;
  std::array<int, 3> granted_at_now{};
  for (std::size_t ops = 0; !in.empty() && ops < 4096; ++ops) {
    const std::uint8_t op = in.u8();
    const std::uint8_t arg = in.u8();
    const auto& net = nets[arg % nets.size()];
    const auto& host = hosts[(arg >> 2) % hosts.size()];
    switch (op % 12) {
      case 0: {
        name_record_body r{net, host, relays[0], {}, unix0, 1u + (arg >> 4) * 60};
        s.store(r, now, unix0);
        break;
      }
      case 1: s.store_not_found(net, host, now); break;
      case 2: {
        auto a = s.cached(net, host, now);
        if (a && a->record) FUZZ_CHECK(a->record->network == net && a->record->host == host);
        FUZZ_CHECK(!a || s.peering(net));
        break;
      }
      case 3: {
        const std::size_t who = (arg >> 4) % relays.size();
        const std::array<std::string_view, 4> origins{"bob", "alice", "grewal", "carol"};
        federation_request req{federation_request_type::lookup, label(origins[(arg >> 6) & 3]),
                               label("grewal"), host, static_cast<std::uint32_t>(arg & 1)};
        const auto st = s.check_request(relays[who], req, now);
        if (st == federation_status::ok) {
          FUZZ_CHECK(req.hops == 0 && s.peering_of(relays[who]) != nullptr);
          FUZZ_CHECK(s.peering_of(relays[who])->network == req.origin);
          ++granted_at_now[who];
          FUZZ_CHECK(granted_at_now[who] <= static_cast<int>(2 * limits.lookups_per_second));
        }
        break;
      }
      case 4: {
        auto asked = s.may_ask(net);
        if (asked) FUZZ_CHECK((*asked)->trust == federation_trust::full);
        break;
      }
      case 5:
        now += std::chrono::seconds(arg % 32);
        if (arg % 32) granted_at_now.fill(0);
        break;
      case 6: s.expire(now); break;
      case 7: {
        if (arg & 1) {
          s.remove_peering(net);
          FUZZ_CHECK(!s.cached(net, host, now));
        } else {
          (void)s.due_for_refresh(now);
          (void)s.status(net);
        }
        break;
      }
      case 8: {
        const std::size_t who = (arg >> 4) % relays.size();
        const std::array<std::string_view, 2> origins{"bob", "alice"};
        federation_request req{federation_request_type::member, label(origins[arg & 1]),
                               std::nullopt, std::nullopt, 0, relays[arg % relays.size()]};
        if (s.check_request(relays[who], req, now) == federation_status::ok) {
          FUZZ_CHECK(s.peering_of(relays[who]) != nullptr);
          FUZZ_CHECK(s.peering_of(relays[who])->trust == federation_trust::full);
        }
        break;
      }
      case 9: {
        const auto& who = relays[arg % relays.size()];
        std::optional<dns_label> n;
        if (arg & 4) n = net;
        s.store_member(who, n, now);
        if (auto m = s.cached_member(who, now); m && m->network) FUZZ_CHECK(s.peering(*m->network));
        FUZZ_CHECK(s.member_ask_order().size() <= limits.max_member_asks);
        break;
      }
      case 10: {
        // The forwarded path: a route is always a full peering that holds a
        // record for that peer ID (relays[0] is the only peer stored).
        const auto& target = relays[arg % relays.size()];
        if (const auto* p = s.forward_route(target, now)) {
          FUZZ_CHECK(p->trust == federation_trust::full && target == relays[0]);
          FUZZ_CHECK(s.peering(p->network) != nullptr);
        }
        break;
      }
      case 11: {
        // Unknown CONNECTs per IP: never more than the per-minute burst at
        // one instant, and the IP table stays bounded.
        const std::array<std::string_view, 3> ips{"192.0.2.1", "192.0.2.2", "2001:db8::1"};
        const auto& ip = ips[arg % ips.size()];
        int granted = 0;
        for (int i = 0; i < 8; ++i) granted += s.take_unknown_ip_token(ip, now);
        FUZZ_CHECK(granted <= static_cast<int>(limits.unknown_connects_per_ip));
        FUZZ_CHECK(s.ip_bucket_count() <= limits.max_ip_buckets);
        break;
      }
    }
    FUZZ_CHECK(s.cache_size() <= limits.max_cache);
    FUZZ_CHECK(s.member_cache_size() <= limits.max_cache);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  switch (in.u8() % 5) {
    case 0: {
      auto m = federation_request::decode(in.rest());
      if (!m) return 0;
      FUZZ_CHECK(m->type != federation_request_type::lookup || (m->network && m->host));
      round_trip(*m);
      break;
    }
    case 1: {
      auto m = federation_response::decode(in.rest());
      if (!m) return 0;
      FUZZ_CHECK(m->text.size() <= federation_max_text);
      FUZZ_CHECK(m->record.size() <= federation_max_message_size);
      (void)to_string(m->status);
      round_trip(*m);
      break;
    }
    case 2: {
      auto m = name_record_body::decode(in.rest());
      if (!m) return 0;
      FUZZ_CHECK(m->addrs.size() <= names_max_addrs);
      FUZZ_CHECK(m->ttl >= 1 && m->ttl <= federation_max_record_ttl);
      round_trip(*m);
      break;
    }
    case 3: signed_record(in); break;
    case 4: state_ops(in); break;
  }
  return 0;
}
