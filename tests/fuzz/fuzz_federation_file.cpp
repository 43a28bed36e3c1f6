// `peerup relay federation` files on arbitrary text. First byte selects:
//   0 the status file a running relay writes (parse_federation_status): it
//     throws std::runtime_error naming the file, or returns what renders to
//     text that parses to the same rendering, within the peering bound;
//   1 relay.yaml edited by add_federation_peer then remove_federation_peer:
//     an accepted edit parses as a relay.yaml holding the peering, and its
//     removal parses without it.
#include <stdexcept>
#include <string>

#include "config/federation_file.hpp"
#include "config/relay_config.hpp"
#include "crypto/keys.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace peerup;

void status(std::string_view text) {
  app::federation_status_file s;
  try {
    s = app::parse_federation_status(text, "/fuzz/federation.status");
  } catch (const std::runtime_error& e) {
    FUZZ_CHECK(std::string_view(e.what()).rfind("/fuzz/federation.status", 0) == 0);
    return;
  }
  FUZZ_CHECK(s.peers.size() <= app::federation_status_max_peers);
  const auto once = app::render_federation_status(s);
  const auto again = app::render_federation_status(
      app::parse_federation_status(once, "/fuzz/federation.status"));
  FUZZ_CHECK(once == again);
}

void edit(std::string_view text) {
  static const auto relay_peer =
      private_key::from_seed(bytes(private_key::seed_length, 2)).value().to_peer_id();
  const auto relay = multiaddr::parse("/ip4/127.0.0.1/tcp/4002").value().with_peer(relay_peer);
  const auto bob = wire::dns_label::parse("bob").value();
  const auto p = wire::federation_peering::make(bob, relay, wire::federation_trust::full).value();
  std::string added;
  try {
    added = app::add_federation_peer(text, "/fuzz/relay.yaml", p);
  } catch (const std::exception&) {
    return;  // refused with a reason: fine
  }
  const auto c = app::parse_relay_config(added, "/fuzz/relay.yaml");
  bool found = false;
  for (const auto& q : c.federation_peers) found = found || q == p;
  FUZZ_CHECK(found);
  const auto removed = app::remove_federation_peer(added, "/fuzz/relay.yaml", bob);
  for (const auto& q : app::parse_relay_config(removed, "/fuzz/relay.yaml").federation_peers)
    FUZZ_CHECK(q.network != bob);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) status(text);
  else edit(text);
  return 0;
}
