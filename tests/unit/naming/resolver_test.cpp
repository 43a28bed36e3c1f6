// name_resolver tiers without a live relay: local names, the names file, peer
// IDs, the order between them and the "not found" message. (Relay lookups,
// the cache and its TTL: tests/integration/naming_test.cpp.)
#include "naming/resolver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/async_test.hpp"
#include "support/temp_dir.hpp"

namespace peerup::app {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const peer_id home = private_key::generate().to_peer_id();
const peer_id nas = private_key::generate().to_peer_id();
const peer_id relay = private_key::generate().to_peer_id();

struct resolver_fixture : ::testing::Test {
  net::asio::io_context io;
  net::host h{io.get_executor(), net::host_config{.identity = private_key::generate()}};
  test::temp_dir dir;
  config cfg;
  net::steady_clock::time_point now = net::steady_clock::time_point{} + 1000h;

  void load(const std::string& text) {
    const auto file = dir.write("config.yaml", text);
    auto c = load_config(file);
    ASSERT_TRUE(c) << c.error().to_string();
    cfg = std::move(*c);
  }
  resolver_options opts() {
    resolver_options o;
    o.clock = [this] { return now; };
    o.lookup_timeout = 2s;
    return o;
  }
  resolve_result<resolution> resolve(name_resolver& r, const std::string& name) {
    std::optional<resolve_result<resolution>> out;
    test::run_async(
        io,
        [&]() -> net::awaitable<void> {
          auto got = co_await r.resolve(name);
          out = std::move(got);
        },
        30s);
    return std::move(*out);
  }
};

TEST_F(resolver_fixture, local_name_resolves_with_its_address_then_the_relays) {
  load("relays:\n  - /ip4/127.0.0.1/tcp/1/p2p/" + relay.to_string() +
       "\nnames:\n  nas: /ip4/192.0.2.9/tcp/4001/p2p/" + nas.to_string() + "\n");
  name_resolver r(h, cfg, opts());
  auto got = resolve(r, "nas");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->peer, nas);
  EXPECT_EQ(got->tier, name_tier::local);
  EXPECT_EQ(got->source, "names:");
  ASSERT_EQ(got->addrs.size(), 2u);
  EXPECT_EQ(got->addrs[0].to_string(), "/ip4/192.0.2.9/tcp/4001/p2p/" + nas.to_string());
  EXPECT_EQ(got->addrs[1].to_string(), "/ip4/127.0.0.1/tcp/1/p2p/" + relay.to_string() +
                                           "/p2p-circuit/p2p/" + nas.to_string());
  EXPECT_FALSE(got->cached);
}

TEST_F(resolver_fixture, local_names_match_case_insensitively_and_accept_the_p2p_suffix) {
  load("names:\n  NAS: " + nas.to_string() + "\n");
  name_resolver r(h, cfg, opts());
  auto got = resolve(r, "nas.p2p.");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->peer, nas);
}

TEST_F(resolver_fixture, local_tier_wins_over_relay_tier_for_the_same_name) {
  // The network's relay is a closed port: had the relay tier been asked, the
  // answer would be an error, not the local peer.
  load("names:\n  home.grewal: " + home.to_string() +
       "\nnetworks:\n  grewal:\n    - /ip4/127.0.0.1/tcp/1/p2p/" + relay.to_string() + "\n");
  name_resolver r(h, cfg, opts());
  auto got = resolve(r, "home.grewal");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->tier, name_tier::local);
  EXPECT_EQ(got->peer, home);
  EXPECT_EQ(r.statistics().relay_queries, 0u);
}

TEST_F(resolver_fixture, names_file_is_the_second_local_source_and_names_wins) {
  dir.write("names.txt", "nas " + nas.to_string() + "\nhome " + nas.to_string() + "\n");
  load("names_file: names.txt\nnames:\n  home: " + home.to_string() + "\n");
  name_resolver r(h, cfg, opts());
  auto from_file = resolve(r, "nas");
  ASSERT_TRUE(from_file) << from_file.error().message;
  EXPECT_EQ(from_file->source, "names file " + (dir.path() / "names.txt").string());
  auto from_config = resolve(r, "home");
  ASSERT_TRUE(from_config);
  EXPECT_EQ(from_config->peer, home);
}

