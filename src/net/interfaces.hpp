// Addresses of the local network interfaces, to expand 0.0.0.0 / :: listen
// addresses into ones a peer can dial.
#pragma once

#include <vector>

#include "net/asio.hpp"

namespace peerup::net {

std::vector<asio::ip::address> local_interface_addresses(bool v6);

}  // namespace peerup::net
