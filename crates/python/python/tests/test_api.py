"""CPU tests: API shape, argument errors, import without a GPU, error paths against the
stand-in driver. None of them needs an NVIDIA GPU."""

from __future__ import annotations

import io
import os
import pathlib
import threading

import pytest

import nvcodec_guard as nv

CLIP = "h264_640x360_b3.h264"


def no_driver() -> bool:
    return not nv.driver_available()


# --- import and shape of the API ---------------------------------------------------------


def test_import_exposes_the_api():
    for name in (
        "Decoder",
        "DecoderPool",
        "Frame",
        "Batch",
        "driver_available",
        "driver_error",
        "NvcodecError",
        "InputError",
        "CallerError",
        "PlatformError",
        "BusyError",
        "InternalError",
        "DriverError",
        "LibraryNotFoundError",
        "FrameOutOfRangeError",
    ):
        assert hasattr(nv, name), name
    assert isinstance(nv.__version__, str)
    assert isinstance(nv.driver_available(), bool)


def test_exception_hierarchy_mirrors_the_crate():
    assert issubclass(nv.InputError, nv.NvcodecError)
    assert issubclass(nv.BitstreamError, nv.InputError)
    assert issubclass(nv.CallerError, nv.NvcodecError)
    assert issubclass(nv.CallerError, ValueError)
    assert issubclass(nv.FrameOutOfRangeError, IndexError)
    assert issubclass(nv.DriverError, nv.PlatformError)
    assert issubclass(nv.LibraryNotFoundError, nv.PlatformError)
    assert issubclass(nv.PoolExhaustedError, nv.BusyError)
    assert issubclass(nv.InternalError, nv.NvcodecError)


def test_type_stubs_and_marker_are_installed():
    pkg = pathlib.Path(nv.__file__).parent
    assert (pkg / "py.typed").exists()
    assert (pkg / "__init__.pyi").exists()


def test_docstrings():
    assert "GPU" in (nv.__doc__ or "")
    for obj in (nv.Decoder, nv.DecoderPool, nv.Frame, nv.Batch, nv.Decoder.frames_at):
        assert obj.__doc__, obj


# --- argument errors (checked before any GPU work) ---------------------------------------


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        ({"output": "yuv420p10"}, "output"),
        ({"output": "rgb", "dtype": "int64"}, "dtype"),
        ({"dtype": "float32"}, "dtype"),  # native output has its own samples
        ({"output": "planar", "dtype": "uint8", "mean": 0.5}, "mean"),
        ({"output": "planar", "dtype": "float32", "std": (1.0, 0.0, 1.0)}, "std"),
        ({"output": "planar", "dtype": "float32", "mean": (1.0, 2.0)}, "mean"),
        ({"size": (641, 360)}, None),
        ({"size": "big"}, "size"),
        ({"crop": (0, 0, 10)}, "crop"),
        ({"gpu": -1}, "gpu"),
    ],
)
def test_argument_errors_are_caller_errors(data, kwargs, parameter):
    with pytest.raises(nv.CallerError) as err:
        nv.Decoder(str(data / CLIP), **kwargs)
    assert isinstance(err.value, ValueError)
    assert err.value.fault == "caller"
    if parameter is not None:
        assert err.value.parameter == parameter


@pytest.mark.parametrize("dtype", ["float32", "torch.float16", "uint8", "f32"])
def test_dtype_spellings_are_accepted(data, dtype):
    # Accepted: the error, if any, is about the platform, not the argument.
    try:
        nv.Decoder(str(data / CLIP), output="planar", dtype=dtype).close()
    except nv.PlatformError:
        pass


def test_numpy_dtypes_are_accepted(data):
    np = pytest.importorskip("numpy")
    for dtype in (np.float32, np.dtype("float16"), np.uint8):
        try:
            nv.Decoder(str(data / CLIP), output="rgb", dtype=dtype).close()
        except nv.PlatformError:
            pass


def test_source_of_wrong_type_is_a_type_error():
    with pytest.raises(TypeError):
        nv.Decoder(12345)


def test_missing_file_is_a_platform_error_naming_the_path(tmp_path):
    missing = tmp_path / "missing.mp4"
    with pytest.raises(nv.PlatformError) as err:
        nv.Decoder(missing)
    assert "missing.mp4" in str(err.value)


