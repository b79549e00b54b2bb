#!/usr/bin/env bash
# Write reference outputs for the clips in tests/data/ (called by make-test-clips.sh):
#   CLIP.framemd5  one MD5 per decoded frame, in ffmpeg's framemd5 format, of the
#                  frame in NVDEC's semi-planar layout with no padding:
#                    8-bit  -> nv12   (Y plane, then interleaved UV)
#                    10-bit -> p010le (same, 16-bit LE words, sample in the high 10 bits,
#                              like NVDEC's P016 output for 10-bit streams)
#                  Every frame keeps its own decoded size (-autoscale 0: no scaler is
#                  inserted on resolution changes) and no frame is dropped or duplicated
#                  (-fps_mode passthrough).  The "size" column is the frame's byte size
#                  (w*h*3/2 for nv12, w*h*3 for p010le).  Frames are in display order.
#                  -fflags +bitexact drops the "#software" header line, so the file
#                  does not depend on the ffmpeg version.
#   mpeg2_*.nv12   the raw decoded MPEG-2 frames (nv12, concatenated): MPEG-2 IDCT is not
#                  bit-exact by standard, so MPEG-2 output is compared by PSNR.
# AV1 clips get no reference (they only test "unsupported" reporting).
# Existing outputs are kept unless FORCE=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/tests/data"
FORCE="${FORCE:-0}"
FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)

shopt -s nullglob
for clip in "$DATA"/*.h264 "$DATA"/*.hevc "$DATA"/*.ivf "$DATA"/*.m2v; do
    name="$(basename "$clip")"
    case "$name" in av1_*) continue ;; esac

    src_fmt="$(ffprobe -v error -select_streams v:0 -show_entries stream=pix_fmt \
        -of default=nw=1:nk=1 "$clip")"
    case "$src_fmt" in
        yuv420p) fmt=nv12 ;;
        yuv420p10le) fmt=p010le ;;
        *) echo "$name: unexpected pixel format $src_fmt" >&2; exit 1 ;;
    esac

    ref="$clip.framemd5"
    if [[ "$FORCE" == 1 || ! -s "$ref" ]]; then
        echo "hashing $name as $fmt"
        "${FF[@]}" -i "$clip" -map 0:v:0 -fps_mode passthrough -autoscale 0 \
            -pix_fmt "$fmt" -fflags +bitexact -f framemd5 "$ref"
    fi

    if [[ "$name" == mpeg2_* ]]; then
        raw="${clip%.m2v}.nv12"
        if [[ "$FORCE" == 1 || ! -s "$raw" ]]; then
            echo "writing raw $(basename "$raw")"
            "${FF[@]}" -i "$clip" -map 0:v:0 -fps_mode passthrough -autoscale 0 \
                -pix_fmt nv12 -f rawvideo "$raw"
        fi
    fi
done
