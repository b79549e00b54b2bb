"""Live sources: ``Decoder("udp://…")`` and ``Decoder("rtsp://…")`` on loopback.

URL errors and timeouts need no driver (a live decoder is made at the first access unit);
frames come from the stand-in driver (one frame per access unit, with its timestamp), as in
test_api.py. The RTSP test runs GStreamer's RTSP server
(crates/input/tests/support/rtsp_server.py under /usr/bin/python3 with python3-gi, as the
Rust tests do) and is skipped where it is not installed. Every test is bounded (< 10 s).
"""

from __future__ import annotations

import os
import socket
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest

import nvcodec_guard as nv

ROOT = Path(os.environ.get("NVCG_REPO") or Path(__file__).resolve().parents[4])
CLIP = "ts/h264_live.ts"
RTSP_SERVER = ROOT / "crates" / "input" / "tests" / "support" / "rtsp_server.py"


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def framemd5_pts(path: Path) -> list[int]:
    pts = []
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        pts.append(int(line.split(",")[2]))
    return pts


# Sends the clip to a decoder's udp:// URL, seven 188-byte TS packets a datagram, as an
# IPTV head-end does; `half=True` stops at the middle and returns the rest for later.
SENDER = """
import socket, threading, time
def send(url, path, start=0, stop=None, pace=0.0005):
    host, port = url[len("udp://"):].split("?")[0].rsplit(":", 1)
    data = open(path, "rb").read()
    chunks = [data[i:i + 7 * 188] for i in range(0, len(data), 7 * 188)][start:stop]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for c in chunks:
        s.sendto(c, (host, int(port)))
        time.sleep(pace)
    s.close()
    return len(chunks)
"""


# --- URL errors: no driver needed -----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/clip",
        "udp://notanip:5000",
        "udp://127.0.0.1",
        "udp://127.0.0.1:70000",
        "udp://127.0.0.1:5000?bogus=1",
        "udp://127.0.0.1:5000?timeout=0",
        "udp://239.1.1.1:0",
        "udp://127.0.0.1:5000?localaddr=127.0.0.1",
    ],
)
def test_bad_url_is_an_address_error(url):
    with pytest.raises(nv.AddressError) as info:
        nv.Decoder(url)
    e = info.value
    assert isinstance(e, nv.CallerError) and isinstance(e, nv.NetworkError)
    assert isinstance(e, ValueError)
    assert e.fault == "caller" and e.kind == "Network"
    assert e.peer == url and url in str(e)


def test_file_url_is_a_path(data, run_with_standin):
    with pytest.raises(nv.NvcodecError) as info:
        nv.Decoder("file:///nonexistent/dir/clip.ts")
    assert not isinstance(info.value, nv.NetworkError), info.value
    _ok(
        run_with_standin(
            f"""
            d = nv.Decoder("file://" + os.path.join(DATA, "{CLIP}"))
            assert d.url is None and d.info["live"] is False and d.info["codec"] == "h264"
            assert len(list(d)) == 60
            """
        )
    )


def test_bad_keywords_are_caller_errors(data):
    for kwargs in (dict(timeout=0), dict(timeout=-1.0), dict(timeout=float("nan")),
                   dict(timeout=10 ** 9), dict(transport="sctp")):
        with pytest.raises(nv.CallerError):
            nv.Decoder("udp://127.0.0.1:0", **kwargs)
    with pytest.raises(nv.CallerError) as info:
        nv.Decoder("udp://127.0.0.1:0", transport="tcp")  # RTSP only
    assert info.value.parameter == "transport"
    with pytest.raises(nv.CallerError) as info:
        nv.Decoder(str(data / CLIP), timeout=1.0)  # URL sources only
    assert info.value.parameter == "timeout"


def test_port_in_use_is_a_network_failure():
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        with pytest.raises(nv.NetworkFailureError) as info:
            nv.Decoder(f"udp://127.0.0.1:{port}")
        e = info.value
        assert isinstance(e, nv.PlatformError) and isinstance(e, nv.NetworkError)
        assert f"127.0.0.1:{port}" in e.peer, e.peer
    finally:
        taken.close()


