// Reading and writing unsigned-varint length-prefixed messages (identify,
// relay, DCUtR, AutoNAT) on a byte_stream.
#pragma once

#include "net/byte_stream.hpp"

namespace peerup::net {

// Reads exactly one message and nothing after it.
// SECURITY: a declared length above max_size fails with errc::too_large
// before anything is allocated.
// Returns errc::connection_closed if the stream ends before a message starts.
awaitable<result<bytes>> read_length_prefixed(byte_stream& s, std::size_t max_size);
awaitable<result<void>> write_length_prefixed(byte_stream& s, byte_span msg);

}  // namespace peerup::net

namespace peerup::net {

// One request, one answer: writes `request`, half-closes, reads the answer
// (at most max_answer bytes). For the protocols with a single exchange per
// stream (relay-invite, rendezvous). The caller bounds it in time.
awaitable<result<bytes>> exchange_length_prefixed(byte_stream& s, bytes request,
                                                  std::size_t max_answer);

}  // namespace peerup::net