def test_garbage_bytes_are_an_input_error():
    with pytest.raises(nv.InputError) as err:
        nv.Decoder(b"\x00not a video at all" * 10)
    assert err.value.fault == "input"


def test_truncated_container_names_the_offset(data, tmp_path):
    mp4s = sorted((data / "containers").glob("*.mp4"))
    if not mp4s:
        pytest.skip("no MP4 clip in tests/data/containers")
    head = mp4s[0].read_bytes()[:40]
    with pytest.raises(nv.InputError) as err:
        nv.Decoder(head)
    assert err.value.fault == "input"


def test_pool_argument_errors():
    with pytest.raises(nv.CallerError):
        nv.DecoderPool(gpus=[])
    with pytest.raises(nv.CallerError):
        nv.DecoderPool(max_width=0)
    pool = nv.DecoderPool()
    with pytest.raises(nv.CallerError):
        pool.prewarm("h263", 1)
    stats = pool.stats()
    assert stats["checkouts"] == 0 and stats["in_use"] == 0


# --- without a driver ---------------------------------------------------------------------


@pytest.mark.skipif(not no_driver(), reason="an NVIDIA driver is installed here")
@pytest.mark.parametrize("as_", ["path", "pathlike", "bytes", "file"])
def test_decoding_without_a_driver_is_a_clear_platform_error(data, as_):
    path = data / CLIP
    source = {
        "path": str(path),
        "pathlike": path,
        "bytes": path.read_bytes(),
        "file": io.BytesIO(path.read_bytes()),
    }[as_]
    with pytest.raises(nv.PlatformError) as err:
        nv.Decoder(source)
    assert isinstance(err.value, nv.LibraryNotFoundError)
    assert "libcuda.so.1" in str(err.value)
    assert err.value.library == "libcuda.so.1"
    assert nv.driver_error() is not None


@pytest.mark.skipif(not no_driver(), reason="an NVIDIA driver is installed here")
def test_pool_without_a_driver_is_a_platform_error():
    with pytest.raises(nv.PlatformError):
        nv.DecoderPool().prewarm("h264", 1)


# --- the stand-in driver ------------------------------------------------------------------


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_standin_iteration_and_info(run_with_standin):
    out = _ok(
        run_with_standin(
            f"""
            d = nv.Decoder(os.path.join(DATA, "{CLIP}"))
            frames = list(d)
            f = frames[0]
            assert f.shape == [540, 640] and f.dtype == "uint8" and f.format == "NV12", f
            assert [x.index for x in frames] == list(range(len(frames)))
            cai = f.__cuda_array_interface__
            assert cai["version"] == 3 and cai["stream"] is None and cai["typestr"] == "|u1"
            assert cai["shape"] == (540, 640) and cai["data"][1] is False
            assert f.__dlpack_device__() == (2, 0)
            info = d.info
            assert info["codec"] == "h264" and info["width"] == 640 and info["bit_depth"] == 8
            assert d.count_frames() == len(frames)
            assert d.info["frame_count"] == len(frames)
            print(len(frames))
            """
        )
    )
    assert int(out.split()[-1]) > 0


def test_standin_dlpack_capsules(run_with_standin):
    _ok(
        run_with_standin(
            f"""
            import gc
            d = nv.Decoder(os.path.join(DATA, "{CLIP}"))
            f = next(d)
            cap = f.__dlpack__(max_version=(1, 0))
            assert "dltensor_versioned" in repr(cap), cap
            cap = f.__dlpack__(stream=None)
            assert '"dltensor"' in repr(cap), cap
            cap = f.__dlpack__(stream=2, max_version=(0, 8))
            assert '"dltensor"' in repr(cap), cap
            del cap
            gc.collect()
            for bad in (dict(copy=True), dict(dl_device=(1, 0))):
                try:
                    f.__dlpack__(**bad)
                except BufferError:
                    pass
                else:
                    raise AssertionError(bad)
            try:
                f.__dlpack__(stream=-5)
            except nv.CallerError:
                pass
            else:
                raise AssertionError("stream=-5")
            """
        )
    )


