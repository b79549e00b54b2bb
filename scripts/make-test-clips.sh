#!/usr/bin/env bash
# Generate the small conformance clips in tests/data/ and their reference
# outputs (framemd5 per clip, raw NV12 for MPEG-2).
#
#   scripts/make-test-clips.sh            # make whatever is missing
#   FORCE=1 scripts/make-test-clips.sh    # remake everything
#
# The committed files are the truth: encoder output is not guaranteed to be
# identical across ffmpeg/x264/x265/libvpx versions, so this script skips any
# output that already exists (idempotent) unless FORCE=1.  It documents how the
# files were made.  Reference hashes are produced by scripts/make-reference-hashes.sh,
# which this script calls at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/tests/data"
FORCE="${FORCE:-0}"

if ! command -v ffmpeg >/dev/null 2>&1; then
    echo "ffmpeg not found; installing with apt-get" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y ffmpeg
fi

mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)

# need FILE: true when FILE must be (re)made.
need() {
    if [[ "$FORCE" == 1 || ! -s "$OUT/$1" ]]; then
        echo "making $1"
        return 0
    fi
    echo "keeping $1"
    return 1
}

src() {  # src W H [FILTER]  -> lavfi input arguments
    local w=$1 h=$2 f=${3:-testsrc2}
    echo "-f lavfi -i $f=size=${w}x${h}:rate=30"
}

x264_seg() {  # x264_seg W H FRAMES OUTFILE [extra args...]: one H.264 Annex-B segment
    local w=$1 h=$2 n=$3 o=$4; shift 4
    # shellcheck disable=SC2046
    "${FF[@]}" $(src "$w" "$h") -frames:v "$n" -pix_fmt yuv420p \
        -c:v libx264 -preset medium -crf 30 -threads 1 "$@" -f h264 "$o"
}

vp9_seg() {  # vp9_seg W H FRAMES OUTFILE [extra args...]: one VP9 IVF segment
    # Two-pass: libvpx only places alt-ref (hidden, non-shown) frames in 2-pass mode;
    # they show up as superframes (one IVF frame = hidden ARF + shown frame).
    local w=$1 h=$2 n=$3 o=$4 pass dst; shift 4
    for pass in 1 2; do
        dst="$o"; [[ $pass == 1 ]] && dst=/dev/null
        # shellcheck disable=SC2046
        "${FF[@]}" $(src "$w" "$h") -frames:v "$n" \
            -c:v libvpx-vp9 -b:v 300k -g 30 -cpu-used 4 -lag-in-frames 25 -auto-alt-ref 1 \
            -row-mt 0 -threads 1 -pass "$pass" -passlogfile "$TMP/vp9pass" "$@" -f ivf "$dst"
    done
}

# --- H.264 -------------------------------------------------------------------
# 640x360: coded height 368 (cropping), 3 B-frames, 2 GOPs.
if need h264_640x360_b3.h264; then
    x264_seg 640 360 60 "$OUT/h264_640x360_b3.h264" -bf 3 \
        -x264-params keyint=30:min-keyint=30:scenecut=0:b-adapt=0
fi

# 1080p: coded height 1088 (cropping), B-frames, small (CRF 35).
if need h264_1920x1080.h264; then
    # shellcheck disable=SC2046
    "${FF[@]}" $(src 1920 1080) -frames:v 10 -pix_fmt yuv420p \
        -c:v libx264 -preset medium -crf 35 -bf 2 -threads 1 \
        -x264-params keyint=10:min-keyint=10:scenecut=0:b-adapt=0 \
        -f h264 "$OUT/h264_1920x1080.h264"
fi

# 642x362: neither dimension a multiple of 16 (coded 656x368).
if need h264_642x362.h264; then
    x264_seg 642 362 20 "$OUT/h264_642x362.h264" -bf 2 \
        -x264-params keyint=20:min-keyint=20:scenecut=0:b-adapt=0
fi

# 640x364: the same coded size as h264_640x360_b3 (640x368) with another display height,
# for decoders reused across streams (a pooled decoder must not keep the old crop).
if need h264_640x364.h264; then
    x264_seg 640 364 15 "$OUT/h264_640x364.h264" -bf 2 \
        -x264-params keyint=15:min-keyint=15:scenecut=0:b-adapt=0
fi

