// multistream-select 1.0 over a byte_stream, driving the sans-I/O state
// machines in wire/multistream.hpp.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "net/byte_stream.hpp"
#include "wire/multistream.hpp"

namespace peerup::net {

// Proposes `protocols` in order and returns the one the listener accepted.
// 1. write the header and the first proposal in one write (lazy negotiation)
// 2. read the header echo
// 3. read the protocol echo, or "na" and propose the next one
// Contract: reads exactly the negotiation messages, never application data.
awaitable<result<std::string>> negotiate_outbound(byte_stream& s,
                                                  const std::vector<std::string>& protocols);

// The rest of an optimistic negotiation of exactly one protocol: the caller
// has already written `d.take_output()` (the header and the proposal) with its
// own first message behind it, without waiting. Reads the listener's answers.
// 1. read the header echo
// 2. read the protocol echo (done), or "na": with one protocol that fails
//    (errc::protocol_not_supported), since data already followed the proposal
// Contract: reads exactly the negotiation messages, never application data.
awaitable<result<std::string>> finish_optimistic_outbound(byte_stream& s, multistream::dialer& d);

// Answers proposals until one satisfies `is_supported`; returns it.
// 1. read the dialer's header and answer with ours
// 2. read proposals; answer "na" or echo the accepted one
// Contract: data the dialer pipelined behind its proposal stays unread in `s`.
awaitable<result<std::string>> negotiate_inbound(
    byte_stream& s, std::function<bool(std::string_view)> is_supported);

// Like negotiate_inbound, but a supported proposal for which `is_deferred`
// holds is echoed only once `decide` returned true ("na" when false, and the
// dialer may propose another). `decide` runs on the caller's executor while
// the dialer waits for the answer; the caller's timeout covers it.
awaitable<result<std::string>> negotiate_inbound(
    byte_stream& s, std::function<bool(std::string_view)> is_supported,
    std::function<bool(std::string_view)> is_deferred,
    std::function<awaitable<bool>(std::string)> decide);

}  // namespace peerup::net