def test_standin_frames_at_batch_and_repeats(run_with_standin):
    _ok(
        run_with_standin(
            f"""
            d = nv.Decoder(os.path.join(DATA, "{CLIP}"))
            got = d.frames_at([5, 1, 5], stack=False)
            assert [f.index for f in got] == [5, 1, 5], got
            try:
                d.frames_at([10**6], stack=False)
            except nv.FrameOutOfRangeError as e:
                assert e.index == 10**6 and e.frames > 0 and isinstance(e, IndexError)
            else:
                raise AssertionError("out of range")
            # sequential reading starts again after random access
            assert next(d).index == 0
            part = d.batch(4, stack=False)
            assert [f.index for f in part] == [1, 2, 3, 4]
            try:
                d.batch(0)
            except nv.CallerError:
                pass
            else:
                raise AssertionError("batch(0)")
            try:
                d.frame_at_time(1.0)  # a raw stream has no timestamps
            except nv.CallerError as e:
                assert "frames_at" in str(e)
            else:
                raise AssertionError("frame_at_time on a raw stream")
            """
        )
    )


def test_standin_driver_error_carries_call_and_status(run_with_standin):
    out = _ok(
        run_with_standin(
            f"""
            fail("cuvidCreateDecoder", 2)
            try:
                nv.Decoder(os.path.join(DATA, "{CLIP}"))
            except nv.DriverError as e:
                assert isinstance(e, nv.PlatformError)
                print(e.call, e.status, e.status_code, e.fault)
            else:
                raise AssertionError("no error")
            """
        )
    )
    assert "cuvidCreateDecoder CUDA_ERROR_OUT_OF_MEMORY 2 platform" in out


def test_standin_close_and_context_manager(run_with_standin):
    _ok(
        run_with_standin(
            f"""
            with nv.Decoder(os.path.join(DATA, "{CLIP}")) as d:
                f = next(d)
            assert d.closed
            try:
                next(d)
            except nv.CallerError:
                pass
            else:
                raise AssertionError("closed decoder")
            assert f.shape == [540, 640]  # frames outlive their decoder
            """
        )
    )


def test_standin_threads_share_one_decoder_and_one_pool(run_with_standin):
    _ok(
        run_with_standin(
            f"""
            import threading
            path = os.path.join(DATA, "{CLIP}")
            d = nv.Decoder(path)
            total = d.count_frames()
            seen, errors = [], []
            def take():
                try:
                    while True:
                        f = next(d, None)
                        if f is None:
                            return
                        seen.append(f.index)
                except Exception as e:
                    errors.append(e)
            threads = [threading.Thread(target=take) for _ in range(8)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            assert not errors, errors
            assert sorted(seen) == list(range(total)), seen

            pool = nv.DecoderPool(max_width=640, max_height=368)
            pool.prewarm("h264", 2)
            counts = []
            def work():
                try:
                    for _ in range(3):
                        with pool.checkout(path) as dec:
                            counts.append(sum(1 for _ in dec))
                except Exception as e:
                    errors.append(e)
            threads = [threading.Thread(target=work) for _ in range(8)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            assert not errors, errors
            assert counts == [total] * 24, counts
            s = pool.stats()
            assert s["checkouts"] == 24 and s["in_use"] == 0 and s["hits"] > 0, s
            """
        ),
    )


