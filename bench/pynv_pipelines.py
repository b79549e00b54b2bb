#!/usr/bin/env python3
"""PyNvVideoCodec yardstick for `examples/pipelines` with the same workload (issue 12 §7):
N threads start together; each creates its demuxer and decoder and decodes the WHOLE clip
(not only to its first frame, as `pynv_coldstart_gpus.py` does), then

    keep            keeps its decoder until every pipeline has its first frame
    drop-when-done  drops its decoder as soon as its clip is decoded

Prints one JSON line: the time from the common start to the last pipeline's first frame.
    python3 bench/pynv_pipelines.py CLIP N keep|drop-when-done
"""
import json
import sys
import threading
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from pynv_bench import import_nvc, new_decoder, summarize_cold  # noqa: E402


def main():
    path, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    assert mode in ("keep", "drop-when-done"), mode
    nvc = import_nvc()
    barrier = threading.Barrier(n + 1)
    all_first = threading.Event()
    firsts = [0]
    firsts_lock = threading.Lock()
    ts = [None] * n

    def worker(i):
        t = {}
        try:
            barrier.wait(120)
            t["released"] = time.monotonic()
            dmx = nvc.CreateDemuxer(filename=path)
            t["demuxer"] = time.monotonic()
            dec = new_decoder(nvc, dmx.GetNvCodecId(), 0)
            t["decoder"] = time.monotonic()
            frames = 0
            for pkt in dmx:
                got = len(dec.Decode(pkt))
                if got and "first_frame" not in t:
                    t["first_frame"] = time.monotonic()
                    with firsts_lock:
                        firsts[0] += 1
                        if firsts[0] == n:
                            all_first.set()
                frames += got
            t["frames"] = frames
            t.setdefault("first_frame", None)
            ts[i] = t
            if mode == "keep":
                all_first.wait(120)
            del dec, dmx  # the decoder is destroyed here
        except Exception as e:  # noqa: BLE001
            ts[i] = {"error": str(e)}
            all_first.set()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    barrier.wait(120)
    t_start = time.monotonic()
    for th in threads:
        th.join(150)
    out = summarize_cold(ts, n, t_start, None)
    out.update({"mode": "pynv_pipelines", "drop": mode, "clip": path,
                "frames_min": min((r.get("frames", 0) for r in ts if r), default=0)})
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
