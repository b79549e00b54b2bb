#!/usr/bin/env bash
# Generate the small MPEG-TS clips in tests/data/ts/ and ffmpeg's references for each
# (read by crates/input/tests/input_ts.rs on the CPU and tests/gpu_ts.rs on the GPU).
#
#   scripts/make-ts-clips.sh            # make whatever is missing
#   FORCE=1 scripts/make-ts-clips.sh    # remake everything
#
# Clips (60 frames of 320x240 testsrc at 30 fps, keyframe every 30 frames unless said):
#   h264_b3.ts       H.264 with 3 B-frames (pts != dts), 188-byte packets
#   h264_b3.m2ts     the same stream as M2TS (192-byte packets with a 4-byte arrival-time prefix)
#   hevc_main10.ts   HEVC Main 10 with B-frames
#   mpeg2.ts         MPEG-2 video with B-frames
#   h264_wrap.ts     H.264 whose 33-bit PTS wraps around mid-clip (-output_ts_offset just
#                    under 2^33 / 90000 s)
#   h264_pmt.ts      two TS files back to back: the second has another PMT version
#                    (-tables_version 1) and another video PID, its timestamps follow the first's
#   h264_live.ts     H.264 as a live encoder makes it: -tune zerolatency (no B-frames, one
#                    reference), what the UDP and low-latency tests stream
#   hevc_live.ts     HEVC, -tune zerolatency, 8-bit
#   h264_lossy.ts    a 320x240 H.264 clip (keyframe every 10 frames) with 1 in 40 TS packets
#                    deleted at random (fixed seed); h264_lossy.ts.dropped lists each deleted
#                    packet's number and PID
# For each CLIP:
#   CLIP.framemd5       ffmpeg -copyts -c:v copy -f framemd5: the packets ffmpeg's demuxer gives
#                       (pts/dts in 1/90000, size, MD5 of the Annex-B / MPEG-2 bytes), decode order
#   CLIP.nv12.framemd5  ffmpeg's decode (-copyts: pts in 1/90000 as in the file, unwrapped), NV12
#                       (P010 for 10-bit), what the GPU test compares NVDEC's frames with
# h264_pmt.ts's references are the concatenations of its two halves' references (ffmpeg's
# own demux of the joined file sees two streams and would decode only the first).
#
# The committed files are the truth (encoder and muxer output differ across versions);
# existing outputs are kept unless FORCE=1. Made with ffmpeg 5.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/tests/data/ts"
FORCE="${FORCE:-0}"
command -v ffmpeg >/dev/null || { echo "ffmpeg not found (apt-get install ffmpeg)" >&2; exit 1; }
mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
EXACT=(-map_metadata -1 -fflags +bitexact -flags:v +bitexact)

want() { [[ "$FORCE" == 1 || ! -s "$OUT/$1" ]]; }

SRC=(-f lavfi -i testsrc=size=320x240:rate=30 -frames:v 60)
H264=(-pix_fmt yuv420p -c:v libx264 -preset veryfast -crf 30 -g 30 -bf 3 -threads 1)
HEVC=(-pix_fmt yuv420p10le -c:v libx265 -preset veryfast -crf 30
      -x265-params log-level=error:keyint=30:bframes=3:pools=1:frame-threads=1)
MPEG2=(-pix_fmt yuv420p -c:v mpeg2video -q:v 6 -g 15 -bf 2 -threads 1)
LIVE264=(-pix_fmt yuv420p -c:v libx264 -preset veryfast -tune zerolatency -crf 30 -g 30 -threads 1)
LIVE265=(-pix_fmt yuv420p -c:v libx265 -preset veryfast -tune zerolatency -crf 30
         -x265-params log-level=error:keyint=30:pools=1:frame-threads=1)

# mux NAME ENCODER-ARGS... [-- MUXER-ARGS...]: an encode of SRC straight into MPEG-TS.
mux() {
    local name=$1; shift
    if want "$name"; then
        echo "making $name"
        "${FF[@]}" "${SRC[@]}" "$@" "${EXACT[@]}" -f mpegts "$OUT/$name.tmp"
        mv "$OUT/$name.tmp" "$OUT/$name"
    else echo "keeping $name"; fi
}

