#!/usr/bin/env bash
# Single-decoder throughput, init hold and memory per session as a function of the number
# of decode surfaces (chooses the per-codec defaults). Output: $OUT/matrix.jsonl
set -uo pipefail
OUT=${OUT:-bench-out}; mkdir -p "$OUT"; B=stage/examples/decode_bench
for clip in bench-clips/h264_1080p30_8M.h264 bench-clips/hevc_1080p30_6M.hevc; do
  for s in ${SURFACES:-6 8 10 12 16 20}; do
    for rep in 1 2; do BENCH_SURFACES=$s timeout 60 $B throughput "$clip" 1 | tee -a "$OUT/matrix.jsonl"; done
    BENCH_SURFACES=$s timeout 60 $B throughput "$clip" 7 | tee -a "$OUT/matrix.jsonl"
    BENCH_SURFACES=$s timeout 60 $B memory "$clip" | sed "s/}\$/,\"surfaces\":$s}/" | tee -a "$OUT/matrix.jsonl"
  done
done
