// The YAML config loaders on arbitrary text: config.yaml (parse_config) and
// relay.yaml (parse_relay_config), both fed the same input.
//
// Checks beyond "no crash":
// - nothing escapes but the documented failure: parse_config returns a
//   config_error whose line lies in the file; parse_relay_config throws a
//   std::runtime_error whose message starts with the file name (yaml-cpp's own
//   exceptions must not leak through, they carry no file:line)
// - an accepted config.yaml renders (render_config, what editing commands
//   write back) to text that parses again to the same rendering: saving a
//   valid file never breaks it or loses a setting
#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>

#include "fuzz_common.hpp"
#include "config/config.hpp"
#include "config/relay_config.hpp"

namespace {

using namespace peerup;

const std::filesystem::path config_file = "/fuzz/config.yaml";
const std::filesystem::path relay_file = "/fuzz/relay.yaml";

int line_count(std::string_view text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
}

void check_config(std::string_view text) {
  auto parsed = app::parse_config(text, config_file);
  if (!parsed) {
    FUZZ_CHECK(parsed.error().line >= 0 && parsed.error().line <= line_count(text) + 1);
    FUZZ_CHECK(!parsed.error().message.empty());
    return;
  }
  const std::string rendered = app::render_config(*parsed);
  auto again = app::parse_config(rendered, config_file);
  if (!again) {
    std::fprintf(stderr, "rendered config does not parse: %s\n---\n%s---\n",
                 again.error().to_string().c_str(), rendered.c_str());
  }
  FUZZ_CHECK(again);
  const std::string rendered_again = app::render_config(*again);
  if (rendered_again != rendered) {
    std::fprintf(stderr, "a rewrite changed the config:\n---\n%s---\n%s---\n", rendered.c_str(),
                 rendered_again.c_str());
  }
  FUZZ_CHECK(rendered_again == rendered);
}

void check_relay_config(std::string_view text) {
  try {
    auto c = app::parse_relay_config(text, relay_file);
    FUZZ_CHECK(c.limits.reservation_ttl.count() > 0);
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    if (what.rfind(relay_file.string(), 0) != 0)
      std::fprintf(stderr, "relay config error without file:line: %s\n", what.c_str());
    FUZZ_CHECK(what.rfind(relay_file.string(), 0) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_config(text);
  check_relay_config(text);
  return 0;
}