def test_rtsp_refused_and_bad_rtsp_urls():
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    t0 = time.monotonic()
    with pytest.raises(nv.NetworkFailureError) as info:
        nv.Decoder(f"rtsp://user:secret@127.0.0.1:{port}/clip")
    assert time.monotonic() - t0 < 5
    assert "secret" not in str(info.value) and "secret" not in (info.value.peer or "")
    with pytest.raises(nv.AddressError):
        nv.Decoder("rtsp://")


# --- A udp:// source before and without data: no driver needed --------------------------


def test_udp_timeout_raises_with_the_url_and_the_source_stays_usable():
    dec = nv.Decoder("udp://127.0.0.1:0?timeout=200000")
    assert dec.url.startswith("udp://127.0.0.1:") and not dec.url.startswith("udp://127.0.0.1:0")
    assert dec.prefetch == 0
    info = dec.info
    assert info["live"] is True and info["url"] == dec.url
    assert info["codec"] is None and info["width"] is None and info["frame_count"] is None
    assert info["time_base"] == (1, 90000) and info["lost_packets"] == 0
    for _ in range(2):  # a timeout leaves the source usable
        t0 = time.monotonic()
        with pytest.raises(nv.NetworkTimeoutError) as e:
            next(dec)
        waited = time.monotonic() - t0
        assert 0.15 < waited < 2.0, waited
        err = e.value
        assert isinstance(err, TimeoutError) and isinstance(err, nv.PlatformError)
        assert err.fault == "platform" and err.peer == dec.url
        assert err.waited == pytest.approx(0.2)
    # The timeout= keyword overrides the URL's.
    dec2 = nv.Decoder("udp://127.0.0.1:0?timeout=5000000", timeout=0.1)
    t0 = time.monotonic()
    with pytest.raises(nv.NetworkTimeoutError):
        dec2.batch(3)
    assert time.monotonic() - t0 < 2.0
    dec.close()
    dec2.close()
    assert dec.closed
    with pytest.raises(nv.CallerError):
        next(dec)


@pytest.mark.parametrize("call", ["frames_at", "frame_at_time", "count_frames"])
def test_random_access_on_a_live_source_is_refused(call):
    with nv.Decoder("udp://127.0.0.1:0?timeout=100000") as dec:
        args = {"frames_at": ([0],), "frame_at_time": (0.0,), "count_frames": ()}[call]
        with pytest.raises(nv.CallerError) as info:
            getattr(dec, call)(*args)
        assert "live source" in str(info.value) and call in str(info.value)


@pytest.mark.parametrize(
    "url, kwargs",
    [
        ("udp://127.0.0.1:0", dict(timeout=8.0)),
        # A timeout past what the clock counts (the URL allows any): no deadline, no panic.
        ("udp://127.0.0.1:0?timeout=18446744073709551615", {}),
    ],
)
def test_close_from_another_thread_ends_a_wait_promptly(url, kwargs):
    dec = nv.Decoder(url, **kwargs)
    outcome = []

    def reader():
        t0 = time.monotonic()
        try:
            outcome.append(("frames", list(dec), time.monotonic() - t0))
        except Exception as e:  # pragma: no cover - the assertion below shows it
            outcome.append(("error", e, time.monotonic() - t0))

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.3)  # the reader waits in the socket (GIL released: this thread runs)
    t0 = time.monotonic()
    dec.close()
    closing = time.monotonic() - t0
    t.join(timeout=5)
    assert not t.is_alive(), "the wait did not end"
    assert closing < 0.5, closing
    kind, got, waited = outcome[0]
    assert kind == "frames" and got == [], outcome
    assert waited < 1.5, waited  # 0.3 s of waiting, then one 50 ms slice at most
    assert dec.closed


# --- Frames, through the stand-in driver ---------------------------------------------


