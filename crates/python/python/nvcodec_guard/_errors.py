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
- :class:`NetworkError` — a network source (``udp://``, ``rtsp://``); also one of the
  above by fault: :class:`AddressError` and :class:`UnauthorizedError` are
  :class:`CallerError` (a URL that cannot be used, credentials refused);
  :class:`NetworkTimeoutError` (also a :class:`TimeoutError`: nothing arrived for
  ``waited`` seconds) and :class:`NetworkFailureError` (the peer closed the session or broke
  its protocol, or a socket call failed here, e.g. a port in use) are :class:`PlatformError`.
- :class:`BusyError` — contention: try again later (:class:`PoolExhaustedError`,
  :class:`InitLockTimeoutError`).
- :class:`InternalError` — a bug in nvcodec_guard: please report it.

Attributes present on every instance: ``fault`` (``"input"``, ``"caller"``, ``"platform"``,
``"busy"``, ``"internal"``) and ``kind`` (the Rust variant's name). Others are set where the
error has them, else ``None``: ``library``, ``call``, ``status``, ``status_code``,
``last_error``, ``parameter``, ``offset`` (byte offset in the input), ``limit``, ``length``,
``index``, ``frames``, ``sample``, ``waited`` (seconds), ``peer`` (a network source's URL,
without credentials, or its peer).
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
    "NetworkError",
    "AddressError",
    "UnauthorizedError",
    "NetworkTimeoutError",
    "NetworkFailureError",
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
    peer: Optional[str] = None


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


class NetworkError(NvcodecError):
    """A network source (``udp://``, ``rtsp://``) failed; ``peer`` names its URL (without
    credentials) or peer. Every instance is also a :class:`CallerError` or a
    :class:`PlatformError`, by who is at fault."""


class AddressError(CallerError, NetworkError):
    """The URL or address cannot be used: bad syntax, an unknown scheme or option, a value
    out of range, an address not of this machine, a name that does not resolve, a path the
    RTSP server does not have (404)."""


class UnauthorizedError(CallerError, NetworkError):
    """The RTSP server refused the credentials, or asked for some and none were given."""


class NetworkTimeoutError(PlatformError, NetworkError, TimeoutError):
    """Nothing arrived from ``peer`` for ``waited`` seconds (also a :class:`TimeoutError`).
    A ``udp://`` source stays usable: iterate again to keep waiting, or call
    ``Decoder.finish()`` to take the frames still in flight. An ``rtsp://`` session has
    ended."""


class NetworkFailureError(PlatformError, NetworkError):
    """The peer closed the session or connection or broke its protocol, or a socket call on
    this machine failed (``peer`` then names the call and address, e.g. a port in use)."""
