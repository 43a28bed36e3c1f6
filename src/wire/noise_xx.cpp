#include "wire/noise_xx.hpp"

#include <sodium.h>

#include <algorithm>

namespace peerup::noise {
namespace {

constexpr std::size_t encrypted_key_len = dh_len + tag_size;  // "s" once a key is set

// Smallest legal size of each XX message (empty payload), and the bytes each
// adds around its payload.
constexpr std::size_t overhead[3] = {
    dh_len,                                 // e
    dh_len + encrypted_key_len + tag_size,  // e, ee, s, es + payload tag
    encrypted_key_len + tag_size,           // s, se + payload tag
};

key32 take_key(byte_span in) {
  key32 k;
  std::copy_n(in.begin(), k.size(), k.begin());
  return k;
}

}  // namespace

xx_state::xx_state(role r, byte_span prologue, const x25519_keypair& local_static,
                   std::optional<x25519_keypair> ephemeral)
    : role_(r), ss_(xx_protocol_name), s_(local_static) {
  if (ephemeral) {
    e_ = *ephemeral;
    fixed_ephemeral_ = true;
  }
  ss_.mix_hash(prologue);
}

bool xx_state::is_my_turn() const {
  if (step_ < 0 || step_ > 2) return false;
  const bool initiator_turn = step_ != 1;
  return initiator_turn == (role_ == role::initiator);
}

result<void> xx_state::mix_dh(const x25519_keypair& local, const key32& remote) {
  auto shared = dh(local, remote);
  if (!shared) return shared.error();
  ss_.mix_key(*shared);
  sodium_memzero(shared->data(), shared->size());
  return {};
}

result<void> xx_state::write_message(byte_span payload, bytes& out) {
  if (!is_my_turn()) return errc::noise_out_of_order;
  const int step = step_;
  if (payload.size() > max_frame - overhead[step]) return errc::too_large;

  const std::size_t start = out.size();
  auto run = [&]() -> result<void> {
    if (step == 0 || step == 1) {  // e
      if (!fixed_ephemeral_) e_ = x25519_keypair::generate();
      append(out, e_.public_key);
      ss_.mix_hash(e_.public_key);
    }
    if (step == 1) {
      if (auto r = mix_dh(e_, re_); !r) return r;                           // ee
      if (auto r = ss_.encrypt_and_hash(s_.public_key, out); !r) return r;  // s
      if (auto r = mix_dh(s_, re_); !r) return r;                           // es
    }
    if (step == 2) {
      if (auto r = ss_.encrypt_and_hash(s_.public_key, out); !r) return r;  // s
      if (auto r = mix_dh(s_, re_); !r) return r;                           // se
    }
    return ss_.encrypt_and_hash(payload, out);
  };
  auto r = run();
  if (!r) {
    out.resize(start);
    fail();
    return r;
  }
  ++step_;
  return {};
}

result<void> xx_state::read_message(byte_span message, bytes& payload_out) {
  if (step_ < 0 || step_ > 2 || is_my_turn()) return errc::noise_out_of_order;
  const int step = step_;
  // SECURITY: a Noise message never exceeds 65535 bytes, and each XX message
  // has a fixed minimum; anything else is rejected before it is parsed.
  if (message.size() > max_frame || message.size() < overhead[step]) {
    fail();
    return errc::noise_handshake_failed;
  }

  const std::size_t start = payload_out.size();
  auto run = [&]() -> result<void> {
    byte_span rest = message;
    if (step == 0 || step == 1) {  // e
      re_ = take_key(rest);
      ss_.mix_hash(rest.first(dh_len));
      rest = rest.subspan(dh_len);
    }
    if (step == 1 || step == 2) {
      if (step == 1) {
        if (auto r = mix_dh(e_, re_); !r) return r;  // ee
      }
      bytes remote_static;
      if (auto r = ss_.decrypt_and_hash(rest.first(encrypted_key_len), remote_static); !r)
        return r;  // s
      rs_ = take_key(remote_static);
      rest = rest.subspan(encrypted_key_len);
      if (auto r = mix_dh(e_, rs_); !r) return r;  // es (initiator) or se (responder)
    }
    return ss_.decrypt_and_hash(rest, payload_out);
  };
  auto r = run();
  if (!r) {
    payload_out.resize(start);
    fail();
    return r;
  }
  ++step_;
  return {};
}

result<std::pair<cipher_state, cipher_state>> xx_state::split() {
  if (!is_complete() || split_done_) return errc::noise_out_of_order;
  split_done_ = true;
  auto [initiator_to_responder, responder_to_initiator] = ss_.split();
  if (role_ == role::initiator)
    return std::pair{std::move(initiator_to_responder), std::move(responder_to_initiator)};
  return std::pair{std::move(responder_to_initiator), std::move(initiator_to_responder)};
}

}  // namespace peerup::noise
