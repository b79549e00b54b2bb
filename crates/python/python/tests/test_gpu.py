"""GPU tests: run on a machine with an NVIDIA GPU, its driver and PyTorch; skipped elsewhere.

    pip install --no-deps nvcodec_guard-*.whl
    NVCG_REPO=/path/to/repo python -m pytest -q -rs path/to/tests/test_gpu.py

Frames go through ``torch.from_dlpack`` (no copy) and are compared with ffmpeg's framemd5
files committed in tests/data (the packed NV12 / P010 bytes of every frame, as the Rust GPU
tests compare them).
"""

from __future__ import annotations

import gc
import hashlib
import random
import threading

import pytest

import nvcodec_guard as nv

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not (nv.driver_available() and torch.cuda.is_available()),
        reason="needs an NVIDIA GPU, its driver and CUDA PyTorch",
    ),
]

CLIPS = [
    "h264_640x360_b3.h264",
    "h264_1920x1080.h264",
    "h264_642x362.h264",
    "hevc_640x360_main.hevc",
    "hevc_640x360_main10.hevc",
    "vp9_640x360_p0.ivf",
    "vp8_640x360.ivf",
    "av1_320x240.ivf",
]


def framemd5(path):
    hashes = []
    for line in open(str(path) + ".framemd5"):
        if line.startswith("#") or not line.strip():
            continue
        hashes.append(line.rsplit(",", 1)[1].strip())
    return hashes


def md5_of(tensor) -> str:
    return hashlib.md5(tensor.contiguous().cpu().numpy().tobytes()).hexdigest()


@pytest.mark.parametrize("clip", CLIPS)
def test_frames_through_dlpack_are_bit_exact(data, clip):
    path = data / clip
    if not path.exists() or not (data / (clip + ".framemd5")).exists():
        pytest.skip(f"{clip} or its framemd5 is not in tests/data")
    want = framemd5(path)
    got = []
    for frame in nv.Decoder(path):
        t = torch.from_dlpack(frame)
        assert t.is_cuda and t.device.index == 0
        assert t.data_ptr() == frame.data_ptr  # zero copy
        got.append(md5_of(t))
    assert len(got) == len(want)
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{len(bad)} frames differ, first {bad[:5]}"


@pytest.mark.parametrize("prefetch", [0, 1, 8])
def test_decode_ahead_is_bit_exact_with_frames_kept_and_dropped(data, prefetch):
    # Decode-ahead writes the next frames while the consumer's kernels read earlier ones:
    # every frame, kept to the end or dropped at once, still matches ffmpeg's.
    path = data / "h264_1920x1080.h264"
    want = framemd5(path)
    kept, got = [], []
    for i, frame in enumerate(nv.Decoder(path, prefetch=prefetch)):
        t = torch.from_dlpack(frame)
        t.float().mean()  # consumer work queued on the current stream
        if i % 2:
            kept.append((i, t))
        else:
            got.append((i, md5_of(t)))
    got += [(i, md5_of(t)) for i, t in kept]
    assert len(got) == len(want)
    bad = [i for i, h in got if h != want[i]]
    assert not bad, f"prefetch={prefetch}: {len(bad)} frames differ, first {sorted(bad)[:5]}"


def test_unversioned_capsule_and_cuda_array_interface(data):
    frame = next(nv.Decoder(data / "h264_640x360_b3.h264"))
    want = framemd5(data / "h264_640x360_b3.h264")[0]
    old = torch.utils.dlpack.from_dlpack(frame.__dlpack__())  # unversioned "dltensor"
    assert md5_of(old) == want
    cupy = pytest.importorskip("cupy")
    arr = cupy.asarray(frame)  # __cuda_array_interface__ v3
    assert hashlib.md5(cupy.asnumpy(arr).tobytes()).hexdigest() == want


@pytest.mark.parametrize("clip", ["h264_640x360_b3.h264", "hevc_640x360_main.hevc", "vp9_640x360_p0.ivf"])
def test_frames_at_is_exact(data, clip):
    path = data / clip
    want = framemd5(path)
    dec = nv.Decoder(path)
    rng = random.Random(7)
    indices = [rng.randrange(len(want)) for _ in range(12)] + [len(want) - 1, 0, 0]
    batch = dec.frames_at(indices)
    t = torch.from_dlpack(batch)
    assert t.shape[0] == len(indices)
    for row, i in zip(t, indices):
        assert md5_of(row) == want[i], i
    frames = dec.frames_at(indices, stack=False)
    assert [md5_of(torch.from_dlpack(f)) for f in frames] == [want[i] for i in indices]
    with pytest.raises(nv.FrameOutOfRangeError):
        dec.frames_at([len(want)])


