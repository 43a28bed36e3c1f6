#include "peerup/resolver.hpp"

namespace peerup::app {

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

struct name_resolver::impl {
  net::host& host;
  const config& cfg;
  resolver_options opts;
  stats counters;
};

name_resolver::name_resolver(net::host& h, const config& cfg, resolver_options opts)
    : impl_(std::make_unique<impl>(impl{h, cfg, std::move(opts), {}})) {}

name_resolver::~name_resolver() = default;

net::awaitable<resolve_result<resolution>> name_resolver::resolve(std::string_view name) {
  std::string text(name);
  co_return resolve_error{make_error_code(errc::name_not_found),
                          "name \"" + text + "\" not found (resolver not built yet)"};
}

void name_resolver::clear_cache() {}

name_resolver::stats name_resolver::statistics() const { return impl_->counters; }

std::optional<std::string> strip_name_suffix(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.size() > 4 && name.substr(name.size() - 4) == ".p2p") name.remove_suffix(4);
  if (name.empty()) return std::nullopt;
  return std::string(name);
}

}  // namespace peerup::app
