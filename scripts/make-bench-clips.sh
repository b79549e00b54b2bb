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
# LONG=1 makes only the 5-minute file for scripts/bench-python.py's random access (issue 20):
#   h264_1080p30_5min_400k.mp4  libx264 preset veryfast, 400 kb/s (maxrate 400k, bufsize 800k),
#                               9000 frames of 1920x1080 testsrc2 at 30 fps, a key frame every
#                               250 frames (-g 250 -keyint_min 250, no scene cuts), default B-frames
#                               (~15 MB, to fit the 64 MiB carry beside both wheels and the 10 s clip)
#   h264_1080p30_5min_400k.mp4.framemd5  ffmpeg's NV12 MD5 of every frame, in display order
# Its bitrate differs from the earlier random-access benchmark's GOP 250 file
# (scripts/make-access-clips.sh: testsrc, crf 30, ~5 MB) and from the 8 Mb/s throughput clip:
# compare its seconds only with runs on this same file.
# LIVE=1 makes only the live-benchmark clips (examples/live_bench.rs, bench/pynv_live.py):
#   h264_1080p30_live.ts   libx264 preset veryfast, tune zerolatency (no B-frames), 3 Mb/s
#                          (maxrate 3M, bufsize 1.5M), a key frame every 60 frames, 360 frames
#                          (12 s) of 1920x1080 testsrc2 at 30 fps, in MPEG-TS as ffmpeg muxes it
#   hevc_1080p30_live.ts   libx265 preset veryfast, tune zerolatency, 2 Mb/s, otherwise as above
#   *.ts.framemd5          ffmpeg's NV12 MD5 of every frame
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

if [[ "${LIVE:-0}" == 1 ]]; then
    LSRC=(-f lavfi -i testsrc2=size=1920x1080:rate=30 -frames:v 360 -pix_fmt yuv420p)
    for spec in "h264_1080p30_live.ts|libx264|-b:v 3M -maxrate 3M -bufsize 1500k" \
                "hevc_1080p30_live.ts|libx265|-b:v 2M -maxrate 2M -bufsize 1000k -x265-params log-level=error"; do
        IFS='|' read -r name enc rate <<<"$spec"
        f="$OUT/$name"
        if [[ "$FORCE" == 1 || ! -s "$f" ]]; then
            echo "making $name"
            # shellcheck disable=SC2086
            "${FF[@]}" "${LSRC[@]}" -c:v "$enc" -preset veryfast -tune zerolatency $rate \
                -g 60 -keyint_min 60 -sc_threshold 0 -f mpegts "$f"
            rm -f "$f.framemd5"
        fi
        if [[ ! -s "$f.framemd5" ]]; then
            "${FF[@]}" -i "$f" -map 0:v:0 -fps_mode passthrough -autoscale 0 -pix_fmt nv12 \
                -fflags +bitexact -f framemd5 "$f.framemd5"
        fi
        printf '%-24s %10d bytes %5s frames\n' "$name" "$(stat -c %s "$f")" "$(grep -vc '^#' "$f.framemd5")"
    done
    exit 0
fi

if [[ "${LONG:-0}" == 1 ]]; then
    f="$OUT/h264_1080p30_5min_400k.mp4"
    if [[ "$FORCE" == 1 || ! -s "$f" ]]; then
        echo "making $(basename "$f") (9000 frames; a few minutes)"
        "${FF[@]}" -f lavfi -i testsrc2=size=1920x1080:rate=30 -frames:v 9000 -pix_fmt yuv420p \
            -c:v libx264 -preset veryfast -b:v 400k -maxrate 400k -bufsize 800k \
            -g 250 -keyint_min 250 -sc_threshold 0 -movflags +faststart "$f"
        rm -f "$f.framemd5"
    fi
    if [[ ! -s "$f.framemd5" ]]; then
        echo "making $(basename "$f").framemd5"
        "${FF[@]}" -i "$f" -map 0:v:0 -fps_mode passthrough -autoscale 0 -pix_fmt nv12 \
            -fflags +bitexact -f framemd5 "$f.framemd5"
    fi
    n="$(grep -vc '^#' "$f.framemd5")"
    printf '%-32s %10d bytes %5s frames (framemd5 lines)\n' "$(basename "$f")" "$(stat -c %s "$f")" "$n"
    exit 0
fi

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
