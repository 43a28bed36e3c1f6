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
#include "protocols/relay_invite.hpp"
#include "protocols/rendezvous.hpp"
#include "wire/invite.hpp"

namespace peerup::cli {

namespace {

// The wall clock as the invite file keeps it (node/status.hpp's unix_now).
std::int64_t unix_seconds() { return static_cast<std::int64_t>(app::unix_now()); }

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
      if (!top && !bottom)
        row += "\u2588";
      else if (!top && bottom)
        row += "\u2580";
      else if (top && !bottom)
        row += "\u2584";
      else
        row += " ";
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
  bool relay_rights = false;
  bool no_short = false;
};

// Runs `talk` over a connection to `relay` (with /p2p) as `identity`, on
// its own io_context. Returns what failed ("relay unreachable at ...", or
// what `talk` returned), empty on success.
using relay_talk = std::function<net::awaitable<std::string>(net::host&, net::connection_ptr)>;
std::string with_relay(const private_key& identity, const multiaddr& relay, relay_talk talk) {
  std::string failure;
  net::asio::io_context io;
  run_main(
      [&]() -> net::awaitable<int> {
        auto h = make_client_host(co_await net::asio::this_coro::executor, identity);
        h->start();
        auto conn = co_await net::with_timeout(h->connect(relay), std::chrono::seconds(10));
        if (!conn)
          failure = "relay unreachable at " + relay.to_string() + ": " + conn.error().message();
        else
          failure = co_await talk(*h, *conn);
        h->stop();
        co_return 0;
      },
      io);
  return failure;
}

// Asks `relay` (with /p2p) for an invite for the device, as `identity` (this
// node, a sponsor there). Throws with the relay's reason.
invite::relay_pass fetch_relay_pass(const private_key& identity, const multiaddr& relay,
                                    std::int64_t expires_unix, const std::string& name) {
  std::optional<invite::relay_pass> pass;
  auto failure = with_relay(
      identity, relay,
      [&](net::host& h, net::connection_ptr conn) -> net::awaitable<std::string> {
        std::string why;
        // Built outside the co_await: g++ 12 miscompiles braced temporaries there.
        relay_invite::request req{expires_unix, name};
        auto res = co_await protocols::request_relay_invite(h, conn, std::move(req), &why);
        if (res) {
          pass = invite::relay_pass{res->id, res->secret};
          co_return std::string{};
        }
        if (res.error() == make_error_code(errc::protocol_not_supported))
          co_return std::string("the relay does not make invites (an older peerup relay?)");
        co_return why.empty() ? res.error().message() : why;
      });
  if (!pass) throw std::runtime_error("--relay-rights: " + failure);
  return *pass;
}

// Leaves `shown` sealed on `relay` under a fresh short code; returns the
// code's text, or nothing with `failure` set (the caller then shows only the
// full code).
std::optional<std::string> put_short_code(const private_key& identity, const multiaddr& relay,
                                          const invite::invite_data& shown,
                                          std::int64_t expires_unix, std::string& failure) {
  invite::short_code code;
  randombytes_buf(code.secret.data(), code.secret.size());
  code.relay = relay.without_peer();
  std::string why;
  auto text = invite::encode_short_code(code, &why);
  if (!text) {
    failure = why;
    return std::nullopt;
  }
  rendezvous::request req;
  req.what = rendezvous::op::put;
  req.handle = invite::handle_of(code);
  req.expires_unix = expires_unix;
  req.box = invite::seal(shown, code);
  failure = with_relay(
      identity, relay,
      [&](net::host& h, net::connection_ptr conn) -> net::awaitable<std::string> {
        std::string refused;
        auto put = co_await protocols::put_invite_box(h, conn, std::move(req), &refused);
        if (put) co_return std::string{};
        if (put.error() == make_error_code(errc::protocol_not_supported))
          co_return std::string("the relay does not keep short codes (an older peerup relay?)");
        co_return refused.empty() ? put.error().message() : refused;
      });
  if (!failure.empty()) return std::nullopt;
  return *text;
}

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
  const auto expires_in = parse_invite_duration(o.expires);
  const auto home = app::load_identity(cfg.identity_key.resolved).to_peer_id();

