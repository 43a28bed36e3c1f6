#include "node/invite_store.hpp"

#include <sodium.h>

#include <charconv>
#include <sstream>

#include "config/authorized_keys.hpp"
#include "config/identity_file.hpp"

namespace peerup::app {

namespace fs = std::filesystem;

namespace {

template <std::size_t N>
bool from_hex(std::string_view hex, std::array<std::uint8_t, N>& out) {
  if (hex.size() != 2 * N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc{} || p != hex.data() + 2 * i + 2) return false;
    out[i] = static_cast<std::uint8_t>(v);
  }
  return true;
}

template <class T>
bool to_number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

std::string dash_spaces(std::string s, char from, char to) {
  for (auto& c : s)
    if (c == from) c = to;
  return s;
}

}  // namespace

fs::path invites_file_path(const fs::path& config_dir) { return config_dir / "invites"; }

std::vector<pairing::invite_record> load_invites(const fs::path& file, const peer_id& home) {
  std::vector<pairing::invite_record> out;
  if (!fs::exists(file)) return out;
  check_private_file_mode(file, "invites");
  const std::string text = read_small_file(file, invite_store_limits::max_file_bytes);
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(file.string() + ":" + std::to_string(n) + ": " + what);
  };
  while (std::getline(lines, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    if (out.size() >= invite_store_limits::max_invites) fail("more than 64 invites");
    std::vector<std::string_view> f;
    std::string_view rest = line;
    for (int i = 0; i < 11; ++i) {
      const auto sp = rest.find(' ');
      if (sp == std::string_view::npos) fail("expected 12 fields");
      f.push_back(rest.substr(0, sp));
      rest.remove_prefix(sp + 1);
    }
    if (f[0] != "v1") fail("unknown version \"" + std::string(f[0]) + "\"");
    std::array<std::uint8_t, invite::id_bytes> id{};
    std::array<std::uint8_t, invite::secret_bytes> secret{};
    if (!from_hex(f[1], id)) fail("bad invite id");
    if (!from_hex(f[2], secret)) fail("bad secret");
    auto relay = multiaddr::parse(f[3]);
    if (!relay) fail("bad relay address");
    pairing::invite_record rec{invite::invite_data{id, secret, home, *relay}};
    unsigned used = 0;
    if (!to_number(f[4], rec.expires_unix) || !to_number(f[5], rec.failures) ||
        !to_number(f[6], rec.max_failures) || !to_number(f[7], used) || used > 1)
      fail("bad number");
    rec.used = used == 1;
    if (f[8] != "*") {
      std::string_view s = f[8];
      while (!s.empty()) {
        const auto comma = s.find(',');
        const auto name = s.substr(0, comma);
        if (!pairing::valid_name(name) || rec.services.size() >= pairing::max_services)
          fail("bad service list");
        rec.services.emplace_back(name);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
      }
    }
    if (f[9] != "-") rec.paired_peer = std::string(f[9]);
    if (f[10] != "-") rec.verification = dash_spaces(std::string(f[10]), '-', ' ');
    if (!pairing::valid_name(rest)) fail("bad device name");
    rec.device_name = std::string(rest);
    out.push_back(std::move(rec));
  }
  return out;
}

void save_invites(const fs::path& file, const std::vector<pairing::invite_record>& records,
                  std::int64_t now_unix) {
  std::string text = "# peerup invites (peerup invite); holds secrets, keep 0600\n";
  for (const auto& r : records) {
    if (r.expires_unix + 86400 < now_unix) continue;
    std::string services;
    for (const auto& s : r.services) services += (services.empty() ? "" : ",") + s;
    if (services.empty()) services = "*";
    text += "v1 " + to_hex(r.data.id) + " " + to_hex(r.data.secret) + " " +
            r.data.relay.to_string() + " " + std::to_string(r.expires_unix) + " " +
            std::to_string(r.failures) + " " + std::to_string(r.max_failures) + " " +
            (r.used ? "1" : "0") + " " + services + " " +
            (r.paired_peer.empty() ? "-" : r.paired_peer) + " " +
            (r.verification.empty() ? "-" : dash_spaces(r.verification, ' ', '-')) + " " +
            r.device_name + "\n";
  }
  write_private_file(file, text);
}

void merge_attempt_state(std::vector<pairing::invite_record>& on_disk,
                         const std::vector<pairing::invite_record>& attempted) {
  for (auto& d : on_disk)
    for (const auto& a : attempted)
      if (a.data.id == d.data.id) {
        d.failures = a.failures;
        d.used = a.used;
        d.paired_peer = a.paired_peer;
        d.verification = a.verification;
      }
}

bool any_live_invite(const std::vector<pairing::invite_record>& records, std::int64_t now_unix) {
  for (const auto& r : records)
    if (!r.used && now_unix < r.expires_unix && r.failures < r.max_failures) return true;
  return false;
}

bool any_recent_invite(const std::vector<pairing::invite_record>& records, std::int64_t now_unix,
                       std::int64_t grace) {
  // An invite's end is at most its expiry, so expiry + grace bounds the window.
  for (const auto& r : records)
    if (now_unix < r.expires_unix + grace) return true;
  return false;
}

pairing::invite_record make_invite(const std::vector<pairing::invite_record>& records,
                                   const peer_id& home, const multiaddr& relay,
                                   std::int64_t expires_unix, std::string name,
                                   std::vector<std::string> services) {
  std::array<std::uint8_t, invite::id_bytes> id{};
  for (int tries = 0;; ++tries) {
    randombytes_buf(id.data(), id.size());
    bool taken = false;
    for (const auto& r : records) taken = taken || r.data.id == id;
    if (!taken) break;
    if (tries > 100) throw std::runtime_error("cannot pick a free invite ID");
  }
  std::array<std::uint8_t, invite::secret_bytes> secret{};
  randombytes_buf(secret.data(), secret.size());
  return pairing::invite_record{invite::invite_data{id, secret, home, relay, std::nullopt},
                                expires_unix, std::move(name), std::move(services)};
}

}  // namespace peerup::app
