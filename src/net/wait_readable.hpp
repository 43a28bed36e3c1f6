// Waiting for a stream to have bytes without handing it a buffer, so that an
// idle connection holds no read buffer while it waits (issue 19: a relay
// holds 100,000 idle connections; bench/relay_capacity.cpp).
//
// Works for the stream types an idle relay connection is made of: TCP
// sockets, Noise channels over them, Yamux streams (circuits) and optimistic
// streams over those. Other types (QUIC streams, stdio) cannot wait this way;
// their readers keep their buffers.
#pragma once

#include "net/byte_stream.hpp"

namespace peerup::net {

// Whether wait_readable(s) can wait for `s` (else it returns at once).
bool can_wait_readable(byte_stream& s);

// Completes once a read_some on `s` would not block (data, EOF or an error
// is there), taking no bytes. Contract: counts as the read in flight on `s`;
// cancelling it leaves the stream usable. For TCP it is a one-byte MSG_PEEK
// receive, not async_wait(wait_read): asio registers sockets edge-triggered
// and async_wait never tries first, so it would miss bytes (or a FIN) that
// arrived while no read was queued. A peek that finds the end is kept by the
// tcp_stream, whose next read_some returns it (tcp_stream::wait_readable).
awaitable<void> wait_readable(byte_stream& s);

}  // namespace peerup::net
