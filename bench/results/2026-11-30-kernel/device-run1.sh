#!/usr/bin/env bash
# One GPU-machine call for the kernel work (issue 13); run from anywhere, writes to $OUT.
set -u
cd "$(dirname "$0")/.."
O=$OUT
{ date -u; nvidia-smi; } > $O/nvidia-smi.txt 2>&1
OUT=$O TESTS=" " bash scripts/gpu-frames.sh device > $O/ptx-log.txt 2>&1
if cmp -s $O/kernels.ptx src/convert/kernels.ptx; then echo "PTX: identical to the committed src/convert/kernels.ptx" >> $O/machine.txt
else echo "PTX: DIFFERS from the committed one" >> $O/machine.txt; diff $O/kernels.ptx src/convert/kernels.ptx | head -20 >> $O/machine.txt; fi
nvcc -O2 -o /tmp/kb bench/kernel/kernel_bench.cu -lcuda >> $O/ptx-log.txt 2>&1
echo "kernel_bench: $(date -u +%T)" >> $O/ptx-log.txt
timeout 240 /tmp/kb ../../src/convert/kernels.ptx $O/kernels.ptx stage/variants/new_lb8.ptx stage/variants/new_lb6.ptx > $O/kernel-bench.jsonl 2>&1
echo "{\"kernel_bench_exit\":$?}" >> $O/kernel-bench.jsonl
echo "gpu_convert: $(date -u +%T)" >> $O/ptx-log.txt
timeout 180 stage/tests/gpu_convert --include-ignored --test-threads=2 > $O/gpu-convert.txt 2>&1
echo "exit $?" >> $O/gpu-convert.txt
echo "decode_bench: $(date -u +%T)" >> $O/ptx-log.txt
B=stage/examples/decode_bench; R=$O/decode-bench.jsonl
H264=bench-clips/h264_1080p30_8M.h264; HEVC=bench-clips/hevc_1080p30_6M.hevc
for rep in 1 2 3; do
  for clip in $H264 $HEVC; do
    timeout 60 $B convertkernel $clip 2000 >> $R 2>&1
    BENCH_FRAME_STREAM=per-thread timeout 60 $B convertkernel $clip 2000 >> $R 2>&1
  done
done
for rep in 1 2 3; do
  for n in 7 28; do
    timeout 60 $B throughput $HEVC $n >> $R 2>&1
    BENCH_KEEP=rgb-into BENCH_FRAME_STREAM=per-thread timeout 60 $B throughput $HEVC $n >> $R 2>&1
  done
done
echo "done: $(date -u +%T)" >> $O/ptx-log.txt
