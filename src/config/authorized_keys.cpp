#include "config/authorized_keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "config/file_write.hpp"
#include "config/identity_file.hpp"

namespace peerup::app {

namespace fs = std::filesystem;

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_space(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string_view next_token(std::string_view& rest) {
  rest = trim(rest);
  std::size_t end = 0;
  while (end < rest.size() && !is_space(rest[end])) ++end;
  auto tok = rest.substr(0, end);
  rest = trim(rest.substr(end));
  return tok;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::string quoted(std::string_view s) {
  if (s.size() > 60) return "\"" + std::string(s.substr(0, 57)) + "...\"";
  return "\"" + std::string(s) + "\"";
}

// Parses "service=a,b" into `out`; returns an error message or "".
std::string parse_options(std::string_view tok, std::vector<service_name>& out) {
  const auto eq = tok.find('=');
  const auto key = tok.substr(0, eq);
  if (key != "service")
    return "unknown option " + quoted(key) + " (expected service=NAME[,NAME...])";
  auto list = tok.substr(eq + 1);
  if (list.empty()) return "service= needs at least one service name";
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto name = list.substr(0, comma);
    auto s = service_name::parse(name);
    if (!s) return "bad service name " + quoted(name) + " (1-64 letters, digits, '.', '_', '-')";
    if (out.size() >= authorized_keys_limits::max_services_per_entry)
      return "more than " + std::to_string(authorized_keys_limits::max_services_per_entry) +
             " services in one entry";
    out.push_back(*s);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
    if (list.empty()) return "service= list ends with ','";
  }
  return {};
}

// Parses one line. Returns nullopt for blank and comment lines; sets `error`
// for bad ones.
std::optional<authorized_key> parse_line(std::string_view raw, int line_no, std::string& error) {
  // SECURITY: long lines are refused before any parsing.
  if (raw.size() > authorized_keys_limits::max_line) {
    error = "line longer than " + std::to_string(authorized_keys_limits::max_line) + " bytes";
    return std::nullopt;
  }
  std::string_view rest = trim(raw);
  if (rest.empty() || rest.front() == '#') return std::nullopt;
  std::vector<service_name> services;
  auto tok = next_token(rest);
  if (tok.find('=') != std::string_view::npos) {
    error = parse_options(tok, services);
    if (!error.empty()) return std::nullopt;
    tok = next_token(rest);
    if (tok.empty()) {
      error = "expected a peer ID after the options";
      return std::nullopt;
    }
  }
  auto id = peer_id::parse(tok);
  if (!id) {
    error = "expected a peer ID (12D3KooW...), got " + quoted(tok);
    return std::nullopt;
  }
  return authorized_key{*id, std::move(services), std::string(rest), line_no};
}

bool is_entry_of(std::string_view line, const peer_id& peer) {
  std::string error;
  auto k = parse_line(line, 0, error);
  return k && k->peer == peer;
}

}  // namespace

bool authorized_key::allows(const service_name& s) const {
  if (services.empty()) return true;
  for (const auto& x : services)
    if (x == s) return true;
  return false;
}

std::string authorized_key::to_line() const {
  std::string out;
  if (!services.empty()) {
    out = "service=";
    for (std::size_t i = 0; i < services.size(); ++i) out += (i ? "," : "") + services[i].str();
    out += " ";
  }
  out += peer.to_string();
  // A comment never spans lines: a newline in it would start a new entry.
  std::string c;
  for (char ch : comment) c += (ch == '\n' || ch == '\r') ? ' ' : ch;
  if (!trim(c).empty()) out += " " + std::string(trim(c));
  return out;
}

namespace {

// Why `key` cannot be written as one line that parses back, or nullopt.
std::optional<std::string> entry_problem(const authorized_key& key) {
  for (std::size_t i = 0; i < key.comment.size(); ++i) {
    const auto b = static_cast<unsigned char>(key.comment[i]);
    if ((b < 0x20 && b != '\t') || b == 0x7f) {
      char code[8];
      std::snprintf(code, sizeof code, "U+%04X", b);
      return std::string("the comment holds control character ") + code + " (byte " +
             std::to_string(i) + "); a comment is one line of text";
    }
  }
  // SECURITY: a longer line would make the whole file fail to load.
  if (const auto size = key.to_line().size(); size > authorized_keys_limits::max_line)
    return "the entry would be " + std::to_string(size) + " bytes, over the " +
           std::to_string(authorized_keys_limits::max_line) +
           "-byte line limit; shorten the comment";
  return std::nullopt;
}

}  // namespace

authorized_keys_file parse_authorized_keys(std::string_view text) {
  authorized_keys_file out;
  // SECURITY: whole-file bound before splitting it into lines.
  if (text.size() > authorized_keys_limits::max_file_size) {
    out.problems.push_back(
        {0,
         "file larger than " + std::to_string(authorized_keys_limits::max_file_size) + " bytes"});
    return out;
  }
  int line_no = 0;
  for (auto line : split_lines(text)) {
    ++line_no;
    std::string error;
    auto k = parse_line(line, line_no, error);
    if (!error.empty()) {
      out.problems.push_back({line_no, error});
      continue;
    }
    if (!k) continue;
    if (out.entries.size() >= authorized_keys_limits::max_entries) {
      out.problems.push_back({line_no, "more than " +
                                           std::to_string(authorized_keys_limits::max_entries) +
                                           " entries; the rest of the file is ignored"});
      break;
    }
    out.entries.push_back(std::move(*k));
  }
  return out;
}

std::string read_small_file(const fs::path& path, std::size_t max_size) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw std::runtime_error(path.string() + ": cannot read: " + ec.message());
  if (size > max_size)
    throw std::runtime_error(path.string() + ": larger than " + std::to_string(max_size) +
                             " bytes");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // Not an empty file: an unreadable authorized_keys must not read as
    // "nobody is authorized", nor a names file as "no names".
    if (errno == EACCES) throw std::runtime_error(owner_problem(path, "file"));
    throw std::runtime_error(path.string() + ": cannot read: " + std::strerror(errno));
  }
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

