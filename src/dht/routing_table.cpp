#include "dht/routing_table.hpp"

#include <algorithm>
#include <cstdio>

namespace peerup::dht {

namespace {

constexpr std::uint64_t code_ip4 = 0x04;
constexpr std::uint64_t code_ip6 = 0x29;

bool global_v4(const bytes& a) {
  if (a[0] == 0 || a[0] == 10 || a[0] == 127) return false;
  if (a[0] == 169 && a[1] == 254) return false;
  if (a[0] == 172 && (a[1] & 0xF0) == 16) return false;
  if (a[0] == 192 && a[1] == 168) return false;
  if (a[0] == 100 && (a[1] & 0xC0) == 64) return false;  // CGNAT 100.64.0.0/10
  return a[0] < 224;                                     // not multicast/reserved
}

bool global_v6(const bytes& a) {
  bool zero_prefix = std::all_of(a.begin(), a.begin() + 15, [](std::uint8_t b) { return b == 0; });
  if (zero_prefix) return false;                            // :: and ::1
  if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) return false;  // link-local fe80::/10
  if ((a[0] & 0xFE) == 0xFC) return false;                  // ULA fc00::/7
  return a[0] != 0xFF;                                      // multicast
}

}  // namespace

std::optional<std::string> ip_group(const std::vector<multiaddr>& addrs) {
  for (const auto& a : addrs) {
    if (a.components().empty()) continue;
    const auto& c = a.components().front();
    char buf[32];
    if (c.code == code_ip4 && c.value.size() == 4 && global_v4(c.value)) {
      std::snprintf(buf, sizeof buf, "v4:%u.%u", c.value[0], c.value[1]);
      return std::string(buf);
    }
    if (c.code == code_ip6 && c.value.size() == 16 && global_v6(c.value)) {
      std::snprintf(buf, sizeof buf, "v6:%02x%02x:%02x%02x", c.value[0], c.value[1], c.value[2],
                    c.value[3]);
      return std::string(buf);
    }
  }
  return std::nullopt;
}

routing_table::routing_table(const peer_id& self, routing_config cfg)
    : self_(self), self_key_(kad_key::of(self)), cfg_(cfg) {}

std::size_t routing_table::bucket_of(const kad_key& k) const {
  return std::min(common_prefix_length(self_key_, k), key_bits - 1);
}

std::size_t routing_table::group_count(const std::vector<routing_entry>& bucket,
                                       const std::string& g) const {
  return static_cast<std::size_t>(
      std::count_if(bucket.begin(), bucket.end(), [&](const auto& e) { return e.group == g; }));
}

add_outcome routing_table::add(const peer_id& id, const std::vector<multiaddr>& addrs,
                               clock::time_point now) {
  if (id == self_) return add_outcome::self;
  auto key = kad_key::of(id);
  auto& bucket = buckets_[bucket_of(key)];
  std::vector<multiaddr> kept(addrs.begin(), addrs.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                                 addrs.size(), cfg_.max_addrs)));
  auto it = std::find_if(bucket.begin(), bucket.end(), [&](const auto& e) { return e.id == id; });
  if (it != bucket.end()) {
    // A known member: fresher addresses win, but an empty list (a query that
    // came without addresses) keeps the old ones. Its diversity group stays:
    // re-grouping on every update would let a member hop groups.
    if (!kept.empty()) it->addrs = std::move(kept);
    it->last_seen = now;
    it->failures = 0;
    return add_outcome::updated;
  }

  auto group = ip_group(kept);
  if (group) {
    std::size_t in_table = 0;
    for (const auto& b : buckets_) in_table += group_count(b, *group);
    // SECURITY: one address block cannot fill a bucket or the table.
    if (group_count(bucket, *group) >= cfg_.max_per_group_per_bucket ||
        in_table >= cfg_.max_per_group) {
      return add_outcome::diversity_refused;
    }
  }

  routing_entry e{id, key, std::move(kept), std::move(group), now, now, 0};
  if (bucket.size() < cfg_.k) {
    bucket.push_back(std::move(e));
    ++size_;
    return add_outcome::added;
  }
  // Full: replace the longest-silent member only if it is stale.
  auto oldest = std::min_element(bucket.begin(), bucket.end(), [](const auto& a, const auto& b) {
    return a.last_seen < b.last_seen;
  });
  if (now - oldest->last_seen < cfg_.stale_after) return add_outcome::bucket_full;
  *oldest = std::move(e);
  return add_outcome::replaced_stale;
}

void routing_table::on_success(const peer_id& id, clock::time_point now) {
  auto& bucket = buckets_[bucket_of(kad_key::of(id))];
  for (auto& e : bucket) {
    if (e.id == id) {
      e.last_seen = now;
      e.failures = 0;
      return;
    }
  }
}

void routing_table::on_failure(const peer_id& id) {
  auto& bucket = buckets_[bucket_of(kad_key::of(id))];
  auto it = std::find_if(bucket.begin(), bucket.end(), [&](const auto& e) { return e.id == id; });
  if (it == bucket.end()) return;
  if (++it->failures >= cfg_.max_failures) {
    bucket.erase(it);
    --size_;
  }
}

bool routing_table::remove(const peer_id& id) {
  auto& bucket = buckets_[bucket_of(kad_key::of(id))];
  auto it = std::find_if(bucket.begin(), bucket.end(), [&](const auto& e) { return e.id == id; });
  if (it == bucket.end()) return false;
  bucket.erase(it);
  --size_;
  return true;
}

const routing_entry* routing_table::find(const peer_id& id) const {
  const auto& bucket = buckets_[bucket_of(kad_key::of(id))];
  for (const auto& e : bucket) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

std::vector<const routing_entry*> routing_table::closest(const kad_key& target,
                                                         std::size_t n) const {
  // Tables hold a few hundred members at most (k per bucket, and only the
  // deepest ~log2(N) buckets fill), so a full sort is cheaper than walking
  // buckets in XOR order.
  std::vector<std::pair<distance, const routing_entry*>> all;
  all.reserve(size_);
  for (const auto& b : buckets_) {
    for (const auto& e : b) all.emplace_back(xor_distance(e.key, target), &e);
  }
  auto count = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(count), all.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const routing_entry*> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) out.push_back(all[i].second);
  return out;
}

std::vector<std::size_t> routing_table::bucket_sizes() const {
  std::vector<std::size_t> out;
  out.reserve(buckets_.size());
  for (const auto& b : buckets_) out.push_back(b.size());
  return out;
}

std::optional<std::size_t> routing_table::deepest_bucket() const {
  for (std::size_t i = key_bits; i-- > 0;) {
    if (!buckets_[i].empty()) return i;
  }
  return std::nullopt;
}

}  // namespace peerup::dht