TEST_F(resolver_fixture, names_file_changes_are_seen_and_a_broken_edit_keeps_the_last_good_one) {
  dir.write("names.txt", "nas " + nas.to_string() + "\n");
  load("names_file: names.txt\n");
  name_resolver r(h, cfg, opts());
  ASSERT_TRUE(resolve(r, "nas"));
  dir.write("names.txt", "nas " + nas.to_string() + "\nhome " + home.to_string() + "\n");
  now += 3s;
  ASSERT_TRUE(resolve(r, "home"));
  dir.write("names.txt", "nas\n");  // broken
  now += 3s;
  EXPECT_TRUE(resolve(r, "home"));
  auto missing = resolve(r, "other");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("names.txt:1:"));
}

TEST_F(resolver_fixture, peer_id_is_the_last_tier_and_gets_circuits_through_the_relays) {
  load("relays:\n  - /ip4/127.0.0.1/tcp/1/p2p/" + relay.to_string() + "\n");
  name_resolver r(h, cfg, opts());
  auto got = resolve(r, home.to_string());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->tier, name_tier::peer_id);
  EXPECT_EQ(got->source, "peer id");
  ASSERT_EQ(got->addrs.size(), 1u);
  EXPECT_THAT(got->addrs[0].to_string(), HasSubstr("/p2p-circuit/p2p/" + home.to_string()));
}

// Issue 21, defect 3: a relay that cannot be asked is not a "no such name"
// (the gateway would answer NXDOMAIN, which resolvers cache).
TEST_F(resolver_fixture, a_name_whose_relay_cannot_be_asked_is_lookup_failed_not_not_found) {
  load("networks:\n  grewal:\n    - /ip4/127.0.0.1/tcp/1/p2p/" + relay.to_string() + "\n");
  name_resolver r(h, cfg, opts());
  auto got = resolve(r, "nobody.grewal");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, make_error_code(errc::name_lookup_failed));
  const auto& m = got.error().message;
  EXPECT_THAT(m, HasSubstr("name \"nobody.grewal\" could not be looked up"));
  EXPECT_THAT(m, HasSubstr("local: not in names:"));
  EXPECT_THAT(
      m, HasSubstr("relay grewal: /ip4/127.0.0.1/tcp/1/p2p/" + relay.to_string() + " unreachable"));
  EXPECT_THAT(m, HasSubstr("peer-id: not a peer ID"));
}

TEST_F(resolver_fixture, unreachable_relays_are_not_cached_as_not_found) {
  load("networks:\n  grewal:\n    - /ip4/127.0.0.1/tcp/1/p2p/" + relay.to_string() + "\n");
  name_resolver r(h, cfg, opts());
  EXPECT_FALSE(resolve(r, "nobody.grewal"));
  EXPECT_FALSE(resolve(r, "nobody.grewal"));
  EXPECT_EQ(r.statistics().relay_queries, 2u);
  EXPECT_EQ(r.statistics().cached, 0u);
}

TEST_F(resolver_fixture, names_outside_any_network_say_why_the_relay_tier_did_not_apply) {
  load("networks:\n  grewal:\n    - /ip4/127.0.0.1/tcp/1/p2p/" + relay.to_string() + "\n");
  name_resolver r(h, cfg, opts());
  // Another network is asked through our own networks' relays (federation,
  // docs/federation.md); here they are down, so the lookup failed.
  const auto other = resolve(r, "home.other");
  EXPECT_THAT(other.error().message,
              HasSubstr("relay other: /ip4/127.0.0.1/tcp/1/p2p/" + relay.to_string() +
                        " unreachable"));
  EXPECT_EQ(other.error().code, make_error_code(errc::name_lookup_failed));
  EXPECT_THAT(resolve(r, "plain").error().message,
              HasSubstr("relay: not of the form <host>.<network>"));
  load("");
  name_resolver bare(h, cfg, opts());
  EXPECT_THAT(resolve(bare, "home.grewal").error().message,
              HasSubstr("relay: no networks: in the config"));
}

TEST_F(resolver_fixture, text_that_is_no_name_is_invalid_argument) {
  load("");
  name_resolver r(h, cfg, opts());
  auto got = resolve(r, "a b");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, make_error_code(errc::invalid_argument));
}

}  // namespace
}  // namespace peerup::app
