// multistream-select listener or dialer (first byte, bit 0; bits 0 and 1: a
// listener that defers some proposals) fed the rest of the input in chunks:
// [u8 length][chunk]... Checks that consumption stops
// right after the final message, errors are sticky, and everything either
// role writes is itself a well-formed multistream message.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "wire/multistream.hpp"

using namespace peerup;
using namespace peerup::multistream;

namespace {

const std::vector<std::string> dialer_protocols = {"/noise", "/yamux/1.0.0", "/tls/1.0.0"};

bool listener_supports(std::string_view p) {
  return p == "/noise" || p == "/yamux/1.0.0" || p.starts_with("/echo/");
}

// Everything a role wrote must split into complete, valid messages.
std::vector<std::string> split_messages(const bytes& out) {
  std::vector<std::string> msgs;
  message_reader r;
  byte_span rest(out);
  while (!rest.empty()) {
    auto n = r.feed(rest);
    FUZZ_CHECK(n.has_value());
    FUZZ_CHECK(*n > 0);
    rest = rest.subspan(*n);
    FUZZ_CHECK(r.complete() || rest.empty());
    if (!r.complete()) break;
    msgs.emplace_back(r.message());
    r.reset();
  }
  FUZZ_CHECK(!r.complete() && rest.empty());
  return msgs;
}

template <class Role>
void drive(Role& role, fuzz::input& in, bool is_listener) {
  bytes written = role.take_output();
  bool failed = false;
  while (!in.empty()) {
    const byte_span chunk = in.chunk8();
    auto n = role.on_bytes(chunk);
    append(written, role.take_output());
    if (!n) {
      failed = true;
      // Errors are sticky: nothing more is read.
      FUZZ_CHECK(!role.on_bytes(as_bytes("\x13/multistream/1.0.0\n")).has_value());
      break;
    }
    FUZZ_CHECK(*n <= chunk.size());
    if (role.done()) {
      // Bytes after the final message belong to the selected protocol.
      auto after = role.on_bytes(chunk);
      FUZZ_CHECK(after.has_value() && *after == 0);
    } else {
      FUZZ_CHECK(*n == chunk.size());
    }
  }
  const auto msgs = split_messages(written);
  // SECURITY: the listener answers a bounded number of proposals.
  FUZZ_CHECK(msgs.size() <= max_proposals + 2);
  if (role.done()) {
    FUZZ_CHECK(!failed);
    FUZZ_CHECK(!msgs.empty());
    if (is_listener) {
      FUZZ_CHECK(listener_supports(role.selected()));
    } else {
      FUZZ_CHECK(std::find(dialer_protocols.begin(), dialer_protocols.end(), role.selected()) !=
                 dialer_protocols.end());
    }
    FUZZ_CHECK(msgs.front() == protocol_id);
    // The last thing written is the echo (listener) or the accepted proposal (dialer).
    FUZZ_CHECK(msgs.back() == role.selected());
  }
}

// A listener that defers "/echo/..." proposals (as the daemon defers a
// service until its local port accepted): each decision is the next input
// bit. Nothing past a pending proposal may be consumed, and an accepted one
// is the last thing written.
void drive_deferred(fuzz::input& in) {
  listener l(listener_supports, [](std::string_view p) { return p.starts_with("/echo/"); });
  bytes written = l.take_output();
  while (!in.empty() && !l.done()) {
    byte_span chunk = in.chunk8();
    while (!chunk.empty() && !l.done()) {
      auto n = l.on_bytes(chunk);
      append(written, l.take_output());
      if (!n) return;
      FUZZ_CHECK(*n <= chunk.size());
      chunk = chunk.subspan(*n);
      if (!l.pending()) {
        FUZZ_CHECK(l.done() || chunk.empty());
        break;
      }
      FUZZ_CHECK(l.pending()->starts_with("/echo/"));
      auto held = l.on_bytes(chunk);  // nothing is read while a decision is pending
      FUZZ_CHECK(held.has_value() && *held == 0);
      const bool accept = in.flag();
      auto decided = l.decide(accept);
      append(written, l.take_output());
      if (!decided) return;
      FUZZ_CHECK(!l.pending());
      FUZZ_CHECK(l.done() == accept);
    }
  }
  const auto msgs = split_messages(written);
  FUZZ_CHECK(msgs.size() <= max_proposals + 2);
  if (l.done()) FUZZ_CHECK(msgs.back() == l.selected());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const auto mode = in.u8();
  if ((mode & 3) == 3) {
    drive_deferred(in);
  } else if (mode & 1) {
    listener l(listener_supports);
    drive(l, in, true);
  } else {
    dialer d(dialer_protocols);
    drive(d, in, false);
  }
  return 0;
}
