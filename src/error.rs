//! The crate's one error type.
//!
//! Invariant: every failure a user's input or the driver can cause arrives here as a value,
//! never as a panic, and each distinct situation a program could act on is its own variant
//! with typed fields (no catch-all strings). A driver failure is one [`DriverError`]
//! (library, call, typed [`Status`]); its `Display` keeps the status *name*
//! (`CUDA_ERROR_OUT_OF_MEMORY`, `NV_ENC_ERR_NO_ENCODE_DEVICE`), because those names are what
//! NVIDIA's documentation and forums are searchable by.
//!
//! Errors are grouped by who is at fault ([`Error::fault`], [`Fault`]): the media
//! ([`InputError`](crate::input::InputError), [`BitstreamError`]), the calling program
//! ([`FrameError`], invalid configurations), the machine ([`DriverError`] and the library
//! loader), contention, or this crate. Each sub-error lives in its own file of this module.
//!
//! This module knows nothing of decoders or encoders beyond naming their failures; it stands
//! on the ground floor (`nvcodec_media`) and the input layer's errors only.

use std::fmt;
use std::time::Duration;

mod bitstream;
mod driver;
mod fault;
mod frame;

pub use bitstream::BitstreamError;
pub use driver::{DriverError, Library, Status};
pub use fault::Fault;
pub use frame::FrameError;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `nvcodec-guard`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shared library of the NVIDIA driver could not be opened (no driver, no GPU, or a
    /// container without the driver's libraries mounted).
    #[error("the NVIDIA library {name} could not be loaded: {reason}")]
    LibraryNotFound {
        /// The file name that was looked for, e.g. `libnvcuvid.so.1`.
        name: &'static str,
        /// What the dynamic loader said.
        reason: String,
    },

    /// A library was found but lacks an entry point this crate needs (usually: driver too old).
    #[error("{library} has no symbol {symbol} (driver too old?): {reason}")]
    SymbolNotFound {
        /// The library searched.
        library: &'static str,
        /// The missing symbol.
        symbol: &'static str,
        /// What the dynamic loader said.
        reason: String,
    },

    /// A CUDA driver, NVDEC or NVENC call returned a failure status.
    #[error(transparent)]
    Driver(#[from] DriverError),

    /// The GPU has no NVENC engine (some data-centre GPUs have none). Drivers report this as
    /// `NV_ENC_ERR_NO_ENCODE_DEVICE` or as `NV_ENC_ERR_UNSUPPORTED_DEVICE`; both map here.
    #[error("{device} has no NVENC encode engine (NvEncOpenEncodeSessionEx: {status})")]
    NoEncodeDevice {
        /// The CUDA device name.
        device: String,
        /// The status the driver returned.
        status: Status,
    },

    /// The GPU, driver or library cannot do what was asked.
    #[error("unsupported: {what}; supported: {supported}")]
    Unsupported {
        /// What was asked for.
        what: String,
        /// What the hardware reports it can do instead.
        supported: String,
    },

    /// A configuration value or argument is out of range; found before any driver call.
    #[error("invalid configuration: {parameter}: {reason}")]
    InvalidConfig {
        /// The parameter at fault, e.g. `max_width`, `device` or `destination buffer`.
        parameter: &'static str,
        /// What is wrong with it, naming the value and the allowed range.
        reason: String,
    },

    /// NVDEC's parser reported a stream the decoder refuses: another codec, or a sequence
    /// header with impossible values; see [`BitstreamError`].
    #[error(transparent)]
    Bitstream(#[from] BitstreamError),

    /// One packet (or `flush`) released more frames than the decoder queues: the packet was
    /// consumed, the frames queued before it stay takeable (`Decoder::take_queued`), the ones past
    /// the limit were dropped.
    #[error(
        "one packet produced more frames than the decoder queues (MAX_QUEUED_FRAMES = {limit}); frames from pts {first_dropped_pts} on were dropped"
    )]
    FramesDropped {
        /// The queue's bound, `MAX_QUEUED_FRAMES`.
        limit: usize,
        /// The timestamp of the first frame dropped.
        first_dropped_pts: i64,
    },

    /// A packet is longer than NVDEC's parser takes in one call (its length is a C
    /// `unsigned long`); the packet was not consumed.
    #[error("a packet of {len} bytes is larger than NVDEC's parser takes ({max} bytes)")]
    PacketTooLarge {
        /// The packet's length in bytes.
        len: usize,
        /// The largest length the parser takes.
        max: u64,
    },

    /// `Encoder::encode` refused a frame that does not fit the encoder's format and size;
    /// see [`FrameError`].
    #[error(transparent)]
    Frame(#[from] FrameError),

    /// A driver call reported success but handed back something impossible (no handle, a
    /// pitch too small for the frame, a length beyond the buffer). Nothing was read from it.
    #[error("{call} broke its contract: {violation}")]
    DriverContract {
        /// The call whose result was refused, e.g. `cuvidCreateDecoder`.
        call: &'static str,
        /// What was wrong with the result.
        violation: String,
    },

    /// A decode callback panicked; the panic was caught at the FFI boundary and the decoder
    /// is unusable for this stream.
    #[error("panic in the {callback} callback: {message}")]
    CallbackPanicked {
        /// The callback, e.g. `sequence`, `decode` or `display`.
        callback: &'static str,
        /// The panic's message, when it had one.
        message: String,
    },

    /// `Encoder::encode` refused a frame: NVENC already holds as many frames without output
    /// as the encoder has buffers. Take packets (`Encoder::flush`) first; the frame was not
    /// consumed.
    #[error("NVENC holds {in_flight} frames without output, as many as the encoder has buffers")]
    EncoderFull {
        /// Frames submitted without output.
        in_flight: usize,
    },

    /// A state this crate's own logic should never reach; please report it.
    #[error("internal error (please report): {what}")]
    Internal {
        /// What went wrong.
        what: &'static str,
    },

    /// An input file or stream is malformed, truncated, unsupported or over a reader's
    /// limit (`input::*` readers); see [`InputError`](crate::input::InputError).
    #[error("invalid input: {0}")]
    Input(#[from] crate::input::InputError),

    /// `CudaInitGuard::acquire_timeout` gave up: another thread held the init window too long.
    #[error("timed out after {waited:?} waiting for the CUDA init lock")]
    InitLockTimeout {
        /// How long this thread waited.
        waited: Duration,
    },

    /// This thread already holds the init lock; acquiring again would deadlock. Also what a
    /// call that needs a window of its own at run time (a decoder's stream change) returns on
    /// such a thread: it does not borrow a window whose guard it was not handed.
    #[error("this thread already holds the CUDA init lock (re-entrant acquire)")]
    InitLockHeld,

    /// A session lifecycle call was refused because the init window it was to run in had
    /// ended: code running inside the window (a `tracing` subscriber, a `Drop`) dropped the
    /// guard the thread held. The call did not reach the driver.
    #[error("{call} refused: the init window it was to run in was ended by code running inside it")]
    InitWindowEnded {
        /// The driver call that was refused.
        call: &'static str,
    },

    /// More frames are mapped at once than the decoder has output surfaces.
    #[error(
        "{mapped} frames already mapped, the decoder has {surfaces} output surfaces; drop a frame first"
    )]
    TooManyMappedFrames {
        /// Frames currently mapped.
        mapped: u32,
        /// The configured number of output surfaces.
        surfaces: u32,
    },

    /// `Decoder::decode` refused a packet because the frames it returned earlier were not
    /// taken; the packet was not consumed.
    #[error(
        "{queued} decoded frames are waiting to be taken; take them (`Decoder::take_queued`) before feeding more input (the packet was not consumed)"
    )]
    FramesNotTaken {
        /// Frames queued.
        queued: usize,
    },

    /// A `DecoderPool` checkout found every limit reached and no decoder came back in time.
    #[error(
        "the decoder pool is exhausted (waited {waited:?}): every decoder it may hold is in use"
    )]
    PoolExhausted {
        /// How long the checkout waited.
        waited: Duration,
    },

    /// A session is unusable after an earlier failure (e.g. a failed decoder re-creation);
    /// build a new one.
    #[error("the {session} is unusable after an earlier error: {reason}; build a new one")]
    Poisoned {
        /// Which kind of session.
        session: SessionKind,
        /// The earlier failure.
        reason: String,
    },

    /// A frame was asked for by display index (or time) past the last frame of the stream.
    #[error("frame {index} was asked for, but the stream has {frames} frames")]
    FrameOutOfRange {
        /// The display index asked for.
        index: usize,
        /// Frames in the stream.
        frames: usize,
    },

    /// The decoder output no picture for a frame that was asked for: the picture could not
    /// be decoded (e.g. a leading picture whose references precede the stream's start).
    #[error("frame {index} (sample {sample} in decode order) was not output by the decoder")]
    FrameNotDecoded {
        /// The display index asked for.
        index: usize,
        /// Its sample, in decode order.
        sample: usize,
    },

    /// Frames of this stream cannot be addressed by display index (or by time) so that each
    /// is the frame a whole decode shows there; `reason` says why: timestamps that repeat or
    /// do not follow display order with no bitstream order to fall back on, or decoder output
    /// that does not match what was fed. Nothing is handed out rather than another frame.
    #[error("frames cannot be addressed in this stream: {reason}")]
    FramesNotAddressable {
        /// Why, naming the samples or timestamps involved.
        reason: String,
    },

    /// File I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),

    /// A network source (`udp://`, `rtsp://`) failed; see
    /// [`NetworkError`](crate::input::NetworkError).
    #[error("network: {0}")]
    Network(#[from] crate::input::NetworkError),
}

