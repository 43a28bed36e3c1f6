// peerup doctor: one line per check, each ok, warn or fail with a fix
// (issue 15). It reads the config and key files, dials every relay (from one
// local port, so the relays' observations tell what our NAT does to TCP),
// and again over QUIC from one local UDP port (what the NAT does to UDP, which
// QUIC hole punching needs), reads the daemon's status for reservations,
// AutoNAT and paths, and says for each named peer whether a direct path is
// likely.
#include <csignal>
#include <sys/stat.h>

#include <chrono>
#include <iostream>
#include <map>
#include <set>

#include "cli/app_support.hpp"
#include "cli/commands.hpp"
#include "cli/runtime.hpp"
#include "config/authorized_keys.hpp"
#include "config/file_write.hpp"
#include "config/identity_file.hpp"
#include "control/client.hpp"
#include "net/quic_transport.hpp"
#include "node/status.hpp"
#include "protocols/identify.hpp"

namespace peerup::cli {

namespace {

namespace fs = std::filesystem;

enum class level { ok, warn, fail };

struct check {
  std::string name;
  level status = level::ok;
  std::string detail;
  std::string fix;  // empty for ok
};

std::string_view to_string(level l) {
  switch (l) {
    case level::ok: return "ok";
    case level::warn: return "warn";
    case level::fail: return "fail";
  }
  return "?";
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Group or others may write (config) or read (keys) the file.
std::optional<std::string> mode_problem(const fs::path& p, bool secret) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  const mode_t bad = secret ? 0077 : 0022;
  if ((st.st_mode & bad) == 0) return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return std::string(mode);
}

// What the relays saw of our one local TCP port.
struct observation {
  std::string relay;
  multiaddr observed;
};

struct nat_verdict {
  level status = level::warn;
  std::string detail, fix;
  bool direct_likely = false;  // our side keeps mappings (or needs none)
  bool known = false;
};

// The IP and port of an observed TCP or QUIC address.
std::optional<std::pair<std::string, std::uint16_t>> ip_port(const multiaddr& a) {
  if (auto t = a.tcp_target()) return std::make_pair(t->host, t->port);
  if (net::is_quic_addr(a))
    if (auto ep = net::to_udp_endpoint(a.without_peer()))
      return std::make_pair(ep->address().to_string(), ep->port());
  return std::nullopt;
}

// `proto` is "TCP" or "UDP"; AutoNAT's verdict speaks for TCP only (its
// dial-backs are TCP).
nat_verdict judge_mapping(std::string_view proto, const std::vector<observation>& seen,
                          std::uint16_t local_port, const std::string& reachability) {
  nat_verdict v;
  const std::string p(proto);
  if (proto == "TCP" && reachability == "public") {
    v = {level::ok, p + ": public (AutoNAT: peers dialed us back)", "", true, true};
    return v;
  }
  if (seen.empty()) {
    v.detail = p + ": unknown (no relay reported the address it sees us at)";
    v.fix = "add a reachable relay (peerup relay add)";
    return v;
  }
  std::map<std::string, std::set<std::uint16_t>> ports_by_ip;
  for (const auto& o : seen)
    if (auto ip = ip_port(o.observed)) ports_by_ip[ip->first].insert(ip->second);
  if (ports_by_ip.empty()) {
    v.detail = p + ": unknown (the relays' observations are not IP addresses)";
    return v;
  }
  std::size_t observers_same_ip = 0;
  for (const auto& o : seen) {
    auto ip = ip_port(o.observed);
    if (ip && ip->first == ports_by_ip.begin()->first) ++observers_same_ip;
  }
  const auto& ports = ports_by_ip.begin()->second;
  const std::string where = "seen as " + seen.front().observed.to_string();
  if (observers_same_ip >= 2 && ports.size() == 1) {
    v = {level::ok,
         p + ": endpoint-independent mapping (" + std::to_string(observers_same_ip) +
             " relays saw the same port; " + where + ")",
         "", true, true};
  } else if (observers_same_ip >= 2) {
    v = {level::warn,
         p + ": endpoint-dependent mapping (" + std::to_string(ports.size()) +
             " relays saw different ports for one local port): hole punching will not work",
         "traffic stays on the relay; a port forward or IPv6 gives a direct path", false, true};
  } else if (*ports.begin() == local_port) {
    v = {level::ok,
         p + ": no port translation (" + where + ", our port " + std::to_string(local_port) +
             "); mapping type needs a second relay to confirm",
         "", true, true};
  } else {
    v = {level::warn,
         p + ": translated (" + where + ", our port " + std::to_string(local_port) +
             "); mapping type unknown with one relay",
         "add a second relay so doctor can tell endpoint-independent from dependent", false, false};
  }
  return v;
}

std::optional<app::daemon_status> running_daemon(const app::config& cfg) {
  // The control socket first: it answers with the daemon's state now, as
  // `peerup status` does; status.json is rewritten only every few seconds.
  try {
    if (auto live = control::call_daemon(cfg.dir(), "GET", "/v1/status", {}, 10);
        live && live->status == 200) {
      if (auto s = app::parse_status(live->body)) return s;
    }
  } catch (const std::exception&) {
    // Not ours to open, or it did not answer: fall back to status.json.
  }
  try {
    auto text = app::read_small_file(app::status_file_path(cfg.dir()), app::max_status_file);
    auto s = app::parse_status(text);
    if (!s) return std::nullopt;
    const bool alive = s->pid > 0 && (::kill(static_cast<pid_t>(s->pid), 0) == 0 || errno == EPERM);
    if (!alive || app::unix_now() > s->updated_unix + app::status_stale_after_s)
      return std::nullopt;
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

struct doctor_options {
  bool json = false;
  int timeout_s = 5;
};

net::awaitable<int> run_doctor(doctor_options o) {
  std::vector<check> out;
  auto add = [&](std::string name, level l, std::string detail, std::string fix = {}) {
    out.push_back({std::move(name), l, std::move(detail), std::move(fix)});
  };
  auto print = [&]() {
    int fails = 0, warns = 0;
    for (const auto& c : out) {
      fails += c.status == level::fail;
      warns += c.status == level::warn;
    }
    if (o.json) {
      std::cout << "{\"checks\":[";
      for (std::size_t i = 0; i < out.size(); ++i) {
        const auto& c = out[i];
        std::cout << (i ? "," : "") << "{\"check\":" << json_string(c.name)
                  << ",\"status\":" << json_string(to_string(c.status))
                  << ",\"detail\":" << json_string(c.detail) << ",\"fix\":" << json_string(c.fix)
                  << "}";
      }
      std::cout << "],\"ok\":" << out.size() - fails - warns << ",\"warn\":" << warns
                << ",\"fail\":" << fails << "}\n";
    } else {
      for (const auto& c : out) {
        std::cout << to_string(c.status) << (c.status == level::ok ? "   " : " ") << c.name << ": "
                  << c.detail;
        if (!c.fix.empty()) std::cout << "  -> fix: " << c.fix;
        std::cout << "\n";
      }
      std::cout << out.size() - fails - warns << " ok, " << warns << " warn, " << fails
                << " fail\n";
    }
    return fails > 0 ? 1 : 0;
  };

  // 1. The config file: found, parsed, not writable by others.
  std::optional<app::config> cfg;
  try {
    cfg = load_cli_config();
  } catch (const std::exception& e) {
    add("config", level::fail, e.what(), "peerup init, or fix the line named");
    co_return print();
  }
  if (auto m = mode_problem(cfg->file, false))
    add("config", level::warn,
        cfg->file.string() + " is writable by group or others (mode " + *m + ")",
        "chmod 644 " + cfg->file.string());
  else
    add("config", level::ok, cfg->file.string() + " parsed");

  // 2. The identity key: private and loadable.
  std::optional<private_key> identity;
  const auto& key_file = cfg->identity_key.resolved;
  if (auto m = mode_problem(key_file, true)) {
    add("identity key", level::fail,
        key_file.string() + " is readable by group or others (mode " + *m + ")",
        "chmod 600 " + key_file.string());
  } else {
    try {
      identity = app::load_identity(key_file);
      add("identity key", level::ok, key_file.string() + ": " + identity->to_peer_id().to_string());
    } catch (const std::exception& e) {
      add("identity key", level::fail, e.what(),
          "peerup keygen --key " + key_file.string() +
              " (a new identity: peers must re-authorize it)");
    }
  }

  // 3. authorized_keys: private, every line valid.
  const auto& ak = cfg->authorized_keys.resolved;
  if (!fs::exists(ak)) {
    add("authorized_keys", level::warn, ak.string() + " does not exist: no peer may connect",
        "peerup invite, or peerup auth add <peer-id>");
  } else if (auto m = mode_problem(ak, true)) {
    add("authorized_keys", level::fail,
        ak.string() + " is readable by group or others (mode " + *m + ")",
        "chmod 600 " + ak.string());
  } else {
    try {
      auto parsed = app::parse_authorized_keys(
          app::read_small_file(ak, app::authorized_keys_limits::max_file_size));
      if (parsed.problems.empty())
        add("authorized_keys", level::ok,
            std::to_string(parsed.entries.size()) + " peers in " + ak.string());
      for (const auto& p : parsed.problems)
        add("authorized_keys", level::warn,
            ak.string() + ":" + std::to_string(p.line) + ": " + p.message,
            "fix or remove the line (it is skipped)");
    } catch (const std::exception& e) {
      add("authorized_keys", level::fail, e.what(), "fix the file's owner or size");
    }
  }

  const auto daemon = running_daemon(*cfg);
  if (!daemon)
    add("daemon", level::warn, "not running: no reservation, AutoNAT or paths to report",
        "peerup daemon (or systemctl start peerup)");
  else
    add("daemon", level::ok, "running, pid " + std::to_string(daemon->pid));

  // 4. Each relay: reachable (dialed from our one listen port), its agent,
  //    the address it sees us at, and our reservation (from the daemon).
  std::vector<observation> seen, seen_udp;
  std::uint16_t local_port = 0, local_udp_port = 0;
  const auto relays = cfg->all_relays();
  if (relays.empty())
    add("relays", level::warn, "none configured: peers behind NAT cannot reach this node",
        "peerup relay add <multiaddr>, or peerup join <code from the relay operator>");
  if (!relays.empty() && identity) {
    auto ex = co_await net::asio::this_coro::executor;
    net::host h(ex, net::host_config{.identity = *identity,
                                     .listen = {*multiaddr::parse("/ip4/0.0.0.0/tcp/0"),
                                                *multiaddr::parse("/ip4/0.0.0.0/udp/0/quic-v1")}});
    protocols::identify_service identify(h);
    h.start();
    for (const auto& a : h.listen_addrs()) {
      if (auto t = a.tcp_target()) local_port = t->port;
      if (net::is_quic_addr(a))
        if (auto ep = net::to_udp_endpoint(a)) local_udp_port = ep->port();
    }
    for (const auto& r : relays) {
      const auto name = "relay " + r.to_string();
      const auto started = net::steady_clock::now();
      auto peer = r.peer();
      // (No co_await inside ?: : g++ 12 destroys such temporaries twice.)
      result<net::connection_ptr> conn = make_error_code(errc::invalid_multiaddr);
      if (peer)
        conn = co_await net::with_timeout(h.dial_reusing_port(r.without_peer(), *peer),
                                          std::chrono::seconds(o.timeout_s));
      if (!conn) {
        add(name, level::fail, "unreachable: " + conn.error().message(),
            "check the address, that the relay runs, and its firewall");
        continue;
      }
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(net::steady_clock::now() - started)
              .count();
      std::string detail = "reachable in " + std::to_string(ms) + " ms";
      auto info =
          co_await net::with_timeout(identify.identify(*conn), std::chrono::seconds(o.timeout_s));
      if (info) {
        detail +=
            ", agent " + (info->agent_version.empty() ? std::string("?") : info->agent_version);
        if (info->observed_addr) {
          detail += ", sees us at " + info->observed_addr->to_string();
          seen.push_back({r.to_string(), *info->observed_addr});
        }
        // The same relay over QUIC, from our one UDP port: its QUIC listen
        // address on the host we reached it at, as identify lists it.
        const auto reached = ip_port(r.without_peer());
        for (const auto& a : info->listen_addrs) {
          const auto there = ip_port(a);
          if (!net::is_quic_addr(a) || !there || !reached || there->first != reached->first)
            continue;
          auto quic = co_await net::with_timeout(h.dial_reusing_port(a.without_peer(), *peer),
                                                 std::chrono::seconds(o.timeout_s));
          if (!quic) {
            detail += ", QUIC " + a.to_string() + " unreachable (" + quic.error().message() + ")";
            break;
          }
          auto over_udp = co_await net::with_timeout(identify.identify(*quic),
                                                     std::chrono::seconds(o.timeout_s));
          if (over_udp && over_udp->observed_addr && net::is_quic_addr(*over_udp->observed_addr)) {
            detail += ", over QUIC at " + over_udp->observed_addr->to_string();
            seen_udp.push_back({r.to_string(), *over_udp->observed_addr});
          }
          (*quic)->mux->close();
          break;
        }
      }
      level lvl = level::ok;
      std::string fix;
      if (daemon) {
        const app::relay_status* rs = nullptr;
        for (const auto& x : daemon->relays)
          if (x.addr == r.to_string()) rs = &x;
        if (!rs) {
          detail += "; the daemon does not use it";
          lvl = level::warn;
          fix = "restart the daemon to pick up the config";
        } else if (rs->state == "reserved") {
          detail += "; reserved until " + std::to_string(rs->expires_unix);
        } else {
          detail += "; reservation " + rs->state + (rs->error.empty() ? "" : ": " + rs->error);
          lvl = level::fail;
          fix = "ask the relay operator to authorize " + identity->to_peer_id().to_string() +
                " (peerup relay authorize, or a code from peerup relay invite)";
        }
      }
      add(name, lvl, detail, fix);
    }
    h.stop();
  }

  // 5. Our NAT, from AutoNAT (daemon) and the relays' observations.
  const std::string reach = daemon ? daemon->reachability : "unknown";
  auto tcp = judge_mapping("TCP", seen, local_port, reach);
  add("nat", tcp.status,
      tcp.detail + (daemon ? "; AutoNAT says " + reach : "; AutoNAT: daemon not running"), tcp.fix);
  auto udp = judge_mapping("UDP", seen_udp, local_udp_port, reach);
  if (seen_udp.empty() && !relays.empty())
    udp.detail = "UDP: unknown (no relay answered over QUIC: it may not listen on UDP, or UDP is "
                 "blocked here)";
  add("nat", udp.status, udp.detail, udp.fix);
  // A direct path needs one transport whose mapping holds: QUIC is tried
  // first, TCP beside it.
  nat_verdict best = udp.known && udp.direct_likely ? udp : tcp;
  if (!best.known && udp.known) best = udp;

  // 6. Each named peer: a direct path now, or how likely one is.
  for (const auto& [name, target] : cfg->names) {
    const auto label = "peer " + name;
    const app::connection_status* cs = nullptr;
    if (daemon)
      for (const auto& c : daemon->connections)
        if (c.peer == target.peer.to_string() && (!cs || c.path == "direct")) cs = &c;
    if (cs && cs->path == "direct") {
      add(label, level::ok, "direct now (" + cs->addr + ")");
    } else if (cs && cs->holepunch.attempts > 0) {
      add(label, level::warn,
          "relayed; hole punching failed " +
              std::to_string(cs->holepunch.attempts - cs->holepunch.successes) + " of " +
              std::to_string(cs->holepunch.attempts) +
              (cs->holepunch.last_error.empty() ? "" : " (" + cs->holepunch.last_error + ")"),
          "one side needs an endpoint-independent NAT, a port forward or IPv6");
    } else if (best.known && best.direct_likely) {
      add(label, level::ok,
          "direct path likely (our side keeps its mapping; hole punching needs the "
          "peer's NAT to as well)");
    } else if (best.known) {
      add(label, level::warn,
          "direct path unlikely: our NAT maps per destination; traffic goes through the relay",
          "a port forward or IPv6 on either side");
    } else {
      add(label, level::warn, "direct path: unknown (our NAT type is unknown)",
          "add a second relay, or run the daemon so AutoNAT can tell");
    }
  }
  co_return print();
}

}  // namespace

void add_doctor_command(CLI::App& app) {
  auto o = std::make_shared<doctor_options>();
  auto* cmd = app.add_subcommand(
      "doctor", "check config, keys, relays, NAT and paths; one line per check with a fix");
  cmd->add_flag("--json", o->json, "one JSON document instead of lines");
  cmd->add_option("--timeout", o->timeout_s, "seconds per relay dial (default 5)")
      ->check(CLI::Range(1, 60));
  cmd->callback([o] {
    net::asio::io_context io;
    if (int rc = run_main([o] { return run_doctor(*o); }, io); rc != 0) std::exit(rc);
  });
}

}  // namespace peerup::cli
