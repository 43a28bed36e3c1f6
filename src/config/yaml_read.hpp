// Small helpers shared by the config readers (config.cpp, the *_config.cpp
// sections): where a node is, and what it holds, for error messages that
// name the line and the value that was wrong.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace peerup::app {

// 1-based line of `at` in its file, 0 when the node has no position (a
// missing key, or a node built in memory).
inline int yaml_line(const YAML::Node& at) {
  return at.Mark().is_null() ? 0 : at.Mark().line + 1;
}

// What a node holds, for "expected X, got Y": a quoted scalar (cut at 80
// characters, so a huge value cannot flood the message), "a map", "a list"
// or "nothing".
inline std::string yaml_got(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (!n.IsScalar()) return n.IsMap() ? "a map" : "a list";
  std::string s = n.Scalar();
  // SECURITY: bounded echo of a value read from a file.
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return "\"" + s + "\"";
}

}  // namespace peerup::app