/// The kind of session an [`Error::Poisoned`] names. (Its variants are not named `Decoder`
/// and `Encoder`, so that compiler errors keep printing `Builder<Decoder, _>` unqualified.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionKind {
    /// A `Decoder` (NVDEC decoding).
    Decoding,
    /// An `Encoder` (NVENC encoding).
    Encoding,
}

impl fmt::Display for SessionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionKind::Decoding => "decoder",
            SessionKind::Encoding => "encoder",
        })
    }
}

impl From<crate::input::ReadError> for Error {
    /// A reader's failure keeps its grouping: the bytes at fault ([`Error::Input`]) or the
    /// source ([`Error::Io`]).
    fn from(error: crate::input::ReadError) -> Self {
        match error {
            crate::input::ReadError::Input(e) => Error::Input(e),
            crate::input::ReadError::Io(e) => Error::Io(e),
            crate::input::ReadError::Network(e) => Error::Network(e),
            // `ReadError` may grow; a failure this crate does not know yet is still an input
            // failure, with its message.
            other => Error::Input(crate::input::InputError::Malformed {
                offset: None,
                what: other.to_string(),
            }),
        }
    }
}

impl Error {
    /// The driver failure, if this is one.
    pub fn driver(&self) -> Option<&DriverError> {
        match self {
            Error::Driver(error) => Some(error),
            _ => None,
        }
    }

