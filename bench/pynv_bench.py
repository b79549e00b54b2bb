#!/usr/bin/env python3
"""Yardstick: NVIDIA's PyNvVideoCodec (2.2.x) decoding the same clips as nvcodec-guard.

Usage (on the GPU machine; the wheel lives in .whl/):
    python3 -m pip install --no-deps .whl/pynvvideocodec-2.2.4-*.whl
    PYTHONUNBUFFERED=1 python3 bench/pynv_bench.py --clips bench-clips --out OUTDIR

Writes OUTDIR/pynv_results.json (rewritten after every step, so a partial run still
leaves results) and prints a Markdown summary at the end.

What is measured, per clip (*.h264, *.hevc in --clips):
  validate     one decoder, live demux -> decode, and the same from pre-demuxed packets;
               frame counts must agree (this is also the CUDA warm-up).
  gil_probe    a Python spin loop's speed while another thread decodes, relative to its
               speed alone (near 1.0: Decode() releases the GIL).
  throughput   N = 1,2,4,7,14,28 concurrent decoders, each decoding the whole clip once.
               "thread": Python threads in this process (Decode releases the GIL, see
               below); "process": one spawned process per decoder.  Packets are demuxed
               into memory before timing (demux not timed) unless validation showed the
               pre-demuxed path does not work, in which case each decoder demuxes live and
               that run is marked demux_timed=true.  Decoder objects are created before
               the start barrier, but the NVDEC session itself (cuvidCreateDecoder) is
               created lazily on the first sequence header, i.e. inside the timed region.
               aggregate_fps = all frames / (last end - first start).
               nvidia_style_sum_fps = sum over decoders of frames / (own time -
               GetSessionInitTime()), the number NVIDIA's decode_perf.py sample prints.
  cold_start   N = 1, 8, 32 pipelines started together; each creates its demuxer and
               decoder from scratch inside the timed region and decodes until its first
               frame comes out.  wall = start -> last pipeline's first frame.  Threads
               share this (already CUDA-initialised) process; processes also pay
               per-process CUDA initialisation.
  memory       free device memory (torch.cuda.mem_get_info, or cuMemGetInfo via ctypes)
               with 0, 1 and 8 decoders open, each having decoded a few frames;
               per-session MiB = (free@1 - free@8) / 7.  Done with the library's default
               context handling and again passing the device's primary context.

PyNvVideoCodec 2.2.4 API used (read from the wheel: samples/, docstrings, binary):
  nvc.CreateDemuxer(filename=path) -> PyNvDemuxer; iterable; yields PacketData
      (fields bsl_data (address), bsl (size), pts, dts, key, ...).  In the (2.0-era)
      source of NvDemuxer::Demux the demuxer hands out the SAME PacketData object every
      time and reuses its buffer (2.2.4's muxer docs also say the demuxer buffer is reused
      by the next demux), so packets are copied before the next demux.  At end of stream
      it yields one zero-size packet, which, passed to Decode(), flushes the decoder
      (a zero-size packet is appended if the demuxer does not yield one).
  demuxer.GetNvCodecId(), Width(), Height(), FrameRate(), BitDepth(), ChromaFormat()
  nvc.CreateDecoder(gpuid=0, codec=..., cudacontext=0, cudastream=0,
      usedevicememory=True, maxwidth=0, maxheight=0, outputColorType=..., latency=...,
      bWaitForSessionWarmUp=False, ...) -> PyNvDecoder
  decoder.Decode(packet) -> list[DecodedFrame] (0..n frames per packet, display order)
  decoder.GetSessionInitTime() -> ms;  nvc.PacketData() is constructible and writable.
  nvc.GetDecoderCaps(gpuid=, codec=, chromaformat=, bitdepth=) -> dict
  GIL: the binding calls PyEval_SaveThread right before NvDecoder::PyDecode (seen in the
  disassembly of PyNvVideoCodec_130.so), and NVIDIA's decode_perf.py sample says "decoder
  operations are GIL-free"; gil_probe checks it at run time.  Both thread and process
  modes are measured anyway and labelled.
"""

import argparse
import ctypes
import datetime
import gc
import glob
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import traceback

MiB = 1024 * 1024


def log(*args):
    print(*args, flush=True)


def err_text(e):
    return f"{type(e).__name__}: {e}"


