// Writing one string value into a config file that `peerup` rewrites.
#pragma once

#include <string>

namespace peerup::app {

// `s` as one YAML scalar that reads back as exactly `s`: plain where
// yaml-cpp can write it so, double-quoted (escaped) when `always_quote` or
// when it holds a control character (a CR in a plain scalar would be read
// as part of the line break).
std::string yaml_scalar(const std::string& s, bool always_quote = false);

}  // namespace peerup::app
