"""The exception hierarchy of nvcodec_guard, mirroring the Rust crate's ``Error``.

Every error the package raises is an :class:`NvcodecError`. Its subclass tells who is at
fault (the crate's ``Error::fault()``), so a program can decide what to do without matching
messages:

- :class:`InputError` — the media: fix or reject the file (:class:`BitstreamError` for the
  coded bitstream itself).
- :class:`CallerError` — the calling program: a wrong argument or call order. Also a
  :class:`ValueError`; :class:`FrameOutOfRangeError` is also an :class:`IndexError`.
- :class:`PlatformError` — the machine: :class:`LibraryNotFoundError` (no NVIDIA driver),
  :class:`DriverError` (a driver call failed: ``call``, ``status``, ``status_code``),
  :class:`UnsupportedError` (the GPU cannot decode this).
- :class:`BusyError` — contention: try again later (:class:`PoolExhaustedError`,
  :class:`InitLockTimeoutError`).
- :class:`InternalError` — a bug in nvcodec_guard: please report it.

Attributes present on every instance: ``fault`` (``"input"``, ``"caller"``, ``"platform"``,
``"busy"``, ``"internal"``) and ``kind`` (the Rust variant's name). Others are set where the
error has them, else ``None``: ``library``, ``call``, ``status``, ``status_code``,
``last_error``, ``parameter``, ``offset`` (byte offset in the input), ``limit``, ``length``,
``index``, ``frames``, ``sample``, ``waited`` (seconds).
"""

from __future__ import annotations

from typing import Optional

__all__ = [
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


class NvcodecError(Exception):
    """Base class of every error raised by nvcodec_guard."""

    fault: str = "internal"
    kind: str = ""
    library: Optional[str] = None
    call: Optional[str] = None
    status: Optional[str] = None
    status_code: Optional[int] = None
    last_error: Optional[str] = None
    parameter: Optional[str] = None
    offset: Optional[int] = None
    limit: Optional[int] = None
    length: Optional[int] = None
    index: Optional[int] = None
    frames: Optional[int] = None
    sample: Optional[int] = None
    waited: Optional[float] = None


class InputError(NvcodecError):
    """The input is malformed, truncated, unsupported or of another codec."""

    fault = "input"


class BitstreamError(InputError):
    """The coded bitstream is invalid or not what the decoder was built for."""


class CallerError(NvcodecError, ValueError):
    """A wrong argument or call order (also a ValueError)."""

    fault = "caller"


class FrameOutOfRangeError(CallerError, IndexError):
    """A frame index past the end of the stream (``index``, ``frames``)."""


class PlatformError(NvcodecError):
    """The machine: no driver, a failing driver call, an unsupported stream for this GPU."""

    fault = "platform"


class LibraryNotFoundError(PlatformError):
    """An NVIDIA library (``library``) could not be loaded: no driver installed here."""


class DriverError(PlatformError):
    """A driver call failed: ``call`` (e.g. ``cuvidCreateDecoder``), ``status`` (e.g.
    ``CUDA_ERROR_OUT_OF_MEMORY``) and ``status_code``."""


class UnsupportedError(PlatformError):
    """The GPU or driver cannot do what the stream needs."""


class BusyError(NvcodecError):
    """Contention: try again later."""

    fault = "busy"


class PoolExhaustedError(BusyError):
    """Every decoder the pool may hold is in use (``waited`` seconds)."""


class InitLockTimeoutError(BusyError):
    """The process-wide CUDA init lock could not be had in time (``waited`` seconds)."""


class InternalError(NvcodecError):
    """A bug in nvcodec_guard: please report it."""

    fault = "internal"
