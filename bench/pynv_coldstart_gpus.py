"""PyNvVideoCodec yardstick for `decode_bench poolstart CLIP N 0,1` and `coldstart` across GPUs:
N pipelines per GPU start at once in one process (threads), each creating its demuxer and
decoder and decoding to its first frame; prints the time to the last first frame.

    python3 bench/pynv_coldstart_gpus.py CLIP N GPUS   # e.g. ... 32 0,1
"""
import json
import sys
import threading
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from pynv_bench import first_frame_pipeline, import_nvc, summarize_cold  # noqa: E402


def main():
    path, n, gpus = sys.argv[1], int(sys.argv[2]), [int(g) for g in sys.argv[3].split(",")]
    nvc = import_nvc()
    total = n * len(gpus)
    barrier = threading.Barrier(total + 1)
    release = threading.Event()
    ts = [None] * total

    def worker(i):
        keep = None
        try:
            barrier.wait(120)
            released = time.monotonic()
            t, keep = first_frame_pipeline(nvc, path, gpus[i % len(gpus)])
            t["released"] = released
            ts[i] = t
        except Exception as e:  # noqa: BLE001
            ts[i] = {"error": str(e)}
        release.wait(120)
        del keep

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(total)]
    for t in threads:
        t.start()
    barrier.wait(120)
    t_start = time.monotonic()
    while any(x is None for x in ts) and time.monotonic() - t_start < 120:
        time.sleep(0.005)
    release.set()
    for t in threads:
        t.join(10)
    out = summarize_cold(ts, total, t_start, None)
    out.update({"mode": "pynv_coldstart_gpus", "n_per_gpu": n, "gpus": gpus})
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
