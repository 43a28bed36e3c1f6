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
  dbus util-linux  # tests/lab tun_resolved: a D-Bus system bus, nsenter/unshare (see below)
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

# systemd-resolved for the lab test tun_resolved (network mode's .p2p zone on
# the interface): the package's files unpacked, NOT installed. Installing it
# would point the host's /etc/resolv.conf at resolved; the test runs this copy
# in its own mount and network namespaces with its own D-Bus (docs/lab.md).
# systemd above brings the libsystemd-shared it links against.
RESOLVED_ROOT=/opt/peerup-lab/systemd-resolved
if [ ! -x "$RESOLVED_ROOT/lib/systemd/systemd-resolved" ]; then
  tmp=$(mktemp -d)
  if (cd "$tmp" && apt-get download -qq systemd-resolved); then
    $SUDO mkdir -p "$RESOLVED_ROOT"
    $SUDO dpkg-deb -x "$tmp"/systemd-resolved_*.deb "$RESOLVED_ROOT"
  else
    echo "install-deps: could not download systemd-resolved; lab test tun_resolved will skip" >&2
  fi
  rm -rf "$tmp"
fi
