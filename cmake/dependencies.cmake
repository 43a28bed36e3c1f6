# Every dependency comes from Debian packages (scripts/install-deps.sh).
find_package(Boost 1.81 REQUIRED)  # Asio and System are header-only
# The control API's JSON (src/control): Debian's libboost-json1.81-dev.
find_package(Boost 1.81 REQUIRED COMPONENTS json)
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# The libp2p TLS certificate (src/crypto/tls_certificate) and ngtcp2's TLS backend.
pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls>=3.7)
# QUIC (src/quic): Debian 12's ngtcp2 0.12 with its GnuTLS crypto backend.
# src/quic codes against 0.12's API; 1.x changed it (see src/quic/connection.hpp).
pkg_check_modules(NGTCP2 REQUIRED IMPORTED_TARGET libngtcp2>=0.12 libngtcp2_crypto_gnutls>=0.12)
# sd_notify and the watchdog (src/control/systemd_notify): libsystemd-dev.
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(yaml-cpp REQUIRED)
if(PEERUP_TESTS)
  find_package(GTest REQUIRED)
endif()