def import_nvc():
    """Import PyNvVideoCodec; if it is not installed, unpack .whl/pynvvideocodec-*.whl
    (next to this repo's root) into /tmp and import it from there (no pip needed)."""
    try:
        import PyNvVideoCodec as nvc  # noqa: N813  (imported lazily: spawn children, --help)
        return nvc
    except ImportError:
        pass
    import zipfile  # noqa: PLC0415
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    wheels = sorted(glob.glob(os.path.join(root, ".whl", "pynvvideocodec-*.whl")))
    if not wheels:
        raise ImportError("PyNvVideoCodec not installed and no .whl/pynvvideocodec-*.whl found")
    dest = os.path.join("/tmp", "pynv_wheel_" + os.path.basename(wheels[-1])[:-4])
    if not os.path.isdir(os.path.join(dest, "PyNvVideoCodec")):
        tmp = dest + f".part{os.getpid()}"
        with zipfile.ZipFile(wheels[-1]) as z:
            z.extractall(tmp)
        try:
            os.rename(tmp, dest)
        except OSError:  # another process won the race
            pass
    if dest not in sys.path:
        sys.path.insert(0, dest)
        os.environ["PYTHONPATH"] = dest + os.pathsep + os.environ.get("PYTHONPATH", "")
    import PyNvVideoCodec as nvc  # noqa: N813
    return nvc


# --------------------------------------------------------------------------------------
# Pre-demuxed clip
# --------------------------------------------------------------------------------------

def packet_field_names(nvc):
    """Plain data attributes of PacketData other than the payload pointer/size."""
    p = nvc.PacketData()
    names = []
    for n in dir(p):
        if n.startswith("_") or n in ("bsl", "bsl_data"):
            continue
        try:
            v = getattr(p, n)
        except Exception:
            continue
        if callable(v):
            continue
        names.append(n)
    return names


class Clip:
    """All packets of one file, copied into memory (ctypes buffers kept alive here)."""

    def __init__(self, nvc, path):
        self.path = path
        dmx = nvc.CreateDemuxer(filename=path)
        self.codec = dmx.GetNvCodecId()
        self.info = {}
        for name in ("Width", "Height", "FrameRate", "BitDepth", "ChromaFormat"):
            try:
                self.info[name] = str(getattr(dmx, name)())
            except Exception as e:  # noqa: BLE001
                self.info[name] = "error: " + err_text(e)
        try:
            self.chroma = dmx.ChromaFormat()
            self.bitdepth = dmx.BitDepth()
        except Exception:  # noqa: BLE001
            self.chroma = self.bitdepth = None
        fields = packet_field_names(nvc)
        self.entries = []  # (address, size, meta)
        self._bufs = []
        for pkt in dmx:
            size = int(pkt.bsl)
            meta = {}
            for f in fields:
                try:
                    meta[f] = getattr(pkt, f)
                except Exception:  # noqa: BLE001
                    pass
            if size > 0:
                buf = ctypes.create_string_buffer(ctypes.string_at(int(pkt.bsl_data), size), size)
                self._bufs.append(buf)
                self.entries.append((ctypes.addressof(buf), size, meta))
            else:
                self.entries.append((0, 0, meta))
        self.flush_appended = not self.entries or self.entries[-1][1] != 0
        if self.flush_appended:  # make sure the decoder gets an end-of-stream packet
            self.entries.append((0, 0, {}))
        self.n_packets = sum(1 for e in self.entries if e[1] > 0)
        self.n_bytes = sum(e[1] for e in self.entries)
        del dmx

    def make_packets(self, nvc):
        out = []
        for addr, size, meta in self.entries:
            p = nvc.PacketData()
            for k, v in meta.items():
                try:
                    setattr(p, k, v)
                except Exception:  # noqa: BLE001
                    pass
            p.bsl_data = addr
            p.bsl = size
            out.append(p)
        return out


def new_decoder(nvc, codec, gpu, **extra):
    return nvc.CreateDecoder(gpuid=gpu, codec=codec, usedevicememory=True, **extra)


def decode_packets(dec, packets):
    n = 0
    for p in packets:
        n += len(dec.Decode(p))
    return n


def decode_live(dec, dmx):
    n = 0
    for p in dmx:
        n += len(dec.Decode(p))
    return n


def sync_decoder(dec):
    try:
        dec.SyncOnCUStream()
    except Exception:  # noqa: BLE001
        pass


def session_init_ms(dec):
    try:
        return float(dec.GetSessionInitTime())
    except Exception:  # noqa: BLE001
        return None


# --------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------

def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:  # noqa: BLE001
        return "error: " + err_text(e)


def environment(nvc, gpu):
    env = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "pynvvideocodec_version": getattr(nvc, "__version__", "unknown"),
        "pynvvideocodec_file": getattr(nvc, "__file__", None),
        "nvenc_api_version_seen_by_lib": getattr(nvc, "supportedNvEncVersion", None),
        "nvidia_smi": sh(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                          "--format=csv,noheader", "-i", str(gpu)]),
    }
    parts = [s.strip() for s in env["nvidia_smi"].split(",")]
    if len(parts) >= 2 and not env["nvidia_smi"].startswith("error"):
        env["gpu_name"], env["driver_version"] = parts[0], parts[1]
    return env


