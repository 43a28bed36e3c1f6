#include "control/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace peerup::control {

namespace {

bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// HELP text escapes only backslash and newline.
std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view v, std::size_t max) {
  std::string out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size() && i < max; ++i) {
    const char c = v[i];
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void metrics_registry::declare(std::string name, metric_type type, std::string help,
                               std::vector<std::string> label_names, std::size_t max_series) {
  if (!valid_name(name)) throw std::invalid_argument("bad metric name: " + name);
  for (const auto& l : label_names)
    if (!valid_name(l) || l.find(':') != std::string::npos || l.rfind("__", 0) == 0)
      throw std::invalid_argument("bad label name: " + l);
  for (const auto& f : families_)
    if (f.name == name) throw std::invalid_argument("metric declared twice: " + name);
  families_.push_back({std::move(name), std::move(help), type, std::move(label_names),
                       max_series == 0 ? 1 : max_series, {}});
}

metrics_registry::family& metrics_registry::get(std::string_view name) {
  for (auto& f : families_)
    if (f.name == name) return f;
  throw std::invalid_argument("undeclared metric: " + std::string(name));
}

double& metrics_registry::slot(family& f, const std::vector<std::string>& labels,
                               bool& folded) {
  folded = false;
  if (labels.size() != f.label_names.size())
    throw std::invalid_argument("metric " + f.name + ": expected " +
                                std::to_string(f.label_names.size()) + " labels");
  std::vector<std::string> key;
  key.reserve(labels.size());
  for (const auto& l : labels) key.push_back(escape_label_value(l, max_label_value));
  auto it = f.series.find(key);
  if (it != f.series.end()) return it->second;
  // SECURITY: one series per label set up to max_series; the rest share one.
  if (f.series.size() + 1 >= f.max_series && !f.label_names.empty()) {
    folded = true;
    return f.series[std::vector<std::string>(f.label_names.size(), "other")];
  }
  return f.series[key];
}

void metrics_registry::add(std::string_view name, double value,
                           const std::vector<std::string>& labels) {
  bool folded = false;
  slot(get(name), labels, folded) += value;
}

void metrics_registry::set(std::string_view name, double value,
                           const std::vector<std::string>& labels) {
  bool folded = false;
  auto& s = slot(get(name), labels, folded);
  // Several label sets folded into "other" add up instead of overwriting.
  s = folded ? s + value : value;
}

std::string metrics_registry::render() const {
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + f.name + (f.type == metric_type::counter ? " counter\n" : " gauge\n");
    if (f.series.empty() && f.label_names.empty()) {
      out += f.name + " 0\n";
      continue;
    }
    for (const auto& [labels, v] : f.series) {
      out += f.name;
      if (!labels.empty()) {
        out += "{";
        for (std::size_t i = 0; i < labels.size(); ++i) {
          if (i) out += ",";
          out += f.label_names[i] + "=\"" + labels[i] + "\"";
        }
        out += "}";
      }
      out += " " + format_value(v) + "\n";
    }
  }
  return out;
}

std::size_t metrics_registry::series_count(std::string_view name) const {
  for (const auto& f : families_)
    if (f.name == name) return f.series.size();
  return 0;
}

double metrics_registry::value(std::string_view name, const std::vector<std::string>& labels) const {
  for (const auto& f : families_) {
    if (f.name != name) continue;
    std::vector<std::string> key;
    key.reserve(labels.size());
    for (const auto& l : labels) key.push_back(escape_label_value(l, max_label_value));
    auto it = f.series.find(key);
    return it == f.series.end() ? 0 : it->second;
  }
  return 0;
}

}  // namespace peerup::control
