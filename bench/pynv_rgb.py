#!/usr/bin/env python3
"""PyNvVideoCodec yardstick for decode + RGB conversion (issue 13): N threads, each its own
decoder with `outputColorType` RGB or RGBP (planar), the clip's packets demuxed before timing,
as `pynv_bench.py`'s thread throughput does for native output. One JSON line per N.

    python3 bench/pynv_rgb.py CLIP RGBP 7,28
"""
import json
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import pynv_bench  # noqa: E402


def main():
    path, colour, ns = sys.argv[1], sys.argv[2], [int(n) for n in sys.argv[3].split(",")]
    nvc = pynv_bench.import_nvc()
    colour_type = getattr(nvc.OutputColorType, colour)
    plain = pynv_bench.new_decoder
    pynv_bench.new_decoder = lambda nvc_, codec, gpu, **extra: plain(
        nvc_, codec, gpu, outputColorType=colour_type, **extra)
    clip = pynv_bench.Clip(nvc, path)
    for n in ns:
        r = pynv_bench.throughput_threads(nvc, clip, n, 0, True, 300, 120)
        r.update({"tool": "pynvvideocodec", "clip": path, "output": colour})
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
