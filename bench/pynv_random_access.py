#!/usr/bin/env python3
"""PyNvVideoCodec yardstick for random access: SimpleDecoder.get_batch_frames_by_index.

For each clip and each seed, draws the same random indices as `decode_bench random`
(seeded xorshift64*, see `indices()`), times the batch call on a warm SimpleDecoder (the
decoder built and one batch decoded before timing) and the whole cold path (open + batch),
and writes one MD5 per frame (packed NV12 bytes, as our decode --md5 hashes them) so the
frames can be compared with ours. One JSON line per measurement on stdout.
"""
import argparse, hashlib, json, statistics, sys, time

import PyNvVideoCodec as nvc
import torch


def indices(seed, count, frames):
    """xorshift64* as in examples/decode_bench.rs `random` mode."""
    x = (seed * 0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFFFFFFFFFF
    out = []
    for _ in range(count):
        x ^= x >> 12
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 27
        out.append(((x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF) % frames)
    return out


def md5_of(frame):
    t = torch.from_dlpack(frame) if hasattr(frame, "__dlpack__") else torch.as_tensor(frame, device="cuda")
    return hashlib.md5(t.contiguous().cpu().numpy().tobytes()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--md5-out", default=None)
    a = ap.parse_args()
    md5s = {}
    for clip in a.clips:
        t0 = time.perf_counter()
        dec = nvc.SimpleDecoder(clip, gpu_id=0, use_device_memory=True)
        frames = len(dec)
        open_s = time.perf_counter() - t0
        dec.get_batch_frames_by_index(indices(1000, a.count, frames))  # warm-up
        torch.cuda.synchronize()
        warm = []
        for seed in range(a.seeds):
            idx = indices(seed, a.count, frames)
            t0 = time.perf_counter()
            got = dec.get_batch_frames_by_index(idx)
            torch.cuda.synchronize()
            warm.append(time.perf_counter() - t0)
            if seed == 0:
                md5s[clip] = {str(i): md5_of(f) for i, f in zip(idx, got)}
        cold = []
        for seed in range(a.seeds):
            idx = indices(seed, a.count, frames)
            t0 = time.perf_counter()
            d2 = nvc.SimpleDecoder(clip, gpu_id=0, use_device_memory=True)
            d2.get_batch_frames_by_index(idx)
            torch.cuda.synchronize()
            cold.append(time.perf_counter() - t0)
            del d2
        print(json.dumps({"tool": "pynvvideocodec", "mode": "random", "clip": clip, "frames": frames,
                          "count": a.count, "open_s": open_s, "warm_s": warm, "warm_median_s": statistics.median(warm),
                          "cold_s": cold, "cold_median_s": statistics.median(cold)}), flush=True)
    if a.md5_out:
        with open(a.md5_out, "w") as f:
            json.dump(md5s, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