    /// `true` if a driver call ran out of (device or page-locked) memory.
    pub fn is_out_of_memory(&self) -> bool {
        self.driver().is_some_and(|e| e.status.is_out_of_memory())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_error_names_call_status_and_last_error() {
        let e = Error::Driver(DriverError {
            last_error: Some("bad preset".into()),
            ..DriverError::new(
                Library::Nvenc,
                "NvEncInitializeEncoder",
                Status::nvenc(8, "NV_ENC_ERR_INVALID_PARAM"),
            )
        });
        assert_eq!(
            e.to_string(),
            "NvEncInitializeEncoder failed: NV_ENC_ERR_INVALID_PARAM (8): bad preset"
        );
    }

    #[test]
    fn cuda_error_names_call_and_status() {
        let e = Error::Driver(DriverError::new(
            Library::Nvcuvid,
            "cuvidCreateDecoder",
            Status::cuda(2, "CUDA_ERROR_OUT_OF_MEMORY"),
        ));
        assert_eq!(
            e.to_string(),
            "cuvidCreateDecoder failed: CUDA_ERROR_OUT_OF_MEMORY (2)"
        );
        assert!(e.is_out_of_memory());
        assert_eq!(e.driver().map(|d| d.library), Some(Library::Nvcuvid));
    }

    #[test]
    fn invalid_config_names_the_parameter() {
        let e = Error::InvalidConfig {
            parameter: "max_width",
            reason: "0 is below the minimum 48".into(),
        };
        assert_eq!(
            e.to_string(),
            "invalid configuration: max_width: 0 is below the minimum 48"
        );
        assert!(!e.is_out_of_memory());
    }

    #[test]
    fn bitstream_errors_name_the_values() {
        let e = Error::from(BitstreamError::CodecMismatch {
            expected: crate::Codec::H264,
            found: Some(crate::Codec::Hevc),
            cuvid_codec: 8,
        });
        assert_eq!(
            e.to_string(),
            "the stream is hevc (cudaVideoCodec 8) but the decoder was built for h264"
        );
        let e = BitstreamError::CodecMismatch {
            expected: crate::Codec::Vp9,
            found: None,
            cuvid_codec: 99,
        };
        assert_eq!(
            e.to_string(),
            "the stream is cudaVideoCodec 99 but the decoder was built for vp9"
        );
        let e = BitstreamError::BitDepthOutOfRange {
            bit_depth: 40,
            max: 16,
        };
        assert_eq!(
            e.to_string(),
            "the stream reports a bit depth of 40 (at most 16)"
        );
        let e = BitstreamError::CodedSizeOutOfRange {
            width: 0,
            height: 40_000,
            max: 32_768,
        };
        assert_eq!(
            e.to_string(),
            "the stream reports a coded size of 0x40000 (supported: 1..=32768)"
        );
    }

    #[test]
    fn decoder_input_errors_name_the_values() {
        let e = Error::FramesDropped {
            limit: 32,
            first_dropped_pts: 77,
        };
        assert_eq!(
            e.to_string(),
            "one packet produced more frames than the decoder queues (MAX_QUEUED_FRAMES = 32); \
             frames from pts 77 on were dropped"
        );
        let e = Error::PacketTooLarge {
            len: 5_000_000_000,
            max: u64::from(u32::MAX),
        };
        assert_eq!(
            e.to_string(),
            "a packet of 5000000000 bytes is larger than NVDEC's parser takes (4294967295 bytes)"
        );
    }

    #[test]
    fn frame_errors_name_the_values() {
        use nvcodec_media::InputFormat;
        let (format, width, height) = (InputFormat::Nv12, 64, 32);
        let cases = [
            (
                FrameError::PlaneCount {
                    format: InputFormat::Yuv444,
                    expected: 3,
                    got: 2,
                },
                "a Yuv444 frame has 3 plane(s), got 2",
            ),
            (
                FrameError::PitchTooSmall {
                    format,
                    width,
                    height,
                    plane: "UV",
                    pitch: 63,
                    row_bytes: 64,
                },
                "UV plane of a 64x32 Nv12 frame: pitch 63 is below its 64 bytes per row",
            ),
            (
                FrameError::PlaneTooShort {
                    format,
                    width,
                    height,
                    plane: "Y",
                    len: 2543,
                    rows: 32,
                    pitch: 80,
                    needed: 2544,
                },
                "Y plane of a 64x32 Nv12 frame: 2543 bytes, 32 rows at pitch 80 need 2544",
            ),
            (
                FrameError::PackedSize {
                    format,
                    width,
                    height,
                    expected: 3072,
                    len: 3000,
                },
                "a packed 64x32 Nv12 frame is 3072 bytes, got 3000",
            ),
            (
                FrameError::DeviceBufferTooSmall {
                    format,
                    width,
                    height,
                    pitch: 512,
                    len: 1000,
                    needed: 24_128,
                },
                "device buffer of 1000 bytes; a 64x32 Nv12 frame at pitch 512 needs 24128",
            ),
            (
                FrameError::SurfaceTooLarge {
                    format,
                    width,
                    height,
                    pitch: usize::MAX,
                },
                "a 64x32 Nv12 frame at pitch 18446744073709551615 spans more than usize::MAX bytes",
            ),
            (
                FrameError::ForeignContext,
                "the device buffer belongs to another CUDA context than the encoder's",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(Error::from(error).to_string(), text);
        }
    }
}
