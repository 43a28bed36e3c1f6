#include "config/names_file.hpp"

namespace peerup::app {

namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view next_word(std::string_view& rest) {
  while (!rest.empty() && space(rest.front())) rest.remove_prefix(1);
  std::size_t n = 0;
  while (n < rest.size() && !space(rest[n])) ++n;
  auto word = rest.substr(0, n);
  rest.remove_prefix(n);
  return word;
}

}  // namespace

names_file parse_names_file(std::string_view text) {
  names_file out;
  // SECURITY: bounded before anything is split or stored.
  if (text.size() > names_file_limits::max_file_size) {
    out.problems.push_back(
        {0, "larger than " + std::to_string(names_file_limits::max_file_size) + " bytes"});
    return out;
  }
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.size() > names_file_limits::max_line) {
      out.problems.push_back(
          {line_no, "line longer than " + std::to_string(names_file_limits::max_line) + " bytes"});
      continue;
    }
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::string_view rest = line;
    const auto name = next_word(rest);
    if (name.empty()) continue;
    const auto target = next_word(rest);
    if (target.empty() || !next_word(rest).empty()) {
      out.problems.push_back({line_no, "expected \"<name> <peer-id or multiaddr>\""});
      continue;
    }
    if (!valid_name(name)) {
      out.problems.push_back(
          {line_no, "\"" + std::string(name) +
                        "\" is not a name (1-64 letters, digits, '.', '_' or '-', not a peer ID)"});
      continue;
    }
    std::optional<name_target> t;
    if (auto id = peer_id::parse(target)) {
      t = name_target{*id, std::nullopt};
    } else if (auto a = multiaddr::parse(target); a && a->peer()) {
      t = name_target{*a->peer(), *a};
    } else {
      out.problems.push_back({line_no, "\"" + std::string(target) +
                                           "\" is neither a peer ID nor a multiaddr ending in "
                                           "/p2p/<peer-id>"});
      continue;
    }
    if (out.names.count(std::string(name))) {
      out.problems.push_back({line_no, "\"" + std::string(name) + "\" given twice"});
      continue;
    }
    if (out.names.size() >= names_file_limits::max_entries) {
      out.problems.push_back(
          {line_no, "more than " + std::to_string(names_file_limits::max_entries) + " names"});
      break;
    }
    out.names.emplace(std::string(name), std::move(*t));
  }
  return out;
}

}  // namespace peerup::app
