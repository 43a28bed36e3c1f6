#include "naming/resolver.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/printable.hpp"
#include "net/signal.hpp"
#include "config/authorized_keys.hpp"
#include "config/names_file.hpp"
#include "naming/target.hpp"
#include "protocols/names.hpp"

namespace peerup::app {

namespace {

namespace fs = std::filesystem;
using time_point = net::steady_clock::time_point;

constexpr auto names_file_check_interval = std::chrono::seconds(2);
// SECURITY: longer than any DNS name (253) or peer ID text we accept.
constexpr std::size_t max_name_text = 255;

bool name_text_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string file_version(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return "missing";
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
         std::to_string(st.st_size) + "/" + std::to_string(st.st_ino);
}

// The exact key, else the first key equal ignoring case.
template <class Map>
const typename Map::mapped_type* find_name(const Map& names, const std::string& name) {
  if (auto it = names.find(name); it != names.end()) return &it->second;
  const auto want = lower(name);
  for (const auto& [k, v] : names)
    if (lower(k) == want) return &v;
  return nullptr;
}

void add_circuits(std::vector<multiaddr>& out, const std::vector<multiaddr>& relays,
                  const peer_id& peer) {
  for (const auto& r : relays) {
    if (r.peer() == peer) continue;
    auto c = circuit_address(r, peer);
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(std::move(c));
  }
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

// What the relay tier found for one name.
struct relay_outcome {
  std::optional<resolution> found;
  std::chrono::seconds record_ttl{0};
  std::string detail;       // per relay: what it said
  bool definitive = false;  // every relay answered "not registered"
};

}  // namespace

std::string_view to_string(name_tier t) {
  switch (t) {
    case name_tier::local: return "local";
    case name_tier::relay: return "relay";
    case name_tier::peer_id: return "peer-id";
  }
  return "?";
}

void throw_exception_from_error(const resolve_error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

std::optional<std::string> strip_name_suffix(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.size() > 4 && lower(name.substr(name.size() - 4)) == ".p2p") name.remove_suffix(4);
  if (name.empty() || name.size() > max_name_text) return std::nullopt;
  for (char c : name)
    if (!name_text_char(c)) return std::nullopt;
  return std::string(name);
}

struct name_resolver::impl {
  struct cache_entry {
    std::optional<resolution> answer;  // nullopt: "not registered" (negative entry)
    std::string detail;
    time_point expires;
  };
  struct pending {
    explicit pending(net::asio::any_io_executor ex) : done(ex) {}
    net::signal done;
    bool finished = false;
    relay_outcome outcome;
  };
  struct names_file_state {
    fs::path path;
    std::string version;
    time_point checked{};
    std::map<std::string, name_target> names;  // the last valid version
    std::string error;                         // why the current version is not used
  };

  impl(net::host& h, const config& c, resolver_options o) : host(h), cfg(c), opts(std::move(o)) {}

  time_point now() const { return opts.clock ? opts.clock() : net::steady_clock::now(); }
  std::optional<resolution> local(const std::string& name, std::vector<std::string>& tried);
  void refresh_names_file();
  std::optional<resolution> peer_literal(const std::string& name, std::vector<std::string>& tried);
  void store(const std::string& key, cache_entry e);
  net::awaitable<void> query(std::shared_ptr<bool> alive, std::string key, wire::dns_label host,
                             wire::dns_label network, std::vector<multiaddr> relays,
                             std::shared_ptr<pending> p);

