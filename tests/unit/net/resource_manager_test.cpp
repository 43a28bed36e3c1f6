// The resource accounting on its own (no sockets): every limit refuses the
// one beyond it, refusals change nothing, and giving back frees the slot.
#include "net/resource_manager.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"

namespace peerup::net {
namespace {

using namespace std::chrono_literals;

peer_id new_peer() { return private_key::generate().to_peer_id(); }

std::shared_ptr<resource_manager> manager(host_limits l) {
  return std::make_shared<resource_manager>(l);
}

TEST(resource_manager, refuses_connections_beyond_the_total) {
  auto rm = manager({.max_connections = 2});
  auto a = rm->open_connection(true, "10.0.0.1");
  auto b = rm->open_connection(false, "");
  ASSERT_TRUE(a && b);
  auto c = rm->open_connection(true, "10.0.0.2");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), resource_limit::connections);
  EXPECT_EQ(rm->usage().connections, 2u);
  a->reset();  // the connection ends: its slot is free
  EXPECT_TRUE(rm->open_connection(true, "10.0.0.2"));
}

TEST(resource_manager, refuses_a_third_inbound_connection_from_one_ip_but_not_from_another) {
  auto rm = manager({.max_connections_per_ip = 2});
  auto a = rm->open_connection(true, "10.0.0.1");
  auto b = rm->open_connection(true, "10.0.0.1");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*a)->authenticated(new_peer()) && (*b)->authenticated(new_peer()));
  auto c = rm->open_connection(true, "10.0.0.1");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), resource_limit::connections_per_ip);
  EXPECT_TRUE(rm->open_connection(true, "10.0.0.2"));
  // Outbound connections and relayed ones (no IP) are not counted per IP.
  EXPECT_TRUE(rm->open_connection(false, "10.0.0.1"));
  EXPECT_TRUE(rm->open_connection(true, ""));
  EXPECT_EQ(rm->connections_from("10.0.0.1"), 2u);
}

TEST(resource_manager, counts_a_closed_connection_out_of_its_ip_at_once) {
  auto rm = manager({.max_connections_per_ip = 1});
  auto a = rm->open_connection(true, "10.0.0.1");
  ASSERT_TRUE(a);
  (*a)->close();  // the socket closed; the object may live on with stream handles
  EXPECT_EQ(rm->connections_from("10.0.0.1"), 0u);
  EXPECT_EQ(rm->usage().connections, 0u);
  auto b = rm->open_connection(true, "10.0.0.1");
  EXPECT_TRUE(b);
  (*a)->close();  // idempotent
  EXPECT_EQ(rm->usage().connections, 1u);
  EXPECT_EQ(rm->connections_from("10.0.0.1"), 1u);
}

TEST(resource_manager, pending_handshakes_end_when_the_peer_is_authenticated) {
  auto rm = manager({.max_pending_handshakes = 2});
  auto a = rm->open_connection(true, "10.0.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(rm->usage().pending_handshakes, 1u);
  // Our own dials are not inbound handshakes.
  auto out = rm->open_connection(false, "");
  EXPECT_TRUE(out);
  EXPECT_EQ(rm->usage().pending_handshakes, 1u);
  ASSERT_TRUE((*a)->authenticated(new_peer()));
  EXPECT_EQ(rm->usage().pending_handshakes, 0u);
  EXPECT_EQ(rm->usage().connections, 2u);
}

TEST(resource_manager, a_full_pending_table_evicts_the_oldest_unfinished_handshake) {
  auto rm = manager({.max_pending_handshakes = 2});
  std::vector<resource_limit> evicted_a;
  auto a = rm->open_connection(true, "10.0.0.1");
  auto b = rm->open_connection(true, "10.0.0.2");
  ASSERT_TRUE(a && b);
  (*a)->on_evict([&](resource_limit l) { evicted_a.push_back(l); });
  auto c = rm->open_connection(true, "10.0.0.3");
  ASSERT_TRUE(c) << "a newcomer was refused while a stalled handshake held its slot";
  EXPECT_EQ(evicted_a, std::vector{resource_limit::pending_handshakes});
  EXPECT_TRUE((*a)->evicted());
  EXPECT_FALSE((*b)->evicted());
  EXPECT_EQ(rm->usage().pending_handshakes, 2u);
  EXPECT_EQ(rm->usage().connections, 2u);
  EXPECT_EQ(rm->evictions(resource_limit::pending_handshakes), 1u);
  // The evicted one may not finish: its slot is gone.
  auto late = (*a)->authenticated(new_peer());
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), resource_limit::pending_handshakes);
  a->reset();  // destroying it gives back nothing twice
  EXPECT_EQ(rm->usage().connections, 2u);
  // Next in line is b, then c: first in, first out.
  auto d = rm->open_connection(true, "10.0.0.4");
  ASSERT_TRUE(d);
  EXPECT_TRUE((*b)->evicted());
  EXPECT_FALSE((*c)->evicted());
}

