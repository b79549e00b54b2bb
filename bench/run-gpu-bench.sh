#!/usr/bin/env bash
# Runs nvcodec-guard's decode benchmark and NVIDIA's PyNvVideoCodec yardstick on the same
# clips, in the same session, on the GPU machine. Needs `stage/` (scripts/stage-gpu.sh),
# `bench-clips/` (scripts/make-bench-clips.sh) and `.whl/` (the pynvvideocodec wheel).
# Results: $OUT/ours.jsonl, $OUT/pynv_results.json, logs beside them.
set -uo pipefail
OUT=${OUT:-bench-out}
mkdir -p "$OUT"
B=stage/examples/decode_bench
{
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  date -u +%Y-%m-%dT%H:%M:%SZ
} > "$OUT/machine.txt"
: > "$OUT/ours.jsonl"
for clip in bench-clips/h264_1080p30_8M.h264 bench-clips/hevc_1080p30_6M.hevc; do
  for rep in 1 2 3; do
    for n in 1 2 4 7 14 28; do timeout 120 $B throughput "$clip" $n | tee -a "$OUT/ours.jsonl"; done
  done
  timeout 60 $B passes "$clip" | tee -a "$OUT/ours.jsonl"
  for n in 1 8 32; do
    timeout 120 $B coldstart "$clip" $n | tee -a "$OUT/ours.jsonl"
    timeout 120 $B coldstart "$clip" $n warm | tee -a "$OUT/ours.jsonl"
  done
  timeout 120 $B memory "$clip" | tee -a "$OUT/ours.jsonl"
done
timeout 120 $B teardown bench-clips/h264_1080p30_8M.h264 8 | tee -a "$OUT/ours.jsonl"
if [ "${SKIP_PYNV:-0}" != 1 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 timeout 300 python3 bench/pynv_bench.py --clips bench-clips --out "$OUT" ${PYNV_ARGS:-} \
    > "$OUT/pynv.log" 2>&1
  tail -40 "$OUT/pynv.log"
fi
