// The docs against the binary (issue 21): every `peerup ...` command quoted in
// a code block of README.md or docs/*.md names subcommands and flags the
// binary has, and the sample config.yaml and relay.yaml load. A renamed flag
// or key then fails here instead of in front of a new user.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

#include "e2e/e2e_support.hpp"

namespace peerup::e2e {
namespace {

const fs::path source_dir = PEERUP_SOURCE_DIR;

std::vector<fs::path> doc_files() {
  std::vector<fs::path> out{source_dir / "README.md"};
  for (const auto& e : fs::directory_iterator(source_dir / "docs"))
    if (e.path().extension() == ".md") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

struct code_line {
  fs::path file;
  int line = 0;
  std::string text;
};

// Lines inside ``` fences (any language).
std::vector<code_line> code_lines(const fs::path& file) {
  std::vector<code_line> out;
  std::istringstream in(read_file(file));
  std::string line;
  bool inside = false;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find("```") != std::string::npos) {
      inside = !inside;
      continue;
    }
    if (inside) out.push_back({file, n, line});
  }
  return out;
}

// The `peerup` invocations of a shell line: argv after "peerup", up to a
// shell separator or comment.
std::vector<std::vector<std::string>> invocations(const std::string& line) {
  std::vector<std::vector<std::string>> out;
  // At the start of a command: the line's (after "$ " or "sudo -u <user> "),
  // a systemd ExecStart=, or a quoted ProxyCommand; not "peerup" in prose.
  static const std::regex start(
      R"((^\s*(\$\s+)?(sudo\s+-u\s+\S+\s+)?|ExecStart=\S*/|['"])peerup\s)");
  auto it = std::sregex_iterator(line.begin(), line.end(), start);
  for (; it != std::sregex_iterator(); ++it) {
    const auto from = static_cast<std::size_t>(it->position(0) + it->length(0));
    std::istringstream words(line.substr(from));
    std::vector<std::string> argv;
    std::string w;
    while (words >> w) {
      if (w == "#" || w == "|" || w == "&" || w == "&&" || w == ";" || w[0] == '#') break;
      const bool last = w.back() == '\'' || w.back() == '"' || w.back() == ';' || w.back() == '&';
      while (!w.empty() && (w.back() == '\'' || w.back() == '"' || w.back() == ';' ||
                            w.back() == '&'))
        w.pop_back();
      if (!w.empty()) argv.push_back(w);
      if (last) break;
    }
    out.push_back(std::move(argv));
  }
  return out;
}

class help_cache {
 public:
  const std::string& of(const std::vector<std::string>& chain) {
    auto [it, fresh] = cache_.try_emplace(chain);
    if (fresh) {
      std::vector<std::string> argv{peerup_binary};
      argv.insert(argv.end(), chain.begin(), chain.end());
      argv.push_back("--help");
      auto r = run(argv, 20s);
      it->second = r.code == 0 ? r.out : "";
    }
    return it->second;
  }
  // The names listed under "Subcommands:" in `chain`'s help.
  std::vector<std::string> subcommands(const std::vector<std::string>& chain) {
    std::vector<std::string> out;
    const auto& help = of(chain);
    const auto at = help.find("Subcommands:");
    if (at == std::string::npos) return out;
    std::istringstream in(help.substr(at));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string name;
      if (words >> name && line.rfind("  ", 0) == 0) out.push_back(name);
    }
    return out;
  }

 private:
  std::map<std::vector<std::string>, std::string> cache_;
};

