#!/usr/bin/env python3
"""PyNvVideoCodec throughput over long runs: N threads, each decoding the clip K passes.

    python3 bench/pynv_long.py CLIP N PASSES [--between auto|eos|concat] [--expected-frames F]

The counterpart of `BENCH_PASSES=K decode_bench throughput CLIP N` for runs long enough
(>= 5 s) that start-up does not weigh on the figure.  The clip is demuxed into memory before
timing (bench/pynv_bench.py's Clip); each thread builds its PacketData list and its decoder
before a barrier, then decodes the clip PASSES times back to back with the SAME decoder object,
calling SyncOnCUStream() after every pass.  The clock runs from the barrier's release (in the
main thread) to the end of the last thread (its last pass decoded and synced; the decoder is
dropped after the clock stops, as decode_bench does).  As in pynv_bench.py, the NVDEC session
itself is created lazily by PyNvVideoCodec on the first sequence header, i.e. inside the timed
region (once per decoder, not per pass).

Between passes (--between):
  eos     every pass ends with the zero-size end-of-stream packet (the decoder flushes and
          returns the clip's last frames), then the next pass starts on the same decoder.
  concat  the end-of-stream packet only after the last pass: the passes reach the decoder as
          one stream of PASSES copies of the clip (each copy starts with its parameter sets and
          an IDR, so this is a valid stream); frames still all come out, in display order.
  auto    (default) before timing, one decoder decodes the clip once (its frame count is the
          expected count per pass, checked against --expected-frames if given), then a new
          decoder decodes 2 passes with `eos`; if that returns 2 x the count (each pass all
          of it), `eos` is used, else `concat` is probed the same way (the sum only) and used
          if it works.  These probes are also this process's CUDA / PyNvVideoCodec warm-up.
Which one ran is in the output ("between").

Prints one JSON line:
  {"who":"pynv","mode":"throughput","codec":"h264","n":7,"passes":17,"frames":35700,
   "frames_per_decoder_min":..,"frames_per_decoder_max":..,"expected_per_decoder":..,
   "wall_s":..,"fps":..,"between":"eos","ok":true,...}
and exits 1 if any thread failed or decoded other than PASSES x the clip's frames.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pynv_bench import (  # noqa: E402
    Clip, err_text, import_nvc, new_decoder, session_init_ms, sync_decoder)


def codec_name(clip_codec, path):
    """'h264' / 'hevc' / ..., as decode_bench prints it."""
    s = str(clip_codec).lower()
    for name in ("hevc", "h264", "av1", "vp9", "vp8", "mpeg2", "mpeg4", "vc1", "mjpeg"):
        if name in s:
            return name
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    return {"265": "hevc", "264": "h264"}.get(ext, ext or s)


def decode_passes(dec, packets, passes, between, inits=None):
    """Decode `packets` (ending with the zero-size end-of-stream packet) `passes` times with
    one decoder; returns the frame count of each pass.  `inits`, if a list, gets
    GetSessionInitTime() after each pass (a value that changes from pass to pass would mean
    PyNvVideoCodec made a new NVDEC session for that pass)."""
    body = [p for p in packets if int(p.bsl) > 0]
    counts = []
    for k in range(passes):
        last = k == passes - 1
        feed = packets if (between == "eos" or last) else body
        n = 0
        for p in feed:
            n += len(dec.Decode(p))
        sync_decoder(dec)
        counts.append(n)
        if inits is not None:
            inits.append(session_init_ms(dec))
    return counts


def probe(nvc, clip, gpu, between, passes):
    """One new decoder, `passes` passes, before timing (the caller checks the counts)."""
    packets = clip.make_packets(nvc)
    dec = new_decoder(nvc, clip.codec, gpu)
    t = time.monotonic()
    try:
        counts = decode_passes(dec, packets, passes, between)
    finally:
        del dec
    return {"between": between, "counts": counts, "s": round(time.monotonic() - t, 3)}


def run(nvc, clip, n, passes, gpu, between, timeout):
    barrier = threading.Barrier(n + 1)
    results = [dict(frames=0, counts=[], inits=[]) for _ in range(n)]

    def worker(i):
        r = results[i]
        dec = pk = None
        try:
            pk = clip.make_packets(nvc)
            dec = new_decoder(nvc, clip.codec, gpu)
            barrier.wait(timeout)
            r["start"] = time.monotonic()
            r["counts"] = decode_passes(dec, pk, passes, between, r["inits"] if i == 0 else None)
            r["frames"] = sum(r["counts"])
            r["end"] = time.monotonic()
            r["init_ms"] = session_init_ms(dec)
        except threading.BrokenBarrierError:
            r["error"] = "barrier broken (another decoder failed or timed out)"
        except Exception as e:  # noqa: BLE001
            r["error"] = err_text(e)
            barrier.abort()
        finally:
            del dec, pk

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        pass
    t0 = time.monotonic()
    deadline = t0 + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = sum(t.is_alive() for t in threads)
    return t0, results, alive


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("clip")
    ap.add_argument("n", type=int, help="decoders (threads) at once")
    ap.add_argument("passes", type=int, help="passes over the clip per decoder")
    ap.add_argument("--between", choices=("auto", "eos", "concat"), default="auto")
    ap.add_argument("--expected-frames", type=int, default=0,
                    help="frames per pass (default: what the probe's first pass decodes; "
                         "if given, the probe's first pass must match it)")
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--timeout-s", type=float, default=120.0, help="for the timed run")
    args = ap.parse_args()
    if args.n < 1 or args.passes < 1:
        ap.error("N and PASSES must be >= 1")

    out = {"who": "pynv", "mode": "throughput", "clip": os.path.basename(args.clip), "n": args.n,
           "passes": args.passes, "input": "preloaded"}

    def finish(ok, **kw):
        out.update(kw)
        out["ok"] = ok
        print(json.dumps(out), flush=True)
        sys.exit(0 if ok else 1)

    try:
        nvc = import_nvc()
        out["pynvvideocodec"] = getattr(nvc, "__version__", "unknown")
        clip = Clip(nvc, args.clip)
    except Exception as e:  # noqa: BLE001
        finish(False, error="setup: " + err_text(e))
    out["codec"] = codec_name(clip.codec, args.clip)

    # Probe / warm-up (untimed): one pass with its own decoder gives the frames per pass; then
    # 2 passes on one decoder per way between passes, until one gives 2 x that many.  (With
    # `concat`, frames of one pass come out during the next one: only the sum is checked.)
    probes = []
    between = None
    try:
        first = probe(nvc, clip, args.gpu, "eos", 1)
        probes.append(first)
        expected = first["counts"][0]
        if expected <= 0 or (args.expected_frames and expected != args.expected_frames):
            finish(False, probes=probes, error=f"one pass decoded {expected} frames, expected "
                                               f"{args.expected_frames or '> 0'}")
        order = ["eos", "concat"] if args.between == "auto" else [args.between]
        for b in order:
            pr = probe(nvc, clip, args.gpu, b, 2)
            pr["ok"] = sum(pr["counts"]) == 2 * expected and (b != "eos" or pr["counts"] == [expected] * 2)
            probes.append(pr)
            if pr["ok"]:
                between = b
                break
    except Exception as e:  # noqa: BLE001
        finish(False, probes=probes, error="probe: " + err_text(e))
    out["probes"] = probes
    if between is None:
        finish(False, error=f"no way between passes ({', '.join(order)}) gave 2 x {expected} frames")
    out["between"] = between
    out["expected_per_decoder"] = expected * args.passes

    t0, results, alive = run(nvc, clip, args.n, args.passes, args.gpu, between, args.timeout_s)
    errors = [r["error"] for r in results if r.get("error")]
    if alive:
        errors.append(f"{alive} decoder threads still running after {args.timeout_s}s")
    done = [r for r in results if "end" in r]
    frames = [r["frames"] for r in results]
    total = sum(frames)
    if done:
        wall = max(r["end"] for r in done) - t0
        out["wall_s"] = round(wall, 4)
        out["fps"] = round(total / wall, 1) if wall > 0 else None
        out["start_spread_s"] = round(max(r["start"] for r in done) - t0, 4)
        inits = [r["init_ms"] for r in done if r.get("init_ms") is not None]
        out["session_init_ms_median"] = statistics.median(inits) if inits else None
    # decoder 0's GetSessionInitTime() after each pass (3 decimals; all equal: one session)
    out["init_ms_per_pass_decoder0"] = [None if x is None else round(x, 3) for x in results[0]["inits"]]
    # Per pass only with `eos` (with `concat` a pass's last frames come out in the next pass).
    bad_passes = sorted({c for r in results for c in r["counts"] if c != expected}) if between == "eos" else None
    ok = (not errors and len(done) == args.n
          and all(f == expected * args.passes for f in frames))
    finish(ok, frames=total, frames_per_decoder_min=min(frames), frames_per_decoder_max=max(frames),
           bad_pass_counts=bad_passes, errors=errors[:5])


if __name__ == "__main__":
    main()
