// The daemon's side of pairing: /peerup/pair/1.0.0 backed by <dir>/invites
// (node/invite_store.hpp); a paired device goes into authorized_keys with the
// invite's services and name, then the policy reloads at once so the device
// can use them right after `peerup join` returns.
#include <spdlog/spdlog.h>

#include "config/authorized_keys.hpp"
#include "node/daemon.hpp"
#include "node/invite_store.hpp"
#include "node/status.hpp"
#include "protocols/pairing.hpp"

namespace peerup::app {

namespace {
// The wall clock as the invite file keeps it (node/status.hpp's unix_now).
std::int64_t unix_seconds() { return static_cast<std::int64_t>(unix_now()); }
}  // namespace

bool daemon::pairing_open() const {
  try {
    return any_recent_invite(load_invites(invites_file_path(cfg_.dir()), host_.id()),
                           unix_seconds());
  } catch (const std::exception& e) {
    spdlog::warn("invites: {}", e.what());
    return false;
  }
}

void daemon::install_pairing_handler() {
  protocols::pairing_home_hooks hooks;
  const auto file = invites_file_path(cfg_.dir());
  const auto home = host_.id();
  hooks.load = [file, home](std::vector<pairing::invite_record>& out) {
    try {
      out = load_invites(file, home);
      return true;
    } catch (const std::exception& e) {
      spdlog::error("pairing: cannot read invites: {}", e.what());
      return false;
    }
  };
  hooks.save = [file, home](const std::vector<pairing::invite_record>& records) {
    try {
      // Re-read and merge: `peerup invite` may have added an invite while
      // this attempt ran (up to protocols::pairing_timeout).
      auto current = load_invites(file, home);
      merge_attempt_state(current, records);
      save_invites(file, current, unix_seconds());
    } catch (const std::exception& e) {
      spdlog::error("pairing: cannot write {}: {}", file.string(), e.what());
    }
  };
  hooks.relay = [this](const multiaddr& transport) {
    for (const auto& r : cfg_.relays)
      if (r.without_peer() == transport) return r;
    return cfg_.relays.empty() ? multiaddr{} : cfg_.relays.front();
  };
  hooks.on_paired = [this](const pairing::paired& p) {
    try {
      authorized_key key{p.peer, {}, p.name, 0};
      for (const auto& s : p.services) {
        auto name = service_name::parse(s);
        if (!name) throw std::runtime_error("\"" + s + "\" is not a service name");
        key.services.push_back(*name);
      }
      const auto& path = cfg_.authorized_keys.resolved;
      const std::string current =
          std::filesystem::exists(path)
              ? read_small_file(path, authorized_keys_limits::max_file_size)
              : std::string();
      write_private_file(path, upsert_authorized_key_checked(current, key));
      spdlog::info("paired {} ({}), verification {}; added to {}", p.peer.to_string(), p.name,
                   p.verification, path.string());
      reload("paired " + p.peer.to_string());
      return true;
    } catch (const std::exception& e) {
      spdlog::error("pairing: cannot authorize {}: {}", p.peer.to_string(), e.what());
      return false;
    }
  };
  if (cfg_.naming.host_name) hooks.home_name = *cfg_.naming.host_name;
  protocols::install_pairing(host_, std::move(hooks));
}

}  // namespace peerup::app