def test_rgb_outputs_agree(data):
    path = data / "h264_640x360_b3.h264"
    rgb = torch.from_dlpack(next(nv.Decoder(path, output="rgb")))
    bgr = torch.from_dlpack(next(nv.Decoder(path, output="bgr")))
    planar = torch.from_dlpack(next(nv.Decoder(path, output="planar")))
    assert rgb.shape == (360, 640, 3) and rgb.dtype == torch.uint8
    assert torch.equal(bgr, rgb.flip(-1))
    assert torch.equal(planar, rgb.permute(2, 0, 1))
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    norm = torch.from_dlpack(
        next(nv.Decoder(path, output="planar", dtype="float32", mean=mean, std=std))
    )
    assert norm.shape == (3, 360, 640) and norm.dtype == torch.float32
    ref = (planar.float() / 255 - torch.tensor(mean, device="cuda")[:, None, None]) / torch.tensor(
        std, device="cuda"
    )[:, None, None]
    assert (norm - ref).abs().max().item() < 0.5 / 255 / min(std) + 1e-3
    half = torch.from_dlpack(next(nv.Decoder(path, output="planar", dtype=torch.float16)))
    assert half.dtype == torch.float16
    # u8 rounds the converter's value to 1/255 (error <= 0.5/255); f16 rounds it to its own
    # step, at most 2^-11 below 1.0 (error <= 2^-12): the two differ by at most their sum.
    assert (half.float() - planar.float() / 255).abs().max().item() <= 0.5 / 255 + 2**-12 + 1e-6


