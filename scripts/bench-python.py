#!/usr/bin/env python3
"""Python benchmarks of nvcodec_guard on a GPU machine (PyTorch needed), one JSON line each.

    python scripts/bench-python.py [--clip tests/data/h264_1920x1080.h264] [--long FILE]

- throughput: frames/s with every frame consumed as a torch tensor (a reduction on it),
  1, 7 and 28 threads, each decoding the clip from a pool (decoders prewarmed);
- planar_f32: frames/s of decode -> normalised planar float32 tensor at one decoder;
- random_access: seconds for 32 random frames (frames_at) of --long (a long file);
- pool_start: seconds until 32 streams started from a prewarmed pool have their first frame.

Against PyNvVideoCodec 2.2.4 in the same process (issue 20; `scripts/gpu-verify.sh pybench`):

    python scripts/bench-python.py --compare --clip bench-clips/h264_1080p30_4M.h264 \\
        --long bench-clips/h264_1080p30_5min_400k.mp4 --out OUT/pybench.jsonl [--budget-s S]
    python scripts/bench-python.py --compare --steps throughput --ns 7 --prefetch 0,4 ...
                                    # ours with decode-ahead off and at depth 4, same call
    python scripts/bench-python.py --table OUT/pybench.jsonl     # the table (no GPU needed)
    python scripts/bench-python.py --print-passes N               # K for N threads (no GPU)

--compare runs, alternating ours and PyNvVideoCodec's (bench/pynv_bench.py's Clip,
new_decoder, cold_start_threads):
  throughput  N = 1, 7, 28 threads; each decodes the clip K passes back to back and consumes
              every frame as `torch.from_dlpack(frame).sum()` (on torch's current stream, the
              legacy default one; --torch-stream per-thread: a torch stream per thread).  Ours: a DecoderPool prewarmed
              with N decoders, one checkout per pass (the clip read from its path); with
              --prefetch D1,D2,.. one run per decode-ahead depth (`checkout(..., prefetch=D)`,
              0 = off), else one with the package's default.  PyNv: one
              decoder per thread (built before the clock; its NVDEC session is made lazily on
              the first sequence header, inside the clock, once), the clip demuxed into memory
              before timing, the end-of-stream packet and SyncOnCUStream() after every pass
              (bench/pynv_long.py's `eos`).  The clock runs from the start barrier to the last
              thread's end (torch.cuda.synchronize() included).  K = the passes that take
              --target-s (6.5) s at --gen (1.3) x our usual H100 rate for N decoders
              (H.264 1080p: 670 fps for one, 4,600 aggregate for several), so a run lasts
              >= 5 s unless the GPU beats the usual rate by 69 %; wall_s of every run is
              printed and the table says whether all were >= 5 s.
  planar_f32  one decoder, K passes: ours `output="planar", dtype="float32", mean, std`
              (pool of one, checkout per pass); PyNv `OutputColorType.RGBP` then
              `x.float().div_(255).sub_(mean).div_(std)` in torch; each frame then `.sum()`.
  random      32 random display indices (bench/pynv_random_access.py's seeded xorshift64*,
              seeds 0..S-1, median of S = 3): ours `Decoder(path).frames_at(idx)`, PyNv
              `SimpleDecoder(path).get_batch_frames_by_index(idx)`, a new decoder per seed
              (open timed apart and with the call); MD5 of every frame's packed NV12 bytes,
              counted equal between the two and against PATH.framemd5 (ffmpeg, NV12) if present.
  pool_start  32 threads released together: ours check a decoder out of a pool prewarmed with
              32 and take the first frame; PyNv creates demuxer + decoder and decodes to the
              first frame (CUDA already initialised); every decoder kept until all have one.
              Time to the last first frame.
A step whose estimate would end past --budget-s (from the script's start) is skipped and
recorded as skipped.  Lines of `decode_bench throughput` tagged "who":"rust" in the --out file
(gpu-verify.sh pybench writes them first, with the same K) give the Python / Rust ratios: the
same workload is `BENCH_POOL=1 BENCH_KEEP=pool` ("decoders":"pool": a checkout from a prewarmed
pool per pass, the clip read from its path, every frame copied into a shared pool buffer); the
`map` and `pool-copy` runs (one decoder per thread, packets in memory before the clock) do less.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import statistics
import sys
import threading
import time

torch = None  # imported on first use: --table and --print-passes need no GPU stack
nv = None

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# Our usual H.264 1080p rates on an H100 (2026-12-07 long runs): one decoder, several at once.
RATE1, RATE_AGG = 670.0, 4600.0


def _load():
    global torch, nv
    if torch is None:
        import torch as _torch  # noqa: PLC0415
        torch = _torch
    if nv is None:
        import nvcodec_guard as _nv  # noqa: PLC0415
        nv = _nv


def emit(**kv):
    print(json.dumps(kv), flush=True)
    return kv


def err_text(e):
    return f"{type(e).__name__}: {e}"


# --------------------------------------------------------------------------------------
# The first benchmarks (ours alone), kept as they were
# --------------------------------------------------------------------------------------

def throughput(clip, threads, rounds):
    _load()
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
    _load()
    n = 0
    start = time.perf_counter()
    for _ in range(rounds):
        dec = nv.Decoder(clip, output="planar", dtype="float32", mean=MEAN, std=STD)
        for frame in dec:
            torch.from_dlpack(frame).sum()
            n += 1
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    emit(bench="planar_f32", frames=n, seconds=elapsed, fps=n / elapsed)


def random_access(path, count=32):
    _load()
    dec = nv.Decoder(path)
    total = dec.count_frames()
    idx = random.Random(1).sample(range(total), min(count, total))
    start = time.perf_counter()
    batch = dec.frames_at(idx, stack=False)
    elapsed = time.perf_counter() - start
    emit(bench="random_access", frames=len(batch), of=total, seconds=elapsed)


def pool_start(clip, streams=32):
    _load()
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


# --------------------------------------------------------------------------------------
# Against PyNvVideoCodec (--compare)
# --------------------------------------------------------------------------------------

def usual_rate(n, rate1=RATE1, rate_agg=RATE_AGG):
    """Our usual aggregate fps for n decoders: n x one decoder's, at most the many-decoder one."""
    return min(n * rate1, rate_agg)


