#!/usr/bin/env bash
# One call on the GPU machine, from the repository root with `stage/` (scripts/stage-gpu.sh)
# carried; writes everything under $OUT (at most a few files: the device tool brings back 8).
#
#   scripts/gpu-verify.sh tests   every staged GPU test (not gpu_nvenc: no NVENC on the lent
#                                 GPUs; not gpu_pool's two_gpus on one GPU), churns of
#                                 NVCG_CHURN_SECS (default 20) s
#   scripts/gpu-verify.sh bench   the benchmarks of issues 12 §7, 13 and 14 with PyNvVideoCodec
#                                 in the same run (needs `.whl/` and the bench clips named below)
#   scripts/gpu-verify.sh convert decode + planar f32 against decode only (issue 13), CLIPS
#   scripts/gpu-verify.sh memory  peak RSS of a 2 GB stream against a 10 MB one (issue 14)
#   scripts/gpu-verify.sh long    throughput runs of >= 5 s each, ours and PyNvVideoCodec alternately in
#                                 the same call (needs `.whl/` and the bench clips; see the mode)
#   scripts/gpu-verify.sh python  the Python package's tests with PyTorch (needs the wheel in
#                                 stage/wheels and stage/python-tests: scripts/stage-python.sh)
#   scripts/gpu-verify.sh pybench the Python benchmarks of issue 20 against PyNvVideoCodec in one
#                                 process, with the Rust throughput runs they compare with (needs
#                                 the wheel in stage/wheels, stage/examples/decode_bench, `.whl/`
#                                 and bench-clips/h264_1080p30_4M.h264 + the LONG=1 5-minute file)
#   scripts/gpu-verify.sh live    issue 19: device memory per session (live sizing or not),
#                                 full-speed throughput of low-latency decoders against default
#                                 ones (>= 5 s runs), the live benchmark (N paced 1080p30 TS-over-UDP streams)
#                                 and PyNvVideoCodec's low-latency decoder on the same paced
#                                 packets (needs `LIVE=1 scripts/make-bench-clips.sh`, the 4M clip,
#                                 stage/, and `.whl/` unless PYNV=0)
set -uo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
machine() {
  { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    date -u +%Y-%m-%dT%H:%M:%SZ; git rev-parse HEAD 2>/dev/null; } | tee "$OUT/machine.txt"
}
case "${1:-}" in
tests)
  machine
  # The decode example's random access, by hand: frames 10, 149 and 5 of a test clip.
  stage/examples/decode tests/data/access/hevc_opengop.mkv --at 10,149,5 --md5 > "$OUT/at.txt" 2>&1
  grep -v '^#' tests/data/access/hevc_opengop.mkv.nv12.framemd5 | sed -n '11p;150p;6p' \
    | awk -F, '{print $6}' > "$OUT/at-ref.txt"
  echo "decode --at md5s: $(grep -c '^0,' "$OUT/at.txt") lines; reference lines 11,150,6:"; cat "$OUT/at.txt" "$OUT/at-ref.txt"
  export NVCG_CHURN_SECS=${NVCG_CHURN_SECS:-20}
  status=0
  for t in stage/tests/gpu_*; do
    name=$(basename "$t")
    case $name in gpu_nvenc) continue ;; esac
    skip=()
    [[ $name == gpu_pool ]] && [[ $(nvidia-smi -L | wc -l) -lt 2 ]] && skip=(--skip two_gpus)
    echo "== $name" | tee -a "$OUT/tests.log"
    timeout 300 "$t" --include-ignored --test-threads=2 "${skip[@]}" >> "$OUT/tests.log" 2>&1
    rc=$?
    echo "== $name exit $rc" | tee -a "$OUT/tests.log"
    grep -E "^test result|FAILED|panicked" "$OUT/tests.log" | tail -3
    [[ $rc == 0 ]] || status=1
  done
  grep -E "^== |^test result" "$OUT/tests.log" > "$OUT/summary.txt"
  exit $status
  ;;
