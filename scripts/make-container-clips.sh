#!/usr/bin/env bash
# Generate the small container clips in tests/data/containers/ and ffmpeg's reference
# demux of each (read by crates/input/tests/input_containers.rs).
#
#   scripts/make-container-clips.sh            # make whatever is missing
#   FORCE=1 scripts/make-container-clips.sh    # remake everything
#
# Every clip is 12 frames of 320x240 testsrc at 25 fps, keyframe every 6 frames (so the
# parameter sets are inserted twice), B-frames where the codec has them (so pts != dts).
# For each CLIP the script writes:
#   CLIP.framemd5   ffmpeg -copyts -c:v copy -f framemd5: per-packet pts/dts/size/MD5, in
#                   decode order, timestamps as the container stores them. For H.264/HEVC the packets first go through h264_mp4toannexb /
#                   hevc_mp4toannexb, so the MD5s are of the Annex-B access units.
#   CLIP.h264/.hevc the Annex-B stream ffmpeg extracts (H.264/HEVC), or
#   CLIP.ivf        the frames as IVF (VP8/VP9/AV1; ffmpeg's IVF muxer inserts an AV1
#                   temporal delimiter OBU at the start of each AV1 frame).
#
# The committed files are the truth: encoder output differs across ffmpeg/x264/x265/libvpx/
# libaom versions, so existing outputs are kept unless FORCE=1. Made with ffmpeg 5.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/tests/data/containers"
FORCE="${FORCE:-0}"
command -v ffmpeg >/dev/null || { echo "ffmpeg not found (apt-get install ffmpeg)" >&2; exit 1; }
mkdir -p "$OUT"

FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
SRC=(-f lavfi -i testsrc=size=320x240:rate=25 -frames:v 12 -pix_fmt yuv420p)
# Reproducible output: no encoder/muxer version strings, no creation time.
EXACT=(-map_metadata -1 -fflags +bitexact -flags:v +bitexact)

H264=(-c:v libx264 -preset veryfast -crf 36 -g 6 -keyint_min 6 -sc_threshold 0 -bf 2 -threads 1)
HEVC=(-c:v libx265 -preset veryfast -crf 36 -x265-params log-level=error:keyint=6:min-keyint=6:scenecut=0:bframes=2:pools=1:frame-threads=1)
VP8=(-c:v libvpx -b:v 150k -g 6 -deadline realtime -cpu-used 8 -threads 1)
VP9=(-c:v libvpx-vp9 -b:v 150k -g 6 -deadline realtime -cpu-used 8 -row-mt 0 -threads 1)
AV1=(-c:v libaom-av1 -b:v 150k -g 6 -cpu-used 8 -usage realtime -threads 1)

# clip NAME CODEC ENCODER-AND-MUXER-ARGS...: NAME is the file name (with extension).
clip() {
    local name=$1 codec=$2; shift 2
    if [[ "$FORCE" != 1 && -s "$OUT/$name" ]]; then echo "keeping $name"; else
        echo "making $name"
        "${FF[@]}" "${SRC[@]}" "$@" "${EXACT[@]}" "$OUT/$name"
    fi
    local in="$OUT/$name" bsf=()
    case $codec in
        h264) bsf=(-bsf:v h264_mp4toannexb) ;;
        hevc) bsf=(-bsf:v hevc_mp4toannexb) ;;
    esac
    case $codec in
        h264|hevc) "${FF[@]}" -i "$in" -map 0:v:0 -c:v copy "${bsf[@]}" -f "$codec" "$in.$codec" ;;
        *) "${FF[@]}" -i "$in" -map 0:v:0 -c:v copy -f ivf "$in.ivf" ;;
    esac
    # -copyts: the container's own pts. Without it the ffmpeg tool shifts every timestamp by
    # the file's start time (e.g. by -1024 for the fragmented MP4, which has no edit list).
    "${FF[@]}" -copyts -i "$in" -map 0:v:0 -c:v copy "${bsf[@]}" -f framemd5 "$in.framemd5"
    # Decoded frames (what the GPU tests compare NVDEC's output with), packed NV12.
    if [[ $codec != av1 ]]; then
        "${FF[@]}" -i "$in" -map 0:v:0 -fps_mode passthrough -autoscale 0 -pix_fmt nv12 \
            -fflags +bitexact -f framemd5 "$in.nv12.framemd5"
    fi
}

clip h264.mp4 h264 "${H264[@]}"
clip h264_frag.mp4 h264 "${H264[@]}" -movflags frag_keyframe+empty_moov
clip hevc_hvc1.mp4 hevc "${HEVC[@]}" -tag:v hvc1
clip hevc_hev1.mp4 hevc "${HEVC[@]}" -tag:v hev1
clip vp9.mp4 vp9 "${VP9[@]}"
clip av1.mp4 av1 "${AV1[@]}"
clip h264.mkv h264 "${H264[@]}"
clip hevc.mkv hevc "${HEVC[@]}"
clip vp8.webm vp8 "${VP8[@]}"
clip vp9.webm vp9 "${VP9[@]}"
clip av1.webm av1 "${AV1[@]}"
du -ch "$OUT"/* | tail -1