def test_standin_capsule_layout_and_ownership(run_with_standin):
    # A consumer's view of the DLPack 1.0 capsule: the struct fields, then ownership: once
    # the capsule is renamed "used_…" the capsule frees nothing, and the memory goes back to
    # the pool only when the consumer calls the deleter (after its stream's work).
    _ok(
        run_with_standin(
            f"""
            import ctypes, gc
            api = ctypes.pythonapi
            api.PyCapsule_GetPointer.restype = ctypes.c_void_p
            api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
            api.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_char_p]
            d = nv.Decoder(os.path.join(DATA, "{CLIP}"))
            f = next(d)
            data_ptr = f.data_ptr
            cap = f.__dlpack__(max_version=(1, 0), stream=1)
            p = api.PyCapsule_GetPointer(cap, b"dltensor_versioned")
            u32 = lambda off: ctypes.c_uint32.from_address(p + off).value
            i32 = lambda off: ctypes.c_int32.from_address(p + off).value
            ptr = lambda off: ctypes.c_void_p.from_address(p + off).value or 0
            assert (u32(0), u32(4)) == (1, 0)                 # DLPack 1.0
            assert ptr(8) == p                                # manager_ctx
            assert ctypes.c_uint64.from_address(p + 24).value == 0  # flags
            assert ptr(32) == data_ptr                        # dl_tensor.data
            assert (i32(40), i32(44)) == (2, 0)               # kDLCUDA, device 0
            assert i32(48) == 2                               # ndim
            dt = (ctypes.c_uint8.from_address(p + 52).value,
                  ctypes.c_uint8.from_address(p + 53).value,
                  ctypes.c_uint16.from_address(p + 54).value)
            assert dt == (1, 8, 1), dt                        # uint8, 1 lane
            shape = ctypes.cast(ptr(56), ctypes.POINTER(ctypes.c_int64))
            assert (shape[0], shape[1]) == (540, 640)
            assert ptr(64) == 0 and ctypes.c_uint64.from_address(p + 72).value == 0
            deleter = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(ptr(16))
            api.PyCapsule_SetName(cap, b"used_dltensor_versioned")
            del cap, f
            gc.collect()
            for _ in d:  # decode the rest: the consumer's frame must not be reused
                pass
            free_before = d.memory_stats()["frame_buffers_free"]
            deleter(p)  # the consumer drops its tensor
            stats = d.memory_stats()
            assert stats["pending_releases"] == 0, stats
            assert stats["frame_buffers_free"] == free_before + 1, (free_before, stats)
            """
        )
    )


def test_standin_converter_failure_is_a_driver_error(run_with_standin):
    # The stand-in has no kernels to load: the RGB converter's failure names the call.
    out = _ok(
        run_with_standin(
            f"""
            try:
                nv.Decoder(os.path.join(DATA, "{CLIP}"), output="planar", dtype="float32")
            except nv.DriverError as e:
                print(e.call, e.fault)
            else:
                raise AssertionError("no error")
            """
        )
    )
    assert "cuModuleLoadData platform" in out


# --- decode-ahead (prefetch) --------------------------------------------------------------


def test_prefetch_argument_errors(data):
    for bad in (-1, 65):
        with pytest.raises(nv.CallerError) as err:
            nv.Decoder(str(data / CLIP), prefetch=bad)
        assert err.value.parameter == "prefetch"
        with pytest.raises(nv.CallerError) as err:
            nv.DecoderPool().checkout(str(data / CLIP), prefetch=bad)
        assert err.value.parameter == "prefetch"


def test_standin_prefetch_keeps_order_and_pixels(run_with_standin):
    # Every depth yields the same frames, in display order, with the same pixels; the
    # standin's mapped surfaces and copies are all accounted for afterwards.
    _ok(
        run_with_standin(
            f"""
            import hashlib
            path = os.path.join(DATA, "{CLIP}")
            assert nv.Decoder(path).prefetch == 4
            runs = {{}}
            for depth in (0, 1, 2, 4, 64):
                d = nv.Decoder(path, prefetch=depth)
                assert d.prefetch == depth
                got = [(f.index, f.pts, hashlib.md5(f.to_bytes()).hexdigest()) for f in d]
                assert next(d, None) is None and next(d, None) is None  # the end stays the end
                d.close()
                runs[depth] = got
            n = len(runs[0])
            assert n > 8, n
            assert [i for i, _, _ in runs[0]] == list(range(n))
            for depth, got in runs.items():
                assert got == runs[0], depth
            # Kept frames: a consumer holding every frame while the worker decodes ahead.
            d = nv.Decoder(path, prefetch=3)
            kept = list(d)
            assert [f.index for f in kept] == list(range(n))
            assert [hashlib.md5(f.to_bytes()).hexdigest() for f in kept] == [h for _, _, h in runs[0]]
            del kept
            d.close()
            assert standin.standin_live(b"mapped") == 0
            assert standin.standin_misuse() == 0
            assert standin.standin_overlaps() == 0
            assert standin.standin_unsynced_copies() == 0
            """
        )
    )


