#include "dht/table_file.hpp"

#include <variant>

namespace peerup::dht {

std::string encode_table_file(const std::vector<table_entry>& entries) {
  std::string out = "# peerup DHT routing table: <peer-id> <multiaddr>... (rewritten by the daemon)\n";
  std::size_t n = 0;
  for (const auto& [id, addrs] : entries) {
    if (n++ >= table_file_limits::max_entries) break;
    std::string line = id.to_string();
    std::size_t k = 0;
    for (const auto& a : addrs) {
      if (k >= table_file_limits::max_addrs) break;
      const auto text = a.to_string();
      if (line.size() + 1 + text.size() > table_file_limits::max_line) break;
      line += " " + text;
      ++k;
    }
    out += line + "\n";
  }
  return out;
}

std::variant<std::vector<table_entry>, table_file_error> decode_table_file(std::string_view text) {
  // SECURITY: bounded before anything is parsed.
  if (text.size() > table_file_limits::max_size)
    return table_file_error{0, "larger than " + std::to_string(table_file_limits::max_size) +
                                   " bytes"};
  std::vector<table_entry> out;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.size() > table_file_limits::max_line)
      return table_file_error{line_no, "line longer than " +
                                           std::to_string(table_file_limits::max_line) + " bytes"};
    if (out.size() >= table_file_limits::max_entries)
      return table_file_error{line_no, "more than " +
                                           std::to_string(table_file_limits::max_entries) +
                                           " peers"};
    std::vector<std::string_view> words;
    std::size_t pos = 0;
    while (pos < line.size()) {
      const auto sp = line.find(' ', pos);
      const auto end = sp == std::string_view::npos ? line.size() : sp;
      if (end > pos) words.push_back(line.substr(pos, end - pos));
      pos = end + 1;
    }
    if (words.empty()) continue;
    auto id = peer_id::parse(words[0]);
    if (!id) return table_file_error{line_no, "expected a peer ID first"};
    if (words.size() - 1 > table_file_limits::max_addrs)
      return table_file_error{line_no, "more than " +
                                           std::to_string(table_file_limits::max_addrs) +
                                           " addresses"};
    std::vector<multiaddr> addrs;
    for (std::size_t i = 1; i < words.size(); ++i) {
      auto a = multiaddr::parse(words[i]);
      if (!a) return table_file_error{line_no, "address " + std::to_string(i) + " is no multiaddr"};
      addrs.push_back(std::move(*a));
    }
    out.emplace_back(std::move(*id), std::move(addrs));
  }
  return out;
}

}  // namespace peerup::dht