def passes_for(n, frames=300, target_s=6.5, gen=1.3, rate1=RATE1, rate_agg=RATE_AGG):
    """K: the passes over a FRAMES-frame clip that take TARGET_S s at GEN x the usual rate."""
    return max(1, math.ceil(target_s * gen * usual_rate(n, rate1, rate_agg) / (frames * n)))


def indices(seed, count, frames):
    """xorshift64* as in examples/decode_bench.rs `random` and bench/pynv_random_access.py."""
    x = (seed * 0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFFFFFFFFFF
    out = []
    for _ in range(count):
        x ^= x >> 12
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 27
        out.append(((x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF) % frames)
    return out


def md5_tensor(t):
    """MD5 of a GPU tensor's bytes, packed (for NV12: luma rows then UV rows)."""
    return hashlib.md5(t.contiguous().cpu().numpy().tobytes()).hexdigest()


def reference_md5s(path):
    """Display index -> MD5 from ffmpeg's framemd5 of the whole file (column 6), or {}."""
    ref = path + ".framemd5"
    if not os.path.exists(ref):
        return {}
    lines = [ln for ln in open(ref) if ln.strip() and not ln.startswith("#")]
    return {i: ln.split(",")[5].strip() for i, ln in enumerate(lines)}


def pynv_planar_view(t):
    """PyNv's RGBP frame as (3, H, W): it comes as (3, H, W), or (3H, W) in some versions."""
    if t.dim() == 2:
        return t.view(3, t.shape[0] // 3, t.shape[1])
    if t.dim() == 3 and t.shape[0] != 3 and t.shape[-1] == 3:
        return t.permute(2, 0, 1)
    return t


def run_threads(n, body, timeout):
    """n threads released together by a barrier; body(i, r) fills dict r (its "end" time last).
    Returns (t0, results, alive)."""
    barrier = threading.Barrier(n + 1)
    results = [{"frames": 0, "counts": []} for _ in range(n)]

    def worker(i):
        r = results[i]
        try:
            body(i, r, barrier, timeout)
        except threading.BrokenBarrierError:
            r.setdefault("error", "barrier broken (another thread failed or timed out)")
        except Exception as e:  # noqa: BLE001
            r["error"] = err_text(e)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        pass
    t0 = time.perf_counter()
    deadline = t0 + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.perf_counter()))
    return t0, results, sum(t.is_alive() for t in threads)


def summarize_run(out, t0, results, alive, timeout, per_pass, passes):
    """Fills frames, wall_s, fps, ok (every thread decoded passes x per_pass) into out."""
    errors = [r["error"] for r in results if r.get("error")]
    if alive:
        errors.append(f"{alive} threads still running after {timeout} s")
    done = [r for r in results if "end" in r]
    frames = [r["frames"] for r in results]
    out["frames"] = sum(frames)
    out["frames_per_thread_min"] = min(frames)
    out["frames_per_thread_max"] = max(frames)
    out["expected_per_thread"] = per_pass * passes if per_pass else None
    if done:
        wall = max(r["end"] for r in done) - t0
        out["wall_s"] = round(wall, 4)
        out["fps"] = round(out["frames"] / wall, 1) if wall > 0 else None
    bad = sorted({c for r in results for c in r["counts"] if c != per_pass}) if per_pass else []
    out["bad_pass_counts"] = bad
    out["errors"] = errors[:5]
    out["ok"] = (not errors and len(done) == len(results) and bool(per_pass)
                 and all(f == per_pass * passes for f in frames))
    return out


class Compare:
    def __init__(self, args):
        self.args = args
        self.t_start = time.monotonic()
        self.out = open(args.out, "a") if args.out else None
        self.nvc = None
        self.pb = None  # bench/pynv_bench.py
        self.clip = None  # its pre-demuxed Clip of --clip
        self.per_pass = None  # frames in one pass of --clip
        self.pynv_error = None

    # -- bookkeeping -------------------------------------------------------------------
    def used(self):
        return time.monotonic() - self.t_start

    def record(self, **kv):
        kv.setdefault("t_s", round(self.used(), 1))
        line = json.dumps(kv)
        print(line, flush=True)
        if self.out:
            self.out.write(line + "\n")
            self.out.flush()
        return kv

    def step(self, base, est_s, fn):
        """Runs fn() -> dict unless it would end past the budget; records the result."""
        if self.used() + est_s > self.args.budget_s:
            return self.record(**base, skipped=f"budget: {self.used():.0f} s used of "
                                                f"{self.args.budget_s:.0f}, ~{est_s:.0f} s needed")
        t = time.monotonic()
        try:
            res = fn()
        except Exception as e:  # noqa: BLE001
            res = {"error": err_text(e), "ok": False}
        res = {**base, **res}
        res["step_s"] = round(time.monotonic() - t, 2)
        res["est_s"] = round(est_s, 1)
        return self.record(**res)

    # -- setup -------------------------------------------------------------------------
    def setup(self):
        _load()
        torch.cuda.init()
        torch.zeros(1, device="cuda").sum().item()  # CUDA and torch's kernels ready
        env = {"bench": "env", "python": sys.version.split()[0], "torch": torch.__version__,
               "nvcodec_guard": getattr(nv, "__version__", "?"),
               "gpu": torch.cuda.get_device_name(0), "clip": self.args.clip, "long": self.args.long}
        # Ours: the frames of one pass (also our warm-up: a decoder built and used).
        try:
            dec = nv.Decoder(self.args.clip)
            env["codec"] = self._codec = dec.info["codec"]
            n = 0
            for frame in dec:
                torch.from_dlpack(frame).sum()
                n += 1
            torch.cuda.synchronize()
            dec.close()
            self.per_pass = n
            env["frames_per_pass_ours"] = n
        except Exception as e:  # noqa: BLE001
            env["ours_error"] = err_text(e)
        # PyNvVideoCodec: bench/pynv_bench.py beside this repository's scripts/.
        try:
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
            import pynv_bench  # noqa: PLC0415
            self.pb = pynv_bench
            self.nvc = pynv_bench.import_nvc()
            env["pynvvideocodec"] = getattr(self.nvc, "__version__", "unknown")
            self.clip = pynv_bench.Clip(self.nvc, self.args.clip)
            # PyNv's warm-up: one pass with a decoder of its own (frames per pass checked).
            dec = pynv_bench.new_decoder(self.nvc, self.clip.codec, 0)
            n = 0
            for p in self.clip.make_packets(self.nvc):
                for f in dec.Decode(p):
                    torch.from_dlpack(f).sum()
                    n += 1
            pynv_bench.sync_decoder(dec)
            torch.cuda.synchronize()
            del dec
            env["frames_per_pass_pynv"] = n
            if self.per_pass is None:
                self.per_pass = n
        except Exception as e:  # noqa: BLE001
            self.pynv_error = "PyNvVideoCodec: " + err_text(e)
            env["pynv_error"] = self.pynv_error
        env["passes"] = {str(n): self.passes(n) for n in self.args.ns}
        env["torch_stream"] = self.args.torch_stream
        self.record(**env)

    def consumer_stream(self):
        """Where a thread's reductions run: torch's current stream (the legacy default stream
        unless told) or, with --torch-stream per-thread, a torch stream of the thread's own."""
        if self.args.torch_stream == "per-thread":
            return torch.cuda.stream(torch.cuda.Stream())
        return contextlib.nullcontext()

    def passes(self, n):
        a = self.args
        return passes_for(n, a.frames, a.target_s, a.gen, a.rate1, a.rate_agg)

    # -- throughput --------------------------------------------------------------------
    def ours_throughput(self, n, passes, planar=False, prefetch=None):
        clip, timeout = self.args.clip, self.args.run_timeout_s
        kw = dict(output="planar", dtype="float32", mean=MEAN, std=STD) if planar else {}
        if prefetch is not None:
            kw["prefetch"] = prefetch
        pool = nv.DecoderPool()
        pool.prewarm(self.codec_name(), n)

        def body(i, r, barrier, timeout):
            with self.consumer_stream():
                barrier.wait(timeout)
                for _ in range(passes):
                    c = 0
                    with pool.checkout(clip, **kw) as dec:
                        for frame in dec:
                            torch.from_dlpack(frame).sum()
                            c += 1
                    r["counts"].append(c)
                    r["frames"] += c
                torch.cuda.synchronize()
                r["end"] = time.perf_counter()

        t0, results, alive = run_threads(n, body, timeout)
        out = summarize_run({}, t0, results, alive, timeout, self.per_pass, passes)
        out["pool"] = dict(pool.stats())
        if prefetch is None:  # the package's default, as the installed version has it
            with pool.checkout(clip, **kw) as dec:
                out["prefetch"] = getattr(dec, "prefetch", "none")
        return out

    def pynv_throughput(self, n, passes, planar=False):
        if self.pynv_error:
            return {"error": self.pynv_error, "ok": False}
        nvc, pb, clip, timeout = self.nvc, self.pb, self.clip, self.args.run_timeout_s
        extra = {"outputColorType": nvc.OutputColorType.RGBP} if planar else {}
        mean = torch.tensor(MEAN, device="cuda").view(3, 1, 1)
        std = torch.tensor(STD, device="cuda").view(3, 1, 1)

        def body(i, r, barrier, timeout):
            pk = clip.make_packets(nvc)  # ends with the zero-size end-of-stream packet
            dec = pb.new_decoder(nvc, clip.codec, 0, **extra)
            try:
                with self.consumer_stream():
                    barrier.wait(timeout)
                    for _ in range(passes):
                        c = 0
                        for p in pk:
                            for f in dec.Decode(p):
                                t = torch.from_dlpack(f)
                                if planar:
                                    t = pynv_planar_view(t).float().div_(255).sub_(mean).div_(std)
                                t.sum()
                                c += 1
                        pb.sync_decoder(dec)
                        r["counts"].append(c)
                        r["frames"] += c
                    torch.cuda.synchronize()
                    r["end"] = time.perf_counter()
            finally:
                del dec  # after the clock, as decode_bench and pynv_long.py do

        t0, results, alive = run_threads(n, body, timeout)
        return summarize_run({"between": "eos"}, t0, results, alive, timeout, self.per_pass, passes)

    def codec_name(self):
        if not hasattr(self, "_codec"):
            d = nv.Decoder(self.args.clip)
            self._codec = d.info["codec"]
            d.close()
        return self._codec

    def est_throughput(self, who, n, passes, planar=False):
        frames = n * passes * self.args.frames
        rate = usual_rate(n, self.args.rate1, self.args.rate_agg)
        if planar:
            rate *= 0.8
        if who == "pynv":
            rate *= 0.9 if n == 1 else 0.7
        return frames / rate + 2 + 0.05 * n

    # -- random access -----------------------------------------------------------------
    def ours_random(self, path, seeds, count):
        probe = nv.Decoder(path)
        total = probe.count_frames()
        next(iter(probe))  # warm-up: this file's decoder works
        probe.close()
        torch.cuda.synchronize()
        runs, md5s = [], {}
        for seed in range(seeds):
            idx = indices(seed, count, total)
            t0 = time.perf_counter()
            dec = nv.Decoder(path)
            t1 = time.perf_counter()
            frames = dec.frames_at(idx, stack=False)
            torch.cuda.synchronize()
            t2 = time.perf_counter()
            runs.append({"seed": seed, "open_s": round(t1 - t0, 4), "call_s": round(t2 - t1, 4),
                         "cold_s": round(t2 - t0, 4), "returned": len(frames)})
            md5s[seed] = [[i, md5_tensor(torch.from_dlpack(f))] for i, f in zip(idx, frames)]
            del frames
            dec.close()
        return {"frames_in_file": total, "runs": runs, "md5": md5s}

    def pynv_random(self, path, seeds, count):
        if self.nvc is None:
            return {"error": self.pynv_error, "ok": False}
        nvc = self.nvc
        probe = nvc.SimpleDecoder(path, gpu_id=0, use_device_memory=True)
        total = len(probe)
        probe.get_batch_frames_by_index([0])  # warm-up
        torch.cuda.synchronize()
        del probe
        runs, md5s = [], {}
        for seed in range(seeds):
            idx = indices(seed, count, total)
            t0 = time.perf_counter()
            dec = nvc.SimpleDecoder(path, gpu_id=0, use_device_memory=True)
            t1 = time.perf_counter()
            frames = dec.get_batch_frames_by_index(idx)
            torch.cuda.synchronize()
            t2 = time.perf_counter()
            runs.append({"seed": seed, "open_s": round(t1 - t0, 4), "call_s": round(t2 - t1, 4),
                         "cold_s": round(t2 - t0, 4), "returned": len(frames)})
            md5s[seed] = [[i, md5_tensor(torch.from_dlpack(f))] for i, f in zip(idx, frames)]
            del frames, dec
        return {"frames_in_file": total, "runs": runs, "md5": md5s}

    # -- pool start --------------------------------------------------------------------
    def ours_pool_start(self, streams):
        clip, timeout = self.args.clip, 60.0
        pool = nv.DecoderPool()
        pool.prewarm(self.codec_name(), streams)
        release = threading.Event()
        barrier = threading.Barrier(streams + 1)
        ts = [None] * streams

        def one(i):
            t = {}
            try:
                barrier.wait(timeout)
                t["released"] = time.perf_counter()
                with pool.checkout(clip) as dec:
                    next(dec)
                    t["first_frame"] = time.perf_counter()
                    ts[i] = t
                    release.wait(timeout)  # every decoder stays out until all have a frame
            except Exception as e:  # noqa: BLE001
                ts[i] = {"error": err_text(e)}
                barrier.abort()

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(streams)]
        for th in threads:
            th.start()
        try:
            barrier.wait(timeout)
        except threading.BrokenBarrierError:
            pass
        t0 = time.perf_counter()
        while any(x is None for x in ts) and time.perf_counter() - t0 < timeout:
            time.sleep(0.002)
        release.set()
        for th in threads:
            th.join(10)
        ok = [x for x in ts if x and "first_frame" in x]
        errors = [x["error"] for x in ts if x and x.get("error")]
        start = min([t0] + [x["released"] for x in ok])
        out = {"completed": len(ok), "errors": errors[:5], "ok": len(ok) == streams,
               "pool": dict(pool.stats())}
        if ok:
            ff = [x["first_frame"] - start for x in ok]
            out["wall_to_last_first_frame_s"] = round(max(ff), 4) if len(ok) == streams else None
            out["first_frame_median_s"] = round(statistics.median(ff), 4)
        return out

    def pynv_pool_start(self, streams):
        if self.nvc is None:
            return {"error": self.pynv_error, "ok": False}
        r = self.pb.cold_start_threads(self.nvc, self.args.clip, streams, 0, 60.0)
        r["ok"] = r.get("wall_to_last_first_frame_s") is not None
        return r

    # -- the whole run -----------------------------------------------------------------
    def run(self):
        a = self.args
        self.setup()
        steps = set(a.steps)
        if "throughput" in steps:
            for n in a.ns:
                k = self.passes(n)
                if "ours" in a.who:
                    for d in a.prefetch or [None]:
                        base = {"bench": "throughput", "who": "ours", "n": n, "passes": k}
                        if d is not None:
                            base["prefetch"] = d
                        self.step(base, self.est_throughput("ours", n, k),
                                  lambda n=n, k=k, d=d: self.ours_throughput(n, k, prefetch=d))
                if "pynv" in a.who:
                    self.step({"bench": "throughput", "who": "pynv", "n": n, "passes": k},
                              self.est_throughput("pynv", n, k),
                              lambda n=n, k=k: self.pynv_throughput(n, k))
        if "planar" in steps:
            k = self.passes(1)
            for who in ("ours", "pynv"):
                fn = self.ours_throughput if who == "ours" else self.pynv_throughput
                self.step({"bench": "planar_f32", "who": who, "n": 1, "passes": k},
                          self.est_throughput(who, 1, k, planar=True),
                          lambda fn=fn, k=k: fn(1, k, planar=True))
        if "random" in steps:
            if not a.long or not os.path.exists(a.long):
                self.record(bench="random", who="both", skipped=f"no long file ({a.long})")
            else:
                for who, est in (("ours", 6 * a.seeds + 4), ("pynv", 7 * a.seeds + 6)):
                    fn = self.ours_random if who == "ours" else self.pynv_random
                    self.step({"bench": "random", "who": who, "clip": a.long, "count": a.count,
                               "seeds": a.seeds}, est,
                              lambda fn=fn: fn(a.long, a.seeds, a.count))
        if "pool" in steps:
            for who in ("ours", "pynv"):
                fn = self.ours_pool_start if who == "ours" else self.pynv_pool_start
                self.step({"bench": "pool_start", "who": who, "n": a.streams}, 12,
                          lambda fn=fn: fn(a.streams))
        self.record(bench="end", used_s=round(self.used(), 1))


