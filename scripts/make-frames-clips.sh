#!/usr/bin/env bash
# The clips of issue 13 (colour descriptions and 4:4:4) in tests/data, and their
# references. Needs ffmpeg with libx264 and libx265 (made with ffmpeg 5.1, Debian 12).
# Keeps existing files; FORCE=1 remakes them.
set -euo pipefail
cd "$(dirname "$0")/../tests/data"
FF=(ffmpeg -v error -y)
make() { [[ "${FORCE:-0}" == 1 || ! -s "$1" ]]; }
src() { echo "-f lavfi -i testsrc2=size=$1:rate=25"; }

if make h264_320x240_bt709_full.h264; then
    "${FF[@]}" $(src 320x240) -frames:v 10 -vf format=yuv420p,scale=out_range=full:out_color_matrix=bt709 \
        -c:v libx264 -preset veryfast -crf 28 \
        -x264-params "colorprim=bt709:transfer=bt709:colormatrix=bt709:fullrange=on" \
        -bsf:v h264_metadata=video_full_range_flag=1 h264_320x240_bt709_full.h264
fi
if make h264_1280x720_bt601.h264; then
    "${FF[@]}" $(src 1280x720) -frames:v 5 -vf format=yuv420p,scale=out_color_matrix=bt601 \
        -c:v libx264 -preset veryfast -crf 32 \
        -x264-params "colorprim=smpte170m:transfer=smpte170m:colormatrix=smpte170m" h264_1280x720_bt601.h264
fi
if make hevc_320x240_bt2020_pq_10bit.hevc; then
    "${FF[@]}" $(src 320x240) -frames:v 10 -vf format=yuv420p10le,scale=out_color_matrix=bt2020 \
        -c:v libx265 -preset veryfast -crf 28 \
        -x265-params "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc" \
        hevc_320x240_bt2020_pq_10bit.hevc
fi
if make hevc_320x240_444.hevc; then
    "${FF[@]}" $(src 320x240) -frames:v 10 -pix_fmt yuv444p -c:v libx265 -preset veryfast -crf 26 \
        -x265-params log-level=error hevc_320x240_444.hevc
fi
if make hevc_320x240_444_10bit.hevc; then
    "${FF[@]}" $(src 320x240) -frames:v 10 -pix_fmt yuv444p10le -c:v libx265 -preset veryfast -crf 26 \
        -x265-params log-level=error hevc_320x240_444_10bit.hevc
fi

if make hevc_320x240_hdr10_sei.hevc; then
    "${FF[@]}" $(src 320x240) -frames:v 5 -vf format=yuv420p10le -c:v libx265 -preset veryfast -crf 30 \
        -x265-params "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400" \
        hevc_320x240_hdr10_sei.hevc
fi

# References: as scripts/make-reference-hashes.sh, with the pixel format each clip needs.
ref() {
    local clip="$1"; shift
    if make "$clip.framemd5"; then
        "${FF[@]}" -i "$clip" -map 0:v:0 -fps_mode passthrough -autoscale 0 "$@" \
            -fflags +bitexact -f framemd5 "$clip.framemd5"
    fi
}
# Full range: repack to nv12 without a range conversion (checked: same bytes as yuvj420p).
ref h264_320x240_bt709_full.h264 -vf scale=in_range=full:out_range=full -pix_fmt nv12
ref h264_1280x720_bt601.h264 -pix_fmt nv12
ref hevc_320x240_bt2020_pq_10bit.hevc -pix_fmt p010le
ref hevc_320x240_hdr10_sei.hevc -pix_fmt p010le
ref hevc_320x240_444.hevc -pix_fmt yuv444p
# NVDEC's YUV444_16Bit holds the sample in the high bits; the test shifts it down by 6.
ref hevc_320x240_444_10bit.hevc -pix_fmt yuv444p10le