def test_standin_prefetch_then_other_calls_continue_in_order(run_with_standin):
    # Calls other than iteration park the worker: what it decoded ahead comes next, in order.
    _ok(
        run_with_standin(
            f"""
            d = nv.Decoder(os.path.join(DATA, "{CLIP}"), prefetch=4)
            assert [next(d).index for _ in range(3)] == [0, 1, 2]
            assert d.info["codec"] == "h264"          # parks the worker
            assert [f.index for f in d.batch(2, stack=False)] == [3, 4]
            assert next(d).index == 5                 # a new worker, after what was kept
            assert d.memory_stats()["frame_buffers_allocated"] <= 4 + 8
            assert next(d).index == 6
            assert [f.index for f in d.frames_at([2, 0], stack=False)] == [2, 0]
            assert next(d).index == 0                 # random access: sequential starts again
            assert d.count_frames() > 7
            assert [next(d).index for _ in range(2)] == [0, 1]
            """
        )
    )


def test_standin_prefetch_memory_is_bounded_by_its_depth(run_with_standin):
    # The consumer holds nothing: the worker may be at most `depth` frames ahead, so the pool
    # never needs more buffers than depth + the one being copied + the consumer's one.
    _ok(
        run_with_standin(
            f"""
            import time
            for depth in (1, 3, 6):
                d = nv.Decoder(os.path.join(DATA, "{CLIP}"), prefetch=depth)
                f = next(d)       # the first frame of a pass: decoded in the call
                assert d.memory_stats()["frame_buffers_allocated"] == 1
                f = next(d)       # from the second on: the worker
                del f
                time.sleep(0.3)   # the worker fills its queue and waits
                assert next(d).index == 2
                allocated = d.memory_stats()["frame_buffers_allocated"]
                # depth ahead, the consumer's frame, one waiting in the release queue
                assert depth <= allocated <= depth + 3, (depth, allocated)
                d.close()
            """
        )
    )


def test_standin_prefetch_error_mid_stream_comes_at_its_frame(run_with_standin):
    # The 5th map fails: frames 0-3 come first, then the DriverError, then (the frame stayed
    # queued in the decoder) reading goes on from frame 4, as without decode-ahead.
    out = _ok(
        run_with_standin(
            f"""
            failnth = standin.standin_fail_nth
            path = os.path.join(DATA, "{CLIP}")
            total = nv.Decoder(path, prefetch=0).count_frames()
            for depth in (0, 1, 4):
                d = nv.Decoder(path, prefetch=depth)
                failnth(b"cuvidMapVideoFrame64", 5, 999)
                seen = []
                while len(seen) < 4:
                    seen.append(next(d).index)
                try:
                    next(d)
                except nv.DriverError as e:
                    assert e.call == "cuvidMapVideoFrame64", e.call
                else:
                    raise AssertionError(f"no error at depth {{depth}}")
                seen += [f.index for f in d]
                assert seen == list(range(total)), (depth, seen)
                d.close()
            # An input error (garbage after the first frames) arrives after the frames
            # before it, at depth 0 and 4 alike.
            raw = open(path, "rb").read()
            for depth in (0, 4):
                d = nv.Decoder(path, prefetch=depth)
                failnth(b"cuvidParseVideoData", 6, 999)
                got, error = [], None
                try:
                    for f in d:
                        got.append(f.index)
                except nv.NvcodecError as e:
                    error = type(e).__name__
                assert error is not None and got == list(range(len(got))), (depth, got, error)
                print(depth, len(got), error)
                d.close()
            assert standin.standin_live(b"mapped") == 0
            assert standin.standin_misuse() == 0
            """
        )
    )
    lines = [ln.split() for ln in out.strip().splitlines()]
    assert len(lines) == 2 and lines[0][1:] == lines[1][1:], lines


