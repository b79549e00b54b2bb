"""nvcodec_guard: NVIDIA NVDEC video decoding for Python, with GPU tensors.

Decode a file, bytes or a binary file-like object on the GPU and get every frame as a
CUDA tensor without a copy (DLPack and the CUDA Array Interface, so ``torch.from_dlpack``,
CuPy and others take it directly)::

    import torch
    import nvcodec_guard as nv

    with nv.Decoder("clip.mp4", output="planar", dtype="float32",
                    mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)) as dec:
        batch = dec.frames_at([0, 30, 60, 90])      # exact frames, (4, 3, H, W)
        x = torch.from_dlpack(batch)                 # no copy
        for frame in dec:                            # sequential, (3, H, W) each
            y = model(torch.from_dlpack(frame)[None])

Guarantees:

- Importing this package needs no GPU and no CUDA: the NVIDIA driver is loaded by the first
  call that decodes; without it that call raises :class:`LibraryNotFoundError` (a
  :class:`PlatformError`). :func:`driver_available` tells beforehand.
- ``frames_at(indices)`` returns exactly the frames at those display indices (line ``i`` of
  ffmpeg's framemd5 of the whole stream), each GOP decoded at most once.
- A frame's pixels are complete when it is handed out, for any CUDA stream; its memory lives
  as long as the frame or any tensor made from it, and returns to the decoder's pool only
  after the GPU work queued on it (on the consumer's stream) before that has finished.
- The GIL is released while decoding and waiting; ``Decoder`` and ``DecoderPool`` objects may
  be shared between threads (calls on one decoder run one at a time).
- Iteration decodes ahead (``prefetch=4`` frames by default, on a worker thread of the
  decoder), so the GPU keeps decoding while Python uses a frame; order, pixels and errors are
  those of ``prefetch=0``, and at most ``prefetch`` frames wait.

Inputs: a path (``str`` / ``os.PathLike``) is read incrementally; ``bytes``/``bytearray``/
``memoryview`` and binary file-like objects (anything with ``read()``) are read into memory
whole. Formats: MP4 (progressive and fragmented), Matroska/WebM, IVF, MPEG-TS/M2TS, raw
H.264/HEVC Annex-B and MPEG-2 elementary streams.

Live sources: a ``str`` URL ``udp://HOST:PORT?OPTIONS`` (MPEG-TS over UDP, unicast or
multicast; options as the Rust crate's ``UdpUrl``: ``timeout`` in microseconds,
``buffer_size``, ``localaddr``, ``sources``, …) or ``rtsp://[user:pass@]host[:port]/path``
(H.264/HEVC over RTP; ``transport="tcp"|"udp"``)::

    with nv.Decoder("udp://239.1.1.1:5000?localaddr=192.168.1.10", timeout=2.0) as dec:
        for frame in dec:                            # as each picture arrives
            y = model(torch.from_dlpack(frame)[None])

A live source is read in order, as it arrives: low latency is on unless
``low_latency=False``; each frame is decoded in the ``next()`` that returns it (no
decode-ahead; ``prefetch`` is ignored); ``frames_at``, ``frame_at_time`` and
``count_frames`` raise :class:`CallerError`; ``batch(n)`` waits for ``n`` frames. Nothing
arriving for the timeout raises :class:`NetworkTimeoutError`; ``close()`` from another
thread ends a wait within 50 ms (``udp://``) or the timeout (``rtsp://``).
"""

from __future__ import annotations

from ._errors import (
    BitstreamError,
    BusyError,
    CallerError,
    DriverError,
    FrameOutOfRangeError,
    InitLockTimeoutError,
    InputError,
    InternalError,
    LibraryNotFoundError,
    NvcodecError,
    PlatformError,
    PoolExhaustedError,
    UnsupportedError,
    NetworkError,
    AddressError,
    UnauthorizedError,
    NetworkTimeoutError,
    NetworkFailureError,
)
from ._native import (
    Batch,
    Decoder,
    DecoderPool,
    Frame,
    __version__,
    driver_available,
    driver_error,
)

__all__ = [
    "Batch",
    "Decoder",
    "DecoderPool",
    "Frame",
    "__version__",
    "driver_available",
    "driver_error",
    "NvcodecError",
    "InputError",
    "BitstreamError",
    "CallerError",
    "FrameOutOfRangeError",
    "PlatformError",
    "LibraryNotFoundError",
    "DriverError",
    "UnsupportedError",
    "BusyError",
    "PoolExhaustedError",
    "InitLockTimeoutError",
    "InternalError",
    "NetworkError",
    "AddressError",
    "UnauthorizedError",
    "NetworkTimeoutError",
    "NetworkFailureError",
]
