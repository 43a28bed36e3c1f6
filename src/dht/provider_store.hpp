// Provider records a DHT server holds for others (libp2p specs kad-dht,
// "Content provider advertisement and discovery"). Sans-I/O: `now` is passed.
//
// Lifetimes follow the spec's figures: a record expires 48 h after its last
// ADD_PROVIDER (providers republish every 22 h); its addresses are handed out
// only for the first 30 minutes, after which the peer ID alone is returned so
// that nobody is sent to a stale address.
//
// SECURITY: every dimension is bounded: keys in all, providers per key, and
// records per providing peer (so one peer cannot fill the store). At a bound,
// a new record is refused (errc::kad_store_full); a refresh of an existing
// record always succeeds.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <unordered_map>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::dht {

struct provider_limits {
  std::size_t max_keys = 100000;
  std::size_t max_providers_per_key = 64;
  std::size_t max_records_per_peer = 1024;
  std::size_t max_addrs = 8;
  std::chrono::steady_clock::duration record_ttl = std::chrono::hours(48);
  std::chrono::steady_clock::duration addr_ttl = std::chrono::minutes(30);
};

struct provider {
  peer_id id;
  std::vector<multiaddr> addrs;  // empty once addr_ttl has passed
};

class provider_store {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  explicit provider_store(provider_limits l = {}) : limits_(l) {}

  result<void> add(const bytes& key, const peer_id& who, const std::vector<multiaddr>& addrs,
                   time_point now);
  // Live providers of `key`, most recently added first, at most `max`.
  std::vector<provider> get(const bytes& key, time_point now, std::size_t max) const;
  // Drops expired records; returns how many.
  std::size_t expire(time_point now);

  std::size_t keys() const { return by_key_.size(); }
  std::size_t records() const { return records_; }

 private:
  struct record {
    peer_id id;
    std::vector<multiaddr> addrs;
    time_point added;
  };
  void erase_record(std::vector<record>& list, std::size_t i);

  provider_limits limits_;
  std::map<bytes, std::vector<record>> by_key_;
  std::unordered_map<peer_id, std::size_t> per_peer_;
  std::size_t records_ = 0;
};

}  // namespace peerup::dht
