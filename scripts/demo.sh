#!/usr/bin/env bash
# The main job on one machine, with real processes: a relay, a home node
# exposing a small HTTP service, and a laptop that fetches a page from it
# through the relay. Everything listens on 127.0.0.1 and stops at the end.
#   SKIP_BUILD=1  use the existing build/ (no apt, no cmake)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== installing dependencies and building (first run takes a few minutes)"
  bash scripts/install-deps.sh
  cmake -S . -B build -G Ninja >/dev/null
  cmake --build build --target peerup
fi
PEERUP=$ROOT/build/src/cli/peerup

WORK=$(mktemp -d /tmp/peerup-demo.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for <seconds> <command...>: poll until the command succeeds
  local limit=$1; shift
  for _ in $(seq 1 $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for: $*" >&2; return 1
}

echo "== 1. relay (on a VPS in real life)"
mkdir -p "$WORK/relay"
RELAY_ID=$("$PEERUP" keygen --key "$WORK/relay/identity.key")
RELAY_PORT=$(free_port)
"$PEERUP" relay serve --dir "$WORK/relay" --listen "/ip4/127.0.0.1/tcp/$RELAY_PORT" \
  >"$WORK/relay.out" 2>"$WORK/relay.log" &
PIDS+=($!)
RELAY_ADDR="/ip4/127.0.0.1/tcp/$RELAY_PORT/p2p/$RELAY_ID"
wait_for 10 grep -q "/p2p/" "$WORK/relay.out"
echo "   relay: $RELAY_ADDR"

echo "== 2. home node (behind CGNAT in real life) with an HTTP service"
HOME_ID=$("$PEERUP" init --dir "$WORK/home" 2>/dev/null | grep -o '12D3KooW[A-Za-z0-9]*' | head -1)
HTTP_PORT=$(free_port)
mkdir -p "$WORK/www"
echo "hello from the home machine, served through peer-up" >"$WORK/www/index.html"
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$HTTP_PORT" >/dev/null 2>&1 &
PIDS+=($!)
HOME_CFG=(--config "$WORK/home/config.yaml")
# Loopback only for the demo (a real home node keeps the default 0.0.0.0:4001).
HOME_PORT=$(free_port)
sed -i "s#/ip4/0.0.0.0/tcp/4001#/ip4/127.0.0.1/tcp/$HOME_PORT#; s#/ip6/::/tcp/4001#/ip6/::1/tcp/$HOME_PORT#" "$WORK/home/config.yaml"
"$PEERUP" "${HOME_CFG[@]}" service add web "127.0.0.1:$HTTP_PORT" >/dev/null
"$PEERUP" "${HOME_CFG[@]}" relay add "$RELAY_ADDR" >/dev/null
echo "   home: $HOME_ID, service web -> 127.0.0.1:$HTTP_PORT"

echo "== 3. laptop"
LAPTOP_ID=$("$PEERUP" init --dir "$WORK/laptop" 2>/dev/null | grep -o '12D3KooW[A-Za-z0-9]*' | head -1)
LAPTOP_CFG=(--config "$WORK/laptop/config.yaml")
sed -i "s#^  - /ip4/0.0.0.0/tcp/4001#  - /ip4/127.0.0.1/tcp/0#; s#^  - /ip6/::/tcp/4001#  - /ip6/::1/tcp/0#" "$WORK/laptop/config.yaml"
"$PEERUP" "${LAPTOP_CFG[@]}" relay add "$RELAY_ADDR" >/dev/null
"$PEERUP" "${LAPTOP_CFG[@]}" name add home "$HOME_ID" >/dev/null
echo "   laptop: $LAPTOP_ID"

echo "== 4. swap peer IDs: home trusts the laptop, the relay trusts both"
"$PEERUP" "${HOME_CFG[@]}" auth add "$LAPTOP_ID" --comment laptop >/dev/null
"$PEERUP" relay authorize "$HOME_ID" --comment home --dir "$WORK/relay" >/dev/null
"$PEERUP" relay authorize "$LAPTOP_ID" --comment laptop --dir "$WORK/relay" >/dev/null

echo "== 5. home daemon reserves a slot on the relay"
"$PEERUP" "${HOME_CFG[@]}" daemon >"$WORK/home.out" 2>"$WORK/home.log" &
PIDS+=($!)
wait_for 20 grep -q "reserved on relay" "$WORK/home.log" || { cat "$WORK/home.log" "$WORK/relay.log"; exit 1; }
echo "   reserved"

echo "== 6. laptop: peerup proxy home web <port>, then curl through it"
PROXY_PORT=$(free_port)
"$PEERUP" "${LAPTOP_CFG[@]}" proxy home web "$PROXY_PORT" >"$WORK/proxy.out" 2>"$WORK/proxy.log" &
PIDS+=($!)
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PROXY_PORT"
echo "   curl http://127.0.0.1:$PROXY_PORT/ ->"
curl -sS --max-time 20 "http://127.0.0.1:$PROXY_PORT/" | sed 's/^/     /'

echo "== 7. path in use"
"$PEERUP" "${LAPTOP_CFG[@]}" ping home -c 3 -i 0.2 | sed 's/^/   /'
echo "== done: relay, home and laptop were separate peerup processes; the page crossed the relay"
