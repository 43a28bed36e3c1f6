#!/usr/bin/env bash
# CI test of the Debian package (issue 20), bounded by the caller's timeout:
#   1. build it (scripts/package.sh; PKG_BUILD_DIR as there);
#   2. lintian: no errors (warnings are printed, and explained in
#      docs/packaging.md);
#   3. install it into a throwaway root: a private mount namespace with a
#      copy-on-write overlay of this machine's / (so dpkg, adduser and the
#      maintainer scripts run for real, and nothing reaches the host), check
#      `peerup --version`, `man peerup`, `man 5 peerup-config`, the peerup
#      user, bash completion and `systemd-analyze verify` on the units;
#   4. remove, then purge, and list what remains.
# Why not a clean debootstrap root: CI runs offline; the overlay's dpkg
# database is this Debian 12 machine's, so Depends are checked against real
# packages, and ldd proves every library resolves (docs/packaging.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deb=$(bash scripts/package.sh | tail -1)
echo "package: $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --field "$deb" Package Version Architecture Depends
dpkg-deb --contents "$deb" | awk '{print $1, $6}'

echo "== Depends against the libraries the binary needs"
# What `apt install ./peerup_*.deb` pulls on a clean Debian 12 is Depends: it
# must name the package of every library the binary loads directly (else a
# clean machine would miss it), and every library package it names must serve
# one of them (else the package drags in something unused). Checked here
# without a clean root: the binary's DT_NEEDED entries, each resolved to its
# file by ldd and to its package by dpkg -S.
dep_check=$(mktemp -d)
dpkg-deb -x "$deb" "$dep_check"
depends=$(dpkg-deb --field "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | grep -v '^$' | sort -u)
needed_pkgs=""
for lib in $(readelf -d "$dep_check/usr/bin/peerup" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  path=$(ldd "$dep_check/usr/bin/peerup" | awk -v l="$lib" '$1 == l {print $3}')
  [ -n "$path" ] || { echo "FAIL: $lib does not resolve" >&2; exit 1; }
  pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1) ||
    pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
  [ -n "$pkg" ] || { echo "FAIL: no package owns $path ($lib)" >&2; exit 1; }
  # A library package's shlibs may name a virtual package it Provides
  # (Debian 12's libspdlog1.10 says libspdlog1.10-fmt9): either name counts.
  names="$pkg $(dpkg-query -W -f='${Provides}' "$pkg" | tr ',' '\n' | sed 's/(.*)//; s/ //g')"
  printf '  %-28s %s\n' "$lib" "$names"
  needed_pkgs="$needed_pkgs $names"
  found=0
  for n in $names; do echo "$depends" | grep -qx "$n" && found=1; done
  [ "$found" = 1 ] || { echo "FAIL: Depends lacks $pkg (for $lib)" >&2; exit 1; }
done
for pkg in $depends; do
  case "$pkg" in adduser) continue ;; esac  # the postinst's, not a library
  echo "$needed_pkgs" | tr ' ' '\n' | grep -qx "$pkg" ||
    { echo "FAIL: Depends names $pkg, which serves no library the binary needs" >&2; exit 1; }
done
rm -rf "$dep_check"
echo "Depends: $(echo $depends | wc -w) packages, each needed; every needed library's package named"

echo "== lintian"
lintian_out=$(lintian --display-info --fail-on error "$deb" 2>&1) || {
  printf '%s\n' "$lintian_out"
  echo "FAIL: lintian reported errors" >&2
  exit 1
}
printf '%s\n' "${lintian_out:-lintian: no tags}"

