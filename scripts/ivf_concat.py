#!/usr/bin/env python3
"""Concatenate the frames of several IVF files into one IVF file.

Usage: ivf_concat.py OUT.ivf IN1.ivf [IN2.ivf ...]

Used by scripts/make-test-clips.sh to build a VP9 stream whose resolution
changes mid-stream: each input is an independently encoded segment that starts
with a keyframe.  The output keeps the 32-byte header of the first input
(fourcc, width, height, timebase), patches the frame count, and renumbers the
per-frame timestamps 0, 1, 2, ... so they stay monotonic across segments.
Frame payloads are copied unchanged (superframes with hidden frames included).
"""
import struct
import sys

HDR = 32
FRAME_HDR = 12


def read_ivf(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < HDR or data[:4] != b"DKIF":
        raise SystemExit(f"{path}: not an IVF file")
    hdr_len = struct.unpack_from("<H", data, 6)[0]
    header = bytearray(data[:HDR])
    frames = []
    pos = hdr_len
    while pos + FRAME_HDR <= len(data):
        size, _pts = struct.unpack_from("<IQ", data, pos)
        pos += FRAME_HDR
        if pos + size > len(data):
            raise SystemExit(f"{path}: truncated frame at offset {pos - FRAME_HDR}")
        frames.append(data[pos:pos + size])
        pos += size
    if pos != len(data):
        raise SystemExit(f"{path}: {len(data) - pos} trailing bytes")
    return header, frames


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    out_path, inputs = argv[1], argv[2:]
    header = None
    fourcc = None
    frames = []
    for p in inputs:
        h, fr = read_ivf(p)
        if header is None:
            header, fourcc = h, bytes(h[8:12])
        elif bytes(h[8:12]) != fourcc:
            raise SystemExit(f"{p}: fourcc {bytes(h[8:12])!r} != {fourcc!r}")
        frames.extend(fr)
    struct.pack_into("<H", header, 6, HDR)          # header length
    struct.pack_into("<I", header, 24, len(frames))  # frame count
    with open(out_path, "wb") as f:
        f.write(header)
        for i, payload in enumerate(frames):
            f.write(struct.pack("<IQ", len(payload), i))
            f.write(payload)
    print(f"{out_path}: {len(frames)} frames from {len(inputs)} segments")


if __name__ == "__main__":
    main(sys.argv)
