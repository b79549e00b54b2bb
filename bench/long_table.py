#!/usr/bin/env python3
"""Table of `scripts/gpu-verify.sh long`: ours against PyNvVideoCodec in runs of >= 5 s.

    python3 bench/long_table.py OUT/long.jsonl [FRAMES_PER_PASS]

Reads decode_bench's throughput lines (tagged "who":"ours" by the script; fields codec, n,
passes, frames, frames_per_decoder_min/max, wall_s, fps) and bench/pynv_long.py's lines
(who pynv; the same fields, plus ok and between), and prints per codec and N: the median fps
of each, ours / PyNv, the wall_s of every run, whether every decoder decoded passes x
FRAMES_PER_PASS (300) frames, and each median as a fraction of the NVDEC limit, taken as the
highest aggregate fps measured for that codec in this call (any N, either library; which one
is named under the table).  Exits 1 if a run failed or decoded a wrong number of frames.
"""
import json
import statistics
import sys


def main():
    path = sys.argv[1]
    per_pass = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    rows = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except ValueError:
                print(f"unreadable line: {line[:200]}")
    groups = {}
    problems = []
    failed = False  # a run with an error or short frame counts (skipped runs do not count)
    for r in rows:
        # bench_codec: the script's name for the clip's codec (the same for both libraries)
        who, codec, n = r.get("who", "ours"), r.get("bench_codec", r.get("codec", "?")), r.get("n")
        if r.get("skipped") or r.get("error") or r.get("fps") is None:
            failed = failed or not r.get("skipped")
            problems.append(f"{who} {codec} N={n} rep {r.get('rep')}: "
                            f"{r.get('skipped') or r.get('error') or 'no fps'}")
            continue
        full = r.get("passes", 1) * per_pass
        ok = r.get("frames_per_decoder_min") == full and r.get("frames_per_decoder_max") == full
        if who == "pynv":
            ok = ok and r.get("ok", False)
        if not ok:
            failed = True
            problems.append(f"{who} {codec} N={n} rep {r.get('rep')}: frames per decoder "
                            f"{r.get('frames_per_decoder_min')}..{r.get('frames_per_decoder_max')}, "
                            f"expected {full}")
        groups.setdefault((codec, n), {}).setdefault(who, []).append((r, ok))

    limit = {}
    for (codec, n), g in groups.items():
        for who, runs in g.items():
            for r, _ in runs:
                if r["fps"] > limit.get(codec, (0,))[0]:
                    limit[codec] = (r["fps"], who, n)

    def med(runs):
        return statistics.median(r["fps"] for r, _ in runs) if runs else None

    def walls(runs):
        return ",".join(f"{r['wall_s']:.1f}" for r, _ in runs) or "-"

    def fmt(x, spec):
        return "-" if x is None else format(x, spec)

    print("| codec | N | passes | ours fps (median) | PyNv fps (median) | ours / PyNv | ours wall_s | "
          "PyNv wall_s | ours / limit | PyNv / limit | frames all full | PyNv between passes |")
    print("|---|---:|---:|---:|---:|---:|---|---|---:|---:|---|---|")
    short = []
    for (codec, n) in sorted(groups, key=lambda k: (k[0], k[1])):
        g = groups[(codec, n)]
        ours, pynv = g.get("ours", []), g.get("pynv", [])
        mo, mp = med(ours), med(pynv)
        lim = limit[codec][0]
        passes = sorted({r.get("passes") for r, _ in ours + pynv})
        between = sorted({r.get("between", "?") for r, _ in pynv})
        full = all(ok for _, ok in ours + pynv)
        short += [f"{w} {codec} N={n} rep {r.get('rep')}: {r['wall_s']:.2f} s"
                  for w, runs in (("ours", ours), ("pynv", pynv)) for r, _ in runs if r["wall_s"] < 5.0]
        print(f"| {codec} | {n} | {','.join(map(str, passes))} | {fmt(mo, ',.0f')} | {fmt(mp, ',.0f')} "
              f"| {fmt(mo / mp if mo and mp else None, '.2f')} | {walls(ours)} | {walls(pynv)} "
              f"| {fmt(mo / lim if mo else None, '.2f')} | {fmt(mp / lim if mp else None, '.2f')} "
              f"| {'yes' if full else 'NO'} | {','.join(between) or '-'} |")
    print()
    for codec, (fps, who, n) in sorted(limit.items()):
        print(f"NVDEC limit for {codec}: the highest aggregate measured in this call, {fps:,.0f} fps "
              f"({who}, N={n}); a lower bound on the true limit.")
    print("every run >= 5 s: " + ("yes" if not short else "NO: " + "; ".join(short)))
    for p in problems:
        print("problem: " + p)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
