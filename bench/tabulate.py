#!/usr/bin/env python3
"""Turns a GPU bench run (ours.jsonl + pynv_results.json + machine.txt) into the Markdown
tables of BENCHMARKS.md. Usage: bench/tabulate.py RESULTS_DIR"""
import json, statistics, sys, pathlib

d = pathlib.Path(sys.argv[1])
ours = [json.loads(l) for l in (d / "ours.jsonl").read_text().splitlines() if l.startswith("{")]
pynv = json.loads((d / "pynv_results.json").read_text())
machine = (d / "machine.txt").read_text().split("\n")

codec_of = lambda clip: "h264" if "h264" in clip else "hevc"

def pynv_clip(codec):
    for name, c in pynv.get("clips", {}).items():
        if codec_of(name) == codec:
            return c
    return {}

codec_of = lambda clip: "h264" if "h264" in clip else "hevc"
print(f"Device: {machine[0]}; run {machine[1] if len(machine) > 1 else ''}\n")

# Throughput
print("| codec | N | nvcodec-guard fps (median of 3) | PyNvVideoCodec fps, threads (aggregate / NVIDIA-style) | ratio vs NVIDIA-style |")
print("|---|---:|---:|---:|---:|")
for codec in ("h264", "hevc"):
    for n in (1, 2, 4, 7, 14, 28):
        ours_fps = [r["fps"] for r in ours if r["mode"] == "throughput" and r["codec"] == codec and r["n"] == n and r.get("display_delay") == 1]
        t = pynv_clip(codec).get("throughput_thread", {}).get(str(n))
        theirs = [t] if t else []
        o = statistics.median(ours_fps) if ours_fps else float("nan")
        if theirs:
            agg, ns = theirs[0]["aggregate_fps"], theirs[0].get("nvidia_style_sum_fps", float("nan"))
            print(f"| {codec} | {n} | {o:.0f} | {agg:.0f} / {ns:.0f} | {o / ns:.3f}× |")
        else:
            print(f"| {codec} | {n} | {o:.0f} | – | – |")

print("\n| codec | N pipelines | nvcodec-guard, fresh process: wall to last first frame / median TTFF (s) | nvcodec-guard, CUDA already initialized (s) | PyNvVideoCodec threads, CUDA already initialized (s) |")
print("|---|---:|---:|---:|---:|")
for codec in ("h264", "hevc"):
    for n in (1, 8, 32):
        def cell(rows):
            return f"{rows[0]['first_frame_max_s']:.3f} / {rows[0]['first_frame_median_s']:.3f}" if rows else "–"
        fresh = [r for r in ours if r["mode"] == "coldstart" and r["codec"] == codec and r["n"] == n and not r.get("warm")]
        warm = [r for r in ours if r["mode"] == "coldstart" and r["codec"] == codec and r["n"] == n and r.get("warm")]
        t = pynv_clip(codec).get("cold_start_thread", {}).get(str(n))
        ts = f"{t['wall_to_last_first_frame_s']:.3f} / {t['first_frame_median_s']:.3f}" if t else "–"
        print(f"| {codec} | {n} | {cell(fresh)} | {cell(warm)} | {ts} |")

print("\n| codec | nvcodec-guard MiB per extra session | PyNvVideoCodec MiB per extra session |")
print("|---|---:|---:|")
for codec in ("h264", "hevc"):
    o = [r for r in ours if r["mode"] == "memory" and r["codec"] == codec]
    t = pynv_clip(codec).get("memory_default_ctx", {}).get("per_extra_session_mib")
    print(f"| {codec} | {o[0]['mib_per_extra_session']:.1f} | {t if t is not None else '–'} |")

for r in ours:
    if r["mode"] == "passes":
        print(f"\nSingle decoder, three passes over the {r['codec']} clip with one decoder: " + "; ".join(f"pass {p['pass']}: {p['frames']} frames in {p['total_s']:.3f} s, steady {p['steady_fps']:.0f} fps" for p in r["passes"]))
for r in ours:
    if r["mode"] == "teardown":
        print(f"\nTeardown of {r['n']} decoders at once, policy {r['policy']}: wall {r['wall_s']:.3f} s (median drop {r['drop_median_s']:.3f} s, max {r['drop_max_s']:.3f} s)")
