// The status document (`peerup status` reads <config dir>/status.json and the
// control API's /v1/status), in particular its "network" section (the TUN
// network mode's counters): parse_status on arbitrary bytes.
//
// Checks beyond "no crash":
// - the network section stays within its bounds (4096 peers, 64 drop reasons)
// - what parses, written back with to_json, parses again to the same counters
//   (the writer and the reader agree on every field)
// - render_status never throws on what parsed
#include <string>

#include "fuzz_common.hpp"
#include "node/status.hpp"

using namespace peerup;
using namespace peerup::app;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto s = parse_status(in);
  if (!s) return 0;
  if (s->network) {
    FUZZ_CHECK(s->network->peers.size() <= 4096);
    FUZZ_CHECK(s->network->dropped.size() <= 64);
  }
  (void)render_status(*s);
  auto again = parse_status(to_json(*s));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->network.has_value() == s->network.has_value());
  if (s->network) {
    FUZZ_CHECK(again->network->total == s->network->total);
    FUZZ_CHECK(again->network->peers.size() == s->network->peers.size());
    FUZZ_CHECK(again->network->mtu == s->network->mtu);
  }
  return 0;
}
