"""Type stubs of nvcodec_guard (see the module docstring of ``__init__.py``)."""

from __future__ import annotations

import os
from types import TracebackType
from typing import IO, Any, Dict, Iterator, List, Literal, Optional, Sequence, Tuple, TypedDict, Union, overload

from ._errors import (
    BitstreamError as BitstreamError,
    BusyError as BusyError,
    CallerError as CallerError,
    DriverError as DriverError,
    FrameOutOfRangeError as FrameOutOfRangeError,
    InitLockTimeoutError as InitLockTimeoutError,
    InputError as InputError,
    InternalError as InternalError,
    LibraryNotFoundError as LibraryNotFoundError,
    NvcodecError as NvcodecError,
    PlatformError as PlatformError,
    PoolExhaustedError as PoolExhaustedError,
    UnsupportedError as UnsupportedError,
    NetworkError as NetworkError,
    AddressError as AddressError,
    UnauthorizedError as UnauthorizedError,
    NetworkTimeoutError as NetworkTimeoutError,
    NetworkFailureError as NetworkFailureError,
)

__version__: str

# A str with a scheme is a URL: "udp://HOST:PORT?OPTIONS", "rtsp://…" or "rtsps://…" (live
# sources), "file://PATH"; any other scheme raises AddressError.
Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]
Transport = Literal["tcp", "udp"]
Output = Literal["native", "rgb", "bgr", "planar"]
# "uint8" | "float16" | "float32", or a numpy/torch dtype or numpy scalar type of those.
DType = Any
Triple = Union[float, Sequence[float]]

class Colour(TypedDict):
    primaries: str
    transfer: str
    matrix: str
    range: str

class StreamInfo(TypedDict):
    # None for a live udp:// source until its program map was read.
    codec: Optional[str]
    width: Optional[int]
    height: Optional[int]
    bit_depth: Optional[int]
    pixel_format: Optional[str]
    frame_rate: Optional[float]
    frame_rate_fraction: Optional[Tuple[int, int]]
    colour: Optional[Colour]
    frame_count: Optional[int]
    time_base: Optional[Tuple[int, int]]
    duration: Optional[float]
    # True for udp:// and rtsp:// sources (then also the keys of LiveStreamInfo).
    live: bool

class LiveStreamInfo(StreamInfo):
    """``info`` of a live source: size, bit depth, pixel format, colour and frame rate are
    None until the first sequence header was decoded (the first frame); frame_count and
    duration are always None; time_base is (1, 90000) (MPEG-TS) or (1, RTP clock rate)."""

    url: str
    # Packets lost on the way so far: MPEG-TS continuity gaps plus datagrams the kernel
    # dropped (udp://), RTP sequence gaps (rtsp://).
    lost_packets: int

class MemoryStats(TypedDict):
    frame_buffers_allocated: int
    frame_buffers_free: int
    rgb_buffers_allocated: int
    rgb_buffers_free: int
    batch_buffers_free: int
    pending_releases: int

class PoolStats(TypedDict):
    checkouts: int
    hits: int
    misses: int
    creations: int
    reconfigurations: int
    evictions: int
    discarded: int
    in_use: int
    idle: int
    memory_held: int

def driver_available() -> bool:
    """Whether libcuda.so.1 can be loaded here (touches no device)."""

def driver_error() -> Optional[str]:
    """Why the driver cannot be loaded, or None when it can."""