TEST(resource_manager, a_full_ip_evicts_its_own_oldest_handshake_not_another_ips) {
  auto rm = manager({.max_connections_per_ip = 2});
  auto other = rm->open_connection(true, "10.0.0.9");  // older, from another IP
  auto a = rm->open_connection(true, "10.0.0.1");
  auto b = rm->open_connection(true, "10.0.0.1");
  ASSERT_TRUE(other && a && b);
  ASSERT_TRUE((*a)->authenticated(new_peer()));  // established: never evicted
  auto c = rm->open_connection(true, "10.0.0.1");
  ASSERT_TRUE(c);
  EXPECT_FALSE((*other)->evicted());
  EXPECT_FALSE((*a)->evicted());
  EXPECT_TRUE((*b)->evicted());
  EXPECT_EQ(rm->connections_from("10.0.0.1"), 2u);
  EXPECT_EQ(rm->evictions(resource_limit::connections_per_ip), 1u);
  ASSERT_TRUE((*c)->authenticated(new_peer()));
  // Now both connections of 10.0.0.1 are established: refuse.
  auto d = rm->open_connection(true, "10.0.0.1");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), resource_limit::connections_per_ip);
}

TEST(resource_manager, a_failed_handshake_frees_its_pending_slot) {
  auto rm = manager({.max_pending_handshakes = 1});
  {
    auto a = rm->open_connection(true, "10.0.0.1");
    ASSERT_TRUE(a);
  }
  EXPECT_EQ(rm->usage().pending_handshakes, 0u);
  EXPECT_EQ(rm->usage().connections, 0u);
  auto b = rm->open_connection(true, "10.0.0.1");
  EXPECT_TRUE(b);
  EXPECT_EQ(rm->evictions(resource_limit::pending_handshakes), 0u);
}

TEST(resource_manager, refuses_connections_beyond_the_per_peer_limit_without_counting_them) {
  auto rm = manager({.max_connections_per_peer = 2});
  const auto p = new_peer();
  auto a = rm->open_connection(true, "10.0.0.1");
  auto b = rm->open_connection(false, "");
  auto c = rm->open_connection(true, "10.0.0.3");
  ASSERT_TRUE(a && b && c);
  EXPECT_TRUE((*a)->authenticated(p));
  EXPECT_TRUE((*b)->authenticated(p));
  auto refused = (*c)->authenticated(p);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), resource_limit::connections_per_peer);
  EXPECT_EQ(rm->connections_of(p), 2u);
  EXPECT_FALSE((*c)->peer());
  // Another peer is not affected.
  EXPECT_TRUE((*c)->authenticated(new_peer()));
  a->reset();
  EXPECT_EQ(rm->connections_of(p), 1u);
}

TEST(resource_manager, limits_inbound_streams_per_connection_and_per_peer) {
  auto rm = manager({.max_streams_per_connection = 3, .max_streams_per_peer = 4});
  const auto p = new_peer();
  auto a = rm->open_connection(true, "10.0.0.1");
  auto b = rm->open_connection(true, "10.0.0.2");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*a)->authenticated(p) && (*b)->authenticated(p));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE((*a)->open_inbound_stream());
  auto over_conn = (*a)->open_inbound_stream();
  ASSERT_FALSE(over_conn);
  EXPECT_EQ(over_conn.error(), resource_limit::streams_per_connection);
  EXPECT_TRUE((*b)->open_inbound_stream());
  auto over_peer = (*b)->open_inbound_stream();
  ASSERT_FALSE(over_peer);
  EXPECT_EQ(over_peer.error(), resource_limit::streams_per_peer);
  EXPECT_EQ(rm->inbound_streams_of(p), 4u);
  EXPECT_EQ(rm->usage().inbound_streams, 4u);
  (*a)->close_inbound_stream();
  EXPECT_TRUE((*b)->open_inbound_stream());
}

TEST(resource_manager, streams_of_a_closed_connection_count_until_given_back) {
  auto rm = manager({.max_streams_per_peer = 1});
  const auto p = new_peer();
  auto a = rm->open_connection(true, "10.0.0.1");
  ASSERT_TRUE(a && (*a)->authenticated(p) && (*a)->open_inbound_stream());
  (*a)->close();
  EXPECT_EQ(rm->inbound_streams_of(p), 1u);
  a->reset();  // destruction gives back what is still held
  EXPECT_EQ(rm->inbound_streams_of(p), 0u);
  EXPECT_EQ(rm->usage().inbound_streams, 0u);
}

