#!/usr/bin/env bash
# Resize storm: the real studio window under Xvfb trains `tiny-test` while xdotool resizes,
# minimises, restores and moves it. Prints the studio's figures (training steps seen, GPU
# errors, frame times) and a fingerprint of the final weights: run it with a storm and with
# none (storm seconds 0) and compare; on the CPU device, where training is deterministic,
# equal fingerprints mean no step was lost, repeated or corrupted.
#
#   benches/resize-storm.sh [shared|separate|cpu] [storm seconds] [epochs]
#
# Needs: xvfb, xdotool, mesa-vulkan-drivers (lavapipe), a release build.
set -euo pipefail
compute=${1:-shared}
storm_secs=${2:-60}
epochs=${3:-1}
bin=${ATELIER_BIN:-target/release/atelier}
work=$(mktemp -d)
trap 'kill $xvfb_pid 2>/dev/null || true; rm -rf "$work"' EXIT

export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_DATA_HOME=$work/home/.local/share
export CUBECL_AUTOTUNE_LEVEL=${CUBECL_AUTOTUNE_LEVEL:-minimal}
mkdir -p "$HOME"
display=:$((100 + RANDOM % 400))
Xvfb "$display" -screen 0 1400x900x24 >/dev/null 2>&1 &
xvfb_pid=$!
export DISPLAY=$display
sleep 1

# A small product set the studio can train on.
"$bin" --quiet demo --out "$work/demo" --steps 1 --device cpu >/dev/null 2>&1
data=$work/demo/demo-shirts
sed "s/^epochs = .*/epochs = $epochs/" presets/tiny-test.toml >"$work/storm-preset.toml"

"$bin" studio --project "$work/project" --data "$data" --preset "$work/storm-preset.toml" \
  --compute "$compute" --auto-train --exit-when-trained --exit-after 900 \
  --stats-out "$work/stats.json" >"$work/studio.log" 2>&1 &
app_pid=$!

# Wait for the window.
for _ in $(seq 1 120); do
  win=$(xdotool search --name '^Atelier$' 2>/dev/null | head -1 || true)
  [ -n "$win" ] && break
  sleep 1
done
[ -n "${win:-}" ] || { echo "no window"; cat "$work/studio.log"; exit 1; }

# Let training start (on lavapipe the first step compiles shaders for a while).
for _ in $(seq 1 300); do
  ls "$work"/project/runs/*/metrics.jsonl >/dev/null 2>&1 && break
  sleep 1
done
end=$((SECONDS + storm_secs))
resizes=0
while [ $SECONDS -lt $end ] && kill -0 $app_pid 2>/dev/null; do
  w=$((700 + RANDOM % 700)); h=$((450 + RANDOM % 450))
  xdotool windowsize "$win" "$w" "$h" 2>/dev/null || true
  resizes=$((resizes + 1))
  if [ $((resizes % 10)) -eq 0 ]; then
    xdotool windowminimize "$win" 2>/dev/null || true
    sleep 0.5
    xdotool windowmap "$win" 2>/dev/null || true
    xdotool windowmove "$win" $((RANDOM % 200)) $((RANDOM % 200)) 2>/dev/null || true
  fi
  sleep 0.1
done
wait $app_pid
status=$?

echo "compute=$compute resizes=$resizes exit_status=$status"
cat "$work/stats.json"
echo
run=$(ls "$work/project/runs" | head -1)
python3 - "$work/project/runs/$run" <<'PY'
import json, sys, pathlib
run = pathlib.Path(sys.argv[1])
steps = [json.loads(l)["step"] for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
print(f"metrics lines: {len(steps)}, last step logged: {steps[-1] if steps else None}")
print(f"checkpoint: {(run / 'checkpoint.atl').exists()}")
PY
# The final weights, fingerprinted by the shots they render (record bytes carry per-process
# parameter ids, so equal weights can be different bytes).
"$bin" --quiet sample --run "$work/project/runs/$run" --count 16 --out "$work/shots" \
  --device cpu >/dev/null 2>&1
echo "final weights fingerprint: $(cat "$work"/shots/*.png | sha256sum | cut -c1-16)"
grep -i "panic\|rolled back" "$work/studio.log" || echo "no panics, no roll-backs in the log"
