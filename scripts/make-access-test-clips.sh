#!/usr/bin/env bash
# Test clips for exact random access (tests/data/access/), each with CLIP.nv12.framemd5: ffmpeg's
# decode of the whole file, one MD5 per frame of its packed nv12 bytes, in display order.
# Frames at display index i must equal line i. Small (320x240, a few seconds) but with many
# GOPs and the structures that break naive seeking:
#   h264_bpyramid_opengop.mp4   x264, 3 B-frames with B-pyramid, open GOP, key frame every 24
#   hevc_opengop.mkv            x265, open GOP (CRA + RASL leading pictures), key frame every 24
#   h264_interlaced.mkv         x264 interlaced (MBAFF, top field first), woven frames
#   h264_reschange.mkv          three x264 segments concatenated: 320x240 -> 160x120 -> 480x360
#   vp9_altref.webm             libvpx-vp9, two-pass with alt-ref (hidden) frames inside
#                               superframes, key frame every 30
#   vp9_altref.ivf              the same packets in IVF (raw, indexed by one scan)
#   vp8_altref.ivf              libvpx VP8, two-pass with alt-ref frames stored as packets of
#                               their own that are never shown (ffmpeg outputs no frame for them)
#   h264_gop30_frag.mp4         fragmented MP4 (a fragment per GOP), B-frames
# Remuxes whose timestamps do not name the frames (the bitstream is unchanged, so ffmpeg's
# decode gives the same frames in the same order as the clip they come from):
#   h264_ptsdts.mp4             h264_bpyramid_opengop.mp4 with pts = dts (B-frames: the
#                               timestamps claim decode order)
#   hevc_ptsdts.mkv             hevc_opengop.mkv with pts = dts
#   h264_dup_pts.mp4            h264_bpyramid_opengop.mp4 with pts rounded down to 2 frames
#                               (ctts gives pairs of frames one timestamp)
#   vp8_altref_pts.ivf          vp8_altref.ivf with frame k at pts k/2 and frame 0 at i64::MIN
# Existing files are kept unless FORCE=1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/tests/data/access"
mkdir -p "$OUT"
FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
SRC=(-f lavfi -i testsrc2=size=320x240:rate=30 -pix_fmt yuv420p)
make() { # name, then ffmpeg output args
  local name=$1; shift
  [[ "${FORCE:-0}" == 1 || ! -s "$OUT/$name" ]] || return 0
  echo "making $name"
  "${FF[@]}" "$@" "$OUT/$name"
}
make h264_bpyramid_opengop.mp4 "${SRC[@]}" -frames:v 150 -c:v libx264 -preset medium -crf 28 \
  -x264-params "bframes=3:b-pyramid=normal:open-gop=1:keyint=24:min-keyint=24:scenecut=0"
make hevc_opengop.mkv "${SRC[@]}" -frames:v 150 -c:v libx265 -preset fast -crf 30 \
  -x265-params "log-level=error:keyint=24:min-keyint=24:open-gop=1:bframes=4:b-pyramid=1:scenecut=0"
make h264_interlaced.mkv "${SRC[@]}" -frames:v 90 -c:v libx264 -preset medium -crf 28 \
  -flags +ildct+ilme -x264-params "tff=1:keyint=30:min-keyint=30:scenecut=0"
if [[ "${FORCE:-0}" == 1 || ! -s "$OUT/h264_reschange.mkv" ]]; then
  echo "making h264_reschange.mkv"
  tmp=$(mktemp -d)
  for size in 320x240 160x120 480x360; do # parameter sets in-band at every key frame
    "${FF[@]}" -f lavfi -i testsrc2=size=$size:rate=30 -pix_fmt yuv420p -frames:v 30 -c:v libx264 \
      -preset medium -crf 28 -x264-params "repeat-headers=1:bframes=2:keyint=15:min-keyint=15:scenecut=0" \
      "$tmp/seg_$size.mp4"
    echo "file '$tmp/seg_$size.mp4'" >> "$tmp/list.txt"
  done
  "${FF[@]}" -f concat -safe 0 -i "$tmp/list.txt" -c copy "$OUT/h264_reschange.mkv"
  rm -rf "$tmp"
fi
two_pass() { # name, then ffmpeg output args: libvpx places alt-ref frames only in two-pass mode
  local name=$1; shift
  [[ "${FORCE:-0}" == 1 || ! -s "$OUT/$name" ]] || return 0
  echo "making $name"
  local log; log=$(mktemp -d)
  for pass in 1 2; do
    "${FF[@]}" "${SRC[@]}" -frames:v 120 "$@" -g 30 -b:v 300k -cpu-used 4 -lag-in-frames 25 \
      -auto-alt-ref 1 -threads 1 -pass $pass -passlogfile "$log/pass" "$OUT/$name"
  done
  rm -rf "$log"
}
two_pass vp9_altref.webm -c:v libvpx-vp9 -row-mt 0
[[ "${FORCE:-0}" != 1 && -s "$OUT/vp9_altref.ivf" ]] || "${FF[@]}" -i "$OUT/vp9_altref.webm" -c copy "$OUT/vp9_altref.ivf"
two_pass vp8_altref.ivf -c:v libvpx
make h264_gop30_frag.mp4 "${SRC[@]}" -frames:v 150 -c:v libx264 -preset medium -crf 28 \
  -x264-params "bframes=2:keyint=30:min-keyint=30:scenecut=0" -movflags +frag_keyframe+empty_moov+default_base_moof
remux() { # name, source, then ffmpeg output args
  local name=$1 src=$2; shift 2
  [[ "${FORCE:-0}" == 1 || ! -s "$OUT/$name" ]] || return 0
  echo "making $name"
  "${FF[@]}" -i "$OUT/$src" -c copy "$@" "$OUT/$name"
}
remux h264_ptsdts.mp4 h264_bpyramid_opengop.mp4 -bsf:v "setts=pts=DTS-STARTDTS:dts=DTS-STARTDTS"
remux hevc_ptsdts.mkv hevc_opengop.mkv -bsf:v "setts=pts=DTS-STARTDTS:dts=DTS-STARTDTS"
remux h264_dup_pts.mp4 h264_bpyramid_opengop.mp4 -bsf:v "setts=pts=trunc(PTS/1024)*1024"
if [[ "${FORCE:-0}" == 1 || ! -s "$OUT/vp8_altref_pts.ivf" ]]; then
  echo "making vp8_altref_pts.ivf"
  python3 - "$OUT/vp8_altref.ivf" "$OUT/vp8_altref_pts.ivf" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
pos, k = struct.unpack_from("<H", b, 6)[0], 0
while pos + 12 <= len(b):
    struct.pack_into("<q", b, pos + 4, -2**63 if k == 0 else k // 2)
    pos += 12 + struct.unpack_from("<I", b, pos)[0]
    k += 1
open(sys.argv[2], "wb").write(b)
PY
fi
for clip in "$OUT"/*.mp4 "$OUT"/*.mkv "$OUT"/*.webm "$OUT"/*.ivf; do
  ref="$clip.nv12.framemd5"
  [[ "${FORCE:-0}" == 1 || ! -s "$ref" ]] || continue
  "${FF[@]}" -i "$clip" -map 0:v:0 -fps_mode passthrough -autoscale 0 -pix_fmt nv12 \
    -fflags +bitexact -f framemd5 "$ref"
done
ls -la "$OUT"
