#!/usr/bin/env bash
# Compares this build's decoder with an earlier build's on the same GPU in the same run:
# throughput (N = 1, 7, 28; 3 runs each, interleaved) and the 32-pipeline cold start (fresh
# process, 3 runs each), both clips; memory per session once each.
# Needs stage/examples (scripts/stage-gpu.sh), base-bin/decode_bench and base-bin/pipelines
# (the earlier build's release examples) and bench-clips/. Results: $OUT/compare.jsonl,
# one JSON object per line with "build": "new" | "base".
set -uo pipefail
OUT=${OUT:-bench-out}
mkdir -p "$OUT"
R="$OUT/compare.jsonl"
: > "$R"
run() { # build binary args...
  local build=$1; shift
  timeout 120 "$@" 2>>"$OUT/compare.err" | sed "s/^{/{\"build\":\"$build\",/" | tee -a "$R"
}
for clip in bench-clips/h264_1080p30_8M.h264 bench-clips/hevc_1080p30_6M.hevc; do
  for rep in 1 2 3; do
    for n in 1 7 28; do
      run new stage/examples/decode_bench throughput "$clip" $n
      run base base-bin/decode_bench throughput "$clip" $n
    done
    run new stage/examples/decode_bench coldstart "$clip" 32
    run base base-bin/decode_bench coldstart "$clip" 32
  done
  run new stage/examples/decode_bench memory "$clip"
  run base base-bin/decode_bench memory "$clip"
done
