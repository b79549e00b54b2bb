#!/usr/bin/env bash
# The decoder-pool benchmark (issue 8) on the GPU machine, with PyNvVideoCodec in the same run.
# Needs stage/examples, bench-clips/ (scripts/make-bench-clips.sh) and .whl/ (the wheel).
# DEVICES=0,1 adds the two-GPU measurements. Results: $OUT/pool.jsonl, $OUT/pynv_pool.jsonl.
set -uo pipefail
OUT=${OUT:-bench-out}
DEVICES=${DEVICES:-0}
mkdir -p "$OUT"
B=stage/examples/decode_bench
R="$OUT/pool.jsonl"
: > "$R"
H264=bench-clips/h264_1080p30_8M.h264
HEVC=bench-clips/hevc_1080p30_6M.hevc
SHORT=bench-clips/h264_360p_2s.h264
for rep in 1 2 3; do
  for clip in $H264 $HEVC; do
    timeout 120 $B poolstart "$clip" 32 "$DEVICES" | tee -a "$R"
    timeout 120 $B coldstart "$clip" 32 | tee -a "$R"
  done
  for how in new pool reuse; do timeout 120 $B shortclips $SHORT 7 20 $how | tee -a "$R"; done
done
timeout 120 $B memory $H264 | tee -a "$R"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
P="$OUT/pynv_pool.jsonl"
: > "$P"
for rep in 1 2 3; do
  timeout 200 python3 bench/pynv_shortclips.py ${SHORT%.h264}.mp4 7 20 | tee -a "$P"
  for clip in $H264 $HEVC; do
    timeout 120 python3 bench/pynv_coldstart_gpus.py "$clip" 32 "$DEVICES" | tee -a "$P"
  done
done
