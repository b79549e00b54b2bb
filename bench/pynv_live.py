#!/usr/bin/env python3
"""Yardstick for examples/live_bench.rs: PyNvVideoCodec's low-latency decoder on N paced live
streams, in one process (Python threads; Decode releases the GIL).

Usage (on the GPU machine; the wheel in .whl/, see bench/pynv_bench.py):
    python3 bench/pynv_live.py CLIP.ts --ns 50,100,150 --seconds 10 --fps 30 > pynv_live.jsonl

Each stream: the clip's packets, demuxed before timing by PyNvVideoCodec's own demuxer
(copied, as bench/pynv_bench.py's Clip does), fed one packet per frame interval (stream s
starts s/N of an interval after stream 0, as live_bench's senders do) to a decoder created
with latency=DisplayDecodeLatencyType.LOW and each packet flagged ENDOFPICTURE (NVIDIA's
low-latency sample). Latency of a frame = its output from Decode() - the moment its packet
was due (packet-in -> frame-out; the packet is complete in memory at that moment, so no
transport or container wait is included: compare with live_bench's `packets` mode).
Before the clock every decoder decodes the clip's first packet (PyNvVideoCodec creates its
NVDEC session lazily there, serialized by the driver; live_bench prewarms its pool the same
way), and the run starts from that key frame again.
A frame is late when its latency exceeds --late-ms (100), lost when it never comes out.
Memory per session: free device memory with the N decoders open after their first frames,
against before, divided by N. CPU per stream: process CPU seconds / run seconds / N.
Prints one JSON object per N.
"""

import argparse
import json
import os
import resource
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pynv_bench import Clip, MemInfo, err_text, import_nvc  # noqa: E402


def pct(sorted_ms, q):
    if not sorted_ms:
        return None
    i = max(0, min(len(sorted_ms) - 1, -(-len(sorted_ms) * q // 100) - 1))
    return round(sorted_ms[i], 3)


def run(nvc, clip, n, seconds, fps, late_ms, mem):
    interval = 1.0 / fps
    frames_per_stream = min(clip.n_packets, int(seconds * fps))
    free_before = mem.free()
    decoders = [nvc.CreateDecoder(gpuid=0, codec=clip.codec, usedevicememory=True,
                                  latency=nvc.DisplayDecodeLatencyType.LOW) for _ in range(n)]
    packets = [clip.make_packets(nvc) for _ in range(n)]
    for ps in packets:
        for p in ps:
            p.decode_flag = nvc.VideoPacketFlag.ENDOFPICTURE
    # Warm-up before the clock, as live_bench prewarms its pool: PyNvVideoCodec creates the
    # NVDEC session at the first sequence header, ~45 ms each and serialized by the driver,
    # so without this the first frames of N streams would wait N x 45 ms. Each decoder takes
    # the first packet (a key frame: the timed run starts with it again).
    warm = threading.Barrier(n)
    warm_frames = [0] * n

    def warm_up(s):
        warm.wait(timeout=60)
        warm_frames[s] = len(decoders[s].Decode(packets[s][0]))

    ws = [threading.Thread(target=warm_up, args=(s,)) for s in range(n)]
    t_warm = time.perf_counter()
    for t in ws:
        t.start()
    for t in ws:
        t.join()
    warm_s = time.perf_counter() - t_warm
    lat = [[] for _ in range(n)]
    out = [0] * n
    errors = []
    first_frames = threading.Barrier(n + 1)
    mem_after = [None]
    start = [0.0]
    go = threading.Event()

    def stream(s):
        try:
            dec, ps = decoders[s], packets[s]
            offset = s * interval / n
            waited_first = False
            k = 0
            go.wait()
            t0 = start[0] + offset
            due_of = []
            for p in ps:
                if p.bsl == 0 or k >= frames_per_stream:
                    break
                due = t0 + k * interval
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
                due_of.append(due)
                for _frame in dec.Decode(p):
                    t = time.perf_counter()
                    i = out[s]
                    out[s] += 1
                    if i < len(due_of):
                        lat[s].append((t - due_of[i]) * 1e3)
                if not waited_first and out[s] > 0:
                    waited_first = True
                    first_frames.wait(timeout=30)
                k += 1
            if not waited_first:
                first_frames.wait(timeout=30)
        except Exception as e:  # noqa: BLE001
            errors.append(f"stream {s}: {err_text(e)}")
            try:
                first_frames.abort()
            except Exception:  # noqa: BLE001
                pass

    threads = [threading.Thread(target=stream, args=(s,), daemon=True) for s in range(n)]
    for t in threads:
        t.start()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start[0] = time.perf_counter() + 0.2
    go.set()
    try:
        first_frames.wait(timeout=30)
        mem_after[0] = mem.free()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join(timeout=seconds + 30)
    wall = time.perf_counter() - start[0]
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    all_ms = sorted(x for xs in lat for x in xs)
    expected = frames_per_stream * n
    result = {
        "who": "pynv", "mode": "packets", "clip": clip.path, "streams": n, "fps": fps,
        "seconds": round(wall, 3), "frames_expected": expected, "frames_out": sum(out),
        "lost": expected - sum(out), "late": sum(1 for x in all_ms if x > late_ms),
        "late_ms": late_ms, "p50_ms": pct(all_ms, 50), "p99_ms": pct(all_ms, 99),
        "max_ms": round(all_ms[-1], 3) if all_ms else None,
        "mib_per_session": None if mem_after[0] is None
        else round((free_before - mem_after[0]) / n / 1048576, 1),
        "cpu_per_stream": round(cpu / max(wall, 1e-9) / n, 4),
        "warmup_s": round(warm_s, 3), "warmup_frames_out": sum(warm_frames),
        "errors": errors[:5],
    }
    del decoders, packets
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clip")
    ap.add_argument("--ns", default="50,100,150")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--fps", type=float, default=30)
    ap.add_argument("--late-ms", type=float, default=100)
    a = ap.parse_args()
    nvc = import_nvc()
    clip = Clip(nvc, a.clip)
    mem = MemInfo(0)
    for n in [int(x) for x in a.ns.split(",")]:
        try:
            print(json.dumps(run(nvc, clip, n, a.seconds, a.fps, a.late_ms, mem)), flush=True)
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"who": "pynv", "streams": n, "error": err_text(e)}), flush=True)


if __name__ == "__main__":
    main()
