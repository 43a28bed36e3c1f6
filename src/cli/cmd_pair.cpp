// peerup invite / peerup join: pairing a new device with a home node in one
// command on each side (wire/pairing.hpp has the protocol, wire/invite.hpp
// the code format, node/invite_store.hpp the file the daemon serves from).
#include <qrencode.h>
#include <sodium.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/app_support.hpp"
#include "cli/runtime.hpp"
#include "config/identity_file.hpp"
#include "node/invite_store.hpp"
#include "node/status.hpp"
#include "protocols/pairing.hpp"
#include "wire/invite.hpp"

namespace peerup::cli {

namespace {

// The wall clock as the invite file keeps it (node/status.hpp's unix_now).
std::int64_t unix_seconds() { return static_cast<std::int64_t>(app::unix_now()); }

// "90s", "10m", "2h", "1d" or plain seconds. Bounded to 30 s .. 7 days.
std::int64_t parse_duration(const std::string& text) {
  if (text.empty() || text.size() > 12) throw std::runtime_error("--expires: empty or too long");
  std::int64_t unit = 1;
  std::string digits = text;
  switch (text.back()) {
    case 's': unit = 1; digits.pop_back(); break;
    case 'm': unit = 60; digits.pop_back(); break;
    case 'h': unit = 3600; digits.pop_back(); break;
    case 'd': unit = 86400; digits.pop_back(); break;
    default: break;
  }
  std::int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') throw std::runtime_error("--expires: expected e.g. 10m, got \"" + text + "\"");
    n = n * 10 + (c - '0');
  }
  const std::int64_t secs = n * unit;
  if (digits.empty() || secs < 30 || secs > 7 * 86400)
    throw std::runtime_error("--expires: between 30s and 7d, got \"" + text + "\"");
  return secs;
}

// The QR code of `text` in the terminal: two modules per character row with
// half blocks, dark on light, with the quiet zone the standard asks for.
void print_qr(const std::string& text) {
  QRcode* qr = QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (qr == nullptr) {
    std::cerr << "warning: could not make a QR code\n";
    return;
  }
  const int w = qr->width, quiet = 2;
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= w || y >= w) return false;
    return (qr->data[y * w + x] & 1) != 0;
  };
  for (int y = -quiet; y < w + quiet; y += 2) {
    std::string row;
    for (int x = -quiet; x < w + quiet; ++x) {
      const bool top = dark(x, y), bottom = dark(x, y + 1);
      // Light modules print as ink on a dark terminal: invert so scanners see dark-on-light.
      if (!top && !bottom) row += "\u2588";
      else if (!top && bottom) row += "\u2580";
      else if (top && !bottom) row += "\u2584";
      else row += " ";
    }
    std::cout << row << "\n";
  }
  QRcode_free(qr);
}

struct invite_options {
  std::string name = "device";
  std::vector<std::string> services;
  std::string expires = "10m";
  std::string relay;
  unsigned max_failures = pairing::default_max_failures;
  bool qr = false;
  bool no_wait = false;
};

