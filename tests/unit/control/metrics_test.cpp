#include <gtest/gtest.h>

#include <limits>

#include "control/metrics.hpp"

using namespace peerup::control;

TEST(metrics, renders_help_type_and_labelled_series_in_text_format) {
  metrics_registry m;
  m.declare("peerup_bytes_total", metric_type::counter, "Bytes", {"service", "direction"});
  m.add("peerup_bytes_total", 10, {"web", "in"});
  m.add("peerup_bytes_total", 5, {"web", "in"});
  m.set("peerup_bytes_total", 7, {"ssh", "out"});
  EXPECT_EQ(m.render(),
            "# HELP peerup_bytes_total Bytes\n"
            "# TYPE peerup_bytes_total counter\n"
            "peerup_bytes_total{service=\"ssh\",direction=\"out\"} 7\n"
            "peerup_bytes_total{service=\"web\",direction=\"in\"} 15\n");
}

TEST(metrics, unlabelled_family_without_samples_renders_zero) {
  metrics_registry m;
  m.declare("peerup_up", metric_type::gauge, "up");
  EXPECT_NE(m.render().find("peerup_up 0\n"), std::string::npos);
}

TEST(metrics, label_values_are_escaped_and_cut) {
  metrics_registry m;
  m.declare("x_total", metric_type::counter, "help with \\ and\nnewline", {"peer"});
  m.add("x_total", 1, {"a\"b\\c\nd"});
  const auto text = m.render();
  EXPECT_NE(text.find("# HELP x_total help with \\\\ and\\nnewline\n"), std::string::npos);
  EXPECT_NE(text.find("x_total{peer=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos);
  EXPECT_EQ(escape_label_value(std::string(500, 'a'), 128).size(), 128u);
}

TEST(metrics, series_beyond_the_bound_fold_into_other) {
  metrics_registry m;
  m.declare("peer_bytes_total", metric_type::counter, "b", {"peer"}, 4);
  for (int i = 0; i < 100; ++i) m.set("peer_bytes_total", 1, {"p" + std::to_string(i)});
  EXPECT_LE(m.series_count("peer_bytes_total"), 4u);
  // 3 real series, the other 97 peers add up in "other"
  EXPECT_EQ(m.value("peer_bytes_total", {"other"}), 97);
}

TEST(metrics, refuses_bad_names_and_wrong_label_counts) {
  metrics_registry m;
  EXPECT_THROW(m.declare("1bad", metric_type::gauge, ""), std::invalid_argument);
  EXPECT_THROW(m.declare("ok", metric_type::gauge, "", {"__reserved"}), std::invalid_argument);
  m.declare("ok", metric_type::gauge, "", {"a"});
  EXPECT_THROW(m.declare("ok", metric_type::gauge, ""), std::invalid_argument);
  EXPECT_THROW(m.set("ok", 1, {}), std::invalid_argument);
  EXPECT_THROW(m.set("undeclared", 1), std::invalid_argument);
}

TEST(metrics, formats_values_as_prometheus_reads_them) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(0.5), "0.5");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(metrics, network_families_split_packets_by_datagram_and_stream_and_bound_peers) {
  peerup::app::network_status n;
  n.total = {8, 800, 2, 200, 6, 600, 1, 100, 2, 3, 9, 7, 5, 4};
  n.icmp_sent = 5;
  n.dropped = {{"malformed", 4}, {"spoofed", 1}};
  for (int i = 0; i < 70; ++i)
    n.peers.push_back({"peer" + std::to_string(i), i == 0 ? "laptop" : "", "", "quic", true,
                       {1, 0, 1, 0, 2, 0, 0, 0, 0, 0}});
  metrics_registry m;
  add_network_metrics(m, n);
  EXPECT_EQ(m.value("peerup_network_packets_total", {"out", "datagram"}), 8);
  EXPECT_EQ(m.value("peerup_network_packets_total", {"out", "stream"}), 2);
  EXPECT_EQ(m.value("peerup_network_packets_total", {"in", "datagram"}), 6);
  EXPECT_EQ(m.value("peerup_network_bytes_total", {"in", "stream"}), 100);
  EXPECT_EQ(m.value("peerup_network_datagram_fallbacks_total"), 2);
  EXPECT_EQ(m.value("peerup_network_dropped_total", {"malformed"}), 4);
  EXPECT_EQ(m.value("peerup_network_icmp_sent_total"), 5);
  EXPECT_EQ(m.value("peerup_network_quic_datagrams_total", {"sent"}), 9);
  EXPECT_EQ(m.value("peerup_network_quic_datagrams_total", {"send_dropped"}), 5);
  EXPECT_EQ(m.value("peerup_network_quic_datagrams_total", {"receive_dropped"}), 4);
  EXPECT_EQ(m.value("peerup_network_peer_packets_total", {"laptop", "out"}), 2);
  EXPECT_EQ(m.value("peerup_network_peer_packets_total", {"laptop", "in"}), 2);
  // 70 peers x 2 directions: bounded at 128 series (64 peers), the rest in "other".
  EXPECT_LE(m.series_count("peerup_network_peer_packets_total"), 129u);
  EXPECT_GT(m.value("peerup_network_peer_packets_total", {"other", "other"}), 0);
  EXPECT_NE(m.render().find("# TYPE peerup_network_packets_total counter\n"), std::string::npos);
}
