// The deployment every fault test starts from: a home node exposing a
// data_service as service "data", a client node, and (optionally) a relay
// both are authorized on. Real `peerup` processes, loopback only.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <iostream>

#include "fault/fault_support.hpp"

namespace peerup::fault {

inline constexpr std::uint64_t MiB = 1024 * 1024;
inline constexpr std::uint64_t GiB = 1024 * MiB;

struct deployment : ::testing::Test {
  // No hole punching: a test "through the relay" must stay relayed, and
  // DCUtR would offer and dial non-loopback addresses of this machine.
  // Every peerup child inherits it.
  [[maybe_unused]] const int no_hole_punch = ::setenv("PEERUP_HOLEPUNCH", "off", 1);
  temp_dir root;
  node home = init_node(root.path() / "home");
  node client = init_node(root.path() / "client");
  data_service data;
  std::optional<relay_process> relay;

  fs::path relay_dir() const { return root.path() / "relay"; }
  void start_relay() { relay.emplace(e2e::start_relay(relay_dir(), {home.id, client.id})); }

  // `listen` is a YAML flow list ("[]" for a home reachable only through
  // the relay, as behind CGNAT).
  void configure(const std::string& listen) {
    std::string relays = relay ? "relays:\n  - " + relay->addr + "\n" : "";
    write_file(home.config(),
               "identity_key: identity.key\n"
               "listen: " +
                   listen + "\n" + relays + "services:\n  data:\n    local_address: 127.0.0.1:" +
                   std::to_string(data.port()) + "\n",
               0644);
    write_file(client.config(),
               "identity_key: identity.key\n" + relays + "names:\n  home: " + home.id + "\n", 0644);
    ASSERT_EQ(home.peerup({"auth", "add", client.id}).code, 0);
  }

  // Starts the home daemon; with a relay, waits until it holds a reservation.
  daemon_process start_home() {
    auto d = start_daemon(home);
    if (relay) {
      EXPECT_TRUE(wait_for_status(home, "\"state\":\"reserved\"", 30s)) << d.log_text();
    }
    return d;
  }

  // The transfer completed and what arrived is what the other side sent.
  ::testing::AssertionResult intact(const transfer_result& r, std::uint64_t n,
                                    std::uint64_t seed) const {
    const auto sent = data.digest_for(seed);
    if (r.error != 0 || r.timed_out || r.bytes != n)
      return ::testing::AssertionFailure() << "moved " << r.bytes << " of " << n << " bytes, errno "
                                           << r.error << (r.timed_out ? ", timed out" : "");
    if (!sent) return ::testing::AssertionFailure() << "the service recorded no digest";
    if (r.sha256 != *sent)
      return ::testing::AssertionFailure() << "sha256 " << r.sha256 << " != sent " << *sent;
    if (!r.peer_sha256.empty() && r.peer_sha256 != r.sha256)
      return ::testing::AssertionFailure() << "service saw sha256 " << r.peer_sha256;
    return ::testing::AssertionSuccess();
  }
};

// Figures go to the test output (and from there to docs/benchmarks.md).
inline void record(const std::string& key, const std::string& value) {
  ::testing::Test::RecordProperty(key, value);
  std::cout << "[figure] " << key << " = " << value << std::endl;
}

inline std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The last `n` characters of a log, for failure messages.
inline std::string tail(const std::string& text, std::size_t n = 3000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

inline std::string fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace peerup::fault
