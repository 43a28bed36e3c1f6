// `peerup relay federation add|remove|list` (docs/federation.md): editing
// relay.yaml's federation.peers, and the status file a running relay writes
// next to relay.yaml so `list` can show each peering's state.
//
// Edits are text edits: the top-level `federation:` block is replaced by one
// rendered from the new peerings (cache_ttl and the other limits kept), the
// rest of the file (comments included) is left as it was, and the result is
// validated with parse_relay_config before it is written (atomically, by the
// caller through replace_file).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wire/federation_state.hpp"

namespace peerup::app {

// relay.yaml's text with `peer` added (replace = false: refused when its
// network or relay peer ID is there already). Throws std::runtime_error with
// "<file>:<line>: ..." for a file that does not validate before or after
// (e.g. no names.network), or std::invalid_argument naming the conflict.
std::string add_federation_peer(std::string_view yaml, const std::string& file,
                                const wire::federation_peering& peer);
// relay.yaml's text without the peering of `network`; std::invalid_argument
// when there is none.
std::string remove_federation_peer(std::string_view yaml, const std::string& file,
                                   const wire::dns_label& network);

// One line of the status file per peering.
struct federation_peer_status {
  wire::dns_label network;
  wire::federation_trust trust = wire::federation_trust::full;
  enum class state { unknown, up, down } st = state::unknown;  // unknown: never asked yet
  std::optional<std::uint64_t> last_ok_unix;
  std::uint64_t names_known = 0;
  std::string relay;       // the peering's multiaddr
  std::string last_error;  // printable ASCII, at most 200 bytes
};
struct federation_status_file {
  std::uint64_t written_unix = 0;
  std::vector<federation_peer_status> peers;
};
inline constexpr std::string_view federation_status_name = "federation.status";
// SECURITY: the file is read by `list` only, but bounded all the same.
inline constexpr std::size_t federation_status_max_size = 64 * 1024;
inline constexpr std::size_t federation_status_max_peers = 64;

std::string render_federation_status(const federation_status_file& s);
// Throws std::runtime_error("<file>:<line>: ...") on anything it did not write.
federation_status_file parse_federation_status(std::string_view text, const std::string& file);
std::string_view to_string(federation_peer_status::state s);

}  // namespace peerup::app