int run_invite(const invite_options& o) {
  const auto cfg = load_cli_config();
  if (!pairing::valid_name(o.name) || !app::valid_name(o.name))
    throw std::runtime_error("--name: \"" + o.name +
                             "\" is not a valid name (1-64 letters, digits, . _ -)");
  if (o.max_failures < 1 || o.max_failures > 20)
    throw std::runtime_error("--max-failures: between 1 and 20");
  for (const auto& s : o.services) {
    if (!app::service_name::parse(s) || !pairing::valid_name(s))
      throw std::runtime_error("--service: \"" + s + "\" is not a valid service name");
    if (!cfg.services.count(s))
      throw std::runtime_error("--service: no service \"" + s + "\" in " + cfg.file.string() +
                               " (peerup service add " + s + " <host:port>)");
  }
  if (cfg.relays.empty())
    throw std::runtime_error("no relay in " + cfg.file.string() +
                             ": the device reaches this node through one (peerup relay add ...)");
  multiaddr relay = cfg.relays.front();
  if (!o.relay.empty()) {
    auto want = multiaddr::parse(o.relay);
    if (!want) throw std::runtime_error("--relay: bad multiaddr \"" + o.relay + "\"");
    bool found = false;
    for (const auto& r : cfg.relays)
      if (r == *want || r.without_peer() == *want) relay = r, found = true;
    if (!found) throw std::runtime_error("--relay: " + o.relay + " is not a configured relay");
  }
  const auto expires_in = parse_duration(o.expires);
  const auto home = app::load_identity(cfg.identity_key.resolved).to_peer_id();

  const auto file = app::invites_file_path(cfg.dir());
  auto records = app::load_invites(file, home);
  const auto now = unix_seconds();
  std::erase_if(records, [&](const auto& r) { return r.expires_unix + 86400 < now; });
  if (records.size() >= app::invite_store_limits::max_invites)
    throw std::runtime_error("too many invites in " + file.string());
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
  pairing::invite_record rec{invite::invite_data{id, secret, home, relay.without_peer()},
                             now + expires_in, o.name, o.services};
  rec.max_failures = o.max_failures;
  std::string why;
  auto code = invite::encode_code(rec.data, &why);
  auto link = invite::encode_link(rec.data, &why);
  if (!code || !link) throw std::runtime_error(why);
  records.push_back(rec);
  app::save_invites(file, records, now);

  std::cout << "invite for \"" << o.name << "\" ("
            << (o.services.empty() ? std::string("all services") : "services " + [&] {
                 std::string s;
                 for (const auto& x : o.services) s += (s.empty() ? "" : ",") + x;
                 return s;
               }())
            << "), expires in " << o.expires << ", single use\n\n";
  std::cout << "  on the new device:  peerup join " << *code << "\n\n";
  std::cout << "  link: " << *link << "\n";
  if (o.qr) {
    std::cout << "\n";
    print_qr(*link);
  }
  std::cout << std::flush;
  if (o.no_wait) return 0;

  // Wait for the daemon to use the invite (it writes the result back).
  std::cout << "\nwaiting for the device (the daemon must be running; Ctrl-C stops waiting, "
               "the invite stays valid)...\n"
            << std::flush;
  unsigned seen_failures = 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::vector<pairing::invite_record> now_records;
    try {
      now_records = app::load_invites(file, home);
    } catch (const std::exception& e) {
      std::cerr << "peerup: " << e.what() << "\n";
      return 1;
    }
    const pairing::invite_record* mine = nullptr;
    for (const auto& r : now_records)
      if (r.data.id == id) mine = &r;
    if (mine == nullptr) {
      std::cerr << "peerup: the invite disappeared from " << file.string() << "\n";
      return 1;
    }
    if (mine->failures > seen_failures) {
      seen_failures = mine->failures;
      std::cout << "a wrong code was tried (" << seen_failures << " of " << mine->max_failures
                << ")\n" << std::flush;
    }
    if (mine->used && !mine->paired_peer.empty()) {
      std::cout << "paired \"" << mine->device_name << "\" " << mine->paired_peer
                << "\nverification: " << mine->verification
                << "  (the device shows the same digits)\n";
      return 0;
    }
    if (mine->failures >= mine->max_failures) {
      std::cout << "invite locked after " << mine->failures << " wrong codes\n";
      return 3;
    }
    if (unix_seconds() >= mine->expires_unix) {
      std::cout << "invite expired, nobody joined\n";
      return 4;
    }
  }
}

struct join_options {
  std::string code;
  std::string home_name;
  std::string device_name;
};

std::string default_device_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "device";
  std::string name;
  for (char c : std::string(host))
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_')
      name += c;
  if (name.empty() || name.size() > pairing::max_name_bytes) return "device";
  return name;
}

std::string explain_circuit(const boost::system::error_code& ec) {
  if (ec == make_error_code(errc::relay_permission_denied))
    return "the relay refused to connect this device (it is not authorized on the relay: ask the "
           "relay operator to run `peerup relay authorize <this peer ID>`, or use an open relay)";
  if (ec == make_error_code(errc::relay_no_reservation))
    return "the home node is not connected to the relay (is its daemon running?)";
  if (ec == make_error_code(errc::connection_denied) ||
      ec == make_error_code(errc::connection_closed))
    return "the home node closed the connection (no open invite there: expired, used or locked?)";
  return ec.message();
}