bench)
  machine
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || { echo "PyNvVideoCodec wheel did not install"; exit 1; }
  export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
  B=stage/examples/decode_bench
  R="$OUT/bench.jsonl"
  : > "$R"
  H264=bench-clips/h264_1080p30_8M.h264
  # Issue 14: random access, ours (one decoder, and 7 at once) and PyNvVideoCodec's
  # SimpleDecoder, the same indices; seed 0's frames checked against ffmpeg's framemd5 of the
  # whole clip (bench-clips/CLIP.framemd5, made beside the clips) where present.
  random_access() {
    for gop in 250 30; do
      clip=bench-clips/h264_1080p30_5min_gop$gop.mp4
      for k in ${RANDOM_DECODERS:-1 7}; do
        BENCH_DECODERS=$k BENCH_MD5_OUT="$OUT/ours$k-md5-gop$gop.json" timeout 240 $B random "$clip" 32 ${SEEDS:-3} | tee -a "$R"
      done
      timeout 300 python3 bench/pynv_random_access.py "$clip" --count 32 --seeds ${SEEDS:-3} \
        --md5-out "$OUT/pynv-md5-gop$gop.json" | tee -a "$R"
    done
    python3 - "$OUT" <<'PY' | tee -a "$OUT/summary.txt"
import json, os, sys
out = sys.argv[1]
for gop in (250, 30):
    clip = f"bench-clips/h264_1080p30_5min_gop{gop}.mp4"
    ref = {}
    if os.path.exists(clip + ".framemd5"):
        lines = [l for l in open(clip + ".framemd5") if not l.startswith("#") and l.strip()]
        ref = {str(i): l.split(",")[5].strip() for i, l in enumerate(lines)}
    for who in ("ours1", "ours7", "pynv"):
        try:
            got = next(iter(json.load(open(f"{out}/{who}-md5-gop{gop}.json")).values()))
        except Exception as e:
            print(f"gop{gop} {who}: no md5s ({e})"); continue
        if ref:
            same = sum(1 for k, v in got.items() if ref.get(k) == v)
            print(f"gop{gop} {who}: {same}/{len(got)} frames equal to ffmpeg's at their index")
PY
  }
  keep_md5s() { # one file for all (the device tool brings back at most 8)
    for f in "$OUT"/*-md5-*.json; do echo "$(basename "$f") $(cat "$f")"; done > "$OUT/md5s.txt"
    rm -f "$OUT"/*-md5-*.json
  }
  if [[ ${ONLY:-} == random ]]; then random_access; keep_md5s; exit 0; fi
  random_access
  keep_md5s
  # Issue 12 §7: streams that end must not slow streams that start (H.264; 60 s churn).
  OUT="$OUT/churn" CLIPS=$H264 REPS=${REPS:-3} CHURN_S=${CHURN_S:-60} bash bench/run-churn-bench.sh \
    > "$OUT/churn.log" 2>&1
  cat "$OUT/churn/summary.txt" | tee -a "$OUT/summary.txt"
  cp "$OUT/churn/churn.jsonl" "$OUT/churn.jsonl" 2>/dev/null
  rm -rf "$OUT/churn"
  # Issue 14: low latency, and the streaming path against packets loaded before timing.
  timeout 60 $B latency bench-clips/h264_1080p30_nob.h264 30 | tee -a "$R"
  for rep in 1 2; do
    for n in 1 28; do
      timeout 120 $B throughput $H264 $n | tee -a "$R"
      BENCH_STREAM=1 timeout 120 $B throughput $H264 $n | tee -a "$R"
    done
  done
  # Issue 13: decode + convert to planar f32, resized output, the kernel alone; PyNv RGBP.
  for n in 7 28; do
    timeout 120 $B throughput $H264 $n | tee -a "$R"
    BENCH_KEEP=rgb timeout 120 $B throughput $H264 $n | tee -a "$R"
    BENCH_FRAME_STREAM=per-thread BENCH_KEEP=rgb-into timeout 120 $B throughput $H264 $n | tee -a "$R"
    BENCH_SIZE=640x360 timeout 120 $B throughput $H264 $n | tee -a "$R"
    BENCH_CROP=420,0,1080,1080 BENCH_SIZE=224x224 timeout 120 $B throughput $H264 $n | tee -a "$R"
  done
  timeout 120 python3 bench/pynv_rgb.py $H264 RGBP 7,28 | tee -a "$R"
  BENCH_FRAME_STREAM=per-thread timeout 120 $B convertkernel $H264 2000 | tee -a "$R"
  ;;
convert)
  # Issue 13: decode + planar f32 against decode only, 7 and 28 decoders, each clip 4 passes per
  # decoder (runs of about 1 s), twice: waited per frame (`rgb`), queued on a non-blocking
  # stream per decoder (`rgb-into` + `own`) and on the per-thread default stream (`per-thread`).
  machine
  B=stage/examples/decode_bench
  R="$OUT/convert.jsonl"
  : > "$R"
  export BENCH_PASSES=${PASSES:-4}
  for clip in ${CLIPS:-bench-clips/hevc_1080p30_6M.hevc bench-clips/h264_1080p30_8M.h264}; do
    for n in 7 28; do
      for rep in 1 2; do
        timeout 120 $B throughput "$clip" $n | tee -a "$R"
        BENCH_KEEP=rgb timeout 120 $B throughput "$clip" $n | tee -a "$R"
        BENCH_KEEP=rgb-into BENCH_FRAME_STREAM=own timeout 120 $B throughput "$clip" $n | tee -a "$R"
        BENCH_KEEP=rgb-into BENCH_FRAME_STREAM=per-thread timeout 120 $B throughput "$clip" $n | tee -a "$R"
      done
    done
  done
  python3 - "$R" <<'PY' | tee -a "$OUT/summary.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
groups = {}
for r in rows:
    key = (r["codec"], r["n"])
    groups.setdefault(key, {}).setdefault((r["keep"], r["frame_stream"]), []).append(r["fps"])
for (codec, n), g in sorted(groups.items()):
    base = statistics.median(g.get(("map", "wait"), [float("nan")]))
    for k, v in sorted(g.items()):
        m = statistics.median(v)
        print(f"{codec} {n:>2} decoders {k[0]:>8} {k[1]:>10}: {m:7.1f} fps ({m / base:.3f}x of decode only) {v}")
PY
  ;;
live)
  machine
  B=stage/examples/decode_bench
  L=stage/examples/live_bench
  R="$OUT/live.jsonl"
  : > "$R"
  H=bench-clips/h264_1080p30_live.ts
  V=bench-clips/hevc_1080p30_live.ts
  F=bench-clips/h264_1080p30_4M.h264
  echo "== gpu_live and gpu_ts"
  for t in gpu_live gpu_ts; do
    timeout 200 stage/tests/$t --include-ignored --test-threads=1 --nocapture > "$OUT/$t.log" 2>&1
    echo "$t exit $?: $(grep -E '^test result' "$OUT/$t.log")"
  done
  echo "== memory per session (8 decoders, 10 frames each)"
  for clip in $H $V $F; do
    for env in "BENCH_LOW_LATENCY=0" "BENCH_LOW_LATENCY=1" "BENCH_LOW_LATENCY=1 BENCH_SURFACES=2"; do
      echo "{\"env\":\"$env\"}" >> "$R"
      env $env timeout 60 $B memory "$clip" | tee -a "$R"
    done
  done
  echo "== file throughput at full speed, low-latency sizing or not (7 decoders, >= 5 s)"
  for rep in 1 2; do
    for ll in 0 1; do
      echo "{\"env\":\"BENCH_LOW_LATENCY=$ll\",\"rep\":$rep}" >> "$R"
      BENCH_LOW_LATENCY=$ll BENCH_PASSES=10 timeout 90 $B throughput $H 7 | tee -a "$R"
    done
  done
  echo "== live: TS over UDP, pooled low-latency decoders"
  timeout 200 $L $H --ns ${LIVE_NS:-50,100,150,175} --seconds 10 | tee -a "$R"
  timeout 120 $L $V --ns ${LIVE_NS_HEVC:-150,200} --seconds 10 | tee -a "$R"
  echo "== live: paced packets (the PyNvVideoCodec workload)"
  timeout 120 $L $H --ns ${LIVE_NS_PACKETS:-100,150} --seconds 10 --mode packets | tee -a "$R"
  if [[ ${PYNV:-1} == 1 ]]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || { echo "PyNvVideoCodec wheel did not install"; exit 1; }
    PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 timeout 200 python3 bench/pynv_live.py $H \
      --ns ${LIVE_NS_PACKETS:-100,150} --seconds 10 | tee -a "$R"
  fi
  ;;
memory)
  # Issue 14: peak resident memory decoding a >= 2 GB file through the streaming path against
  # a 10 MB one (the 1080p clip repeated 200 times as one Annex-B stream, made here).
  machine
  big=/tmp/h264_2GB.h264
  for i in $(seq 200); do cat bench-clips/h264_1080p30_8M.h264; done > "$big"
  for clip in bench-clips/h264_1080p30_8M.h264 "$big"; do
    python3 - "$clip" <<'PY' | tee -a "$OUT/summary.txt"
import os, resource, subprocess, sys, time
clip = sys.argv[1]
t = time.time()
p = subprocess.run(["stage/examples/decode", clip], capture_output=True, text=True)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{clip}: {os.path.getsize(clip) / 1e6:.1f} MB decoded in {time.time() - t:.1f} s, exit {p.returncode}, "
      f"peak RSS {rss / 1024:.1f} MiB; {p.stderr.strip().splitlines()[-1][:160] if p.stderr.strip() else ''}")
PY
  done
  rm -f "$big"
  ;;
long)
  # Throughput in runs of >= 5 s each, so that start-up does not flatter anyone: ours
  # (`BENCH_PASSES=K decode_bench throughput CLIP N`) and PyNvVideoCodec (bench/pynv_long.py:
  # N threads, one decoder each, K passes over the pre-demuxed clip), alternately, REPS (2)
  # times each, for every clip in CLIPS and N in NS ("1 7"; "1 7 28" with a larger BUDGET_S).
  # K per codec and N: the passes that take TARGET_S (6) s at a generous rate (GEN = 1.3 x our
  # usual H100/H200 rate: H.264 670 fps for one decoder, 4,600 aggregate for several; HEVC
  # 1,280 / 8,600), so each run lasts >= TARGET_S / GEN (4.6 s) only if the GPU beats our usual
  # rate by 30 %, and ~TARGET_S x GEN (7.8 s) at it; wall_s of every run is printed. A run whose
  # estimate (at our usual rate, PyNv at 70 % of it) would end past BUDGET_S (240) s after the
  # mode started is skipped and recorded as skipped. DRY=1 prints the plan and runs nothing.
  # Writes $OUT/long.jsonl (one line per run) and $OUT/long-summary.txt (the table).
  [[ ${DRY:-0} == 1 ]] || machine
  t_start=$SECONDS
  BUDGET_S=${BUDGET_S:-240}; TARGET_S=${TARGET_S:-6}; GEN=${GEN:-1.3}; FRAMES=${FRAMES:-300}
  if [[ ${DRY:-0} != 1 ]]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || { echo "PyNvVideoCodec wheel did not install"; exit 1; }
  fi
  export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
  B=stage/examples/decode_bench
  R="$OUT/long.jsonl"
  : > "$R"
  if [[ -z ${CLIPS:-} ]]; then # the full-bitrate clips, else the SMALL=1 ones
    for pair in h264_1080p30_8M.h264,h264_1080p30_4M.h264 hevc_1080p30_6M.hevc,hevc_1080p30_3M.hevc; do
      for c in ${pair//,/ }; do
        if [[ -s bench-clips/$c ]]; then CLIPS="${CLIPS:-} bench-clips/$c"; break; fi
      done
    done
  fi
  [[ -n ${CLIPS:-} ]] || { echo "no bench clips (scripts/make-bench-clips.sh)"; exit 1; }
  echo "long: clips$CLIPS; NS=${NS:-1 7}; target ${TARGET_S} s at ${GEN} x the usual rate; budget ${BUDGET_S} s"
  status=0
  for clip in $CLIPS; do
    case $clip in
      *.h264|*.264) codec=h264; rate1=670; rate_agg=4600 ;;
      *.hevc|*.265) codec=hevc; rate1=1280; rate_agg=8600 ;;
      *) echo "skipping $clip: not .h264/.hevc"; continue ;;
    esac
    for n in ${NS:-1 7}; do
      # usual aggregate rate for n decoders: n x one decoder's, at most the several-decoder figure
      read -r passes est_ours est_pynv to <<<"$(awk -v n="$n" -v r1="$rate1" -v ra="$rate_agg" \
        -v t="$TARGET_S" -v g="$GEN" -v f="$FRAMES" 'BEGIN {
          r = n * r1; if (r > ra) r = ra
          p = t * g * r / (f * n); k = int(p); if (k < p) k++; if (k < 1) k = 1
          eo = k * f * n / r + 2; ep = k * f * n / (0.7 * r) + 4
          to = int(3 * ep + 20); if (to > 150) to = 150
          printf "%d %.1f %.1f %d", k, eo, ep, to }')"
      echo "$codec N=$n: $passes passes ($((passes * FRAMES)) frames per decoder); estimated ${est_ours} s ours, ${est_pynv} s PyNv per run (with start-up); timeout ${to} s"
      [[ ${DRY:-0} == 1 ]] && continue
      for rep in $(seq "${REPS:-2}"); do
        for who in ours pynv; do
          est=$est_ours; [[ $who == pynv ]] && est=$est_pynv
          used=$((SECONDS - t_start))
          if awk -v u="$used" -v e="$est" -v b="$BUDGET_S" 'BEGIN { exit !(u + e > b) }'; then
            echo "{\"who\":\"$who\",\"bench_codec\":\"$codec\",\"n\":$n,\"passes\":$passes,\"rep\":$rep,\"skipped\":\"budget: ${used} s used of ${BUDGET_S}, ~${est} s needed\"}" | tee -a "$R"
            continue
          fi
          tmp="$OUT/long.tmp"
          if [[ $who == ours ]]; then
            BENCH_PASSES=$passes timeout "$to" $B throughput "$clip" "$n" > "$tmp" 2>>"$OUT/long.log"
            rc=$?
          else
            timeout "$to" python3 bench/pynv_long.py "$clip" "$n" "$passes" --expected-frames "$FRAMES" \
              > "$tmp" 2>>"$OUT/long.log"
            rc=$?
          fi
          ins="\"bench_codec\":\"$codec\",\"rep\":$rep,"; [[ $who == ours ]] && ins="\"who\":\"ours\",$ins" # pynv_long.py says who
          line=$(grep '^{' "$tmp" | tail -1 | sed "s/^{/{$ins/")
          rm -f "$tmp"
          if [[ -z $line ]]; then
            line="{\"who\":\"$who\",\"bench_codec\":\"$codec\",\"n\":$n,\"passes\":$passes,\"rep\":$rep,\"error\":\"exit $rc, no result (stderr in long.log)\"}"
          fi
          [[ $rc == 0 ]] || status=1
          echo "$line" | tee -a "$R" | cut -c1-400
        done
      done
    done
  done
  [[ ${DRY:-0} == 1 ]] && exit 0
  echo "long: $((SECONDS - t_start)) s in all"
  python3 bench/long_table.py "$R" "$FRAMES" | tee "$OUT/long-summary.txt"
  [[ ${PIPESTATUS[0]} == 0 ]] || status=1
  exit $status
  ;;
python)
  machine
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/nvcg-site stage/wheels/nvcodec_guard-*.whl || { echo "the wheel did not install"; exit 1; }
  repo="$PWD"
  # From outside the repository, so the installed package (not the source folder) is imported.
  (cd /tmp && PYTHONPATH=/tmp/nvcg-site NVCG_REPO="$repo" PYTHONUNBUFFERED=1 \
    timeout 400 python3 -m pytest -q -rs -p no:cacheprovider "$repo/stage/python-tests") \
    2>&1 | tee "$OUT/python.log" | tail -40
  exit "${PIPESTATUS[0]}"
  ;;
pybench)
  # Issue 20: scripts/bench-python.py --compare (throughput at 1, 7 and 28 threads with frames
  # consumed as torch tensors, planar f32 at one decoder, 32 random frames of the 5-minute
  # file, 32 streams from a pool; ours and PyNvVideoCodec in the same process), right after
  # the Rust runs it is compared with: `BENCH_PASSES=K decode_bench throughput CLIP N` for N = 1
  # and 7 with the same K (script's --print-passes), frames mapped (`map`) and copied into a
  # reused buffer (`BENCH_KEEP=pool`, what the package does with every native frame), both with
  # one decoder per thread and packets read before the clock, and the same workload as the
  # Python runs (`same`: BENCH_POOL=1 BENCH_KEEP=pool, a pool checkout and the clip read from
  # its path per pass). NS (1,7,28), STEPS (all) and PREFETCH (e.g. 0,4: one run of ours per
  # decode-ahead depth) go to the script; the Rust runs are those of NS among 1 and 7.
  # BUDGET_S (390) bounds the whole mode: a Rust run or Python step that would end past it is
  # skipped and recorded as skipped; the Python script is also killed at the budget + 30 s.
  # Writes $OUT/pybench.jsonl (every run), $OUT/pybench.log (stderr) and prints the table last
  # ($OUT/pybench-summary.txt). DRY=1 prints the plan and runs nothing.
  t_start=$SECONDS
  BUDGET_S=${BUDGET_S:-390}
  CLIP=${CLIP:-bench-clips/h264_1080p30_4M.h264}
  LONGCLIP=${LONGCLIP:-bench-clips/h264_1080p30_5min_400k.mp4}
  B=stage/examples/decode_bench
  R="$OUT/pybench.jsonl"
  [[ -s $CLIP ]] || { echo "no $CLIP (SMALL=1 scripts/make-bench-clips.sh)"; exit 1; }
  [[ -s $LONGCLIP ]] || echo "no $LONGCLIP (LONG=1 scripts/make-bench-clips.sh): random access will be skipped"
  k1=$(python3 scripts/bench-python.py --print-passes 1) && k7=$(python3 scripts/bench-python.py --print-passes 7) \
    || { echo "bench-python.py --print-passes failed"; exit 1; }
  NS=${NS:-1,7,28}
  STEPS=${STEPS:-throughput,planar,random,pool}
  rust_ns=$(echo "$NS" | tr ',' '\n' | grep -xE '1|7' | tr '\n' ' ')
  [[ ,$STEPS, == *,throughput,* ]] || rust_ns=""
  pyargs=(--ns "$NS" --steps "$STEPS")
  [[ -n ${PREFETCH:-} ]] && pyargs+=(--prefetch "$PREFETCH")
  echo "pybench: clip $CLIP, long $LONGCLIP; K = $k1 passes at N=1, $k7 at N=7 (Rust and Python); budget ${BUDGET_S} s"
  [[ ${DRY:-0} == 1 ]] && exit 0
  machine
  : > "$R"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/nvcg-site stage/wheels/nvcodec_guard-*.whl || { echo "the wheel did not install"; exit 1; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/pynvvideocodec-*.whl || { echo "PyNvVideoCodec wheel did not install"; exit 1; }
  echo "pybench: wheels installed after $((SECONDS - t_start)) s"
  for n in $rust_ns; do
    k=$k1; [[ $n == 7 ]] && k=$k7
    for keep in same map pool; do
      tag="\"keep\":\"$keep\",\"decoders\":\"own\""
      [[ $keep == same ]] && tag="\"keep\":\"pool\",\"decoders\":\"pool\""
      est=$(( k * 300 * n / (n == 1 ? 670 : 4600) + 3 ))
      used=$((SECONDS - t_start))
      if (( used + est > BUDGET_S )); then
        echo "{\"who\":\"rust\",\"mode\":\"throughput\",\"n\":$n,$tag,\"passes\":$k,\"skipped\":\"budget: $used s used of $BUDGET_S, ~$est s needed\"}" | tee -a "$R"
        continue
      fi
      envs=(BENCH_PASSES=$k); [[ $keep == pool ]] && envs+=(BENCH_KEEP=pool)
      [[ $keep == same ]] && envs+=(BENCH_KEEP=pool BENCH_POOL=1)
      line=$(env "${envs[@]}" timeout 90 $B throughput "$CLIP" $n 2>>"$OUT/pybench.log" | grep '^{' | tail -1)
      [[ -n $line ]] || line="{\"mode\":\"throughput\",\"n\":$n,$tag,\"passes\":$k,\"error\":\"no result (stderr in pybench.log)\"}"
      echo "$line" | sed 's/^{/{"who":"rust",/' | tee -a "$R"
    done
  done
  left=$((BUDGET_S - (SECONDS - t_start))); (( left > 1 )) || left=1
  echo "pybench: Rust runs done after $((SECONDS - t_start)) s; Python script budget ${left} s"
  # From outside the repository root's crates/ (the installed package is imported); the script
  # finds bench/pynv_bench.py beside scripts/ by its own path.
  PYTHONPATH=/tmp/nvcg-site:/tmp/site PYTHONUNBUFFERED=1 timeout $((left + 30)) \
    python3 scripts/bench-python.py --compare --clip "$CLIP" --long "$LONGCLIP" --out "$R" \
      --budget-s "$left" "${pyargs[@]}" 2>>"$OUT/pybench.log" | cut -c1-600
  rc=${PIPESTATUS[0]}
  [[ $rc == 0 ]] || { echo "bench-python.py exit $rc (stderr, last lines:)"; tail -20 "$OUT/pybench.log"; }
  echo "pybench: $((SECONDS - t_start)) s in all"
  echo
  python3 scripts/bench-python.py --table "$R" | tee "$OUT/pybench-summary.txt"
  status=${PIPESTATUS[0]}
  [[ $rc == 0 ]] || status=1
  exit $status
  ;;
*) echo "usage: scripts/gpu-verify.sh tests|bench|convert|memory|long|python|pybench|live" >&2; exit 2 ;;
esac