# refs NAME PIXFMT: the packet and frame references of a clip.
refs() {
    local in="$OUT/$1" fmt=$2
    "${FF[@]}" -copyts -i "$in" -map 0:v:0 -c:v copy -f framemd5 "$in.framemd5"
    decoded "$in" "$fmt" > "$in.nv12.framemd5"
}

# decoded FILE PIXFMT: ffmpeg's decode of FILE's first video stream, as framemd5 on stdout.
decoded() {
    "${FF[@]}" -threads 1 -copyts -i "$1" -map 0:v:0 -fps_mode passthrough -autoscale 0 \
        -pix_fmt "$2" -enc_time_base -1 -fflags +bitexact -f framemd5 -
}

mux h264_b3.ts "${H264[@]}"
mux h264_b3.m2ts "${H264[@]}" -mpegts_m2ts_mode 1
mux hevc_main10.ts "${HEVC[@]}"
mux mpeg2.ts "${MPEG2[@]}"
mux h264_live.ts "${LIVE264[@]}"
mux hevc_live.ts "${LIVE265[@]}"
# 2^33 / 90000 = 95443.7176 s; ffmpeg's muxer adds 1.4 s: the first PTS is 2^33 - 90000 (1 s
# before the wrap), so the PTS wraps 1 s into the 2 s clip.
mux h264_wrap.ts "${H264[@]}" -output_ts_offset 95441.3177

if want h264_pmt.ts; then
    echo "making h264_pmt.ts"
    "${FF[@]}" "${SRC[@]}" "${H264[@]}" "${EXACT[@]}" -f mpegts -mpegts_start_pid 0x100 \
        "$TMP/a.ts"
    "${FF[@]}" "${SRC[@]}" "${H264[@]}" "${EXACT[@]}" -f mpegts -mpegts_start_pid 0x200 \
        -tables_version 1 -output_ts_offset 3 "$TMP/b.ts"
    cat "$TMP/a.ts" "$TMP/b.ts" > "$OUT/h264_pmt.ts"
    { "${FF[@]}" -copyts -i "$TMP/a.ts" -map 0:v:0 -c:v copy -f framemd5 -
      "${FF[@]}" -copyts -i "$TMP/b.ts" -map 0:v:0 -c:v copy -f framemd5 - | grep -v '^#'
    } > "$OUT/h264_pmt.ts.framemd5"
    { decoded "$TMP/a.ts" nv12; decoded "$TMP/b.ts" nv12 | grep -v '^#'; } \
        > "$OUT/h264_pmt.ts.nv12.framemd5"
fi

if want h264_lossy.ts; then
    echo "making h264_lossy.ts"
    "${FF[@]}" -f lavfi -i testsrc=size=320x240:rate=30 -frames:v 90 -pix_fmt yuv420p \
        -c:v libx264 -preset veryfast -crf 30 -g 10 -keyint_min 10 -sc_threshold 0 -bf 2 \
        -threads 1 "${EXACT[@]}" -f mpegts "$TMP/clean.ts"
    python3 - "$TMP/clean.ts" "$OUT/h264_lossy.ts" <<'PY'
import random, sys
data = open(sys.argv[1], "rb").read()
packets = [data[i:i + 188] for i in range(0, len(data), 188)]
rng = random.Random(19)
# Keep the first 20 packets (PAT, PMT, the first pictures) so both readers start alike.
dropped = [i for i in range(20, len(packets)) if rng.random() < 1 / 40]
with open(sys.argv[2], "wb") as f:
    f.write(b"".join(p for i, p in enumerate(packets) if i not in set(dropped)))
with open(sys.argv[2] + ".dropped", "w") as f:
    f.write("".join(f"{i} {((packets[i][1] & 0x1f) << 8) | packets[i][2]}\n" for i in dropped))
PY
fi

refs h264_b3.ts nv12
refs h264_b3.m2ts nv12
refs hevc_main10.ts p010le
refs mpeg2.ts nv12
# MPEG-2's IDCT is not bit-exact across decoders, so the GPU test compares the TS decode with
# NVDEC's own decode of the elementary stream ffmpeg's demuxer takes out of the same file.
ffmpeg -loglevel error -y -i "$OUT/mpeg2.ts" -map 0:v -c copy -f mpeg2video "$OUT/mpeg2.ts.m2v"
refs h264_wrap.ts nv12
refs h264_lossy.ts nv12
refs h264_live.ts nv12
refs hevc_live.ts nv12
du -ch "$OUT"/* | tail -1
