// Name resolution for targets, the SOCKS5 proxy and the DNS gateway.
//
// A name resolves through tiers, in this order; the first that knows it wins:
//   1. local:   the config's `names:`, then the optional `names_file:`
//   2. relay:   "<host>.<network>" where <network> is a key of the config's
//               `networks:`; the network's relays are asked in order over
//               /peerup/names/1.0.0 (home nodes register there)
//   3. peer_id: the name is a literal peer ID
// (A blockchain tier, as in the seed, would slot in between 2 and 3; it is a
// documented extension point, not built: docs/naming.md.)
//
// Name syntax accepted by resolve(): an optional trailing "." and an optional
// trailing ".p2p" label are stripped first ("home.grewal.p2p." ->
// "home.grewal"). Local names match exactly, then case-insensitively; relay
// names are DNS labels and are lower-cased; peer IDs are case-sensitive.
// A gateway that gets "<service>.<host>.<network>.p2p" splits off the service
// label itself before calling resolve().
//
// Answers of the relay tier are cached for `ttl`, "not registered" answers
// for `negative_ttl`. Local and peer-ID answers are not cached: they cost a
// map lookup and must follow config reloads at once.
#pragma once

#include <boost/system/result.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/host.hpp"
#include "config/config.hpp"

namespace peerup::app {

enum class name_tier { local, relay, peer_id };
std::string_view to_string(name_tier t);  // "local", "relay", "peer-id"

struct resolution {
  peer_id peer;
  name_tier tier = name_tier::local;
  // "names:" / "names file <path>" / "relay <network> (<relay addr>)" / "peer id"
  std::string source;
  // How to reach the peer, best first: a direct address from names: or from
  // the registration, then <relay>/p2p-circuit/p2p/<peer> circuits through
  // the relays of `relays:` and of `networks:` (config::all_relays). May be
  // empty (a bare peer ID with no relays configured).
  std::vector<multiaddr> addrs;
  bool cached = false;  // answered from the cache, no relay was asked
};

struct resolve_error {
  // errc::name_not_found: no tier knows the name (message lists the tiers
  //   tried and what each said);
  // errc::name_lookup_failed: no tier knew it, but a relay of its network
  //   could not be asked (unreachable, timed out, refused): the name may
  //   exist (DNS: SERVFAIL, not NXDOMAIN);
  // errc::invalid_argument: the text is not a valid name at all.
  boost::system::error_code code;
  std::string message;  // for users, e.g. `name "x.y" not found (tried: ...)`
};
// Lets resolve_result<T>::value() throw std::runtime_error(message).
[[noreturn]] void throw_exception_from_error(const resolve_error& e, const boost::source_location&);

template <class T>
using resolve_result = boost::system::result<T, resolve_error>;

struct resolver_options {
  std::chrono::seconds ttl{300};          // positive answers of the relay tier
  std::chrono::seconds negative_ttl{30};  // "not registered" answers
  // Per relay asked: connect + request + answer.
  net::steady_clock::duration lookup_timeout = std::chrono::seconds(5);
  std::size_t max_cache_entries = 4096;  // oldest-expiring entries go first
  // Injected for tests; empty means steady_clock::now.
  std::function<net::steady_clock::time_point()> clock;
};

class name_resolver {
 public:
  // Contract: `h` and `cfg` outlive the resolver; all calls run on the host's
  // single-threaded executor. `cfg` is read on every call, so a daemon that
  // reloads its config in place is followed at once (cached relay answers
  // stay until they expire or clear_cache()).
  name_resolver(net::host& h, const config& cfg, resolver_options opts = {});
  ~name_resolver();
  name_resolver(const name_resolver&) = delete;
  name_resolver& operator=(const name_resolver&) = delete;

  // Resolves `name` (see the file comment for the syntax). May be called
  // concurrently from several coroutines; concurrent lookups of one name
  // share one relay query. `name` is copied before the first suspension.
  // Cancellation (e.g. with_timeout) abandons the wait; a shared relay
  // query still completes and fills the cache.
  // `foreign_networks`: a "<host>.<network>" of a network not in networks:
  // is asked at our relays, which ask it through federation. True for names
  // the user typed as peer-up names (CLI, the gateway's .p2p zone); false
  // for what a SOCKS client sends unqualified ("example.com" must not reach
  // a relay: a lookup of every web name would leak to it).
  net::awaitable<resolve_result<resolution>> resolve(std::string_view name,
                                                     bool foreign_networks = true);

  void clear_cache();
  struct stats {
    std::uint64_t hits = 0, misses = 0, relay_queries = 0;
    std::size_t cached = 0;
  };
  stats statistics() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// "home.grewal.p2p." -> "home.grewal"; nullopt when nothing is left or the
// text has characters no name, label or peer ID can contain.
std::optional<std::string> strip_name_suffix(std::string_view name);

}  // namespace peerup::app
