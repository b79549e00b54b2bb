"""Prints medians per (mode, codec, n, build) from compare.jsonl (bench/run-compare-bench.sh)."""
import json
import statistics
import sys
from collections import defaultdict

rows = defaultdict(list)
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    key = (r["mode"], r["codec"], r.get("n", 0), r["build"])
    if r["mode"] == "throughput":
        rows[key].append(r["fps"])
    elif r["mode"] == "coldstart":
        rows[key].append(r["first_frame_max_s"])
    elif r["mode"] == "memory":
        rows[key].append(r["mib_per_extra_session"])
for (mode, codec, n, build), values in sorted(rows.items()):
    print(f"{mode:10} {codec:5} n={n:<3} {build:4} median {statistics.median(values):9.3f}  all {values}")
