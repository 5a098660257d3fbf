#!/usr/bin/env bash
# Remote training on loopback, side by side in one run: `atelier bench` on this machine's CPU,
# then through `atelier serve` (the same CPU) over WebSocket and over Iroh (relays disabled,
# dialled directly), with the bytes each step puts on the wire, read from the loopback
# interface's counters (Linux; both directions, headers included; run it on an otherwise
# quiet machine).
#
#   benches/remote-loopback.sh [ATELIER_BINARY] [PRESET ...]
#
# Figures: training images/s for each transport, and the loopback bytes per training step (the
# difference between a run of 2·N and of N steps, so the connection, the warm-up and the
# sampling rounds cancel out).
set -euo pipefail
bin=${1:-target/release/atelier}
shift || true
presets=("${@:-dcgan-28}")
steps=${STEPS:-20}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
token="$work/server.token"

start_server() { # transport extra-args… → sets pid and host
  local transport=$1
  shift
  "$bin" serve --device cpu --transport "$transport" --token-file "$token" \
    --key-file "$work/server.key" "$@" >"$work/serve.out" 2>"$work/serve.err" &
  pid=$!
  for _ in $(seq 100); do
    if grep -q "connect with" "$work/serve.out" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ "$transport" = websocket ]; then
    host=$(grep -o 'ws://[0-9.:]*' "$work/serve.out" | head -1)
  else
    host="$(awk '/^server id/ {print $3}' "$work/serve.out")@127.0.0.1:$IROH_PORT"
  fi
}

wire() { cat /sys/class/net/lo/statistics/rx_bytes; }

bench() { # preset n device-args…
  local preset=$1 n=$2
  shift 2
  "$bin" bench --preset "$preset" --steps "$n" --warmup 3 --sample-rounds 1 --json --quiet "$@"
}

field() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }

IROH_PORT=${IROH_PORT:-47113}
for preset in "${presets[@]}"; do
  local_line=$(bench "$preset" "$steps" --device cpu)
  printf '%-16s %-10s %8.1f images/s\n' "$preset" local "$(echo "$local_line" | field train_images_per_s)"
  for transport in websocket iroh; do
    extra=()
    [ "$transport" = websocket ] && extra=(--port 0)
    [ "$transport" = iroh ] && extra=(--relays disabled --port "$IROH_PORT")
    start_server "$transport" "${extra[@]}"
    b0=$(wire)
    bench "$preset" "$steps" --device remote --host "$host" --token-file "$token" >/dev/null
    b1=$(wire)
    line=$(bench "$preset" $((2 * steps)) --device remote --host "$host" --token-file "$token")
    b2=$(wire)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    per_step=$(( ((b2 - b1) - (b1 - b0)) / steps ))
    printf '%-16s %-10s %8.1f images/s  %9d bytes/step on the wire\n' "$preset" "$transport" \
      "$(echo "$line" | field train_images_per_s)" "$per_step"
  done
done