TEST(resource_manager, memory_budget_refuses_reservations_and_connections_beyond_it) {
  auto rm = manager({.max_memory = 100});
  auto a = rm->open_connection(true, "10.0.0.1");
  ASSERT_TRUE(a);
  EXPECT_TRUE((*a)->reserve_memory(60));
  EXPECT_FALSE((*a)->reserve_memory(41));
  EXPECT_EQ((*a)->memory(), 60u);
  EXPECT_EQ(rm->memory_headroom(), 40u);
  auto r = rm->reserve_memory(40);
  ASSERT_TRUE(r);
  EXPECT_EQ(rm->memory_headroom(), 0u);
  auto refused = rm->open_connection(true, "10.0.0.2");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), resource_limit::memory);
  {
    auto gone = std::move(*r);  // a reservation moves, and frees once
  }
  EXPECT_EQ(rm->memory_headroom(), 40u);
  EXPECT_TRUE(rm->open_connection(true, "10.0.0.2"));
}

TEST(resource_manager, forced_memory_counts_beyond_the_budget_and_is_given_back) {
  auto rm = manager({.max_memory = 100});
  auto a = rm->open_connection(false, "");
  ASSERT_TRUE(a);
  (*a)->force_memory(150);  // e.g. a frame already on its way
  EXPECT_EQ(rm->usage().memory, 150u);
  EXPECT_EQ(rm->memory_headroom(), 0u);
  EXPECT_FALSE(rm->reserve_memory(1));
  (*a)->release_memory(100);
  EXPECT_EQ(rm->memory_headroom(), 50u);
  (*a)->release_memory(1000);  // never below what this connection holds
  EXPECT_EQ(rm->usage().memory, 0u);
}

TEST(resource_manager, destroying_a_connection_gives_back_all_it_holds) {
  auto rm = manager({});
  {
    auto a = rm->open_connection(true, "10.0.0.1");
    ASSERT_TRUE(a);
    ASSERT_TRUE((*a)->authenticated(new_peer()));
    ASSERT_TRUE((*a)->open_inbound_stream());
    ASSERT_TRUE((*a)->reserve_memory(4096));
  }
  const auto u = rm->usage();
  EXPECT_EQ(u.connections, 0u);
  EXPECT_EQ(u.pending_handshakes, 0u);
  EXPECT_EQ(u.inbound_streams, 0u);
  EXPECT_EQ(u.memory, 0u);
  EXPECT_EQ(rm->connections_from("10.0.0.1"), 0u);
}

TEST(resource_manager, handles_keep_the_manager_alive) {
  auto rm = manager({});
  auto a = rm->open_connection(true, "10.0.0.1");
  ASSERT_TRUE(a);
  std::weak_ptr<resource_manager> weak = rm;
  rm.reset();
  EXPECT_FALSE(weak.expired());
  a->reset();
  EXPECT_TRUE(weak.expired());
}

TEST(resource_manager, new_limits_apply_to_what_comes_next) {
  auto rm = manager({.max_connections = 1});
  auto a = rm->open_connection(true, "10.0.0.1");
  ASSERT_TRUE(a);
  EXPECT_FALSE(rm->open_connection(true, "10.0.0.2"));
  rm->set_limits({.max_connections = 2});
  EXPECT_TRUE(rm->open_connection(true, "10.0.0.2"));
}

TEST(resource_manager, logs_one_line_per_limit_per_interval_with_the_count_in_between) {
  auto rm = manager({});
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  EXPECT_EQ(rm->note_refusal(resource_limit::connections_per_ip, t0), 1u);
  EXPECT_FALSE(rm->note_refusal(resource_limit::connections_per_ip, t0 + 1s));
  EXPECT_FALSE(rm->note_refusal(resource_limit::connections_per_ip, t0 + 9s));
  // Another limit has its own line.
  EXPECT_EQ(rm->note_refusal(resource_limit::memory, t0 + 9s), 1u);
  EXPECT_EQ(rm->note_refusal(resource_limit::connections_per_ip, t0 + 10s), 3u);
  EXPECT_EQ(rm->refusals(resource_limit::connections_per_ip), 4u);
  EXPECT_EQ(rm->refusals(resource_limit::streams_per_peer), 0u);
}

TEST(resource_manager, names_each_limit_by_its_config_key) {
  EXPECT_EQ(to_string(resource_limit::connections_per_ip), "max_connections_per_ip");
  EXPECT_EQ(to_string(resource_limit::pending_handshakes), "max_pending_handshakes");
  EXPECT_EQ(to_string(resource_limit::memory), "max_memory_mib");
  auto rm = manager({.max_memory = std::size_t{64} << 20});
  EXPECT_EQ(rm->limit_value(resource_limit::memory), "64");
  rm->set_limits({.max_memory = std::size_t{3} << 19});
  EXPECT_EQ(rm->limit_value(resource_limit::memory), "1.5");
}

}  // namespace
}  // namespace peerup::net
