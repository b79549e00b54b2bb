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
whole. Formats: MP4 (progressive and fragmented), Matroska/WebM, IVF, raw H.264/HEVC
Annex-B and MPEG-2 elementary streams.
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
]