  net::host& host;
  const config& cfg;
  resolver_options opts;
  stats counters;
  std::map<std::string, cache_entry> cache;
  std::map<std::string, std::shared_ptr<pending>> inflight;
  names_file_state names_file;
  // Relay queries run detached and may finish after we are gone.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
};

void name_resolver::impl::refresh_names_file() {
  auto& st = names_file;
  if (!cfg.naming.names_file) {
    st = {};
    return;
  }
  const auto path = cfg.ref(*cfg.naming.names_file).resolved;
  const auto t = now();
  if (path == st.path && t - st.checked < names_file_check_interval) return;
  st.checked = t;
  const auto version = file_version(path);
  if (path == st.path && version == st.version) return;
  if (path != st.path) st.names.clear();
  st.path = path;
  st.version = version;
  try {
    auto parsed = parse_names_file(read_small_file(path, names_file_limits::max_file_size));
    if (!parsed.problems.empty()) {
      const auto& p = parsed.problems.front();
      st.error = path.string() + ":" + std::to_string(p.line) + ": " + p.message;
      spdlog::warn("names file not used ({} problems, first: {})", parsed.problems.size(),
                   st.error);
      return;  // keep the last valid version
    }
    st.names = std::move(parsed.names);
    st.error.clear();
  } catch (const std::exception& e) {
    st.error = e.what();
    st.names.clear();
  }
}

std::optional<resolution> name_resolver::impl::local(const std::string& name,
                                                     std::vector<std::string>& tried) {
  auto make = [&](const name_target& t, std::string source) {
    resolution r{t.peer, name_tier::local, std::move(source), {}, false};
    if (t.addr) r.addrs.push_back(*t.addr);
    add_circuits(r.addrs, cfg.all_relays(), t.peer);
    return r;
  };
  if (const auto* t = find_name(cfg.names, name)) return make(*t, "names:");
  refresh_names_file();
  if (const auto* t = find_name(names_file.names, name))
    return make(*t, "names file " + names_file.path.string());
  std::string what = "local: not in names:";
  if (cfg.naming.names_file) {
    what += " nor in names file " + names_file.path.string();
    if (!names_file.error.empty()) what += " (" + names_file.error + ")";
  }
  tried.push_back(std::move(what));
  return std::nullopt;
}

std::optional<resolution> name_resolver::impl::peer_literal(const std::string& name,
                                                            std::vector<std::string>& tried) {
  auto id = peer_id::parse(name);
  if (!id) {
    tried.emplace_back("peer-id: not a peer ID");
    return std::nullopt;
  }
  resolution r{*id, name_tier::peer_id, "peer id", {}, false};
  add_circuits(r.addrs, cfg.all_relays(), *id);
  return r;
}

void name_resolver::impl::store(const std::string& key, cache_entry e) {
  // SECURITY: bounded, whatever names clients ask for.
  if (!cache.count(key) && cache.size() >= opts.max_cache_entries) {
    const auto t = now();
    std::erase_if(cache, [&](const auto& kv) { return kv.second.expires <= t; });
    if (cache.size() >= opts.max_cache_entries && !cache.empty())
      cache.erase(std::min_element(cache.begin(), cache.end(), [](const auto& a, const auto& b) {
        return a.second.expires < b.second.expires;
      }));
  }
  if (opts.max_cache_entries > 0) cache.insert_or_assign(key, std::move(e));
}

// Asks the network's relays in order until one knows the name, then caches
// the outcome and wakes every caller waiting for it.
net::awaitable<void> name_resolver::impl::query(std::shared_ptr<bool> alive, std::string key,
                                                wire::dns_label host_label, wire::dns_label network,
                                                std::vector<multiaddr> relays,
                                                std::shared_ptr<pending> p) {
  relay_outcome out;
  std::vector<std::string> said;
  bool all_not_found = true;
  const wire::names_request req{wire::names_request_type::lookup, network, host_label, 0, {}};
  for (const auto& relay : relays) {
    auto op = protocols::ask_names(host, relay, req, opts.lookup_timeout);
    auto r = co_await std::move(op);
    if (!*alive) break;
    ++counters.relay_queries;
    if (!r) {
      all_not_found = false;
      said.push_back(relay.to_string() + " unreachable (" + r.error().message() + ")");
      continue;
    }
    if (r->status == wire::names_status::ok && r->peer) {
      resolution res{*r->peer, name_tier::relay,
                     "relay " + network.str() + " (" + relay.to_string() + ")", r->addrs, false};
      std::vector<multiaddr> answering{relay};
      add_circuits(res.addrs, answering, res.peer);
      add_circuits(res.addrs, relays, res.peer);
      out.found = std::move(res);
      out.record_ttl = std::chrono::seconds(r->ttl);
      break;
    }
    if (r->status == wire::names_status::not_found) {
      said.push_back(relay.to_string() + " says not registered");
      continue;
    }
    // SECURITY: the relay's text reaches logs and terminals; printable only.
    const std::string text = printable(r->text);
    if (r->status == wire::names_status::not_federated) {
      // A relay's configuration, not an outage: as final as "not registered".
      said.push_back(relay.to_string() + " says: " + text);
      continue;
    }
    all_not_found = false;
    if (r->status == wire::names_status::network_unreachable) {
      said.push_back(relay.to_string() + " says: " + text);
      continue;
    }
    std::string why(wire::to_string(r->status));
    if (r->status == wire::names_status::permission_denied)
      why += " (is this node's peer ID in the relay's authorized_keys?)";
    said.push_back(relay.to_string() + " refused: " + why);
  }
  if (*alive) {
    out.detail = join(said, ", ");
    out.definitive = !out.found && all_not_found;
    if (out.found) {
      auto ttl = opts.ttl;
      if (out.record_ttl.count() > 0) ttl = std::min(ttl, out.record_ttl);
      store(key, {out.found, out.detail, now() + ttl});
    } else if (out.definitive && opts.negative_ttl.count() > 0) {
      store(key, {std::nullopt, out.detail, now() + opts.negative_ttl});
    }
    inflight.erase(key);
  }
  p->outcome = std::move(out);
  p->finished = true;
  p->done.notify();
}

name_resolver::name_resolver(net::host& h, const config& cfg, resolver_options opts)
    : impl_(std::make_unique<impl>(h, cfg, std::move(opts))) {}

name_resolver::~name_resolver() { *impl_->alive = false; }

// 1. local names (names:, then the names file)
// 2. relay names "<host>.<network>": the cache, else one shared relay query
// 3. a literal peer ID
net::awaitable<resolve_result<resolution>> name_resolver::resolve(std::string_view name,
                                                                  bool foreign_networks) {
  const std::string text(name);  // before any suspension: the caller's view may go
  auto stripped = strip_name_suffix(text);
  if (!stripped)
    co_return resolve_error{make_error_code(errc::invalid_argument),
                            "\"" + text.substr(0, 80) + "\" is not a valid name"};
  const std::string& n = *stripped;
  std::vector<std::string> tried;
  // Set when a relay that might know the name could not be asked (down,
  // timed out, refused us): then "not found" would be a guess, and a DNS
  // client would cache it as NXDOMAIN.
  bool undecided = false;
  if (auto r = impl_->local(n, tried)) co_return std::move(*r);

  const auto dot = n.rfind('.');
  const auto& networks = impl_->cfg.naming.networks;
  auto host_label = wire::dns_label::parse(n.substr(0, dot == std::string::npos ? 0 : dot));
  auto network = wire::dns_label::parse(dot == std::string::npos ? "" : n.substr(dot + 1));
  if (networks.empty()) {
    tried.emplace_back("relay: no networks: in the config");
  } else if (!host_label || !network) {
    tried.emplace_back("relay: not of the form <host>.<network>");
  } else if (!foreign_networks && !networks.count(network->str())) {
    tried.push_back("relay: no network \"" + network->str() +
                    "\" in networks: (other networks only for names in the peer-up zone)");
  } else {
    // A network we are not in (`server.bob` for a grewal member): our own
    // networks' relays ask it through federation (docs/federation.md).
    std::vector<multiaddr> relays;
    if (auto own = networks.find(network->str()); own != networks.end()) {
      relays = own->second;
    } else {
      for (const auto& [name, list] : networks)
        for (const auto& r : list)
          if (std::find(relays.begin(), relays.end(), r) == relays.end()) relays.push_back(r);
    }
    const std::string key = host_label->str() + "." + network->str();
    auto it = impl_->cache.find(key);
    if (it != impl_->cache.end() && it->second.expires > impl_->now()) {
      ++impl_->counters.hits;
      if (it->second.answer) {
        auto r = *it->second.answer;
        r.cached = true;
        co_return r;
      }
      tried.push_back("relay " + network->str() + ": " + it->second.detail + " (cached)");
    } else {
      ++impl_->counters.misses;
      auto& slot = impl_->inflight[key];
      auto p = slot;
      if (!p) {
        p = slot = std::make_shared<impl::pending>(impl_->host.get_executor());
        auto q = impl_->query(impl_->alive, key, *host_label, *network, relays, p);
        net::asio::co_spawn(impl_->host.get_executor(), std::move(q), net::asio::detached);
      }
      while (!p->finished) co_await p->done.wait();
      if (p->outcome.found) co_return *p->outcome.found;
      undecided = !p->outcome.definitive;
      tried.push_back("relay " + network->str() + ": " + p->outcome.detail);
    }
  }
  if (auto r = impl_->peer_literal(n, tried)) co_return std::move(*r);
  if (undecided)
    co_return resolve_error{make_error_code(errc::name_lookup_failed),
                            "name \"" + n + "\" could not be looked up (tried " +
                                join(tried, "; ") + ")"};
  co_return resolve_error{make_error_code(errc::name_not_found),
                          "name \"" + n + "\" not found (tried " + join(tried, "; ") + ")"};
}

void name_resolver::clear_cache() { impl_->cache.clear(); }

name_resolver::stats name_resolver::statistics() const {
  auto s = impl_->counters;
  s.cached = impl_->cache.size();
  return s;
}

}  // namespace peerup::app
