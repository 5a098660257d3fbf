#!/usr/bin/env bash
# One prepared GPU check: training and sampling speed on wgpu and on the CPU, and the studio's
# frame time and slider latency offscreen on the shared device, written as one JSON file.
#
# A GPU machine here has no Rust toolchain, no network and no display, takes at most 64 MiB of
# files, and the check must end within 5 minutes. So the binary is built here, stripped and
# gzipped, with the Vulkan loader package beside it:
#
#   benches/gpu-check.sh --prepare gpu-bundle      # here: build, strip, gzip, fetch libvulkan1
#   benches/gpu-check.sh --bundle gpu-bundle --out gpu-figures.json     # there
#   benches/gpu-check.sh --quick --out /tmp/quick.json   # here, on lavapipe: end to end, small
#
# --only PATTERNS runs only the measurements whose name matches one of the comma-separated shell
# patterns (e.g. 'ui-*,wgpu-*'), to spend a short GPU loan where figures are missing.
#
# --with-torch adds, after the 5-minute check and with one more minute of its own, the PyTorch
# port of the fastgan presets (benches/fastgan_reference.py) on CUDA where the machine's python3
# has it: the same networks side by side on the same GPU.
#
# Without --bundle the check uses target/release/atelier. Every figure comes from the binary's
# own `bench --json` and `bench-ui` commands; nothing is computed here but the JSON assembly.
set -u -o pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bundle="" out="gpu-figures.json" quick=0 prepare="" with_torch=0 only="*"
while [ $# -gt 0 ]; do
    case "$1" in
        --prepare) prepare="$2"; shift 2 ;;
        --bundle) bundle="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --quick) quick=1; shift ;;
        --with-torch) with_torch=1; shift ;;
        --only) only="$2"; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
    esac
done

