"""PyNvVideoCodec yardstick for the short-clip benchmark (`decode_bench shortclips`).

THREADS threads each decode CLIPS whole copies of a short clip, either with a new
`SimpleDecoder` per clip ("new") or with one `SimpleDecoder` per thread moved to the next clip
with `reconfigure_decoder` ("reuse", PyNvVideoCodec's cached-decoder path). Every frame is
fetched in order (`get_batch_frames`, device memory). Prints one JSON object per mode.

    python3 bench/pynv_shortclips.py CLIP [THREADS] [CLIPS]
"""
import json
import sys
import threading
import time

import PyNvVideoCodec as nvc


def worker(path, clips, reuse, out, index, barrier, errors):
    try:
        work(path, clips, reuse, out, index, barrier)
    except Exception as e:  # noqa: BLE001
        errors.append(str(e))


def work(path, clips, reuse, out, index, barrier):
    frames = 0
    barrier.wait()
    decoder = None
    for _ in range(clips):
        if decoder is None or not reuse:
            decoder = nvc.SimpleDecoder(path, gpu_id=0, use_device_memory=True,
                                        max_width=1920, max_height=1080)
        else:
            decoder.reconfigure_decoder(path)
        total = len(decoder)
        done = 0
        while done < total:
            batch = decoder.get_batch_frames(min(16, total - done))
            if not batch:
                break
            done += len(batch)
        frames += done
    out[index] = frames


def run(path, threads, clips, reuse):
    out = [0] * threads
    errors = []
    barrier = threading.Barrier(threads + 1)
    ts = [threading.Thread(target=worker, args=(path, clips, reuse, out, i, barrier, errors))
          for i in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    return {"mode": "pynv_shortclips", "how": "reuse" if reuse else "new", "threads": threads,
            "clips_per_thread": clips, "frames": sum(out), "wall_s": round(wall, 4),
            "fps": round(sum(out) / wall, 1), "errors": errors[:3]}


def main():
    path = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    clips = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    # Warm-up: CUDA initialized and one session made before either timed run.
    d = nvc.SimpleDecoder(path, gpu_id=0, use_device_memory=True)
    d.get_batch_frames(1)
    del d
    for reuse in (False, True):
        print(json.dumps(run(path, threads, clips, reuse)), flush=True)


if __name__ == "__main__":
    main()