class Frame:
    """One decoded frame on the GPU (DLPack / CUDA Array Interface, no copy).

    Native output: 2-D uint8 (NV12) / uint16 (P016) of shape (H + ceil(H/2), W), luma rows
    then interleaved UV rows; (3H, W) for 4:4:4; 1-D for odd widths. RGB: (H, W, 3) for
    "rgb"/"bgr", (3, H, W) for "planar".
    """

    def __dlpack__(
        self,
        *,
        stream: Optional[int] = None,
        max_version: Optional[Tuple[int, int]] = None,
        dl_device: Optional[Tuple[int, int]] = None,
        copy: Optional[bool] = None,
    ) -> Any: ...
    def __dlpack_device__(self) -> Tuple[int, int]: ...
    @property
    def __cuda_array_interface__(self) -> Dict[str, Any]: ...
    @property
    def shape(self) -> List[int]: ...
    @property
    def dtype(self) -> str: ...
    @property
    def device(self) -> int: ...
    @property
    def data_ptr(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def pts(self) -> int: ...
    @property
    def index(self) -> Optional[int]: ...
    @property
    def format(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    def to_bytes(self) -> bytes:
        """Copies the pixels to host memory (packed)."""

class Batch:
    """N frames of one shape in one contiguous GPU tensor (N, ...), exported like Frame."""

    def __dlpack__(
        self,
        *,
        stream: Optional[int] = None,
        max_version: Optional[Tuple[int, int]] = None,
        dl_device: Optional[Tuple[int, int]] = None,
        copy: Optional[bool] = None,
    ) -> Any: ...
    def __dlpack_device__(self) -> Tuple[int, int]: ...
    @property
    def __cuda_array_interface__(self) -> Dict[str, Any]: ...
    @property
    def shape(self) -> List[int]: ...
    @property
    def dtype(self) -> str: ...
    @property
    def device(self) -> int: ...
    @property
    def pts(self) -> List[int]: ...
    @property
    def indices(self) -> List[Optional[int]]: ...
    def __len__(self) -> int: ...
    def to_bytes(self) -> bytes: ...

class Decoder:
    """A GPU decoder over one input; iterate for frames in display order.

    Live sources (``"udp://…"``, ``"rtsp://…"``): frames come as they arrive, each decoded
    in the ``next()`` that returns it (no decode-ahead: ``prefetch`` is ignored and reads
    0), low latency on unless ``low_latency=False``. ``timeout`` (seconds): how long a pull
    waits for input (``udp://``: for a datagram, default the URL's ``timeout`` option or
    5 s; ``rtsp://``: for an access unit, default 5 s; opening an RTSP session has its own
    10 s). Then ``NetworkTimeoutError``; a ``udp://`` source stays usable (iterate again,
    or ``finish()`` to take what is in flight), an ``rtsp://`` session has ended. The end of
    an RTSP stream (the server's BYE) ends iteration. ``frames_at``, ``frame_at_time`` and
    ``count_frames`` raise ``CallerError``; ``batch(n)`` waits for ``n`` frames (fewer at
    the end). ``close()`` never waits for a call blocked on the network: that call ends
    within 50 ms (``udp://``) or the timeout (``rtsp://``) and iteration stops.

    ``prefetch`` (default 4, 0 = off): while you use a frame, a worker thread of the decoder
    decodes up to that many next frames (each in a pool buffer of the frame's size), so the
    NVDEC engine keeps working while Python runs or waits for the GIL. Order, pixels and
    errors are those of ``prefetch=0``: an error comes at the frame where it happened.
    Calls other than iteration (``batch``, ``frames_at``, ``info``, ...) stop the worker
    first and continue where iteration stands. ``close()`` (or the end of a ``with`` block)
    stops it at once; a decoder dropped mid-stream stops it after its current frame.
    """

    def __init__(
        self,
        source: Source,
        *,
        gpu: int = 0,
        output: Output = "native",
        dtype: DType = None,
        size: Optional[Tuple[int, int]] = None,
        crop: Optional[Tuple[int, int, int, int]] = None,
        low_latency: Optional[bool] = None,
        mean: Optional[Triple] = None,
        std: Optional[Triple] = None,
        prefetch: int = 4,
        timeout: Optional[float] = None,
        transport: Optional[Transport] = None,
    ) -> None: ...
    @property
    def prefetch(self) -> int: ...
    def __iter__(self) -> Iterator[Frame]: ...
    def __next__(self) -> Frame: ...
    @overload
    def batch(self, n: int, *, stack: Literal[True] = ...) -> Optional[Batch]: ...
    @overload
    def batch(self, n: int, *, stack: Literal[False]) -> List[Frame]: ...
    @overload
    def frames_at(self, indices: Sequence[int], *, stack: Literal[True] = ...) -> Batch: ...
    @overload
    def frames_at(self, indices: Sequence[int], *, stack: Literal[False]) -> List[Frame]: ...
    def frame_at_time(self, seconds: float) -> Frame: ...
    def count_frames(self) -> int: ...
    @property
    def info(self) -> StreamInfo: ...
    def memory_stats(self) -> MemoryStats: ...
    @property
    def gpu(self) -> int: ...
    @property
    def url(self) -> Optional[str]:
        """A live source's URL (an RTSP URL without credentials); None for files."""
    def finish(self) -> None:
        """Live sources: take no more input; iteration yields the frames in flight, then
        ends. CallerError for a file."""
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Decoder: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

class DecoderPool:
    """Decoders built ahead of demand on one GPU (gpu=) or several (gpus=)."""

    def __init__(
        self,
        *,
        gpu: int = 0,
        gpus: Optional[Sequence[int]] = None,
        max_width: int = 1920,
        max_height: int = 1080,
        max_per_key: Optional[int] = None,
        max_total: Optional[int] = None,
        checkout_timeout: Optional[float] = None,
        low_latency: bool = False,
    ) -> None: ...
    def prewarm(
        self,
        codec: str,
        n: int,
        *,
        max_width: Optional[int] = None,
        max_height: Optional[int] = None,
        bit_depth: int = 8,
    ) -> None: ...
    def checkout(
        self,
        source: Source,
        *,
        gpu: Optional[int] = None,
        output: Output = "native",
        dtype: DType = None,
        size: Optional[Tuple[int, int]] = None,
        crop: Optional[Tuple[int, int, int, int]] = None,
        mean: Optional[Triple] = None,
        std: Optional[Triple] = None,
        prefetch: int = 4,
        timeout: Optional[float] = None,
        transport: Optional[Transport] = None,
    ) -> Decoder:
        """A decoder for ``source``. A live source's decoder is checked out when its first
        access unit arrives (the codec is known then): a full pool shows at the first
        ``next()``. Its low latency is the pool's (``DecoderPool(low_latency=True)``)."""
    def stats(self) -> PoolStats: ...
    def trim(self) -> None: ...