void write_private_file(const fs::path& path, std::string_view text, bool durable) {
  // Owner bits and owner kept; group/other access never (the loaders refuse it).
  replace_file(path, text, {.new_mode = 0600, .keep_mask = 0700, .durable = durable});
}

std::string upsert_authorized_key(std::string_view text, const authorized_key& key) {
  std::string out;
  bool placed = false;
  for (auto line : split_lines(text)) {
    if (is_entry_of(line, key.peer)) {
      if (!placed) out += key.to_line() + "\n";
      placed = true;
      continue;
    }
    out += std::string(line) + "\n";
  }
  if (!placed) out += key.to_line() + "\n";
  return out;
}

std::string upsert_authorized_key_checked(std::string_view text, const authorized_key& key) {
  if (auto problem = entry_problem(key)) throw std::invalid_argument(*problem);
  std::string out = upsert_authorized_key(text, key);
  const auto before = parse_authorized_keys(text).problems.size();
  const auto after = parse_authorized_keys(out);
  if (after.problems.size() > before) {
    const auto& p = after.problems.back();
    throw std::invalid_argument("not written: the file would no longer load (" +
                                (p.line ? "line " + std::to_string(p.line) + ": " : "") +
                                p.message + ")");
  }
  return out;
}

std::string remove_authorized_key(std::string_view text, const peer_id& peer, int& removed) {
  std::string out;
  removed = 0;
  for (auto line : split_lines(text)) {
    if (is_entry_of(line, peer)) {
      ++removed;
      continue;
    }
    out += std::string(line) + "\n";
  }
  return out;
}

void access_policy::allow(const authorized_key& k) {
  auto& g = grants_[k.peer];
  if (k.services.empty()) g.every_service = true;
  for (const auto& s : k.services) g.services.insert(s.str());
}

void access_policy::allow_for(const service_name& s, const authorized_key& k) {
  if (k.allows(s)) grants_[k.peer].services.insert(s.str());
}

bool access_policy::may_connect(const peer_id& p) const {
  auto it = grants_.find(p);
  return it != grants_.end() && (it->second.every_service || !it->second.services.empty());
}

bool access_policy::may_use(const peer_id& p, const service_name& s) const {
  auto it = grants_.find(p);
  if (it == grants_.end()) return false;
  return it->second.every_service || it->second.services.count(s.str()) > 0;
}

std::size_t access_policy::peer_count() const { return grants_.size(); }

bool access_policy::may_use_network(const peer_id& p) const {
  auto it = grants_.find(p);
  return it != grants_.end() && it->second.every_service;
}

std::vector<peer_id> access_policy::network_peers() const {
  std::vector<peer_id> out;
  for (const auto& [p, g] : grants_)
    if (g.every_service) out.push_back(p);
  return out;
}

boost::system::result<access_policy, config_error> load_access_policy(const config& cfg) {
  access_policy policy;
  auto load = [&](const fs::path& path,
                  const std::optional<service_name>& only) -> std::optional<config_error> {
    std::string text;
    try {
      if (!fs::exists(path))
        return config_error{
            path.string(), 0,
            "does not exist; create it (mode 0600) with: peerup auth add <peer-id>"};
      check_private_file_mode(path, "authorized_keys");
      text = read_small_file(path, authorized_keys_limits::max_file_size);
    } catch (const std::exception& e) {
      return config_error{path.string(), 0, e.what()};
    }
    auto parsed = parse_authorized_keys(text);
    if (!parsed.problems.empty()) {
      const auto& p = parsed.problems.front();
      std::string msg = p.message;
      if (parsed.problems.size() > 1)
        msg += " (and " + std::to_string(parsed.problems.size() - 1) +
               " more; see: peerup auth validate)";
      return config_error{path.string(), p.line, msg};
    }
    for (const auto& k : parsed.entries) {
      if (only)
        policy.allow_for(*only, k);
      else
        policy.allow(k);
    }
    return std::nullopt;
  };
  if (auto e = load(cfg.authorized_keys.resolved, std::nullopt)) return *e;
  for (const auto& [name, svc] : cfg.services) {
    if (!svc.enabled || !svc.authorized_keys) continue;
    if (auto e = load(svc.authorized_keys->resolved, svc.name)) return *e;
  }
  return policy;
}

}  // namespace peerup::app
