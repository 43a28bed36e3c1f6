// The authorized_keys parser and its text edits on arbitrary text.
//
// Checks beyond "no crash":
// - entry and problem line numbers lie in the file; at most max_entries
// - the parsed entries, printed with to_line() one per line, parse back
//   without problems to the same entries (peer, services, comment; a bare CR
//   inside a comment prints as a space, see regressions/authorized_keys)
// - upsert_authorized_key leaves exactly one entry for its peer, equal to the
//   one upserted, and every other entry as it was; remove_authorized_key
//   leaves none of the peer's entries and every other entry as it was
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "config/authorized_keys.hpp"

namespace {

using namespace peerup;

// The comment as to_line() prints it: a bare CR inside a comment becomes a
// space (to_line never writes a line break into one), ends trimmed.
std::string printed_comment(std::string_view c) {
  std::string out(c);
  std::replace(out.begin(), out.end(), '\r', ' ');
  std::replace(out.begin(), out.end(), '\n', ' ');
  const auto first = out.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return out.substr(first, out.find_last_not_of(" \t") - first + 1);
}

bool same_entry(const app::authorized_key& a, const app::authorized_key& b) {
  return a.peer == b.peer && a.services == b.services &&
         printed_comment(a.comment) == printed_comment(b.comment);
}

bool same_entries(const std::vector<app::authorized_key>& a,
                  const std::vector<app::authorized_key>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), same_entry);
}

std::vector<app::authorized_key> without(std::vector<app::authorized_key> v, const peer_id& p) {
  std::erase_if(v, [&](const app::authorized_key& k) { return k.peer == p; });
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // SECURITY: the daemon reads at most max_file_size; so does the harness.
  if (size > app::authorized_keys_limits::max_file_size) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = app::parse_authorized_keys(text);
  const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  FUZZ_CHECK(parsed.entries.size() <= app::authorized_keys_limits::max_entries);
  for (const auto& e : parsed.entries) FUZZ_CHECK(e.line >= 1 && e.line <= lines);
  for (const auto& p : parsed.problems) FUZZ_CHECK(p.line >= 0 && p.line <= lines);

  std::string printed;
  for (const auto& e : parsed.entries) printed += e.to_line() + "\n";
  const auto reparsed = app::parse_authorized_keys(printed);
  if (!reparsed.problems.empty())
    std::fprintf(stderr, "printed entries do not parse: line %d: %s\n",
                 reparsed.problems.front().line, reparsed.problems.front().message.c_str());
  FUZZ_CHECK(reparsed.problems.empty());
  FUZZ_CHECK(same_entries(reparsed.entries, parsed.entries));

  if (parsed.entries.empty() || !parsed.problems.empty()) return 0;
  // Edit the peer of the first entry: a new line for it, then remove it.
  app::authorized_key key = parsed.entries.front();
  key.comment = "edited";
  const auto upserted = app::parse_authorized_keys(app::upsert_authorized_key(text, key));
  FUZZ_CHECK(upserted.problems.empty());
  const auto others = without(parsed.entries, key.peer);
  FUZZ_CHECK(std::count_if(upserted.entries.begin(), upserted.entries.end(),
                           [&](const auto& k) { return k.peer == key.peer; }) == 1);
  for (const auto& k : upserted.entries)
    if (k.peer == key.peer) FUZZ_CHECK(same_entry(k, key));
  FUZZ_CHECK(same_entries(without(upserted.entries, key.peer), others));

  int removed = 0;
  const auto after_remove =
      app::parse_authorized_keys(app::remove_authorized_key(text, key.peer, removed));
  FUZZ_CHECK(removed >= 1);
  FUZZ_CHECK(after_remove.problems.empty());
  FUZZ_CHECK(same_entries(after_remove.entries, others));
  return 0;
}
