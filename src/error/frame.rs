//! [`FrameError`]: a frame `Encoder::encode` refused, as a value a program can act on.
//!
//! Invariant: every frame is checked against the encoder's format and size before any driver
//! call, and each way it can fail to fit is one variant carrying the sizes involved (bytes,
//! pitches, rows), never a formatted string. The frame's format and size are repeated in the
//! variants that need them to explain the numbers, so the message stands on its own.

/// Why `Encoder::encode` refused a frame (reached as [`Error::Frame`](crate::Error::Frame));
/// nothing was submitted to NVENC. `plane` names a plane as the format does: `Y`, `UV` (NV12,
/// P010), `U`, `V` (4:4:4) or `ARGB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame has another number of planes than the format has.
    #[error("a {format:?} frame has {expected} plane(s), got {got}")]
    PlaneCount {
        /// The encoder's input format.
        format: InputFormat,
        /// Planes of that format.
        expected: usize,
        /// Planes handed in.
        got: usize,
    },

    /// A plane's pitch (bytes from one row to the next) is smaller than its row of picture.
    #[error(
        "{plane} plane of a {width}x{height} {format:?} frame: pitch {pitch} is below its {row_bytes} bytes per row"
    )]
    PitchTooSmall {
        /// The encoder's input format.
        format: InputFormat,
        /// The encoder's width.
        width: u32,
        /// The encoder's height.
        height: u32,
        /// The plane at fault.
        plane: &'static str,
        /// The pitch given.
        pitch: usize,
        /// Bytes of picture per row of the plane: the smallest valid pitch.
        row_bytes: usize,
    },

    /// A host plane's slice is shorter than its rows at its pitch.
    #[error(
        "{plane} plane of a {width}x{height} {format:?} frame: {len} bytes, {rows} rows at pitch {pitch} need {needed}"
    )]
    PlaneTooShort {
        /// The encoder's input format.
        format: InputFormat,
        /// The encoder's width.
        width: u32,
        /// The encoder's height.
        height: u32,
        /// The plane at fault.
        plane: &'static str,
        /// Bytes handed in.
        len: usize,
        /// Rows of the plane.
        rows: usize,
        /// The pitch given.
        pitch: usize,
        /// Bytes the rows need (the last row needs no padding).
        needed: usize,
    },

    /// A packed frame (planes back to back, no padding) is not exactly the format's size.
    #[error("a packed {width}x{height} {format:?} frame is {expected} bytes, got {len}")]
    PackedSize {
        /// The encoder's input format.
        format: InputFormat,
        /// The encoder's width.
        width: u32,
        /// The encoder's height.
        height: u32,
        /// Bytes of a packed frame.
        expected: usize,
        /// Bytes handed in.
        len: usize,
    },

    /// A device buffer is shorter than the whole surface at its pitch.
    #[error(
        "device buffer of {len} bytes; a {width}x{height} {format:?} frame at pitch {pitch} needs {needed}"
    )]
    DeviceBufferTooSmall {
        /// The encoder's input format.
        format: InputFormat,
        /// The encoder's width.
        width: u32,
        /// The encoder's height.
        height: u32,
        /// The pitch given.
        pitch: usize,
        /// Bytes of the buffer.
        len: usize,
        /// Bytes the surface at `pitch` spans.
        needed: usize,
    },

    /// A device surface at the pitch given would span more bytes than the address space.
    #[error(
        "a {width}x{height} {format:?} frame at pitch {pitch} spans more than usize::MAX bytes"
    )]
    SurfaceTooLarge {
        /// The encoder's input format.
        format: InputFormat,
        /// The encoder's width.
        width: u32,
        /// The encoder's height.
        height: u32,
        /// The pitch given.
        pitch: usize,
    },

    /// A device buffer belongs to another CUDA context than the encoder's: copy it into
    /// memory of the encoder's context, or build the encoder on the buffer's.
    #[error("the device buffer belongs to another CUDA context than the encoder's")]
    ForeignContext,
}
use nvcodec_media::InputFormat;