# --------------------------------------------------------------------------------------
# The table (from the JSON lines alone)
# --------------------------------------------------------------------------------------

def fmt(x, spec=",.0f"):
    return "-" if x is None else format(x, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def table(path, min_wall=5.0, limit_source=None):
    """The summary of a --compare run (plus its "who":"rust" lines) as text lines."""
    rows = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    L = []
    env = next((r for r in rows if r.get("bench") == "env"), {})
    L.append(f"Python benchmarks (issue 20), one process: nvcodec_guard {env.get('nvcodec_guard', '?')}, "
             f"PyNvVideoCodec {env.get('pynvvideocodec', env.get('pynv_error', '?'))}, "
             f"torch {env.get('torch', '?')}, Python {env.get('python', '?')}, GPU {env.get('gpu', '?')}")
    L.append(f"clip {env.get('clip', '?')} ({env.get('frames_per_pass_ours', '?')} frames per pass); "
             f"long file {env.get('long', '?')}")
    L.append("")
    problems = []  # failures: the exit status is 1 if any
    skipped = []
    walls = []  # (label, wall) of every timed run

    def bad(r, label):
        if r is None:
            return
        if r.get("skipped"):
            skipped.append(f"{label}: {r['skipped']}")
        elif r.get("error") or not r.get("ok", True):
            problems.append(f"{label}: {r.get('error') or 'not ok'} "
                            f"{'; '.join(r.get('errors') or [])} "
                            f"frames/thread {r.get('frames_per_thread_min')}..{r.get('frames_per_thread_max')} "
                            f"(expected {r.get('expected_per_thread')}); bad pass counts {r.get('bad_pass_counts')}")

    any_depth = object()

    def last(bench, who, n=None, keep=None, decoders="own", prefetch=any_depth):
        found = None
        for r in rows:
            if r.get("who") != who:
                continue
            if who == "rust":
                if (r.get("mode") != "throughput" or r.get("n") != n or r.get("keep", "map") != keep
                        or r.get("decoders", "own") != decoders):
                    continue
            elif r.get("bench") != bench or (n is not None and r.get("n") != n):
                continue
            if prefetch is not any_depth and r.get("prefetch") != prefetch:
                continue
            found = r
        return found

    def fps(r):
        return r.get("fps") if r and not r.get("skipped") and not r.get("error") else None

    # Throughput
    ns = sorted({r["n"] for r in rows if r.get("bench") == "throughput" and "n" in r})
    measured = [(r["fps"], f"{r.get('who')} N={r.get('n')}" + (f" keep={r.get('keep')}" if r.get("who") == "rust" else ""))
                for r in rows
                if (r.get("bench") == "throughput" or (r.get("who") == "rust" and r.get("mode") == "throughput"))
                and fps(r)]
    limit, limit_who = max(measured) if measured else (None, None)
    L.append(f"Throughput, every frame consumed as torch.from_dlpack(frame).sum() on the "
             f"{env.get('torch_stream', 'default')} torch stream (H.264 1080p):")
    L.append("| N | ours prefetch | passes | ours fps | PyNv fps | ours / PyNv | ours / limit | PyNv / limit "
             "| Rust same workload fps | Python / Rust same workload "
             "| Rust map fps | Python / Rust map | Rust pool-copy fps | Python / Rust pool-copy "
             "| wall s ours, PyNv, Rust same, Rust map, Rust pool |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for n in ns:
        depths = []  # ours' decode-ahead depths in this run, in order (None: not recorded)
        for r in rows:
            if r.get("bench") == "throughput" and r.get("who") == "ours" and r.get("n") == n:
                if r.get("prefetch") not in depths:
                    depths.append(r.get("prefetch"))
        p = last("throughput", "pynv", n)
        rs = last(None, "rust", n, "pool", decoders="pool")
        rm, rp = last(None, "rust", n, "map"), last(None, "rust", n, "pool")
        bad(p, f"throughput PyNv N={n}")
        for r, lab in ((rs, "Rust same workload"), (rm, "Rust map"), (rp, "Rust pool")):
            if r is not None and r.get("skipped"):
                skipped.append(f"throughput {lab} N={n}: {r['skipped']}")
            elif r is not None and r.get("error"):
                problems.append(f"throughput {lab} N={n}: {r['error']}")
        for i, d in enumerate(depths or [None]):
            o = last("throughput", "ours", n, prefetch=d) if depths else None
            bad(o, f"throughput ours N={n} prefetch={d}")
            ws = []
            for r, lab in ((o, f"ours prefetch={d}"), (p, "PyNv"), (rs, "Rust same workload"),
                           (rm, "Rust map"), (rp, "Rust pool")):
                w = r.get("wall_s") if r else None
                ws.append(fmt(w, ".1f"))
                if w is not None and (i == 0 or r is o):
                    walls.append((f"throughput {lab} N={n}", w))
            k = (o or p or {}).get("passes")
            L.append(f"| {n} | {'-' if d is None else d} | {fmt(k, 'd')} | {fmt(fps(o))} | {fmt(fps(p))} "
                     f"| {fmt(ratio(fps(o), fps(p)), '.2f')} "
                     f"| {fmt(ratio(fps(o), limit), '.3f')} | {fmt(ratio(fps(p), limit), '.3f')} "
                     f"| {fmt(fps(rs))} | {fmt(ratio(fps(o), fps(rs)), '.3f')} "
                     f"| {fmt(fps(rm))} | {fmt(ratio(fps(o), fps(rm)), '.3f')} "
                     f"| {fmt(fps(rp))} | {fmt(ratio(fps(o), fps(rp)), '.3f')} | {', '.join(ws)} |")
    if limit:
        L.append(f"NVDEC limit: the highest aggregate fps measured in this run for this codec, "
                 f"{limit:,.0f} fps ({limit_who}); a lower bound on the true limit. "
                 f"Goal at many decoders: ours >= 0.95 of it.")
    L.append("Rust: `BENCH_PASSES=K decode_bench throughput CLIP N`, same K. Same workload = "
             "BENCH_POOL=1 BENCH_KEEP=pool: per pass a checkout from a pool prewarmed with N, the clip "
             "read from its path, every frame copied into a buffer of one shared frame pool, as the "
             "Python run does (less its torch reduction); map and pool-copy: one decoder per thread "
             "fed packets read into memory before the clock, frames mapped and released (map) or "
             "copied into a reused buffer (pool-copy). Ours prefetch = decode-ahead depth "
             "(0 = off, - = not recorded). Goal: Python / Rust same workload >= 0.95.")
    L.append("")

    # Planar f32
    o, p = last("planar_f32", "ours"), last("planar_f32", "pynv")
    bad(o, "planar_f32 ours")
    bad(p, "planar_f32 PyNv")
    for r, lab in ((o, "ours"), (p, "PyNv")):
        if r and r.get("wall_s") is not None:
            walls.append((f"planar_f32 {lab}", r["wall_s"]))
    L.append("Decode -> normalised planar float32 (3, H, W) tensor, one decoder (mean/std of ImageNet):")
    L.append("| passes | ours fps | PyNv RGBP + torch fps | ours / PyNv | wall s ours, PyNv |")
    L.append("|---:|---:|---:|---:|---|")
    L.append(f"| {fmt((o or p or {}).get('passes'), 'd')} | {fmt(fps(o))} | {fmt(fps(p))} "
             f"| {fmt(ratio(fps(o), fps(p)), '.2f')} | {fmt((o or {}).get('wall_s'), '.1f')}, "
             f"{fmt((p or {}).get('wall_s'), '.1f')} |")
    L.append("")

    # Random access
    o, p = last("random", "ours"), last("random", "pynv")
    bad(o, "random ours")
    bad(p, "random PyNv")

    def med(r, key):
        runs = (r or {}).get("runs") or []
        vals = [x[key] for x in runs if x.get(key) is not None]
        return statistics.median(vals) if vals else None

    ref = {}
    clip = (o or p or {}).get("clip")
    if clip:
        try:
            ref = reference_md5s(clip)
        except Exception as e:  # noqa: BLE001
            problems.append(f"random: framemd5 unreadable: {err_text(e)}")
    L.append(f"32 random frames of {clip or '?'} (a new decoder per seed; median of "
             f"{(o or p or {}).get('seeds', '?')} seeds):")
    L.append("| | frames in file | open s | call s | open + call s | returned | equal to ffmpeg's framemd5 |")
    L.append("|---|---:|---:|---:|---:|---|---|")
    md = {}
    for r, lab in ((o, "ours (Decoder(path).frames_at)"), (p, "PyNv (SimpleDecoder.get_batch_frames_by_index)")):
        got = {}
        returned = []
        for x in (r or {}).get("runs") or []:
            returned.append(f"{x.get('returned')}/{(r or {}).get('count', 32)}")
        for seed, pairs in ((r or {}).get("md5") or {}).items():
            for i, h in pairs:
                got[(seed, i)] = h
        md[lab] = got
        eq = "-"
        if ref and got:  # (seed, index) pairs: an index drawn twice in one seed counts once
            same = sum(1 for (_, i), h in got.items() if ref.get(int(i)) == h)
            eq = f"{same}/{len(got)}"
        elif got:
            eq = "no framemd5"
        L.append(f"| {lab} | {fmt((r or {}).get('frames_in_file'), 'd')} | {fmt(med(r, 'open_s'), '.3f')} "
                 f"| {fmt(med(r, 'call_s'), '.3f')} | {fmt(med(r, 'cold_s'), '.3f')} | {' '.join(returned) or '-'} | {eq} |")
    mo, mp = list(md.values()) if len(md) == 2 else ({}, {})
    common = [k for k in mo if k in mp]
    if common:
        same = sum(1 for k in common if mo[k] == mp[k])
        L.append(f"Frames equal between the two (MD5 of packed NV12, same seed and index; a library's "
                 f"frames paired with the requested indices in order): {same}/{len(common)}.")
    rt = ratio(med(p, "cold_s"), med(o, "cold_s"))
    L.append(f"PyNv / ours time (open + call): {fmt(rt, '.2f')} (goal >= 1.5).")
    L.append("")

    # Pool start
    o, p = last("pool_start", "ours"), last("pool_start", "pynv")
    bad(o, "pool_start ours")
    bad(p, "pool_start PyNv")
    ow = (o or {}).get("wall_to_last_first_frame_s")
    pw = (p or {}).get("wall_to_last_first_frame_s")
    L.append(f"{(o or p or {}).get('n', 32)} streams started at once, time to the last first frame:")
    L.append("| ours (pool prewarmed) s | PyNv (new demuxer + decoder each) s | PyNv / ours |")
    L.append("|---:|---:|---:|")
    L.append(f"| {fmt(ow, '.3f')} | {fmt(pw, '.3f')} | {fmt(ratio(pw, ow), '.2f')} |")
    L.append("")

    short = [f"{lab} {w:.1f} s" for lab, w in walls if w < min_wall]
    L.append(f"every throughput / planar run >= {min_wall:g} s: "
             + ("yes" if walls and not short else ("no timed runs" if not walls else "no: " + ", ".join(short))))
    end = next((r for r in rows if r.get("bench") == "end"), None)
    if end:
        L.append(f"Python script: {end.get('used_s')} s")
    for r in rows:  # steps skipped before they had a row of their own kind (no long file)
        if r.get("who") == "both" and r.get("skipped"):
            skipped.append(f"{r.get('bench')}: {r['skipped']}")
    if skipped:
        L.append("Skipped (time budget or missing input):")
        L.extend("  " + s for s in skipped)
    if problems:
        L.append("Problems:")
        L.extend("  " + s for s in problems)
    return L, not problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--clip", default="tests/data/h264_1920x1080.h264")
    ap.add_argument("--long", default=None, help="a long file for random access")
    ap.add_argument("--rounds", type=int, default=4, help="(without --compare) passes per thread")
    ap.add_argument("--compare", action="store_true", help="ours and PyNvVideoCodec, see above")
    ap.add_argument("--table", metavar="JSONL", help="print the table of a --compare run and exit")
    ap.add_argument("--print-passes", type=int, metavar="N", help="print K for N threads and exit")
    ap.add_argument("--out", help="(--compare) append the JSON lines to this file too")
    ap.add_argument("--budget-s", type=float, default=330.0, help="(--compare) skip steps past this")
    ap.add_argument("--ns", default="1,7,28", help="(--compare) thread counts for throughput")
    ap.add_argument("--steps", default="throughput,planar,random,pool")
    ap.add_argument("--frames", type=int, default=300, help="frames per pass of --clip, for K")
    ap.add_argument("--target-s", type=float, default=6.5)
    ap.add_argument("--gen", type=float, default=1.3, help="K assumes GEN x the usual rate")
    ap.add_argument("--rate1", type=float, default=RATE1, help="usual fps of one decoder")
    ap.add_argument("--rate-agg", type=float, default=RATE_AGG, help="usual aggregate fps of many")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--streams", type=int, default=32)
    ap.add_argument("--run-timeout-s", type=float, default=90.0, help="per timed run")
    ap.add_argument("--min-wall-s", type=float, default=5.0)
    ap.add_argument("--prefetch", default="",
                    help="(--compare) decode-ahead depths of our throughput runs, e.g. 0,4 "
                         "(one run each; default: one run with the package's default)")
    ap.add_argument("--who", default="ours,pynv", help="(--compare) ours, pynv or both")
    ap.add_argument("--torch-stream", choices=("default", "per-thread"), default="default",
                    help="(--compare) the stream of the reductions: torch's current (legacy "
                         "default) stream, or one of each thread's own")
    args = ap.parse_args()
    try:
        args.ns = [int(x) for x in args.ns.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--ns {args.ns!r}: expected numbers like 1,7,28")
    try:
        args.prefetch = [int(x) for x in args.prefetch.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--prefetch {args.prefetch!r}: expected depths like 0,4")
    if any(d < 0 for d in args.prefetch):
        ap.error("--prefetch: depths are >= 0")
    args.who = [w.strip() for w in args.who.split(",") if w.strip()]
    if not args.who or set(args.who) - {"ours", "pynv"}:
        ap.error(f"--who {','.join(args.who)!r}: expected ours, pynv or ours,pynv")
    args.steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = set(args.steps) - {"throughput", "planar", "random", "pool"}
    if unknown:
        ap.error(f"--steps: unknown {sorted(unknown)}")
    if any(n < 1 for n in args.ns) or args.frames < 1 or args.seeds < 1 or args.count < 1:
        ap.error("--ns, --frames, --seeds and --count must be >= 1")

    if args.print_passes is not None:
        if args.print_passes < 1:
            ap.error("--print-passes N: N >= 1")
        print(passes_for(args.print_passes, args.frames, args.target_s, args.gen, args.rate1, args.rate_agg))
        return 0
    if args.table:
        lines, ok = table(args.table, args.min_wall_s)
        print("\n".join(lines), flush=True)
        return 0 if ok else 1
    if args.compare:
        Compare(args).run()
        return 0
    for threads in (1, 7, 28):
        throughput(args.clip, threads, args.rounds)
    planar_f32(args.clip, args.rounds)
    random_access(args.long or args.clip)
    pool_start(args.clip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
