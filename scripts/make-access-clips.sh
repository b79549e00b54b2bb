#!/usr/bin/env bash
# Clips for the random-access and low-latency benchmarks, in bench-clips/ (git-ignored):
#   h264_1080p30_5min_gop250.mp4  5 min of 1920x1080 testsrc at 30 fps, libx264 superfast crf 30,
#                                 a key frame every 250 frames, 2 B-frames (~5 MB)
#   h264_1080p30_5min_gop30.mp4   the same with a key frame every 30 frames (~7 MB)
#   h264_1080p30_nob.h264         3 s of testsrc2, no B-frames (no reordering), Annex-B
# `testsrc` compresses far better than `testsrc2`, which keeps 5 minutes small enough to
# carry to the GPU machine; the frame count and size are what random access costs scale with.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench-clips"
mkdir -p "$OUT"
command -v ffmpeg >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ffmpeg; }
FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
for gop in 250 30; do
  f="$OUT/h264_1080p30_5min_gop$gop.mp4"
  [[ "${FORCE:-0}" == 1 || ! -s "$f" ]] || continue
  echo "making $(basename "$f")"
  "${FF[@]}" -f lavfi -i testsrc=size=1920x1080:rate=30 -frames:v 9000 -pix_fmt yuv420p \
    -c:v libx264 -preset superfast -crf 30 -g $gop -keyint_min $gop -sc_threshold 0 -bf 2 "$f"
done
f="$OUT/h264_1080p30_nob.h264"
if [[ "${FORCE:-0}" == 1 || ! -s "$f" ]]; then
  echo "making $(basename "$f")"
  "${FF[@]}" -f lavfi -i testsrc2=size=1920x1080:rate=30 -frames:v 90 -pix_fmt yuv420p \
    -c:v libx264 -preset medium -b:v 8M -bf 0 -f h264 "$f"
fi
ls -la "$OUT"
