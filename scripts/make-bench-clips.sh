#!/usr/bin/env bash
# Generate the benchmark clips in bench-clips/ (git-ignored; ~17 MB):
#   h264_1080p30_8M.h264   libx264, 8 Mb/s, preset medium, default B-frames, 300 frames
#   hevc_1080p30_6M.hevc   libx265, 6 Mb/s, preset medium, default B-frames, 300 frames
#   h264_360p_2s.h264      libx264, 1 Mb/s, 640x360, 60 frames (the short-clip benchmark)
# Both are 10 s of 1920x1080 testsrc2 at 30 fps, Annex-B elementary streams.
# Existing files are kept unless FORCE=1.
# SMALL=1 makes only the two 1080p clips, at half the bitrate, to fit the device tool's 64 MiB
# carry beside the PyNvVideoCodec wheel (~9 MB together instead of ~18 MB):
#   h264_1080p30_4M.h264   libx264, 4 Mb/s (maxrate 4M, bufsize 8M), otherwise as above
#   hevc_1080p30_3M.hevc   libx265, 3 Mb/s, otherwise as above
# (a different bitrate from the earlier benchmarks' clips: fewer bits per frame to decode).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench-clips"
FORCE="${FORCE:-0}"

if ! command -v ffmpeg >/dev/null 2>&1; then
    echo "ffmpeg not found; installing with apt-get" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y ffmpeg
fi
mkdir -p "$OUT"

FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
SRC=(-f lavfi -i testsrc2=size=1920x1080:rate=30 -frames:v 300 -pix_fmt yuv420p)

if [[ "${SMALL:-0}" == 1 ]]; then
    if [[ "$FORCE" == 1 || ! -s "$OUT/h264_1080p30_4M.h264" ]]; then
        echo "making h264_1080p30_4M.h264"
        "${FF[@]}" "${SRC[@]}" -c:v libx264 -preset medium -b:v 4M -maxrate 4M -bufsize 8M \
            -f h264 "$OUT/h264_1080p30_4M.h264"
    fi
    if [[ "$FORCE" == 1 || ! -s "$OUT/hevc_1080p30_3M.hevc" ]]; then
        echo "making hevc_1080p30_3M.hevc"
        "${FF[@]}" "${SRC[@]}" -c:v libx265 -preset medium -b:v 3M \
            -x265-params log-level=error -f hevc "$OUT/hevc_1080p30_3M.hevc"
    fi
    for f in "$OUT/h264_1080p30_4M.h264" "$OUT/hevc_1080p30_3M.hevc"; do
        n="$(ffprobe -v error -count_frames -select_streams v:0 \
            -show_entries stream=nb_read_frames -of default=nw=1:nk=1 "$f")"
        printf '%-28s %10d bytes %5s frames\n' "$(basename "$f")" "$(stat -c %s "$f")" "$n"
    done
    exit 0
fi

if [[ "$FORCE" == 1 || ! -s "$OUT/h264_1080p30_8M.h264" ]]; then
    echo "making h264_1080p30_8M.h264"
    "${FF[@]}" "${SRC[@]}" -c:v libx264 -preset medium -b:v 8M -maxrate 8M -bufsize 16M \
        -f h264 "$OUT/h264_1080p30_8M.h264"
fi

if [[ "$FORCE" == 1 || ! -s "$OUT/hevc_1080p30_6M.hevc" ]]; then
    echo "making hevc_1080p30_6M.hevc"
    "${FF[@]}" "${SRC[@]}" -c:v libx265 -preset medium -b:v 6M \
        -x265-params log-level=error -f hevc "$OUT/hevc_1080p30_6M.hevc"
fi

# The short clip is encoded into MP4 (PyNvVideoCodec's SimpleDecoder needs a seekable
# container with timestamps) and the same stream extracted as Annex-B for decode_bench.
if [[ "$FORCE" == 1 || ! -s "$OUT/h264_360p_2s.mp4" ]]; then
    echo "making h264_360p_2s.mp4 / .h264"
    "${FF[@]}" -f lavfi -i testsrc2=size=640x360:rate=30 -frames:v 60 -pix_fmt yuv420p \
        -c:v libx264 -preset medium -b:v 1M "$OUT/h264_360p_2s.mp4"
    "${FF[@]}" -i "$OUT/h264_360p_2s.mp4" -c:v copy -bsf:v h264_mp4toannexb -f h264 \
        "$OUT/h264_360p_2s.h264"
fi

for f in "$OUT"/*.h264 "$OUT"/*.hevc; do
    n="$(ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=nb_read_frames -of default=nw=1:nk=1 "$f")"
    printf '%-28s %10d bytes %5s frames\n' "$(basename "$f")" "$(stat -c %s "$f")" "$n"
done
du -sh "$OUT"
