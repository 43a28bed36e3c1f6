// multistream-select 1.0 (libp2p/specs connections/README.md,
// multiformats/multistream-select), sans-I/O.
//
// Every message is uvarint(len) || text || '\n', where len counts the newline.
// Both roles stop consuming input right after the final message of the
// negotiation, so bytes of the selected protocol that arrived in the same read
// stay with the caller.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::multistream {

inline constexpr std::string_view protocol_id = "/multistream/1.0.0";
// Longest message we read or write, counting the trailing newline.
inline constexpr std::size_t max_message = 1024;
// A listener answers at most this many proposals (including "ls") with "na".
inline constexpr std::size_t max_proposals = 16;

bytes encode_message(std::string_view msg);

// Reassembles length-prefixed messages from input that may arrive in pieces.
class message_reader {
 public:
  // Consumes bytes from `in` until one whole message is buffered (or `in` is
  // exhausted). Returns how many bytes were consumed; complete() tells whether
  // a message is ready.
  result<std::size_t> feed(byte_span in);
  bool complete() const { return complete_; }
  // The message without its newline; valid until the next feed() after reset().
  std::string_view message() const;
  void reset();

 private:
  bytes buf_;
  std::size_t prefix_len_ = 0;  // 0 while the varint is incomplete
  std::size_t body_len_ = 0;    // includes the newline
  bool complete_ = false;
};

// The initiator: proposes each protocol in order until one is echoed back.
//   1. first take_output(): header and first proposal in one write (lazy);
//   2. read the header echo;
//   3. read the echo of the proposal (done) or "na" (propose the next one).
class dialer {
 public:
  explicit dialer(std::vector<std::string> protocols);

  bytes take_output();
  // Returns the bytes consumed; stops right after the final answer.
  result<std::size_t> on_bytes(byte_span in);
  bool done() const { return done_; }
  const std::string& selected() const { return selected_; }

 private:
  result<void> on_message(std::string_view msg);

  std::vector<std::string> protocols_;
  std::size_t current_ = 0;
  bool started_ = false;
  bool header_received_ = false;
  bool done_ = false;
  boost::system::error_code failed_;
  std::string selected_;
  bytes out_;
  message_reader reader_;
};

// The responder: answers the header, "na" to unsupported proposals, and
// echoes the first supported one.
//   1. read the header, answer with ours;
//   2. read proposals: echo a supported one (done) or answer "na".
// A supported proposal for which `is_deferred` holds is neither echoed nor
// refused at once: pending() names it, and the owner answers with decide()
// once it knows (e.g. after the local service behind the protocol accepted
// a connection). The dialer just waits longer for the echo; nothing on the
// wire changes.
class listener {
 public:
  explicit listener(std::function<bool(std::string_view)> is_supported,
                    std::function<bool(std::string_view)> is_deferred = {});

  // Returns the bytes consumed; stops right after the accepted proposal, and
  // takes nothing while a decision is pending.
  result<std::size_t> on_bytes(byte_span in);
  bytes take_output();
  bool done() const { return done_; }
  const std::string& selected() const { return selected_; }
  // The proposal waiting for decide(), if any.
  const std::optional<std::string>& pending() const { return pending_; }
  // Echo the pending proposal (done), or answer "na" and read on. Fails
  // when nothing is pending or after too many refusals.
  result<void> decide(bool accept);

 private:
  result<void> on_message(std::string_view msg);
  result<void> refuse();

  std::function<bool(std::string_view)> is_supported_;
  std::function<bool(std::string_view)> is_deferred_;
  std::optional<std::string> pending_;
  bool header_received_ = false;
  std::size_t rejected_ = 0;
  bool done_ = false;
  boost::system::error_code failed_;
  std::string selected_;
  bytes out_;
  message_reader reader_;
};

}  // namespace peerup::multistream
