#!/usr/bin/env bash
# Issue 12 §7 on the GPU machine: do streams that end slow streams that start?
#
# 32 pipelines start together, each decoding a 10 s 1080p clip (300 frames):
#   keep            every decoder kept until all 32 have their first frame (no destroy in the way)
#   drop-when-done  each pipeline drops its decoder as soon as its clip is decoded, so destroys
#                   (cuvidDestroyDecoder, up to ~230 ms each) happen while others still start
#   first-frame-only  each pipeline stops decoding at its first frame (no decoding competes
#                   with the creations), kept until all have theirs
#   pynv-keep, pynv-drop-when-done  PyNvVideoCodec with the same workloads as keep and
#                   drop-when-done (bench/pynv_pipelines.py: 32 threads, each creating demuxer +
#                   decoder and decoding the whole clip)
#   pynv            PyNvVideoCodec's cold start (bench/pynv_coldstart_gpus.py: 32 threads, each
#                   creating demuxer + decoder, to its first frame): first-frame-only's workload
# each a fresh process, interleaved, REPS times per clip. Then a 60 s churn per clip (32
# pipelines building, decoding 60 frames, dropping, again): the most teardowns ever queued and
# the device memory used at most in the first and the last 10 s (flat: about equal).
#
# Target: drop-when-done's last first frame (median) within 5 % of keep's and below
# PyNvVideoCodec's with the same workload (pynv-drop-when-done);
# churn memory flat, queued teardowns bounded (init::MAX_YIELDING_TEARDOWNS + a few).
#
# Needs stage/examples (scripts/stage-gpu.sh), bench-clips/ (scripts/make-bench-clips.sh) and
# .whl/ (the PyNvVideoCodec wheel). SKIP_PYNV=1 leaves the peer out; REPS (default 5) and
# CHURN_S (default 60) as named. Results: $OUT/churn.jsonl (one JSON object per line, with
# "run": keep | drop-when-done | pynv | churn), $OUT/machine.txt, $OUT/summary.txt.
set -uo pipefail
OUT=${OUT:-bench-out}
REPS=${REPS:-5}
CHURN_S=${CHURN_S:-60}
mkdir -p "$OUT"
P=stage/examples/pipelines
R="$OUT/churn.jsonl"
: > "$R"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  date -u +%Y-%m-%dT%H:%M:%SZ
  git rev-parse HEAD 2>/dev/null
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"
if [ "${SKIP_PYNV:-0}" != 1 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || { echo "PyNvVideoCodec wheel did not install"; exit 1; }
  export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
fi
tag() { # run-name: prefixes every JSON line read on stdin with "run" and keeps it
  sed -n "s/^{/{\"run\":\"$1\",/p" | tee -a "$R"
}
CLIPS=${CLIPS:-"bench-clips/h264_1080p30_8M.h264 bench-clips/hevc_1080p30_6M.hevc"}
for clip in $CLIPS; do
  for rep in $(seq "$REPS"); do
    timeout 120 $P --keep 32 "$clip" 2>>"$OUT/churn.err" | tag keep
    timeout 120 $P --drop-when-done 32 "$clip" 2>>"$OUT/churn.err" | tag drop-when-done
    timeout 120 $P --first-frame-only 32 "$clip" 2>>"$OUT/churn.err" | tag first-frame-only
    if [ "${SKIP_PYNV:-0}" != 1 ]; then
      for m in keep drop-when-done; do
        timeout 150 python3 bench/pynv_pipelines.py "$clip" 32 $m 2>>"$OUT/churn.err" | tag pynv-$m
      done
      timeout 150 python3 bench/pynv_coldstart_gpus.py "$clip" 32 0 2>>"$OUT/churn.err" \
        | sed "s|^{|{\"clip\":\"$clip\",|" | tag pynv
    fi
  done
done
for clip in $CLIPS; do
  timeout $((CHURN_S + 180)) $P --churn "$CHURN_S" 32 "$clip" 2>>"$OUT/churn.err" | tag churn
done
python3 - "$R" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def last_ff(r):
    return r.get("last_first_frame_s") or r.get("wall_to_last_first_frame_s")
for clip in sorted({r.get("clip") for r in rows if r.get("clip")}):
    med = {}
    for run in ("keep", "drop-when-done", "first-frame-only", "pynv-keep", "pynv-drop-when-done", "pynv"):
        xs = [last_ff(r) for r in rows if r["run"] == run and r.get("clip") == clip and last_ff(r)]
        if xs:
            med[run] = statistics.median(xs)
            print(f"{clip} {run:15} last first frame: median {med[run]:.3f} s, "
                  f"min {min(xs):.3f}, max {max(xs):.3f} ({len(xs)} runs)")
    if "keep" in med and "drop-when-done" in med:
        ratio = med["drop-when-done"] / med["keep"]
        peer = med.get("pynv-drop-when-done", float("inf"))
        verdict = "MET" if ratio <= 1.05 and med["drop-when-done"] < peer else "NOT MET"
        print(f"{clip} drop-when-done / keep = {ratio:.3f}; target (<= 1.05 and below "
              f"pynv-drop-when-done): {verdict}")
    for r in rows:
        if r["run"] == "churn" and r.get("clip") == clip:
            print(f"{clip} churn {r.get('churn_s')} s: {r.get('creations')} creations, "
                  f"max {r.get('max_pending_teardowns')} teardowns queued, used MiB max "
                  f"first 10 s {r.get('used_mib_max_first_10s')}, last 10 s "
                  f"{r.get('used_mib_max_last_10s')}, drained {r.get('teardowns_drained')}")
PY