# --------------------------------------------------------------------------------------
# Validation and GIL probe
# --------------------------------------------------------------------------------------

def validate(nvc, clip, gpu):
    res = {}
    t = time.monotonic()
    dmx = nvc.CreateDemuxer(filename=clip.path)
    dec = new_decoder(nvc, dmx.GetNvCodecId(), gpu)
    res["live_frames"] = decode_live(dec, dmx)
    sync_decoder(dec)
    res["live_s"] = round(time.monotonic() - t, 4)
    res["live_session_init_ms"] = session_init_ms(dec)
    del dec, dmx
    try:
        t = time.monotonic()
        dec = new_decoder(nvc, clip.codec, gpu)
        res["predemux_frames"] = decode_packets(dec, clip.make_packets(nvc))
        sync_decoder(dec)
        res["predemux_s"] = round(time.monotonic() - t, 4)
        del dec
    except Exception as e:  # noqa: BLE001
        res["predemux_error"] = err_text(e)
        res["predemux_frames"] = None
    res["use_predemux"] = bool(res["predemux_frames"]) and res["predemux_frames"] == res["live_frames"]
    return res


def spin(seconds):
    n = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        n += 1
    return n


def gil_probe(nvc, clip, gpu, use_predemux):
    base = spin(0.3) / 0.3
    done = threading.Event()
    out = {}

    def work():
        try:
            for _ in range(2):  # two full decodes so the probe window is long enough
                dec = new_decoder(nvc, clip.codec, gpu)
                if use_predemux:
                    out["frames"] = decode_packets(dec, clip.make_packets(nvc))
                else:
                    out["frames"] = decode_live(dec, nvc.CreateDemuxer(filename=clip.path))
                del dec
        except Exception as e:  # noqa: BLE001
            out["error"] = err_text(e)
        finally:
            done.set()

    th = threading.Thread(target=work, daemon=True)
    t0 = time.perf_counter()
    th.start()
    n = 0
    while not done.is_set() and time.perf_counter() - t0 < 30:
        n += spin(0.01)
    dt = time.perf_counter() - t0
    th.join(5)
    ratio = (n / dt) / base if dt > 0 and base > 0 else None
    out.update({
        "spin_rate_alone": round(base), "spin_rate_while_decoding": round(n / dt) if dt else None,
        "ratio": round(ratio, 3) if ratio is not None else None, "window_s": round(dt, 3),
        "verdict": None if ratio is None else ("GIL released during decode" if ratio > 0.5
                                               else "GIL apparently held during decode"),
    })
    return out


# --------------------------------------------------------------------------------------
# Throughput
# --------------------------------------------------------------------------------------

def summarize_throughput(results, n, expected, wall_timeout):
    rows = [r for r in results if r is not None]
    errors = [r["error"] for r in rows if r.get("error")]
    ok = [r for r in rows if not r.get("error") and "start" in r and "end" in r]
    out = {"n": n, "completed": len(ok), "errors": errors[:5], "n_errors": len(errors)}
    if wall_timeout:
        out["errors"].append(wall_timeout)
    frames = [r.get("frames", 0) for r in rows]
    out["frame_counts"] = frames
    out["total_frames"] = sum(frames)
    out["same_count"] = len(set(frames)) == 1 and len(frames) == n
    out["all_full"] = len(frames) == n and all(f == expected for f in frames)
    if ok:
        start = min(r["start"] for r in ok)
        end = max(r["end"] for r in ok)
        wall = end - start
        out["wall_s"] = round(wall, 4)
        out["aggregate_fps"] = round(sum(r["frames"] for r in ok) / wall, 1) if wall > 0 else None
        per = [r["frames"] / (r["end"] - r["start"]) for r in ok if r["end"] > r["start"]]
        out["per_decoder_fps_median"] = round(statistics.median(per), 1) if per else None
        out["sum_per_decoder_fps"] = round(sum(per), 1)
        nv = []
        for r in ok:
            init = r.get("init_ms")
            d = (r["end"] - r["start"]) - (init or 0) / 1000.0
            if d > 0:
                nv.append(r["frames"] / d)
        out["nvidia_style_sum_fps"] = round(sum(nv), 1) if nv else None
        inits = [r["init_ms"] for r in ok if r.get("init_ms") is not None]
        out["session_init_ms_median"] = statistics.median(inits) if inits else None
        out["session_init_ms_max"] = max(inits) if inits else None
        out["start_spread_s"] = round(max(r["start"] for r in ok) - start, 4)
    return out


