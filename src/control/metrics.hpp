// Prometheus metrics: a registry of counter and gauge families with labels,
// and the text exposition format 0.0.4 (prometheus.io/docs/instrumenting/
// exposition_formats). Sans-I/O: values in, text out; the daemon fills a
// registry from its counters at each scrape (control/collect.cpp) and the
// HTTP side serves render().
//
// SECURITY: label values come from peers (peer IDs, service names), so
// each family holds at most `max_series` label sets; values beyond it add to
// one series whose labels are all "other", and label values are escaped
// (backslash, quote, newline) and cut to max_label_value bytes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "node/status.hpp"

namespace peerup::control {

enum class metric_type { counter, gauge };

class metrics_registry {
 public:
  static constexpr std::size_t default_max_series = 64;
  static constexpr std::size_t max_label_value = 128;

  // Declares a family. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]* (checked:
  // a bad name is a programming error and throws std::invalid_argument).
  // Counters are rendered with their name as given (it should end in _total).
  void declare(std::string name, metric_type type, std::string help,
               std::vector<std::string> label_names = {},
               std::size_t max_series = default_max_series);
  // Adds `value` to the series of `labels` (one value per label name, in
  // order; a wrong count throws std::invalid_argument). set() replaces it.
  void add(std::string_view name, double value, const std::vector<std::string>& labels = {});
  void set(std::string_view name, double value, const std::vector<std::string>& labels = {});

  // The text exposition: # HELP and # TYPE per family, then its series in
  // label order. Families in declaration order.
  std::string render() const;

  // Series of a family (tests).
  std::size_t series_count(std::string_view name) const;
  double value(std::string_view name, const std::vector<std::string>& labels = {}) const;

 private:
  struct family {
    std::string name, help;
    metric_type type = metric_type::counter;
    std::vector<std::string> label_names;
    std::size_t max_series = default_max_series;
    std::map<std::vector<std::string>, double> series;
  };
  family& get(std::string_view name);
  // The series of `labels`; `folded` says it is the shared "other" one.
  double& slot(family& f, const std::vector<std::string>& labels, bool& folded);

  std::vector<family> families_;
};

// Escapes a label value for the text format (\\, \", \n) and cuts it.
std::string escape_label_value(std::string_view v, std::size_t max = 128);
// A double as Prometheus reads it: integers without a fraction, +Inf/-Inf/NaN.
std::string format_value(double v);

// The TUN network mode's families (docs/operations.md), from the status
// document's "network" section: packets and bytes by direction and by how
// they travelled (datagram, stream), drops by reason, ICMP errors sent, and
// packets per peer (at most 64 peers, the rest as "other"), labelled with the
// peer's name when it has one.
void add_network_metrics(metrics_registry& m, const app::network_status& n);

}  // namespace peerup::control