# Resolution change: independently encoded segments (each SPS/PPS/IDR) concatenated.
# 640x360 (10) -> 320x180 (10) -> 1280x720 (10) -> 640x360 (5) = 35 frames.
if need h264_reschange.h264; then
    x264_seg 640 360 10 "$TMP/rc1.h264" -bf 2 -x264-params keyint=30:scenecut=0:b-adapt=0
    x264_seg 320 180 10 "$TMP/rc2.h264" -bf 2 -x264-params keyint=30:scenecut=0:b-adapt=0
    x264_seg 1280 720 10 "$TMP/rc3.h264" -bf 2 -x264-params keyint=30:scenecut=0:b-adapt=0
    x264_seg 640 360 5 "$TMP/rc4.h264" -bf 2 -x264-params keyint=30:scenecut=0:b-adapt=0
    cat "$TMP/rc1.h264" "$TMP/rc2.h264" "$TMP/rc3.h264" "$TMP/rc4.h264" > "$OUT/h264_reschange.h264"
fi

# --- HEVC --------------------------------------------------------------------
if need hevc_640x360_main.hevc; then
    # shellcheck disable=SC2046
    "${FF[@]}" $(src 640 360) -frames:v 30 -pix_fmt yuv420p \
        -c:v libx265 -preset fast -crf 30 -profile:v main \
        -x265-params bframes=3:keyint=30:min-keyint=30:scenecut=0:b-adapt=0:frame-threads=1:pools=none:log-level=error \
        -f hevc "$OUT/hevc_640x360_main.hevc"
fi

if need hevc_640x360_main10.hevc; then
    # shellcheck disable=SC2046
    "${FF[@]}" $(src 640 360) -frames:v 30 -pix_fmt yuv420p10le \
        -c:v libx265 -preset fast -crf 30 -profile:v main10 \
        -x265-params bframes=3:keyint=30:min-keyint=30:scenecut=0:b-adapt=0:frame-threads=1:pools=none:log-level=error \
        -f hevc "$OUT/hevc_640x360_main10.hevc"
fi

# --- VP8 / VP9 -------------------------------------------------------------------
if need vp8_640x360.ivf; then
    # shellcheck disable=SC2046
    "${FF[@]}" $(src 640 360) -frames:v 30 -pix_fmt yuv420p \
        -c:v libvpx -b:v 300k -g 30 -cpu-used 4 -threads 1 -f ivf "$OUT/vp8_640x360.ivf"
fi

# Profile 0 (8-bit); alt-ref frames on (2-pass), which yields hidden frames (superframes).
if need vp9_640x360_p0.ivf; then
    vp9_seg 640 360 30 "$OUT/vp9_640x360_p0.ivf" -pix_fmt yuv420p
fi

# Profile 2 (10-bit 4:2:0).
if need vp9_640x360_p2.ivf; then
    vp9_seg 640 360 30 "$OUT/vp9_640x360_p2.ivf" -pix_fmt yuv420p10le -profile:v 2
fi

# VP9 resolution change, same layout as the H.264 one (each segment starts with a keyframe).
if need vp9_reschange.ivf; then
    vp9_seg 640 360 10 "$TMP/rc1.ivf" -pix_fmt yuv420p
    vp9_seg 320 180 10 "$TMP/rc2.ivf" -pix_fmt yuv420p
    vp9_seg 1280 720 10 "$TMP/rc3.ivf" -pix_fmt yuv420p
    vp9_seg 640 360 5 "$TMP/rc4.ivf" -pix_fmt yuv420p
    python3 "$ROOT/scripts/ivf_concat.py" "$OUT/vp9_reschange.ivf" \
        "$TMP/rc1.ivf" "$TMP/rc2.ivf" "$TMP/rc3.ivf" "$TMP/rc4.ivf"
fi

# --- MPEG-2 ------------------------------------------------------------------------
# Small (320x176, 16 frames) so that its raw NV12 reference stays under 1.5 MB.
if need mpeg2_320x176.m2v; then
    # shellcheck disable=SC2046
    "${FF[@]}" $(src 320 176) -frames:v 16 -pix_fmt yuv420p \
        -c:v mpeg2video -bf 2 -g 12 -q:v 4 -threads 1 -f mpeg2video "$OUT/mpeg2_320x176.m2v"
fi

# --- AV1 (only used to check that AV1 decode is reported as unsupported) -----------
if need av1_320x240.ivf; then
    # shellcheck disable=SC2046
    if ! "${FF[@]}" $(src 320 240 mandelbrot) -frames:v 10 -pix_fmt yuv420p \
            -c:v libaom-av1 -usage realtime -cpu-used 8 -threads 1 -f ivf "$OUT/av1_320x240.ivf"; then
        echo "libaom-av1 failed; trying libsvtav1" >&2
        # shellcheck disable=SC2046
        "${FF[@]}" $(src 320 240 mandelbrot) -frames:v 10 -pix_fmt yuv420p \
            -c:v libsvtav1 -preset 12 -f ivf "$OUT/av1_320x240.ivf"
    fi
fi

"$ROOT/scripts/make-reference-hashes.sh"

echo
echo "tests/data total size:"
du -sh "$OUT"
du -cb "$OUT"/* | tail -n 1