def throughput_threads(nvc, clip, n, gpu, use_predemux, expected, timeout):
    barrier = threading.Barrier(n + 1)
    results = [None] * n

    def worker(i):
        r = {"frames": 0}
        results[i] = r
        dec = dmx = pk = None
        try:
            if use_predemux:
                pk = clip.make_packets(nvc)
            else:
                dmx = nvc.CreateDemuxer(filename=clip.path)
            dec = new_decoder(nvc, clip.codec, gpu)
            barrier.wait(timeout)
            r["start"] = time.monotonic()
            r["frames"] = decode_packets(dec, pk) if use_predemux else decode_live(dec, dmx)
            sync_decoder(dec)
            r["end"] = time.monotonic()
            r["init_ms"] = session_init_ms(dec)
        except threading.BrokenBarrierError:
            r["error"] = "barrier broken (another decoder failed or timed out)"
        except Exception as e:  # noqa: BLE001
            r["error"] = err_text(e)
            barrier.abort()
        finally:
            del dec, dmx, pk

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        pass
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = sum(t.is_alive() for t in threads)
    out = summarize_throughput(results, n, expected,
                               f"{alive} decoder threads still running after {timeout}s" if alive else None)
    out["mode"] = "thread"
    out["demux_timed"] = not use_predemux
    return out


def _proc_throughput_worker(idx, path, gpu, use_predemux, barrier, queue, timeout):
    r = {"frames": 0}
    try:
        nvc = import_nvc()
        if use_predemux:
            clip = Clip(nvc, path)
            pk = clip.make_packets(nvc)
            codec = clip.codec
        else:
            dmx = nvc.CreateDemuxer(filename=path)
            codec = dmx.GetNvCodecId()
        dec = new_decoder(nvc, codec, gpu)
        barrier.wait(timeout)
        r["start"] = time.monotonic()
        r["frames"] = decode_packets(dec, pk) if use_predemux else decode_live(dec, dmx)
        sync_decoder(dec)
        r["end"] = time.monotonic()
        r["init_ms"] = session_init_ms(dec)
    except threading.BrokenBarrierError:
        r["error"] = "barrier broken (another decoder failed or timed out)"
    except Exception as e:  # noqa: BLE001
        r["error"] = err_text(e)
        try:
            barrier.abort()
        except Exception:  # noqa: BLE001
            pass
    queue.put((idx, r))


def collect_processes(procs, queue, n, timeout, barrier=None):
    results = [None] * n
    deadline = time.monotonic() + timeout
    got = 0
    while got < n and time.monotonic() < deadline:
        try:
            idx, r = queue.get(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
            results[idx] = r
            got += 1
        except Exception:  # noqa: BLE001  (queue.Empty)
            if all(not p.is_alive() for p in procs) and queue.empty():
                break
    for p in procs:
        p.join(max(0.0, min(5.0, deadline - time.monotonic())))
    killed = 0
    for p in procs:
        if p.is_alive():
            p.terminate()
            p.join(5)
            killed += 1
    note = None
    if got < n:
        note = f"{n - got} of {n} processes gave no result (killed {killed})"
    return results, note


def throughput_processes(ctx, clip_path, n, gpu, use_predemux, expected, timeout):
    barrier = ctx.Barrier(n + 1)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_proc_throughput_worker,
                         args=(i, clip_path, gpu, use_predemux, barrier, queue, timeout), daemon=True)
             for i in range(n)]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        pass
    results, note = collect_processes(procs, queue, n, timeout)
    out = summarize_throughput(results, n, expected, note)
    out["mode"] = "process"
    out["demux_timed"] = not use_predemux
    return out


# --------------------------------------------------------------------------------------
# Cold start
# --------------------------------------------------------------------------------------

def first_frame_pipeline(nvc, path, gpu):
    """Create demuxer + decoder, decode until the first frame. Returns (times, objects)."""
    t = {}
    dmx = nvc.CreateDemuxer(filename=path)
    t["demuxer"] = time.monotonic()
    dec = new_decoder(nvc, dmx.GetNvCodecId(), gpu)
    t["decoder"] = time.monotonic()
    got = 0
    for pkt in dmx:
        got = len(dec.Decode(pkt))
        if got:
            break
    t["first_frame"] = time.monotonic() if got else None
    return t, (dec, dmx)