def test_rgb_is_the_converters_bt601_limited(data):
    # The same frame as NV12, converted on the CPU with BT.601 limited range (what the
    # crate's converter applies to an untagged stream below 720 rows): within 3 levels on
    # average (chroma interpolation differs slightly from nearest).
    path = data / "h264_640x360_b3.h264"
    nv12 = torch.from_dlpack(next(nv.Decoder(path))).cpu().double()
    rgb = torch.from_dlpack(next(nv.Decoder(path, output="rgb"))).cpu().double()
    h, w = 360, 640
    y = nv12[:h]
    uv = nv12[h:].reshape(h // 2, w // 2, 2).repeat_interleave(2, 0).repeat_interleave(2, 1)
    yy, u, v = (y - 16) * 255 / 219, (uv[..., 0] - 128) * 255 / 224, (uv[..., 1] - 128) * 255 / 224
    kr, kb = 0.299, 0.114
    r = yy + 2 * (1 - kr) * v
    b = yy + 2 * (1 - kb) * u
    g = (yy - kr * r - kb * b) / (1 - kr - kb)
    ref = torch.stack([r, g, b], -1).clamp(0, 255)
    assert (rgb - ref).abs().mean().item() < 3.0


def test_batch_stacks_frames(data):
    path = data / "h264_640x360_b3.h264"
    want = framemd5(path)
    dec = nv.Decoder(path)
    b = dec.batch(8)
    t = torch.from_dlpack(b)
    assert t.shape == (8, 540, 640)
    assert [md5_of(x) for x in t] == want[:8]
    p = torch.from_dlpack(nv.Decoder(path, output="planar", dtype="float32").batch(4))
    assert p.shape == (4, 3, 360, 640)


def test_another_stream_sees_complete_data(data):
    path = data / "h264_1920x1080.h264"
    want = framemd5(path)
    side = torch.cuda.Stream()
    dec = nv.Decoder(path)
    for i, frame in enumerate(dec):
        with torch.cuda.stream(side):
            t = torch.from_dlpack(frame)  # consumer stream: side
            copy = t.clone()  # queued on side right away
        side.synchronize()
        assert md5_of(copy) == want[i]
        if i == 20:
            break


def test_no_memory_growth_over_10000_frames(data):
    path = data / "h264_640x360_b3.h264"
    dec = nv.Decoder(path)
    kept = []
    frames = 0
    baseline = None
    while frames < 10_000:
        for frame in dec:
            t = torch.from_dlpack(frame)
            t.float().mean()  # some consumer work on the current stream
            kept.append(t)
            if len(kept) > 6:
                kept.pop(0)  # keep a few, drop the rest
            frames += 1
        dec.frames_at([0], stack=False)  # restart sequential reading
        if baseline is None:
            torch.cuda.synchronize()
            baseline = dec.memory_stats()["frame_buffers_allocated"]
    kept.clear()
    gc.collect()
    torch.cuda.synchronize()
    stats = dec.memory_stats()
    assert stats["frame_buffers_allocated"] <= baseline + 8, (baseline, stats)
    assert stats["pending_releases"] <= 256


def test_32_threads_on_one_pool(data):
    path = data / "h264_640x360_b3.h264"
    total = len(framemd5(path))
    pool = nv.DecoderPool(max_width=640, max_height=368)
    pool.prewarm("h264", 8)
    counts, errors = [], []

    def work():
        try:
            for _ in range(3):
                with pool.checkout(path) as dec:
                    n = 0
                    for frame in dec:
                        torch.from_dlpack(frame).sum()
                        n += 1
                    counts.append(n)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert counts == [total] * 96
    stats = pool.stats()
    assert stats["checkouts"] == 96 and stats["in_use"] == 0, stats


def test_one_decoder_shared_by_threads(data):
    path = data / "h264_640x360_b3.h264"
    want = framemd5(path)
    dec = nv.Decoder(path)
    seen = {}
    lock = threading.Lock()

    def take():
        for frame in iter(lambda: next(dec, None), None):
            h = md5_of(torch.from_dlpack(frame))
            with lock:
                seen[frame.index] = h

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [seen[i] for i in range(len(want))] == want


def test_frame_at_time_on_a_container(data):
    # H.264: every NVDEC generation decodes it (AV1, say, not on an H100).
    mp4 = data / "containers" / "h264.mp4"
    if not mp4.exists():
        pytest.skip("no H.264 MP4 clip")
    dec = nv.Decoder(mp4)
    f = dec.frame_at_time(0.0)
    assert f.index == 0
    assert dec.info["time_base"] is not None


def _send_ts_over_udp(url, path, pace=0.0005):
    """Sends a transport stream to a decoder's udp:// URL, seven 188-byte packets a
    datagram (as an IPTV head-end does), paced so the loopback buffer never overflows."""
    import socket
    import time

    host, port = url[len("udp://"):].split("?")[0].rsplit(":", 1)
    data = path.read_bytes()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(0, len(data), 7 * 188):
            s.sendto(data[i:i + 7 * 188], (host, int(port)))
            time.sleep(pace)


@pytest.mark.parametrize("pooled", [False, True])
def test_udp_live_source_is_bit_exact(data, pooled):
    # MPEG-TS over loopback UDP into a low-latency decoder (the default for URL sources):
    # every frame as ffmpeg decodes the file, through torch.from_dlpack, in order, with the
    # file's timestamps; a stacked batch of the first frames too.
    path = data / "ts" / "h264_live.ts"
    lines = [
        line.split(",")
        for line in open(str(path) + ".nv12.framemd5")
        if line.strip() and not line.startswith("#")
    ]
    want = [line[-1].strip() for line in lines]
    want_pts = [int(line[2]) for line in lines]
    url = "udp://127.0.0.1:0?timeout=500000"
    pool = nv.DecoderPool(max_width=640, max_height=368, low_latency=True) if pooled else None
    dec = pool.checkout(url) if pooled else nv.Decoder(url)
    assert dec.info["codec"] is None  # nothing received yet
    sender = threading.Thread(target=_send_ts_over_udp, args=(dec.url, path))
    sender.start()
    first = dec.batch(4)  # waits for four frames, stacked (4, H*3/2, W)
    t = torch.from_dlpack(first)
    assert t.shape[0] == 4 and t.is_cuda
    got = [md5_of(row) for row in t]
    pts = list(first.pts)
    info = dec.info
    assert (info["codec"], info["width"], info["height"]) == ("h264", 320, 240), info
    try:
        for frame in dec:
            got.append(md5_of(torch.from_dlpack(frame)))
            pts.append(frame.pts)
    except nv.NetworkTimeoutError as e:
        assert e.peer == dec.url  # the sender is done: the quiet after it is the end
    sender.join()
    dec.finish()  # the last access unit, and the decoder's flush
    for frame in dec:
        got.append(md5_of(torch.from_dlpack(frame)))
        pts.append(frame.pts)
    assert dec.info["lost_packets"] == 0
    dec.close()
    assert len(got) == len(want), (len(got), len(want))
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{len(bad)} frames differ, first {bad[:5]}"
    assert pts == want_pts
    if pooled:
        assert pool.stats()["checkouts"] == 1 and pool.stats()["in_use"] == 0
