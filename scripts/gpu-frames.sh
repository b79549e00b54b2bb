#!/usr/bin/env bash
# The frames work (issue 13) on a GPU machine, in two halves:
#
#   scripts/gpu-frames.sh stage    here (Rust, no GPU): builds the release test binaries and
#                                  examples the GPU half runs into stage/ (git-ignored).
#   scripts/gpu-frames.sh device   there (nvcc, GPU, no Rust): regenerates the PTX of
#                                  kernels/convert.cu (written to $OUT/convert.ptx with the
#                                  source's SHA-256 in its header; commit it as
#                                  kernels/convert.ptx), then runs the staged GPU tests,
#                                  logs in $OUT.
#
# The PTX: `nvcc -ptx -arch=compute_75` (Turing, the oldest target nvcc 13 accepts; every
# GPU this crate's conversion supports has NVDEC and is sm_75 or newer). nvcc 13.0 writes
# `.version 9.0`, which drivers before R580 cannot JIT; see src/convert/mod.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

ptx_header() {
    local sha; sha="$(sha256sum kernels/convert.cu | cut -d' ' -f1)"
    echo "// Generated from kernels/convert.cu by scripts/gpu-frames.sh; do not edit."
    echo "// source-sha256: $sha"
    echo "// compiler: $1"
}

case "${1:-}" in
stage)
    target="${CARGO_TARGET_DIR:-target}"
    rm -rf stage && mkdir -p stage/tests stage/examples
    cargo test --release --no-run --test gpu_convert --test gpu_decode --test gpu_pool --test gpu_containers --message-format=json 2>/dev/null \
        | python3 -c '
import json, sys, shutil, os
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        shutil.copy(m["executable"], os.path.join("stage/tests", m["target"]["name"]))
'
    cargo build --release -q --example decode --example decode_bench
    cp "$target/release/examples/decode" "$target/release/examples/decode_bench" stage/examples/
    strip stage/tests/* stage/examples/* 2>/dev/null || true
    du -sh stage
    ;;
device)
    OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
    { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nvcc --version | tail -2; } \
        | tee "$OUT/machine.txt"
    nvcc -ptx -arch=compute_75 -O3 -o /tmp/convert.ptx kernels/convert.cu
    { ptx_header "$(nvcc --version | tail -1) -ptx -arch=compute_75 -O3"; cat /tmp/convert.ptx; } > "$OUT/convert.ptx"
    grep -m2 -E '^\.(version|target)' /tmp/convert.ptx | tee -a "$OUT/machine.txt"
    nvcc -cubin -arch=sm_90 -Xptxas -v -o /tmp/convert.cubin kernels/convert.cu 2>&1 | grep -E "registers|spill" | head -12 >> "$OUT/machine.txt" || true
    status=0
    for t in ${TESTS:-gpu_convert}; do
        echo "== $t" | tee -a "$OUT/tests.log"
        stage/tests/"$t" --include-ignored --test-threads=2 --nocapture 2>&1 | tee -a "$OUT/tests.log" || status=1
    done
    if [[ -n "${EXAMPLES:-}" ]]; then
        log="$OUT/examples.log"
        ex() { echo "\$ $*" >> "$log"; "$@" >> "$log" 2>&1 || { echo "(exit $?)" >> "$log"; status=1; }; }
        d=tests/data
        ex stage/examples/decode $d/h264_320x240_bt709_full.h264 --rgb rgb --png --out /tmp/o709 --frames 1
        ex stage/examples/decode $d/h264_1280x720_bt601.h264 --rgb rgb --png --out /tmp/o601 --frames 1
        ex stage/examples/decode $d/h264_1920x1080.h264 --crop 420,0,1080,1080 --size 224x224 --rgb bgra --png --out /tmp/ocrop --frames 1
        ex stage/examples/decode $d/hevc_640x360_main10.hevc --rgb planar:f32 --out /tmp/of32 --frames 2
        cp /tmp/o709/frame-0000.png "$OUT/ours_bt709_full.png" || true
        cp /tmp/o601/frame-0000.png "$OUT/ours_bt601.png" || true
        cp /tmp/ocrop/frame-0000.png "$OUT/ours_crop224.png" || true
        ls -l /tmp/of32 >> "$log" 2>&1 || true
        ex stage/examples/decode_bench convertkernel $d/h264_1920x1080.h264 500
        BENCH_FRAME_STREAM=per-thread ex stage/examples/decode_bench convertkernel $d/h264_1920x1080.h264 500
        BENCH_KEEP=rgb ex stage/examples/decode_bench throughput $d/h264_1920x1080.h264 2
        BENCH_KEEP=rgb-into BENCH_FRAME_STREAM=per-thread ex stage/examples/decode_bench throughput $d/h264_1920x1080.h264 2
        BENCH_SIZE=640x360 ex stage/examples/decode_bench throughput $d/h264_1920x1080.h264 2
        ex stage/examples/decode_bench throughput $d/h264_1920x1080.h264 2
    fi
    exit $status
    ;;
*)
    echo "usage: $0 stage|device" >&2; exit 2 ;;
esac
