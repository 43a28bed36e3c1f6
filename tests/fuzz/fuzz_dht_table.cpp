// The routing table file (dht/table_file): bounds hold after decode, and what
// decodes re-encodes to text that decodes the same.
#include <variant>

#include "dht/table_file.hpp"
#include "fuzz_common.hpp"

using namespace peerup;
using namespace peerup::dht;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto out = decode_table_file(text);
  if (std::holds_alternative<table_file_error>(out)) return 0;
  const auto& entries = std::get<std::vector<table_entry>>(out);
  FUZZ_CHECK(entries.size() <= table_file_limits::max_entries);
  for (const auto& e : entries) FUZZ_CHECK(e.second.size() <= table_file_limits::max_addrs);
  auto again = decode_table_file(encode_table_file(entries));
  FUZZ_CHECK(std::holds_alternative<std::vector<table_entry>>(again));
  // Long multiaddrs may be cut from a line on encode; the peers all stay.
  FUZZ_CHECK(std::get<std::vector<table_entry>>(again).size() == entries.size());
  return 0;
}
