#!/usr/bin/env bash
# Installs every Debian package peer-up needs to build, test and benchmark.
# Idempotent: packages already present are skipped by apt.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

PKGS=(
  build-essential cmake ninja-build pkg-config ccache
  libboost1.81-dev libsodium-dev libssl-dev libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  nodejs
  openssh-server openssh-client curl dnsutils iperf3 iputils-ping socat iproute2 iptables conntrack netcat-openbsd
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev  # QUIC (issue 13)
  libqrencode-dev libsystemd-dev libboost-json1.81-dev  # pairing QR, sd_notify, control API JSON
  chromium  # tests/ops: the status page in a real headless browser (issue 16)
  systemd  # systemd-analyze verify on packaging/systemd units (tests/ops, package test)
  python3 tcpdump  # tests/lab (network namespaces, NAT) and bench/holepunch.py: docs/lab.md
  help2man pandoc lintian dpkg-dev fakeroot man-db adduser  # the Debian package: docs/packaging.md
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