def summarize_cold(ts, n, t_start, note):
    rows = [r for r in ts if r is not None]
    errors = [r["error"] for r in rows if r.get("error")]
    ok = [r for r in rows if r.get("first_frame") is not None]
    out = {"n": n, "completed": len(ok), "n_errors": len(errors), "errors": errors[:5]}
    if note:
        out["errors"].append(note)
    rel = [r["released"] for r in rows if r.get("released") is not None]
    if rel:  # start = the earliest moment anyone (coordinator or pipeline) left the barrier
        t_start = min(rel + ([t_start] if t_start is not None else []))
    if ok and t_start is not None:
        ff = [r["first_frame"] - t_start for r in ok]
        dm = [r["demuxer"] - t_start for r in ok]
        dc = [r["decoder"] - r["demuxer"] for r in ok]
        out["wall_to_last_first_frame_s"] = round(max(ff), 4) if len(ok) == n else None
        out["first_frame_median_s"] = round(statistics.median(ff), 4)
        out["first_frame_max_s"] = round(max(ff), 4)
        out["first_frame_min_s"] = round(min(ff), 4)
        out["demuxer_created_median_s"] = round(statistics.median(dm), 4)
        out["create_decoder_call_median_s"] = round(statistics.median(dc), 4)
    return out


def cold_start_threads(nvc, path, n, gpu, timeout):
    barrier = threading.Barrier(n + 1)
    release = threading.Event()
    ts = [None] * n
    t_start = [None]

    def worker(i):
        keep = None
        try:
            barrier.wait(timeout)
            released = time.monotonic()
            t, keep = first_frame_pipeline(nvc, path, gpu)
            t["released"] = released
            ts[i] = t
            if t["first_frame"] is None:
                t["error"] = "no frame decoded"
        except threading.BrokenBarrierError:
            ts[i] = {"error": "barrier broken"}
        except Exception as e:  # noqa: BLE001
            ts[i] = {"error": err_text(e)}
        release.wait(timeout)  # keep every decoder open until all are measured
        del keep

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    try:
        barrier.wait(timeout)
        t_start[0] = time.monotonic()
    except threading.BrokenBarrierError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(x is None for x in ts):
        time.sleep(0.005)
    missing = sum(x is None for x in ts)
    release.set()
    for t in threads:
        t.join(max(0.0, min(10.0, deadline - time.monotonic())))
    out = summarize_cold(ts, n, t_start[0],
                         f"{missing} pipelines had no first frame after {timeout}s" if missing else None)
    out["mode"] = "thread"
    return out


def _proc_cold_worker(idx, path, gpu, barrier, queue, release, timeout):
    keep = None
    try:
        nvc = import_nvc()
        barrier.wait(timeout)
        released = time.monotonic()
        t, keep = first_frame_pipeline(nvc, path, gpu)
        t["released"] = released
        if t["first_frame"] is None:
            t["error"] = "no frame decoded"
        queue.put((idx, t))
    except Exception as e:  # noqa: BLE001
        queue.put((idx, {"error": err_text(e)}))
    release.wait(timeout)
    del keep


def cold_start_processes(ctx, path, n, gpu, timeout):
    barrier = ctx.Barrier(n + 1)
    queue = ctx.Queue()
    release = ctx.Event()
    procs = [ctx.Process(target=_proc_cold_worker,
                         args=(i, path, gpu, barrier, queue, release, timeout), daemon=True)
             for i in range(n)]
    for p in procs:
        p.start()
    t_start = None
    try:
        barrier.wait(timeout)  # children have imported the library when they get here
        t_start = time.monotonic()  # CLOCK_MONOTONIC: same clock in every process
    except threading.BrokenBarrierError:
        pass
    ts = [None] * n
    deadline = time.monotonic() + timeout
    got = 0
    while got < n and time.monotonic() < deadline:
        try:
            idx, t = queue.get(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
            ts[idx] = t
            got += 1
        except Exception:  # noqa: BLE001
            if all(not p.is_alive() for p in procs):
                break
    release.set()
    for p in procs:
        p.join(max(0.0, min(10.0, deadline - time.monotonic())))
    for p in procs:
        if p.is_alive():
            p.terminate()
            p.join(5)
    out = summarize_cold(ts, n, t_start, None if got == n else f"{n - got} of {n} processes gave no result")
    out["mode"] = "process (includes per-process CUDA init)"
    return out


# --------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------

class MemInfo:
    def __init__(self, gpu):
        self.gpu = gpu
        self.source = None
        try:
            import torch  # noqa: PLC0415
            torch.cuda.init()
            torch.cuda.mem_get_info(gpu)
            self._torch = torch
            self.source = "torch.cuda.mem_get_info"
        except Exception as e:  # noqa: BLE001
            self._torch = None
            self.torch_error = err_text(e)
            self._ctypes_init()
            self.source = "cuMemGetInfo (ctypes, primary context)"

    def _ctypes_init(self):
        lib = ctypes.CDLL("libcuda.so.1")
        self._lib = lib
        if lib.cuInit(0) != 0:
            raise RuntimeError("cuInit failed")
        dev = ctypes.c_int()
        lib.cuDeviceGet(ctypes.byref(dev), self.gpu)
        self._ctx = ctypes.c_void_p()
        if lib.cuDevicePrimaryCtxRetain(ctypes.byref(self._ctx), dev) != 0:
            raise RuntimeError("cuDevicePrimaryCtxRetain failed")

    def free(self):
        if self._torch is not None:
            return int(self._torch.cuda.mem_get_info(self.gpu)[0])
        lib = self._lib
        lib.cuCtxPushCurrent_v2(self._ctx)
        f, t = ctypes.c_size_t(), ctypes.c_size_t()
        rc = lib.cuMemGetInfo_v2(ctypes.byref(f), ctypes.byref(t))
        lib.cuCtxPopCurrent_v2(ctypes.byref(ctypes.c_void_p()))
        if rc != 0:
            raise RuntimeError(f"cuMemGetInfo rc={rc}")
        return int(f.value)


def primary_context_handle(gpu):
    lib = ctypes.CDLL("libcuda.so.1")
    lib.cuInit(0)
    dev = ctypes.c_int()
    lib.cuDeviceGet(ctypes.byref(dev), gpu)
    ctx = ctypes.c_void_p()
    rc = lib.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev)
    if rc != 0 or not ctx.value:
        raise RuntimeError(f"cuDevicePrimaryCtxRetain rc={rc}")
    return int(ctx.value)


