#!/usr/bin/env python3
"""Python benchmarks of nvcodec_guard on a GPU machine (PyTorch needed), one JSON line each.

    python scripts/bench-python.py [--clip tests/data/h264_1920x1080.h264] [--long FILE]

- throughput: frames/s with every frame consumed as a torch tensor (a reduction on it),
  1, 7 and 28 threads, each decoding the clip from a pool (decoders prewarmed);
- planar_f32: frames/s of decode -> normalised planar float32 tensor at one decoder;
- random_access: seconds for 32 random frames (frames_at) of --long (a long file);
- pool_start: seconds until 32 streams started from a prewarmed pool have their first frame.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time

import torch

import nvcodec_guard as nv


def emit(**kv):
    print(json.dumps(kv), flush=True)


def throughput(clip, threads, rounds):
    pool = nv.DecoderPool()
    pool.prewarm(nv.Decoder(clip).info["codec"], threads)
    counts = [0] * threads

    def work(i):
        for _ in range(rounds):
            with pool.checkout(clip) as dec:
                for frame in dec:
                    torch.from_dlpack(frame).sum()
                    counts[i] += 1
        torch.cuda.synchronize()

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - start
    emit(bench="throughput", threads=threads, frames=sum(counts), seconds=elapsed,
         fps=sum(counts) / elapsed)


def planar_f32(clip, rounds):
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    n = 0
    start = time.perf_counter()
    for _ in range(rounds):
        dec = nv.Decoder(clip, output="planar", dtype="float32", mean=mean, std=std)
        for frame in dec:
            torch.from_dlpack(frame).sum()
            n += 1
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    emit(bench="planar_f32", frames=n, seconds=elapsed, fps=n / elapsed)


def random_access(path, count=32):
    dec = nv.Decoder(path)
    total = dec.count_frames()
    idx = random.Random(1).sample(range(total), min(count, total))
    start = time.perf_counter()
    batch = dec.frames_at(idx, stack=False)
    elapsed = time.perf_counter() - start
    emit(bench="random_access", frames=len(batch), of=total, seconds=elapsed)


def pool_start(clip, streams=32):
    pool = nv.DecoderPool()
    pool.prewarm(nv.Decoder(clip).info["codec"], streams)
    firsts = []

    def one():
        t0 = time.perf_counter()
        with pool.checkout(clip) as dec:
            next(dec)
        firsts.append(time.perf_counter() - t0)

    ts = [threading.Thread(target=one) for _ in range(streams)]
    start = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    emit(bench="pool_start", streams=streams, seconds=time.perf_counter() - start,
         first_frame_max=max(firsts), stats=pool.stats())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", default="tests/data/h264_1920x1080.h264")
    ap.add_argument("--long", default=None, help="a long file for random access")
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    for threads in (1, 7, 28):
        throughput(args.clip, threads, args.rounds)
    planar_f32(args.clip, args.rounds)
    random_access(args.long or args.clip)
    pool_start(args.clip)


if __name__ == "__main__":
    main()
