// Records a DHT server holds for others (libp2p specs kad-dht, "Value
// storage and retrieval"): PUT_VALUE stores, GET_VALUE hands back. Sans-I/O:
// `now` is passed.
//
// The validator: peer-up accepts one record type, a signed peer record
// (wire/peer_record.hpp) under peer_record_key(peer). A record is stored only
// when its envelope is signed by the very peer its key names, and it replaces
// a stored one only when its seq is higher ("newer seq wins"; the spec's
// Select). Any other key namespace is refused, as go refuses namespaces it
// has no validator for.
//
// SECURITY: bounded in every dimension: value size (peer_record_max_size),
// records in all (at the bound, expired records go first, then the new
// record is refused with errc::kad_store_full), and age: a record is dropped
// `ttl` after it was stored, so the peer must republish (the daemon does at
// every refresh and whenever its addresses change). A peer can have one
// record only (its own key), so a flood needs one identity per record.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/peer_id.hpp"
#include "wire/peer_record.hpp"

namespace peerup::dht {

struct record_limits {
  std::size_t max_records = 10000;
  std::chrono::steady_clock::duration ttl = std::chrono::hours(1);
};

// Validates `value` as the record for `key`: a peer record signed by the peer
// the key names. errc::kad_record_invalid, envelope errors or errc::too_large.
result<wire::peer_record> validate_record(byte_span key, byte_span value);

enum class put_outcome {
  stored,    // new key
  replaced,  // a higher seq than the stored record
  kept_old,  // the stored record's seq is as high or higher: ours stays
};

// One server's answer to a GET_VALUE lookup, as the correction step sees it.
struct value_answer {
  peer_id from;
  // The seq of the valid record it returned; none: it returned no record, or
  // one our validator refused.
  std::optional<std::uint64_t> seq;
  bool returned_invalid = false;  // it returned a record our validator refused
};

// The spec's entry correction (kad-dht README, "Value retrieval"): after a
// GET_VALUE lookup found the best record (seq `best_seq`), PUT_VALUE it to
// the servers that returned a worse one (an older seq, or an invalid record)
// and to those among `closest` (the k closest that answered) that returned
// none. Never to one that returned the best, each peer once, in answer order.
std::vector<peer_id> correction_targets(const std::vector<value_answer>& answers,
                                        std::uint64_t best_seq,
                                        const std::vector<peer_id>& closest);

class record_store {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  explicit record_store(record_limits l = {}) : limits_(l) {}

  // Validates and stores. Errors: the validator's, errc::kad_store_full.
  result<put_outcome> put(byte_span key, byte_span value, time_point now);
  // The live record for `key`, if any.
  std::optional<bytes> get(byte_span key, time_point now) const;
  std::size_t expire(time_point now);
  std::size_t size() const { return records_.size(); }

 private:
  struct entry {
    bytes value;
    std::uint64_t seq = 0;
    time_point stored;
  };
  record_limits limits_;
  std::map<bytes, entry, std::less<>> records_;
};

}  // namespace peerup::dht