  const auto file = app::invites_file_path(cfg.dir());
  auto records = app::load_invites(file, home);
  const auto now = unix_seconds();
  std::erase_if(records, [&](const auto& r) { return r.expires_unix + 86400 < now; });
  if (records.size() >= app::invite_store_limits::max_invites)
    throw std::runtime_error("too many invites in " + file.string());
  auto rec = app::make_invite(records, home, relay.without_peer(), now + expires_in, o.name,
                              o.services);
  const auto id = rec.data.id;
  rec.max_failures = o.max_failures;
  // With relay rights the code also carries the relay's invite for the
  // device (the relay keeps it; this node's file does not need it).
  auto shown = rec.data;
  if (o.relay_rights) {
    if (!relay.peer())
      throw std::runtime_error("--relay-rights: the relay " + relay.to_string() +
                               " has no /p2p/<peer ID> in " + cfg.file.string());
    shown.pass = fetch_relay_pass(app::load_identity(cfg.identity_key.resolved), relay,
                                  now + expires_in, o.name);
  }
  std::string why;
  auto code = invite::encode_code(shown, &why);
  auto link = invite::encode_link(shown, &why);
  if (!code || !link) throw std::runtime_error(why);
  records.push_back(rec);
  app::save_invites(file, records, now);
  // A short code when the relay keeps it (the full code works regardless).
  std::optional<std::string> short_text;
  std::string short_failure;
  if (!o.no_short && relay.peer())
    short_text = put_short_code(app::load_identity(cfg.identity_key.resolved), relay, shown,
                                now + expires_in, short_failure);

