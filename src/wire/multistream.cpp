#include "wire/multistream.hpp"

#include <utility>

#include "multiformats/varint.hpp"

namespace peerup::multistream {
namespace {

constexpr std::string_view not_available = "na";
constexpr std::string_view list_request = "ls";

bool is_truncated(const boost::system::error_code& ec) {
  return ec == make_error_code(errc::truncated);
}

// Feeds whole messages to `handle` until `done` turns true (set by handle) or
// the input runs out; returns the bytes used, so what follows the last
// message stays with the caller for the selected protocol.
template <class Handler>
result<std::size_t> feed_messages(message_reader& reader, byte_span in, const bool& done,
                                  Handler&& handle) {
  std::size_t used = 0;
  while (!done && used < in.size()) {
    auto n = reader.feed(in.subspan(used));
    if (!n) return n.error();
    used += *n;
    if (!reader.complete()) break;
    auto handled = handle(reader.message());
    reader.reset();
    if (!handled) return handled.error();
  }
  return used;
}

}  // namespace

bytes encode_message(std::string_view msg) {
  bytes out;
  out.reserve(varint::encoded_size(msg.size() + 1) + msg.size() + 1);
  varint::encode(msg.size() + 1, out);
  append(out, as_bytes(msg));
  out.push_back('\n');
  return out;
}

result<std::size_t> message_reader::feed(byte_span in) {
  std::size_t used = 0;
  // Byte by byte so we never consume past the end of this message: messages
  // are at most 1 KiB, and what follows may belong to the selected protocol.
  while (!complete_ && used < in.size()) {
    buf_.push_back(in[used++]);
    if (prefix_len_ == 0) {
      auto prefix = varint::decode(buf_);
      if (!prefix) {
        // SECURITY: a prefix longer than the one of max_message cannot be valid;
        // stop before buffering an unbounded varint.
        if (is_truncated(prefix.error()) && buf_.size() < varint::encoded_size(max_message)) {
          continue;
        }
        return errc::multistream_message;
      }
      // SECURITY: bound the message length before buffering its body.
      if (prefix->value == 0 || prefix->value > max_message) return errc::multistream_message;
      prefix_len_ = prefix->length;
      body_len_ = static_cast<std::size_t>(prefix->value);
    } else if (buf_.size() == prefix_len_ + body_len_) {
      if (buf_.back() != '\n') return errc::multistream_message;
      complete_ = true;
    }
  }
  return used;
}

std::string_view message_reader::message() const {
  if (!complete_) return {};
  return as_string_view(byte_span(buf_).subspan(prefix_len_, body_len_ - 1));
}

void message_reader::reset() {
  buf_.clear();
  prefix_len_ = 0;
  body_len_ = 0;
  complete_ = false;
}

// ---------------------------------------------------------------- dialer

dialer::dialer(std::vector<std::string> protocols) : protocols_(std::move(protocols)) {}

bytes dialer::take_output() {
  if (!started_ && !protocols_.empty()) {
    started_ = true;
    // Lazy negotiation: the header and the first proposal travel together.
    append(out_, encode_message(protocol_id));
    append(out_, encode_message(protocols_[current_]));
  }
  return std::exchange(out_, {});
}

result<std::size_t> dialer::on_bytes(byte_span in) {
  if (failed_) return failed_;
  if (protocols_.empty()) return failed_ = make_error_code(errc::protocol_not_supported);
  auto used =
      feed_messages(reader_, in, done_, [this](std::string_view m) { return on_message(m); });
  if (!used) failed_ = used.error();
  return used;
}

result<void> dialer::on_message(std::string_view msg) {
  if (!header_received_) {
    if (msg != protocol_id) return errc::multistream_header;
    header_received_ = true;
    return {};
  }
  if (current_ < protocols_.size() && msg == protocols_[current_]) {
    selected_ = protocols_[current_];
    done_ = true;
    return {};
  }
  if (msg != not_available) return errc::multistream_message;
  if (++current_ >= protocols_.size()) return errc::protocol_not_supported;
  append(out_, encode_message(protocols_[current_]));
  return {};
}

// ---------------------------------------------------------------- listener

listener::listener(std::function<bool(std::string_view)> is_supported,
                   std::function<bool(std::string_view)> is_deferred)
    : is_supported_(std::move(is_supported)), is_deferred_(std::move(is_deferred)) {}

bytes listener::take_output() { return std::exchange(out_, {}); }

result<std::size_t> listener::on_bytes(byte_span in) {
  if (failed_) return failed_;
  // A dialer may not pipeline another proposal behind one we have not
  // answered; data behind it belongs to the protocol, so stop here.
  if (pending_) return std::size_t{0};
  bool stop = done_;
  auto used = feed_messages(reader_, in, stop, [this, &stop](std::string_view m) {
    auto r = on_message(m);
    stop = done_ || pending_.has_value();
    return r;
  });
  if (!used) failed_ = used.error();
  return used;
}

result<void> listener::refuse() {
  // SECURITY: a peer could otherwise keep us answering "na" forever.
  if (++rejected_ > max_proposals) return failed_ = make_error_code(errc::protocol_not_supported);
  append(out_, encode_message(not_available));
  return {};
}

result<void> listener::decide(bool accept) {
  if (failed_) return failed_;
  if (!pending_) return make_error_code(errc::invalid_argument);
  auto proposal = std::exchange(pending_, std::nullopt);
  if (!accept) return refuse();
  selected_ = std::move(*proposal);
  done_ = true;
  append(out_, encode_message(selected_));
  return {};
}

result<void> listener::on_message(std::string_view msg) {
  if (!header_received_) {
    if (msg != protocol_id) return errc::multistream_header;
    header_received_ = true;
    append(out_, encode_message(protocol_id));
    return {};
  }
  // "ls" is answered with "na" too: the predicate cannot enumerate protocols.
  if (msg != list_request && is_supported_ && is_supported_(msg)) {
    if (is_deferred_ && is_deferred_(msg)) {
      pending_ = std::string(msg);
      return {};
    }
    selected_ = std::string(msg);
    done_ = true;
    append(out_, encode_message(msg));
    return {};
  }
  if (auto r = refuse(); !r) return r.error();
  return {};
}

}  // namespace peerup::multistream
