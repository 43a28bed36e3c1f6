// The naming codecs (/peerup/names/1.0.0 requests and responses, the
// /peerup/services/1.0.0 list) and the relay's name registry driven by a
// sequence of operations. First byte selects:
//   0 request, 1 response, 2 service list: decode; a decoded message must
//     encode to bytes that decode to the same encoding
//   3 registry: [u8 limits] then [u8 op][u8 arg]...; checks the caps, that
//     a live name never changes hands, and that lookups never see expired
//     records
#include <array>
#include <map>

#include "fuzz_common.hpp"
#include "wire/name_registry.hpp"
#include "wire/names_message.hpp"
#include "wire/service_catalog_message.hpp"

using namespace peerup;
using namespace peerup::wire;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t peer_count = 4;

peer_id make_peer(std::uint8_t n) {
  return peer_id::from_public_key(bytes{0x08, 0x01, 0x12, 0x01, n});
}

template <class Message>
void round_trip(const Message& m) {
  const bytes once = m.encode();
  FUZZ_CHECK(once.size() <= names_max_message_size + names_max_text);
  auto again = Message::decode(once);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->encode() == once);
}

void registry(fuzz::input& in) {
  const std::uint8_t l = in.u8();
  name_registry_limits limits;
  limits.max_names = 1 + (l & 3);
  limits.max_names_per_peer = 1 + ((l >> 2) & 3);
  limits.min_ttl = std::chrono::seconds(1 + ((l >> 4) & 3));
  limits.max_ttl = std::chrono::seconds(1 + ((l >> 6) & 3) * 10);
  name_registry r(limits);
  const std::array<peer_id, peer_count> peers{make_peer(0), make_peer(1), make_peer(2),
                                              make_peer(3)};
  const std::array<dns_label, 4> names{dns_label::parse("a").value(), dns_label::parse("b").value(),
                                       dns_label::parse("c").value(),
                                       dns_label::parse("d").value()};
  name_registry::time_point now{1000h};
  // The model: who holds each name until when, as the rules say.
  std::map<std::size_t, std::pair<std::size_t, name_registry::time_point>> held;
  for (std::size_t ops = 0; !in.empty() && ops < 4096; ++ops) {
    const std::uint8_t op = in.u8();
    const std::uint8_t arg = in.u8();
    const std::size_t name = arg % names.size();
    const std::size_t peer = (arg >> 2) % peer_count;
    switch (op % 4) {
      case 0: {
        const auto ttl = std::chrono::seconds(arg >> 4);
        const auto d = r.register_name(names[name], peers[peer], {}, ttl, now);
        auto it = held.find(name);
        const bool live = it != held.end() && it->second.second > now;
        if (live && it->second.first != peer) FUZZ_CHECK(d.status == names_status::name_taken);
        if (d.status == names_status::ok) {
          FUZZ_CHECK(!live || it->second.first == peer);
          FUZZ_CHECK(d.ttl >= limits.min_ttl && d.ttl <= std::max(limits.min_ttl, limits.max_ttl));
          held[name] = {peer, now + d.ttl};
        }
        break;
      }
      case 1: {
        const auto* rec = r.lookup(names[name], now);
        auto it = held.find(name);
        const bool live = it != held.end() && it->second.second > now;
        FUZZ_CHECK((rec != nullptr) == live);
        if (rec) FUZZ_CHECK(rec->peer == peers[it->second.first] && rec->expires > now);
        break;
      }
      case 2: now += std::chrono::seconds(arg % 64); break;
      case 3: r.expire(now); break;
    }
    FUZZ_CHECK(r.size() <= limits.max_names);
    for (const auto& p : peers) FUZZ_CHECK(r.names_of(p) <= limits.max_names_per_peer);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::uint8_t which = in.u8() % 4;
  switch (which) {
    case 0: {
      auto m = names_request::decode(in.rest());
      if (!m) return 0;
      FUZZ_CHECK(m->addrs.size() <= names_max_addrs);
      FUZZ_CHECK(!m->host.str().empty() && m->host.str().size() <= dns_label::max_length);
      round_trip(*m);
      break;
    }
    case 1: {
      auto m = names_response::decode(in.rest());
      if (!m) return 0;
      FUZZ_CHECK(m->addrs.size() <= names_max_addrs && m->text.size() <= names_max_text);
      (void)to_string(m->status);
      round_trip(*m);
      break;
    }
    case 2: {
      auto list = decode_service_list(in.rest());
      if (!list) return 0;
      FUZZ_CHECK(list->size() <= service_catalog_limits::max_services);
      auto again = decode_service_list(encode_service_list(*list));
      FUZZ_CHECK(again.has_value() && *again == *list);
      break;
    }
    case 3: registry(in); break;
  }
  return 0;
}