def memory_per_session(nvc, clip, gpu, meminfo, n_total, use_predemux, extra):
    def settle():
        gc.collect()
        time.sleep(0.3)
        return meminfo.free()

    opened = []

    def open_one():
        # Each decoder is created (and fed) in a fresh thread, as in the thread-mode
        # throughput runs: a thread with no current CUDA context is what the library's
        # default (cudacontext=0) path sees there.  The objects outlive the thread.
        box = {}

        def body():
            try:
                box["got"] = open_one_here()
            except Exception as e:  # noqa: BLE001
                box["error"] = e

        th = threading.Thread(target=body, daemon=True)
        th.start()
        th.join(60)
        if th.is_alive():
            raise RuntimeError("opening a decoder took more than 60 s")
        if "error" in box:
            raise box["error"]
        return box["got"]

    def open_one_here():
        dec = new_decoder(nvc, clip.codec, gpu, **extra)
        got = 0
        if use_predemux:
            pk = clip.make_packets(nvc)
            src = iter(pk[:-1])  # never the end-of-stream packet: keep the session live
            keep = pk
        else:
            keep = nvc.CreateDemuxer(filename=clip.path)
            src = iter(keep)
        for p in src:
            if int(p.bsl) == 0:
                break
            got += len(dec.Decode(p))
            if got >= 3:
                break
        sync_decoder(dec)
        opened.append((dec, keep))
        return got

    out = {"extra_kwargs": {k: str(v) for k, v in extra.items()}}
    free0 = settle()
    out["frames_first"] = open_one()
    free1 = settle()
    for _ in range(n_total - 1):
        open_one()
    free_n = settle()
    opened.clear()
    free_after = settle()
    out.update({
        "free_mib_0": round(free0 / MiB, 1), "free_mib_1": round(free1 / MiB, 1),
        f"free_mib_{n_total}": round(free_n / MiB, 1), "free_mib_after_close": round(free_after / MiB, 1),
        "first_session_mib": round((free0 - free1) / MiB, 1),
        "per_extra_session_mib": round((free1 - free_n) / MiB / (n_total - 1), 1),
        "n_total": n_total,
    })
    return out


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------

class Runner:
    def __init__(self, args):
        self.args = args
        self.t0 = time.monotonic()
        os.makedirs(args.out, exist_ok=True)
        self.path = os.path.join(args.out, "pynv_results.json")
        self.res = {"args": vars(args), "clips": {}, "notes": []}

    def left(self):
        return self.args.budget_s - (time.monotonic() - self.t0)

    def save(self):
        self.res["elapsed_s"] = round(time.monotonic() - self.t0, 1)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.res, f, indent=2, default=str)
        os.replace(tmp, self.path)

    def step(self, where, key, fn, need_s=5.0):
        """Run fn(), store its result (or the error) at where[key], save the JSON."""
        if self.left() < need_s:
            where[key] = {"skipped": f"time budget ({self.args.budget_s}s) used up"}
            log(f"  {key}: skipped (budget)")
            self.save()
            return None
        t = time.monotonic()
        try:
            val = fn()
        except Exception as e:  # noqa: BLE001
            val = {"error": err_text(e), "traceback": traceback.format_exc(limit=4)}
        if isinstance(val, dict):
            val.setdefault("step_s", round(time.monotonic() - t, 2))
        where[key] = val
        log(f"  {key}: {json.dumps(val, default=str)[:400]}")
        self.save()
        gc.collect()
        return val