TEST(docs, every_peerup_command_in_the_docs_exists_with_the_flags_it_quotes) {
  help_cache help;
  int checked = 0;
  for (const auto& file : doc_files()) {
    for (const auto& cl : code_lines(file)) {
      for (auto argv : invocations(cl.text)) {
        const std::string where = file.filename().string() + ":" + std::to_string(cl.line) +
                                  ": " + cl.text;
        // Global options first.
        std::size_t i = 0;
        while (i < argv.size() && (argv[i] == "--config" || argv[i] == "--log-level")) i += 2;
        std::vector<std::string> chain;
        for (; i < argv.size(); ++i) {
          const auto subs = help.subcommands(chain);
          if (std::find(subs.begin(), subs.end(), argv[i]) == subs.end()) break;
          chain.push_back(argv[i]);
        }
        if (chain.empty()) {
          // "peerup" as a word in prose inside a block, e.g. a user name.
          if (i < argv.size() && argv[i].find_first_of("-/<") != 0 && !argv[i].empty() &&
              std::islower(static_cast<unsigned char>(argv[i][0])))
            ADD_FAILURE() << "no such subcommand \"" << argv[i] << "\"\n  " << where;
          continue;
        }
        EXPECT_TRUE(help.subcommands(chain).empty())
            << "\"peerup " << chain.front() << "\" needs a subcommand\n  " << where;
        const std::string& own = help.of(chain);
        const std::string& root = help.of({});
        for (const auto& a : argv) {
          if (a.rfind("--", 0) != 0) continue;
          const std::string flag = a.substr(0, a.find('='));
          const bool known = own.find(flag + " ") != std::string::npos ||
                             own.find(flag + ",") != std::string::npos ||
                             own.find(flag + "\n") != std::string::npos ||
                             root.find(flag + " ") != std::string::npos;
          EXPECT_TRUE(known) << "\"peerup " << chain.front() << "\" has no flag " << flag
                             << "\n  " << where;
        }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 30) << "the scan found too few commands: is it still reading the docs?";
}

// The ```yaml block that follows `heading` in `file`.
std::string yaml_after(const fs::path& file, const std::string& heading) {
  const auto text = read_file(file);
  const auto h = text.find(heading);
  if (h == std::string::npos) return "";
  const auto open = text.find("```yaml\n", h);
  const auto close = text.find("```", open + 8);
  if (open == std::string::npos || close == std::string::npos) return "";
  return text.substr(open + 8, close - open - 8);
}

// Placeholder peer IDs ("12D3KooWHomePeerIdxxx...") become real ones.
std::string with_real_peer_ids(std::string text, const std::string& id) {
  return std::regex_replace(text, std::regex(R"(12D3KooW[A-Za-z]*x{8,})"), id);
}

TEST(docs, the_sample_config_yaml_and_relay_yaml_load) {
  temp_dir root;
  const node n = init_node(root.path() / "node");
  const auto sample = yaml_after(source_dir / "docs" / "config.md", "## Sample file");
  ASSERT_FALSE(sample.empty());
  write_file(n.dir / "web.authorized_keys", "", 0600);
  write_file(n.config(), with_real_peer_ids(sample, n.id), 0600);
  auto services = n.peerup({"service", "list"});
  EXPECT_EQ(services.code, 0) << services.err;
  EXPECT_THAT(services.out, ::testing::HasSubstr("ssh"));

  const auto relay_sample = yaml_after(source_dir / "docs" / "relay.md", "## relay.yaml");
  ASSERT_FALSE(relay_sample.empty());
  const auto relay_dir = root.path() / "relay";
  ASSERT_EQ(run({peerup_binary, "relay", "init", "--dir", relay_dir.string()}).code, 0);
  write_file(relay_dir / "relay.yaml", relay_sample, 0600);
  auto peers = run({peerup_binary, "relay", "list-peers", "--config",
                    (relay_dir / "relay.yaml").string()});
  EXPECT_EQ(peers.code, 0) << peers.err;
  // And the one `peerup relay init` writes.
  ASSERT_EQ(run({peerup_binary, "relay", "init", "--dir", relay_dir.string(), "--force"}).code, 0);
  auto fresh = run({peerup_binary, "relay", "list-peers", "--config",
                    (relay_dir / "relay.yaml").string()});
  EXPECT_EQ(fresh.code, 0) << fresh.err;
}

}  // namespace
}  // namespace peerup::e2e