def test_udp_loopback_gives_every_access_unit_in_order_with_its_pts(run_with_standin, data):
    want = framemd5_pts(data / (CLIP + ".nv12.framemd5"))
    out = _ok(
        run_with_standin(
            SENDER
            + textwrap.dedent(f"""
            import json
            path = os.path.join(DATA, "{CLIP}")
            dec = nv.Decoder("udp://127.0.0.1:0?timeout=300000")
            n = len(open(path, "rb").read()) // (7 * 188) + 1
            # The first half: frames come before the rest is sent (live, not at the end).
            send(dec.url, path, 0, n // 2)
            first = next(dec)
            assert first.index == 0, first.index
            info = dec.info
            assert info["codec"] == "h264" and info["width"] is not None, info
            sender = threading.Thread(target=send, args=(dec.url, path, n // 2))
            sender.start()
            got = [first]
            try:
                for f in dec:
                    got.append(f)
            except nv.NetworkTimeoutError as e:
                assert e.peer == dec.url
            sender.join()
            # The last access unit ends only at the next one's start, or with finish().
            dec.finish()
            got += list(dec)
            assert [f.index for f in got] == list(range(len(got)))
            assert dec.info["lost_packets"] == 0
            print(json.dumps([f.pts for f in got]))
            """)
        )
    )
    import json

    got = json.loads(out.strip().splitlines()[-1])
    assert got == want


def test_udp_batch_waits_for_n_frames_and_the_pool_checks_out_at_the_first(run_with_standin):
    _ok(
        run_with_standin(
            SENDER
            + textwrap.dedent(f"""
            path = os.path.join(DATA, "{CLIP}")
            pool = nv.DecoderPool(low_latency=True)
            dec = pool.checkout("udp://127.0.0.1:0?timeout=300000")
            assert pool.stats()["checkouts"] == 0  # the codec is not known yet
            sender = threading.Thread(target=send, args=(dec.url, path))
            sender.start()
            b = dec.batch(5, stack=False)  # (stacking copies on the device: GPU tests)
            assert [f.index for f in b] == [0, 1, 2, 3, 4], b
            assert pool.stats()["checkouts"] == 1
            frames = dec.batch(3, stack=False)
            assert [f.index for f in frames] == [5, 6, 7]
            sender.join()
            dec.finish()
            rest = dec.batch(1000, stack=False)
            assert len(rest) == 60 - 8, len(rest)
            assert dec.batch(4) is None and dec.batch(4, stack=False) == []  # the end
            dec.close()
            assert pool.stats()["in_use"] == 0
            """)
        )
    )


def test_gpu_argument_and_memory_stats_of_a_live_decoder():
    with nv.Decoder("udp://127.0.0.1:0?timeout=100000", gpu=0) as dec:
        assert dec.gpu == 0
        stats = dec.memory_stats()
        assert stats["frame_buffers_allocated"] == 0
        assert "udp://127.0.0.1:" in repr(dec)


# --- RTSP against GStreamer's server ------------------------------------------------


def _rtsp_server_available() -> bool:
    probe = 'import gi; gi.require_version("GstRtspServer", "1.0")'
    try:
        return (
            subprocess.run(["/usr/bin/python3", "-c", probe], capture_output=True, timeout=10)
            .returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture
def rtsp_server(data):
    if not _rtsp_server_available():
        pytest.skip("GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) is missing")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(
        ["/usr/bin/python3", str(RTSP_SERVER), "--port", str(port), "--codec", "h264",
         "--lifetime", "20", "--clip", str(data / CLIP)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY"), line
        yield f"rtsp://127.0.0.1:{port}/clip"
    finally:
        proc.kill()
        proc.wait(timeout=5)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_gives_every_access_unit_and_ends(run_with_standin, rtsp_server, data, transport):
    want = framemd5_pts(data / (CLIP + ".nv12.framemd5"))
    out = _ok(
        run_with_standin(
            f"""
            import json, time
            t0 = time.monotonic()
            with nv.Decoder("{rtsp_server}", timeout=3.0, transport="{transport}") as dec:
                assert dec.url == "{rtsp_server}"
                assert dec.info["codec"] == "h264" and dec.info["time_base"] == (1, 90000)
                got = list(dec)  # ends at the server's end of stream
            assert [f.index for f in got] == list(range(len(got)))
            assert time.monotonic() - t0 < 9
            print(json.dumps([f.pts for f in got]))
            """,
            timeout=20,
        )
    )
    import json

    got = json.loads(out.strip().splitlines()[-1])
    assert len(got) == len(want)
    # RTP timestamps start anywhere; their steps are the clip's (GStreamer rounds through
    # nanoseconds: one tick either way).
    steps = [(b - a, d - c) for a, b, c, d in zip(got, got[1:], want, want[1:])]
    assert all(abs(g - w) <= 1 for g, w in steps), steps