def test_standin_prefetch_early_drop_and_close_return_the_pooled_decoder(run_with_standin):
    # A decoder left mid-stream — closed, ended by `with`, or dropped without close —
    # stops its worker and goes back to the pool: nothing stays in use or mapped, and every
    # lifecycle call stayed inside its window (no overlap, no misuse).
    _ok(
        run_with_standin(
            f"""
            import gc, time
            path = os.path.join(DATA, "{CLIP}")
            pool = nv.DecoderPool(max_width=640, max_height=368)
            pool.prewarm("h264", 2)
            with pool.checkout(path, prefetch=4) as d:
                next(d); next(d)
            s = pool.stats()
            assert s["in_use"] == 0 and s["idle"] == 2, s
            d = pool.checkout(path, prefetch=4)
            next(d); next(d)   # the second frame starts the worker
            d.close()
            assert pool.stats()["in_use"] == 0, pool.stats()
            try:
                next(d)
            except nv.CallerError:
                pass
            else:
                raise AssertionError("closed decoder")
            for _ in range(20):   # dropped without close: the worker returns it itself
                d = pool.checkout(path, prefetch=2)
                next(d)
                f = next(d)
                del d
                gc.collect()
            deadline = time.monotonic() + 5
            while pool.stats()["in_use"] and time.monotonic() < deadline:
                time.sleep(0.01)
            s = pool.stats()
            assert s["in_use"] == 0 and s["discarded"] == 0, s
            del f
            # A decoder of its own dropped mid-stream with frames queued ahead.
            d = nv.Decoder(path, prefetch=8)
            next(d); next(d)
            time.sleep(0.1)
            del d
            gc.collect()
            deadline = time.monotonic() + 5
            while standin.standin_live(b"decoder") > s["idle"] and time.monotonic() < deadline:
                time.sleep(0.01)
            assert standin.standin_live(b"decoder") == s["idle"], standin.standin_live(b"decoder")
            assert standin.standin_live(b"mapped") == 0
            assert standin.standin_misuse() == 0
            assert standin.standin_overlaps() == 0
            """
        )
    )


def test_standin_pool_checkouts_share_frame_buffers(run_with_standin):
    # Streams started one after another from a pool reuse the frame buffers of the streams
    # before them: no allocation (and no cuMemFree, which waits for the device) per stream.
    _ok(
        run_with_standin(
            f"""
            path = os.path.join(DATA, "{CLIP}")
            pool = nv.DecoderPool(max_width=640, max_height=368)
            pool.prewarm("h264", 1)
            allocs = []
            for depth in [0, 2] * 10:
                before = standin.standin_calls(b"cuMemAlloc_v2")
                with pool.checkout(path, prefetch=depth) as d:
                    n = sum(1 for _ in d)
                allocs.append(standin.standin_calls(b"cuMemAlloc_v2") - before)
            # At most the peak of frames alive at once (2 ahead, 1 being made, the consumer's,
            # a release or two in flight), not some per stream: 20 streams of their own
            # buffers would allocate 20 times or more.
            assert allocs[0] > 0 and sum(allocs) <= 8, allocs
            frees = standin.standin_calls(b"cuMemFree_v2")
            pool.trim()
            assert standin.standin_calls(b"cuMemFree_v2") > frees
            assert standin.standin_misuse() == 0
            """
        )
    )


def test_standin_streams_of_other_sizes_do_not_evict_each_others_buffers(run_with_standin):
    # Three sizes in turn: each size's streams share a frame pool of their own, so after the
    # first round nothing is allocated or freed (one shared pool keeps two sizes only and
    # would free and allocate at every change).
    _ok(
        run_with_standin(
            """
            # The stand-in's parser reports the size it is told, whatever the clip says.
            clips = [("h264_640x360_b3.h264", 640, 368, 640, 360),
                     ("h264_1280x720_bt601.h264", 1280, 720, 1280, 720),
                     ("h264_1920x1080.h264", 1920, 1088, 1920, 1080)]
            setf = standin.standin_set_format
            pool = nv.DecoderPool()
            pool.prewarm("h264", 1)
            calls = lambda: (standin.standin_calls(b"cuMemAlloc_v2"),
                             standin.standin_calls(b"cuMemFree_v2"))
            shapes = set()
            for rnd in range(4):
                if rnd == 1:
                    start = calls()
                for clip, cw, ch, w, h in clips:
                    for field, v in (("coded_width", cw), ("coded_height", ch),
                                     ("display_right", w), ("display_bottom", h)):
                        assert setf(field.encode(), v) == 0
                    with pool.checkout(os.path.join(DATA, clip), prefetch=0) as d:
                        for f in d:
                            shapes.add(tuple(f.shape))
                        del f
            end = calls()
            assert len(shapes) == 3, shapes
            assert end == start, (start, end)
            assert standin.standin_misuse() == 0
            """
        )
    )
