#include "config/federation_file.hpp"

#include <charconv>
#include <stdexcept>

#include "config/relay_config.hpp"

namespace peerup::app {

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

bool starts_block(std::string_view line) {
  return line.rfind("federation:", 0) == 0;
}
// A line that ends a top-level block: a key or document marker at column 0.
bool top_level(std::string_view line) {
  return !line.empty() && line[0] != ' ' && line[0] != '\t' && line[0] != '#' && line[0] != '\r';
}

std::string render_block(const std::vector<wire::federation_peering>& peers,
                         const wire::federation_limits& l) {
  const wire::federation_limits d;
  std::string out = "federation:\n";
  if (peers.empty()) {
    out += "  peers: []\n";
  } else {
    out += "  peers:\n";
    for (const auto& p : peers)
      out += "    - network_name: " + p.network.str() + "\n      relay: " + p.relay.to_string() +
             "\n      trust_level: " + std::string(wire::to_string(p.trust)) + "\n";
  }
  auto keep = [&](const char* key, auto value, auto def) {
    if (value != def) out += std::string("  ") + key + ": " + std::to_string(value) + "\n";
  };
  keep("cache_ttl", l.cache_ttl.count(), d.cache_ttl.count());
  keep("stale_ttl", l.stale_ttl.count(), d.stale_ttl.count());
  keep("max_cache", l.max_cache, d.max_cache);
  keep("lookups_per_second", l.lookups_per_second, d.lookups_per_second);
  keep("member_ttl", l.member_ttl.count(), d.member_ttl.count());
  keep("unknown_connects_per_ip", l.unknown_connects_per_ip, d.unknown_connects_per_ip);
  keep("max_forwarded", l.max_forwarded, d.max_forwarded);
  keep("forwarded_duration", l.forwarded_duration.count(), d.forwarded_duration.count());
  keep("forwarded_data", l.forwarded_data, d.forwarded_data);
  return out;
}

// 1. cut every top-level federation: block (trailing comments and blank
//    lines stay, they belong to what follows)
// 2. put the rendered block where the first one was (or at the end)
// 3. validate the result, and check it holds exactly the peerings meant (a
//    federation: written some other way, e.g. as a quoted or flow-style key,
//    is refused rather than edited wrongly)
std::string replace_block(std::string_view yaml, const std::string& file,
                          const std::vector<wire::federation_peering>& peers,
                          const wire::federation_limits& limits) {
  const std::vector<std::string_view> lines = split_lines(yaml);
  std::string out;
  bool placed = false;
  for (std::size_t i = 0; i < lines.size();) {
    if (!starts_block(lines[i])) {
      out.append(lines[i]).append("\n");
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    while (end < lines.size() && !top_level(lines[end])) ++end;
    while (end > i + 1) {
      const auto last = lines[end - 1];
      const bool comment_or_blank =
          last.find_first_not_of(" \t\r") == std::string_view::npos || last[0] == '#';
      if (!comment_or_blank) break;
      --end;
    }
    if (!placed) out += render_block(peers, limits);
    placed = true;
    i = end;
  }
  if (!placed) {
    if (!out.empty()) out += "\n";  // a new block: a blank line before
    out += render_block(peers, limits);
  }
  const auto cfg = parse_relay_config(out, file);
  if (cfg.federation_peers != peers)
    throw std::runtime_error(file +
                             ": federation: is not a plain block at the start of a line; edit "
                             "the file by hand");
  return out;
}

bool printable(std::string_view s) {
  for (const char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

std::string clean_error(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 200)) out += (c >= 0x20 && c <= 0x7e) ? c : '?';
  return out;
}

}  // namespace

std::string add_federation_peer(std::string_view yaml, const std::string& file,
                                const wire::federation_peering& peer) {
  const auto cfg = parse_relay_config(yaml, file);
  for (const auto& p : cfg.federation_peers) {
    if (p.network == peer.network)
      throw std::invalid_argument(file + ": network " + peer.network.str() +
                                  " is already a peering (remove it first)");
    if (p.relay_peer == peer.relay_peer)
      throw std::invalid_argument(file + ": relay " + peer.relay_peer.to_string() +
                                  " is already the relay of network " + p.network.str());
  }
  if (cfg.names_network && *cfg.names_network == peer.network.str())
    throw std::invalid_argument(file + ": network " + peer.network.str() +
                                " is this relay's own network");
  auto peers = cfg.federation_peers;
  peers.push_back(peer);
  return replace_block(yaml, file, peers, cfg.federation_limits);
}

std::string remove_federation_peer(std::string_view yaml, const std::string& file,
                                   const wire::dns_label& network) {
  const auto cfg = parse_relay_config(yaml, file);
  auto peers = cfg.federation_peers;
  const auto n = std::erase_if(peers, [&](const auto& p) { return p.network == network; });
  if (n == 0)
    throw std::invalid_argument(file + ": no peering with network " + network.str() +
                                " (see: peerup relay federation list)");
  return replace_block(yaml, file, peers, cfg.federation_limits);
}

std::string_view to_string(federation_peer_status::state s) {
  switch (s) {
    case federation_peer_status::state::up: return "up";
    case federation_peer_status::state::down: return "down";
    case federation_peer_status::state::unknown: break;
  }
  return "unknown";
}

// Format (one record per line, fields separated by one space):
//   # comment
//   written <unix>
//   peering <network> <trust> <up|down|unknown> <last_ok_unix|-> <names> <relay> [error text]
std::string render_federation_status(const federation_status_file& s) {
  std::string out =
      "# peerup relay federation status: written by `peerup relay serve`, read by `peerup relay "
      "federation list`\n";
  out += "written " + std::to_string(s.written_unix) + "\n";
  for (const auto& p : s.peers) {
    out += "peering " + p.network.str() + " " + std::string(wire::to_string(p.trust)) + " " +
           std::string(to_string(p.st)) + " " +
           (p.last_ok_unix ? std::to_string(*p.last_ok_unix) : std::string("-")) + " " +
           std::to_string(p.names_known) + " " + p.relay;
    if (!p.last_error.empty()) out += " " + clean_error(p.last_error);
    out += "\n";
  }
  return out;
}

federation_status_file parse_federation_status(std::string_view text, const std::string& file) {
  // SECURITY: bounded size and line count; every field validated.
  if (text.size() > federation_status_max_size)
    throw std::runtime_error(file + ": larger than " +
                             std::to_string(federation_status_max_size) + " bytes");
  federation_status_file out;
  bool have_written = false;
  std::size_t line_no = 0;
  auto fail = [&](const std::string& why) -> void {
    throw std::runtime_error(file + ":" + std::to_string(line_no) + ": " + why);
  };
  auto number = [&](std::string_view s, const char* what) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty())
      fail(std::string("expected a number for ") + what + ", got \"" + clean_error(s) + "\"");
    return v;
  };
  for (auto line : split_lines(text)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    if (!printable(line)) fail("not printable ASCII");
    std::vector<std::string_view> f;
    std::string_view rest = line;
    // Seven fixed fields; what follows the relay is the error text.
    while (f.size() < 7 && !rest.empty()) {
      const auto sp = rest.find(' ');
      f.push_back(rest.substr(0, sp));
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    }
    if (f[0] == "written") {
      if (f.size() != 2 || !rest.empty()) fail("expected: written <unix seconds>");
      out.written_unix = number(f[1], "written");
      have_written = true;
    } else if (f[0] == "peering") {
      if (f.size() != 7)
        fail("expected: peering <network> <trust> <state> <last_ok|-> <names> <relay> [error]");
      if (out.peers.size() >= federation_status_max_peers)
        fail("more than " + std::to_string(federation_status_max_peers) + " peerings");
      auto net = wire::dns_label::parse(f[1]);
      if (!net) fail("expected a network name, got \"" + clean_error(f[1]) + "\"");
      federation_peer_status p{.network = *net};
      auto trust = wire::parse_federation_trust(f[2]);
      if (!trust) fail("expected full or one_way, got \"" + std::string(f[2]) + "\"");
      p.trust = *trust;
      if (f[3] == "up") p.st = federation_peer_status::state::up;
      else if (f[3] == "down") p.st = federation_peer_status::state::down;
      else if (f[3] == "unknown") p.st = federation_peer_status::state::unknown;
      else fail("expected up, down or unknown, got \"" + std::string(f[3]) + "\"");
      if (f[4] != "-") p.last_ok_unix = number(f[4], "last_ok");
      p.names_known = number(f[5], "names");
      auto relay = multiaddr::parse(f[6]);
      if (!relay || !relay->peer()) fail("expected a relay multiaddr with /p2p/");
      p.relay = std::string(f[6]);
      p.last_error = std::string(rest.substr(0, 200));
      out.peers.push_back(std::move(p));
    } else {
      fail("unknown line \"" + clean_error(f[0]) + "\"");
    }
  }
  if (!have_written) throw std::runtime_error(file + ": no \"written\" line");
  return out;
}

}  // namespace peerup::app