net::awaitable<int> run_join(join_options o) {
  std::string why;
  auto inv = invite::decode(o.code, &why);
  if (!inv) {
    std::cerr << "peerup: " << why << "\n";
    co_return 2;
  }
  auto cfg = load_cli_config();
  const auto identity = app::load_identity(cfg.identity_key.resolved);
  if (identity.to_peer_id() == inv->home) {
    std::cerr << "peerup: this is the home node of the invite; run join on the new device\n";
    co_return 2;
  }
  const std::string device_name = o.device_name.empty() ? default_device_name() : o.device_name;
  auto session = pairing::device_session::start(*inv, identity.to_peer_id(), device_name);
  if (!session) {
    std::cerr << "peerup: --device-name: \"" << device_name << "\" is not a valid name\n";
    co_return 2;
  }
  auto ex = co_await net::asio::this_coro::executor;
  auto h = make_client_host(ex, identity);
  h->start();
  // 1. The relay, by the address in the invite; Noise tells us its peer ID.
  auto relay_conn = co_await net::with_timeout(h->connect(inv->relay), std::chrono::seconds(10));
  if (!relay_conn) {
    std::cerr << "peerup: relay unreachable at " << inv->relay.to_string() << ": "
              << relay_conn.error().message() << "\n";
    h->stop();
    co_return 5;
  }
  const peer_id relay_peer = (*relay_conn)->remote_peer;
  // 2. The home node through the relay.
  const auto circuit = *multiaddr::parse(inv->relay.with_peer(relay_peer).to_string() +
                                         "/p2p-circuit/p2p/" + inv->home.to_string());
  auto home_conn = co_await net::with_timeout(h->connect(circuit), std::chrono::seconds(15));
  if (!home_conn) {
    std::cerr << "peerup: cannot reach the home node through the relay: "
              << explain_circuit(home_conn.error()) << "\n";
    h->stop();
    co_return 5;
  }
  auto opened = co_await h->new_stream(*home_conn, protocols::pairing_protocol);
  if (!opened) {
    std::cerr << "peerup: the home node did not accept pairing: "
              << explain_circuit(opened.error()) << "\n";
    h->stop();
    co_return 5;
  }
  // 3. The PAKE and the exchange.
  auto done = co_await protocols::pair_as_device(*opened->stream, *session);
  h->stop();
  if (!done) {
    const auto ec = done.error();
    std::string text = ec.message();
    if (ec == make_error_code(errc::invite_expired)) text = std::string(pairing::describe(pairing::refusal::expired));
    if (ec == make_error_code(errc::invite_wrong_code)) text = std::string(pairing::describe(pairing::refusal::wrong_code));
    if (ec == make_error_code(errc::invite_locked)) text = std::string(pairing::describe(pairing::refusal::locked));
    if (ec == make_error_code(errc::invite_used)) text = std::string(pairing::describe(pairing::refusal::used));
    if (ec == make_error_code(errc::connection_closed) || ec == make_error_code(errc::stream_reset))
      text = "the home node ended pairing without an answer (another pairing running? try again)";
    std::cerr << "peerup: pairing failed: " << text << "\n";
    co_return ec == make_error_code(errc::invite_wrong_code) ? 3 : 4;
  }
  // 4. The relay home named must be the one we reached.
  if (done->relay.peer() != relay_peer ||
      done->relay.without_peer() != inv->relay.with_peer(relay_peer).without_peer()) {
    std::cerr << "peerup: the home node named relay " << done->relay.to_string()
              << ", not the one in the invite (" << inv->relay.with_peer(relay_peer).to_string()
              << "); nothing saved\n";
    co_return 6;
  }
  // 5. Save the relay and a name for home.
  const std::string home_name = o.home_name.empty() ? done->name : o.home_name;
  if (!app::valid_name(home_name))
    throw std::runtime_error("--name: \"" + home_name + "\" is not a valid name");
  if (std::find(cfg.relays.begin(), cfg.relays.end(), done->relay) == cfg.relays.end())
    cfg.relays.push_back(done->relay);
  cfg.names.insert_or_assign(home_name, app::name_target{inv->home, std::nullopt});
  if (auto check = app::parse_config(app::render_config(cfg), cfg.file); !check)
    throw std::runtime_error("internal error, config not saved: " + check.error().to_string());
  app::save_config(cfg);
  std::cout << "paired with " << home_name << " (" << inv->home.to_string() << ")\n"
            << "verification: " << done->verification << "  (the home node shows the same digits)\n"
            << "relay " << done->relay.to_string() << " and name \"" << home_name << "\" saved in "
            << cfg.file.string() << "\n";
  if (!done->services.empty()) {
    std::cout << "services:";
    for (const auto& s : done->services) std::cout << " " << s;
    std::cout << "\n";
  }
  std::cout << "try: ssh -o ProxyCommand='peerup connect " << home_name << " ssh' you@" << home_name
            << "\n";
  co_return 0;
}

}  // namespace

void add_pair_commands(CLI::App& app) {
  auto o = std::make_shared<invite_options>();
  auto* inv = app.add_subcommand("invite", "invite a new device: prints a code (and a QR link)");
  inv->add_option("--name", o->name, "name of the device (authorized_keys comment)");
  inv->add_option("--service", o->services, "service the device may use (repeat; default all)");
  inv->add_option("--expires", o->expires, "how long the invite is valid: 90s, 10m, 2h (default 10m)");
  inv->add_option("--relay", o->relay, "which configured relay the device uses (default the first)");
  inv->add_option("--max-failures", o->max_failures, "wrong codes before the invite locks (default 5)");
  inv->add_flag("--qr", o->qr, "also print the link as a QR code");
  inv->add_flag("--no-wait", o->no_wait, "print the code and return; do not wait for the device");
  inv->callback([o] {
    if (int rc = run_invite(*o); rc != 0) std::exit(rc);
  });

  auto j = std::make_shared<join_options>();
  auto* join = app.add_subcommand("join", "pair this device with a home node using an invite");
  join->add_option("code", j->code, "the invite code or peerup:// link")->required();
  join->add_option("--name", j->home_name, "name for the home node here (default: its own)");
  join->add_option("--device-name", j->device_name, "this device's name (default: hostname)");
  join->callback([j] {
    net::asio::io_context io;
    if (int rc = run_main([j] { return run_join(*j); }, io); rc != 0) std::exit(rc);
  });
}

}  // namespace peerup::cli