  std::cout << "invite for \"" << o.name << "\" ("
            << (o.services.empty() ? std::string("all services")
                                   : "services " +
                                         [&] {
                                           std::string s;
                                           for (const auto& x : o.services)
                                             s += (s.empty() ? "" : ",") + x;
                                           return s;
                                         }())
            << "), expires in " << o.expires << ", single use"
            << (o.relay_rights ? "; the relay lets the device in" : "") << "\n\n";
  if (short_text) {
    std::cout << "  on the new device:  peerup join " << *short_text << "\n\n";
    std::cout << "  or, if the relay lost it (e.g. restarted):  peerup join " << *code << "\n\n";
  } else {
    if (!o.no_short)
      std::cout << "  (no short code: "
                << (relay.peer() ? short_failure : "the relay has no /p2p/<peer ID> in the config")
                << ")\n";
    std::cout << "  on the new device:  peerup join " << *code << "\n\n";
  }
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
                << ")\n"
                << std::flush;
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

std::string explain_pairing(const boost::system::error_code& ec, bool relay) {
  if (ec == make_error_code(errc::invite_expired))
    return std::string(pairing::describe(pairing::refusal::expired));
  if (ec == make_error_code(errc::invite_wrong_code))
    return std::string(pairing::describe(pairing::refusal::wrong_code));
  if (ec == make_error_code(errc::invite_locked))
    return std::string(pairing::describe(pairing::refusal::locked));
  if (ec == make_error_code(errc::invite_used))
    return std::string(pairing::describe(pairing::refusal::used));
  if (ec == make_error_code(errc::protocol_not_supported))
    return relay ? "the relay does not pair (an older peerup relay?)"
                 : "the home node does not pair (an older peerup?)";
  if (ec == make_error_code(errc::connection_closed) || ec == make_error_code(errc::stream_reset))
    return std::string(relay ? "the relay" : "the home node") +
           " ended pairing without an answer (another pairing running? try again)";
  return ec.message();
}

net::awaitable<int> run_join(join_options o) {
  std::string why;
  auto decoded = invite::decode_any(o.code, &why);
  if (!decoded) {
    std::cerr << "peerup: " << why << "\n";
    co_return 2;
  }
  const auto* short_code = std::get_if<invite::short_code>(&*decoded);
  const multiaddr relay_addr =
      short_code ? short_code->relay : std::get<invite::invite_data>(*decoded).relay;
  auto cfg = load_cli_config();
  const auto identity = app::load_identity(cfg.identity_key.resolved);
  const std::string device_name = o.device_name.empty() ? default_device_name() : o.device_name;
  if (!pairing::valid_name(device_name)) {
    std::cerr << "peerup: --device-name: \"" << device_name << "\" is not a valid name\n";
    co_return 2;
  }
  auto ex = co_await net::asio::this_coro::executor;
  auto h = make_client_host(ex, identity);
  h->start();
  // 1. The relay, by the address in the invite; Noise tells us its peer ID.
  auto relay_conn = co_await net::with_timeout(h->connect(relay_addr), std::chrono::seconds(10));
  if (!relay_conn) {
    std::cerr << "peerup: relay unreachable at " << relay_addr.to_string() << ": "
              << relay_conn.error().message() << "\n";
    h->stop();
    co_return 5;
  }
  const peer_id relay_peer = (*relay_conn)->remote_peer;
  // 1b. A short code: the relay holds the rest, sealed with the code's
  //     secret; it could not read or change it (wire/invite.hpp).
  std::optional<invite::invite_data> inv;
  if (short_code) {
    auto box = co_await protocols::get_invite_box(*h, *relay_conn, invite::handle_of(*short_code),
                                                  &why);
    if (!box) {
      const bool unknown = box.error() == make_error_code(errc::rendezvous_unknown);
      std::cerr << "peerup: "
                << (unknown ? why
                            : box.error() == make_error_code(errc::protocol_not_supported)
                                  ? std::string("the relay does not keep short codes (an older "
                                                "peerup relay?): ask for the full code")
                                  : "asking the relay for the invite failed: " +
                                        box.error().message())
                << "\n";
      h->stop();
      co_return unknown ? 4 : 5;
    }
    auto opened = invite::open_sealed(*box, *short_code, &why);
    if (!opened) {
      std::cerr << "peerup: " << why << "\n";
      h->stop();
      co_return 2;
    }
    inv = std::move(*opened);
  } else {
    inv = std::get<invite::invite_data>(*decoded);
  }
  if (identity.to_peer_id() == inv->home) {
    std::cerr << "peerup: this is the home node of the invite; run join on the new device\n";
    h->stop();
    co_return 2;
  }
  auto session = pairing::device_session::start(*inv, identity.to_peer_id(), device_name);
  if (!session) {
    std::cerr << "peerup: --device-name: \"" << device_name << "\" is not a valid name\n";
    h->stop();
    co_return 2;
  }
  // 2. Pairing with the relay: the whole job for a `peerup relay invite`
  //    code (its home key is the relay's), the first half for a code with
  //    relay rights. Either way the relay authorizes this device.
  const bool relay_only = inv->home == relay_peer;
  if (relay_only || inv->pass) {
    auto relay_inv = relay_only ? *inv : invite::relay_invite_of(*inv, relay_peer);
    auto relay_session =
        pairing::device_session::start(relay_inv, identity.to_peer_id(), device_name);
    // (No co_await inside ?: here: g++ 12 destroys such temporaries twice.)
    result<pairing::paired> with_relay = make_error_code(errc::protocol_not_supported);
    auto stream = co_await h->new_stream(*relay_conn, protocols::pairing_protocol);
    if (stream)
      with_relay = co_await protocols::pair_as_device(*stream->stream, *relay_session);
    else
      with_relay = stream.error();
    if (!with_relay) {
      std::cerr << "peerup: pairing with the relay failed: "
                << explain_pairing(with_relay.error(), true) << "\n";
      h->stop();
      co_return with_relay.error() == make_error_code(errc::invite_wrong_code) ? 3 : 4;
    }
    std::cout << "authorized on relay " << relay_peer.to_string()
              << "   verification: " << with_relay->verification << "\n";
    if (relay_only) {
      h->stop();
      const auto saved = inv->relay.with_peer(relay_peer);
      if (std::find(cfg.relays.begin(), cfg.relays.end(), saved) == cfg.relays.end())
        cfg.relays.push_back(saved);
      app::save_config(cfg);
      std::cout << "relay " << saved.to_string() << " saved in " << cfg.file.string() << "\n";
      co_return 0;
    }
  }
  // 3. The home node through the relay.
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
    std::cerr << "peerup: the home node did not accept pairing: " << explain_circuit(opened.error())
              << "\n";
    h->stop();
    co_return 5;
  }
  // 4. The PAKE and the exchange.
  auto done = co_await protocols::pair_as_device(*opened->stream, *session);
  h->stop();
  if (!done) {
    std::cerr << "peerup: pairing failed: " << explain_pairing(done.error(), false) << "\n";
    co_return done.error() == make_error_code(errc::invite_wrong_code) ? 3 : 4;
  }
  // 5. The relay home named must be the one we reached.
  if (done->relay.peer() != relay_peer ||
      done->relay.without_peer() != inv->relay.with_peer(relay_peer).without_peer()) {
    std::cerr << "peerup: the home node named relay " << done->relay.to_string()
              << ", not the one in the invite (" << inv->relay.with_peer(relay_peer).to_string()
              << "); nothing saved\n";
    co_return 6;
  }
  // 6. Save the relay and a name for home.
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
  inv->add_option("--expires", o->expires,
                  "how long the invite is valid: 90s, 10m, 2h (default 10m)");
  inv->add_option("--relay", o->relay,
                  "which configured relay the device uses (default the first)");
  inv->add_option("--max-failures", o->max_failures,
                  "wrong codes before the invite locks (default 5)");
  inv->add_flag("--qr", o->qr, "also print the link as a QR code");
  inv->add_flag("--no-short", o->no_short,
                "print only the full code (no short code kept by the relay)");
  inv->add_flag("--no-wait", o->no_wait, "print the code and return; do not wait for the device");
  inv->add_flag("--relay-rights", o->relay_rights,
                "the code also authorizes the device on the relay (this node must be allowed to "
                "invite there; the relay need not be open)");
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
