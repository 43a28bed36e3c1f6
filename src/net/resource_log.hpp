// The one log line for a resource-limit refusal: names the limit and its
// value, at most one line per limit per 10 s (a flood must not flood the log).
#pragma once

#include <spdlog/spdlog.h>

#include "net/asio.hpp"
#include "net/resource_manager.hpp"

namespace peerup::net {

inline void log_refusal(resource_manager& rm, resource_limit l, std::string_view what) {
  const auto n = rm.note_refusal(l, steady_clock::now());
  if (!n) return;
  if (*n > 1)
    spdlog::warn("resource limit {} = {} reached: refused {} ({} refusals since the last line)",
                 to_string(l), rm.limit_value(l), what, *n);
  else
    spdlog::warn("resource limit {} = {} reached: refused {}", to_string(l), rm.limit_value(l),
                 what);
}

}  // namespace peerup::net