echo "== install, remove, purge in a throwaway root"
version=$(dpkg-deb --field "$deb" Version)
export PEERUP_DEB=$deb PEERUP_PKG_VERSION=${version%-*}
unshare --mount --fork bash -euo pipefail -c '
  mount --make-rprivate /
  t=$(mktemp -d)
  mount -t tmpfs tmpfs "$t"
  mkdir "$t/upper" "$t/work" "$t/root"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$t/upper,workdir=$t/work" "$t/root"
  mount -t proc proc "$t/root/proc"
  mount --rbind /dev "$t/root/dev"
  mount -t tmpfs tmpfs "$t/root/run"   # no systemd here: scripts skip systemctl
  cp "$PEERUP_DEB" "$t/root/tmp/peerup.deb"
  # A host that has peerup installed must not hide what the package does.
  chroot "$t/root" sh -c "dpkg --purge peerup >/dev/null 2>&1 || true"
  chroot "$t/root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    PEERUP_PKG_VERSION="$PEERUP_PKG_VERSION" bash -euo pipefail -c "
    fail() { echo \"FAIL: \$*\" >&2; exit 1; }
    dpkg -i /tmp/peerup.deb
    echo \"installed: \$(dpkg-query -W -f=\"\\\${Package} \\\${Version} \\\${Status}\" peerup)\"
    got=\$(peerup --version)
    [ \"\$got\" = \"peerup \$PEERUP_PKG_VERSION\" ] || fail \"peerup --version: \$got\"
    echo \"peerup --version: \$got\"
    if ldd /usr/bin/peerup | grep -q \"not found\"; then ldd /usr/bin/peerup; fail \"unresolved libraries\"; fi
    MANPAGER=cat MANWIDTH=100 man peerup > /tmp/man1.txt 2>/dev/null || fail \"man peerup\"
    grep -q \"peerup doctor\" /tmp/man1.txt || fail \"man peerup lacks the doctor section\"
    grep -q \"peerup relay invite\" /tmp/man1.txt || fail \"man peerup lacks relay invite\"
    echo \"man peerup: \$(wc -l < /tmp/man1.txt) lines\"
    MANPAGER=cat man 5 peerup-config > /tmp/man5.txt 2>/dev/null || fail \"man 5 peerup-config\"
    grep -q \"authorized_keys\" /tmp/man5.txt || fail \"peerup-config(5) lacks authorized_keys\"
    echo \"man 5 peerup-config: \$(wc -l < /tmp/man5.txt) lines\"
    getent passwd peerup >/dev/null || fail \"no peerup user after install\"
    echo \"user: \$(getent passwd peerup)\"
    words=\$(bash -c \"source /usr/share/bash-completion/completions/peerup
      COMP_WORDS=(peerup relay inv); COMP_CWORD=2; _peerup; echo \\\${COMPREPLY[*]}\")
    [ \"\$words\" = invite ] || fail \"bash completion of peerup relay inv: \$words\"
    echo \"bash completion: peerup relay inv -> \$words\"
    zsh_file=/usr/share/zsh/vendor-completions/_peerup
    head -1 \$zsh_file | grep -q \"#compdef peerup\" || fail \"zsh completion\"
    units=\$(ls /lib/systemd/system/peerup-*.service 2>/dev/null || true)
    if [ -n \"\$units\" ]; then
      out=\$(systemd-analyze verify \$units 2>&1) || { echo \"\$out\"; fail \"systemd-analyze verify\"; }
      [ -z \"\$out\" ] || { echo \"\$out\"; fail \"systemd-analyze verify printed warnings\"; }
      echo \"systemd-analyze verify: \$(echo \$units | wc -w) units clean\"
      for u in \$units; do
        [ ! -e /etc/systemd/system/multi-user.target.wants/\$(basename \$u) ] || fail \"\$u enabled\"
      done
    else
      echo \"SKIP systemd-analyze verify: the package has no units (packaging/systemd not merged yet)\"
    fi
    dpkg -r peerup
    [ ! -e /usr/bin/peerup ] || fail \"/usr/bin/peerup left after remove\"
    dpkg -P peerup
    dpkg-query -W peerup >/dev/null 2>&1 && fail \"still known to dpkg after purge\"
    echo \"after purge:\"
    find / -xdev \\( -path /proc -o -path /sys -o -path /work -o -path /tmp \\) -prune -o \
      -name \"*peerup*\" -print 2>/dev/null | sed \"s/^/  remains: /\" || true
    getent passwd peerup | sed \"s/^/  remains: user /\" || true
  "
'
echo "package test: ok"