if [ -n "$prepare" ]; then
    set -e
    mkdir -p "$prepare"
    (cd "$here" && cargo build --release --bin atelier)
    strip -o "$prepare/atelier" "$here/target/release/atelier"
    gzip -9 -f "$prepare/atelier"
    # The Vulkan loader and the GLVND libraries NVIDIA's Vulkan driver (libGLX_nvidia) loads:
    # on the H200 machine the loader alone found no adapter.
    (cd "$prepare" && rm -f ./*.deb && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 \
        libgl1 libopengl0 libgles2 >/dev/null)
    cp "$0" "$prepare/gpu-check.sh"
    cp "$here/benches/fastgan_reference.py" "$prepare/"
    mkdir -p "$prepare/presets" && cp "$here"/presets/fastgan-*.toml "$prepare/presets/"
    du -sh "$prepare"/*
    exit 0
fi

started=$(date +%s)
# The whole check ends within 5 minutes: each command gets what is left, less a margin.
# A command that prints nothing before its time runs out (seen once: the offscreen studio on
# an H200) is recorded as a timeout with the last lines of its stderr.
# --quick runs on software Vulkan, where compiling the kernels alone takes minutes.
# BUDGET=N and UI_WARM_UP=N (seconds) stretch the check where a loan allows a longer one:
# the first generator of a 128 px run arrives after its kernels compile and tune (a minute
# or more on an H200), and the UI figures wait for it.
budget=${BUDGET:-285}
ui_warm=${UI_WARM_UP:-150}
[ "$quick" = 1 ] && budget=1500
deadline=$((started + budget))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "$bundle" ]; then
    gunzip -c "$bundle/atelier.gz" > "$work/atelier" && chmod +x "$work/atelier"
    atelier="$work/atelier"
    # The Vulkan loader and GLVND, unless the machine has them: unpacked beside the binary,
    # never over the machine's own libraries. A driver mounted under /usr/local/nvidia keeps
    # its libraries out of the linker's cache: put them on the path too.
    if ! ldconfig -p 2>/dev/null | grep -q 'libGLdispatch.so.0' \
        || ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
        mkdir -p "$work/vk"
        for deb in "$bundle"/*.deb; do
            [ -f "$deb" ] || continue
            if command -v dpkg-deb >/dev/null; then
                dpkg-deb -x "$deb" "$work/vk"
            else
                (cd "$work/vk" && ar x "$deb" && tar xf data.tar.* && rm -f data.tar.* control.tar.* debian-binary)
            fi
        done
        export LD_LIBRARY_PATH="$work/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
        [ -d "$dir" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$dir"
    done
    # NVIDIA's Vulkan driver lives in libGLX_nvidia.so.0; containers often lack its ICD file in
    # the standard places, and some mount the driver (with its ICD file) under /usr/local/nvidia.
    mounted_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    if ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
        :
    elif [ -f "$mounted_icd" ]; then
        export VK_DRIVER_FILES="$mounted_icd" VK_ICD_FILENAMES="$mounted_icd"
    else
        glx=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia.so.0/ {print $NF; exit}')
        if [ -n "$glx" ]; then
            printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$glx" > "$work/nvidia_icd.json"
            export VK_DRIVER_FILES="$work/nvidia_icd.json" VK_ICD_FILENAMES="$work/nvidia_icd.json"
        fi
    fi
else
    atelier="$here/target/release/atelier"
fi
[ -x "$atelier" ] || { echo "gpu-check: no binary at $atelier (build it, or give --bundle)" >&2; exit 1; }

if [ "$quick" = 1 ]; then
    # Software Vulkan compiles and tunes every kernel slowly: the smallest presets, one step.
    export CUBECL_AUTOTUNE_LEVEL=minimal
    presets="tiny-fastgan"
    gpu_args="--steps 1 --warmup 1 --sample-rounds 1"
    cpu_args="--steps 2 --warmup 1 --sample-rounds 1"
    ui_args="--preset tiny-fastgan --seconds 20 --warm-up-limit 240"
    ui_shots_args=""
else
    presets="dcgan-28 fastgan-64-rgb fastgan-128-rgb"
    gpu_args="--steps 40 --warmup 5 --sample-rounds 4"
    cpu_args="--steps 4 --warmup 2 --sample-rounds 1"
    ui_args="--preset fastgan-128-rgb --seconds 40 --warm-up-limit $ui_warm"
    ui_shots_args="--preset fastgan-64-rgb --seconds 15 --warm-up-limit 45 --shots 10000"
fi

left() { echo $((deadline - $(date +%s))); }
log() { echo "gpu-check [$(( $(date +%s) - started )) s] $*" >&2; }

# Runs one command under the time left; its JSON (or an error object) goes to $work/$1.json.
measure() {
    local name="$1"; shift
    local pattern wanted=0
    IFS=, read -ra patterns <<< "$only"
    for pattern in "${patterns[@]}"; do
        # shellcheck disable=SC2053  # a pattern on purpose
        [[ "$name" == $pattern ]] && wanted=1
    done
    [ "$wanted" = 1 ] || return 0
    names+=("$name")
    local budget; budget=$(left)
    # CAP=N: at most N seconds for this command, so one that hangs leaves time to the rest.
    [ "$quick" = 0 ] && [ -n "${CAP:-}" ] && [ "$CAP" -lt "$budget" ] && budget=$CAP
    if [ "$budget" -lt 10 ]; then
        log "$name: skipped, out of time"
        printf '{"name":"%s","error":"skipped: the time budget ran out"}' "$name" > "$work/$name.json"
        return
    fi
    log "$name: $*"
    local rc=0
    timeout "$budget" "$@" > "$work/$name.out" 2> "$work/$name.err" || rc=$?
    if [ "$rc" = 0 ]; then
        # `bench --json` prints one line; `bench-ui` prints a pretty object.
        { printf '{"name":"%s","figures":' "$name"; cat "$work/$name.out"; printf '}'; } > "$work/$name.json"
    else
        local why; why=$(grep -v XDG_RUNTIME_DIR "$work/$name.err" | tail -n 3 | tr '"\\\n\t' "'/  ")
        printf '{"name":"%s","error":"exit %s: %s"}' "$name" "$rc" "$why" > "$work/$name.json"
        log "$name failed: $why"
    fi
}

names=()
for p in $presets; do
    measure "wgpu-$p" "$atelier" bench --preset "$p" --device wgpu $gpu_args --json
done
# The same 128 px networks at batch 128: what the GPU gives when it is filled.
[ "$quick" = 0 ] && CAP=90 measure "wgpu-fastgan-128-rgb-batch-128" "$atelier" bench \
    --preset fastgan-128-rgb --device wgpu --batch 128 $gpu_args --json
# The CPU on two cores: the figure a designer's laptop (and CI) gives, for the 20x target.
cpu_pin=""
command -v taskset >/dev/null && cpu_pin="taskset -c 0,1"
for p in $presets; do
    measure "cpu2-$p" $cpu_pin "$atelier" bench --preset "$p" --device cpu $cpu_args --json
done
CAP=$((ui_warm + 60)) measure "ui-shared" "$atelier" bench-ui --compute shared $ui_args
if [ -n "$ui_shots_args" ]; then
    CAP=75 measure "ui-shared-10000-shots" "$atelier" bench-ui --compute shared $ui_shots_args
fi

# The autoregressive family: a likelihood step, and pixel-by-pixel sampling (784 passes a shot).
[ "$quick" = 0 ] && CAP=120 measure "wgpu-pixelcnn-28" "$atelier" bench --preset pixelcnn-28 \
    --device wgpu --steps 20 --warmup 3 --sample-rounds 1 --json

# PyTorch on CUDA, the same fastgan networks, after the check proper and on a minute of its own.
if [ "$with_torch" = 1 ] && [ "$quick" = 0 ]; then
    reference="$here/benches/fastgan_reference.py" preset_dir="$here/presets"
    if [ -n "$bundle" ]; then reference="$bundle/fastgan_reference.py" preset_dir="$bundle/presets"; fi
    if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
        deadline=$(( $(date +%s) + 60 ))
        for p in fastgan-64-rgb fastgan-128-rgb; do
            measure "torch-cuda-$p" python3 "$reference" --preset "$preset_dir/$p.toml" --device cuda $gpu_args
        done
    else
        log "torch: no python3 with CUDA here, skipped"
    fi
fi

gpu_name=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n1 | tr '"' "'")
{
    printf '{"atelier_gpu_check":1,"quick":%s,"date":"%s","host":"%s","cpus":%s,"gpu":"%s","seconds":%s,"results":[' \
        "$([ "$quick" = 1 ] && echo true || echo false)" "$(date -u +%FT%TZ)" "$(uname -srm)" \
        "$(nproc)" "$gpu_name" "$(( $(date +%s) - started ))"
    first=1
    for n in "${names[@]}"; do
        [ $first = 1 ] || printf ','
        first=0
        cat "$work/$n.json"
    done
    printf ']}\n'
} > "$out"
log "figures in $out"
