#!/usr/bin/env bash
# Second GPU-machine call: the crate before (decode_bench_old, the kernel of main) and after
# (decode_bench) this branch's kernel, side by side in one session; writes to $OUT.
set -u
cd "$(dirname "$0")/.."
O=$OUT
{ date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; } > $O/machine2.txt 2>&1
R=$O/ab.jsonl
H264=bench-clips/h264_1080p30_8M.h264; HEVC=bench-clips/hevc_1080p30_6M.hevc
bin() { [ $1 = old ] && echo stage/examples/decode_bench_old || echo stage/examples/decode_bench; }
tag() { sed "s/^{/{\"kernel\":\"$1\",/"; }
for rep in 1 2 3; do
  for k in old new; do
    for clip in $H264 $HEVC; do
      BENCH_FRAME_STREAM=per-thread timeout 60 $(bin $k) convertkernel $clip 2000 2>>$O/stderr.txt | tag $k >> $R
    done
  done
done
for n in 7 28; do
  reps=5; [ $n = 28 ] && reps=3
  for rep in $(seq $reps); do
    timeout 60 $(bin new) throughput $HEVC $n 2>>$O/stderr.txt | tag none >> $R
    for k in old new; do
      BENCH_KEEP=rgb-into BENCH_FRAME_STREAM=per-thread timeout 60 $(bin $k) throughput $HEVC $n 2>>$O/stderr.txt | tag $k >> $R
    done
  done
done
for rep in 1 2 3; do
  timeout 60 $(bin new) throughput $H264 7 2>>$O/stderr.txt | tag none >> $R
  for k in old new; do
    BENCH_KEEP=rgb-into BENCH_FRAME_STREAM=per-thread timeout 60 $(bin $k) throughput $H264 7 2>>$O/stderr.txt | tag $k >> $R
  done
done
echo "done $(date -u +%T)" >> $O/machine2.txt