def parse_ns(s):
    return [int(x) for x in s.split(",") if x.strip()]


def markdown(res):
    lines = []
    env = res.get("env", {})
    lines.append(f"PyNvVideoCodec {env.get('pynvvideocodec_version')} on {env.get('gpu_name')} "
                 f"(driver {env.get('driver_version')}), {env.get('date_utc')}")
    lines.append("")
    lines.append("| clip | mode | N | aggregate fps | NVIDIA-style sum fps | frames/decoder | all full | demux timed |")
    lines.append("|---|---|---:|---:|---:|---|---|---|")
    for name, c in res.get("clips", {}).items():
        for mode in ("thread", "process"):
            for n, r in sorted(c.get(f"throughput_{mode}", {}).items(), key=lambda kv: int(kv[0])):
                if not isinstance(r, dict) or "n" not in r:
                    lines.append(f"| {name} | {mode} | {n} | {r.get('skipped') or r.get('error')} | | | | |")
                    continue
                fc = sorted(set(r.get("frame_counts", [])))
                lines.append(f"| {name} | {mode} | {n} | {r.get('aggregate_fps')} | {r.get('nvidia_style_sum_fps')} "
                             f"| {fc} | {r.get('all_full')} | {r.get('demux_timed')} |")
    lines.append("")
    lines.append("| clip | mode | N | wall to last first frame (s) | median TTFF (s) | max TTFF (s) | errors |")
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    for name, c in res.get("clips", {}).items():
        for mode in ("thread", "process"):
            for n, r in sorted(c.get(f"cold_start_{mode}", {}).items(), key=lambda kv: int(kv[0])):
                if not isinstance(r, dict) or "n" not in r:
                    lines.append(f"| {name} | {mode} | {n} | {r.get('skipped') or r.get('error')} | | | |")
                    continue
                lines.append(f"| {name} | {mode} | {n} | {r.get('wall_to_last_first_frame_s')} "
                             f"| {r.get('first_frame_median_s')} | {r.get('first_frame_max_s')} | {r.get('n_errors')} |")
    lines.append("")
    lines.append("| clip | context | first session (MiB) | per extra session (MiB) |")
    lines.append("|---|---|---:|---:|")
    for name, c in res.get("clips", {}).items():
        for key, label in (("memory_default_ctx", "library default"), ("memory_primary_ctx", "primary ctx passed")):
            r = c.get(key)
            if isinstance(r, dict):
                lines.append(f"| {name} | {label} | {r.get('first_session_mib', r.get('error') or r.get('skipped'))} "
                             f"| {r.get('per_extra_session_mib')} |")
    for name, c in res.get("clips", {}).items():
        g = c.get("gil_probe")
        if isinstance(g, dict) and g.get("ratio") is not None:
            lines.append(f"\nGIL probe ({name}): spin ratio {g['ratio']} -> {g['verdict']}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", default="bench-clips")
    ap.add_argument("--out", required=True)
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--ns", default="1,2,4,7,14,28", help="decoder counts for throughput")
    ap.add_argument("--cold-ns", default="1,8,32", help="pipeline counts for cold start")
    ap.add_argument("--modes", default="thread,process", help="thread and/or process")
    ap.add_argument("--mem-n", type=int, default=8, help="decoders open for the memory step")
    ap.add_argument("--expected-frames", type=int, default=300)
    ap.add_argument("--timeout-s", type=float, default=60.0, help="per measurement point")
    ap.add_argument("--budget-s", type=float, default=230.0, help="skip what is left after this")
    ap.add_argument("--no-predemux", action="store_true", help="time demuxing too")
    args = ap.parse_args()

    run = Runner(args)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    ns, cold_ns = parse_ns(args.ns), parse_ns(args.cold_ns)
    clips = sorted(glob.glob(os.path.join(args.clips, "*.h264")) + glob.glob(os.path.join(args.clips, "*.hevc")))
    clips = [c for c in clips if "_2s." not in c]  # the short clip has its own benchmark
    log(f"clips: {clips}")
    if not clips:
        run.res["error"] = f"no *.h264 / *.hevc in {args.clips}"
        run.save()
        sys.exit(1)

    try:
        nvc = import_nvc()
    except Exception as e:  # noqa: BLE001
        run.res["error"] = "import PyNvVideoCodec failed: " + err_text(e)
        run.res["traceback"] = traceback.format_exc()
        run.save()
        log(run.res["error"])
        sys.exit(1)
    run.res["env"] = environment(nvc, args.gpu)
    log(json.dumps(run.res["env"], indent=1))
    run.save()

    ctx = mp.get_context("spawn")
    loaded = {}

    # Phase 1: everything in this process (threads), per clip.
    for path in clips:
        name = os.path.basename(path)
        c = run.res["clips"].setdefault(name, {"path": path, "file_bytes": os.path.getsize(path)})
        log(f"== {name}")

        def load(path=path, c=c):
            clip = Clip(nvc, path)
            loaded[path] = clip
            out = {"codec": str(clip.codec), "packets": clip.n_packets, "bytes": clip.n_bytes,
                   "flush_appended": clip.flush_appended, "demuxer": clip.info}
            try:
                out["decoder_caps"] = {k: str(v) for k, v in dict(nvc.GetDecoderCaps(
                    gpuid=args.gpu, codec=clip.codec, chromaformat=clip.chroma, bitdepth=clip.bitdepth)).items()}
            except Exception as e:  # noqa: BLE001
                out["decoder_caps_error"] = err_text(e)
            return out

        if run.step(c, "predemux", load) is None or path not in loaded:
            continue
        clip = loaded[path]
        v = run.step(c, "validate", lambda: validate(nvc, clip, args.gpu))
        use_pre = (not args.no_predemux) and isinstance(v, dict) and bool(v.get("use_predemux"))
        c["use_predemux"] = use_pre
        expected = args.expected_frames or (v or {}).get("live_frames") or 0
        run.step(c, "gil_probe", lambda: gil_probe(nvc, clip, args.gpu, use_pre))
        if "thread" in modes:
            tt = c.setdefault("throughput_thread", {})
            for n in ns:
                run.step(tt, str(n), lambda n=n: throughput_threads(nvc, clip, n, args.gpu, use_pre, expected,
                                                                    args.timeout_s))
            cs = c.setdefault("cold_start_thread", {})
            for n in cold_ns:
                run.step(cs, str(n), lambda n=n: cold_start_threads(nvc, path, n, args.gpu, args.timeout_s))

    # Phase 2: GPU memory per session (imports torch in this process).
    meminfo = None
    for path in clips:
        c = run.res["clips"][os.path.basename(path)]
        clip = loaded.get(path)
        if clip is None:
            continue
        log(f"== memory {os.path.basename(path)}")
        if meminfo is None:
            try:
                meminfo = MemInfo(args.gpu)
                run.res["memory_source"] = meminfo.source
            except Exception as e:  # noqa: BLE001
                run.res["memory_source"] = "unavailable: " + err_text(e)
                for p in clips:
                    cc = run.res["clips"].get(os.path.basename(p), {})
                    cc["memory_default_ctx"] = {"error": run.res["memory_source"]}
                run.save()
                break
        use_pre = c.get("use_predemux", False)
        run.step(c, "memory_default_ctx",
                 lambda: memory_per_session(nvc, clip, args.gpu, meminfo, args.mem_n, use_pre, {}))
        run.step(c, "memory_primary_ctx",
                 lambda: memory_per_session(nvc, clip, args.gpu, meminfo, args.mem_n, use_pre,
                                            {"cudacontext": primary_context_handle(args.gpu), "cudastream": 0}))

    # Phase 3: one process per decoder / pipeline.
    if "process" in modes:
        for path in clips:
            name = os.path.basename(path)
            c = run.res["clips"][name]
            if path not in loaded:
                continue
            log(f"== processes {name}")
            use_pre = c.get("use_predemux", False)
            expected = args.expected_frames or (c.get("validate") or {}).get("live_frames") or 0
            tp = c.setdefault("throughput_process", {})
            for n in ns:
                run.step(tp, str(n), lambda n=n: throughput_processes(ctx, path, n, args.gpu, use_pre, expected,
                                                                      args.timeout_s), need_s=15)
            cp = c.setdefault("cold_start_process", {})
            for n in cold_ns:
                run.step(cp, str(n), lambda n=n: cold_start_processes(ctx, path, n, args.gpu, args.timeout_s),
                         need_s=15)

    run.save()
    md = markdown(run.res)
    with open(os.path.join(args.out, "pynv_results.md"), "w") as f:
        f.write(md + "\n")
    log("\n" + md)
    log(f"\nresults: {run.path}  ({run.res['elapsed_s']} s)")


if __name__ == "__main__":
    main()
