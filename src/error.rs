//! The crate's one error type.
//!
//! Invariant: every failure a user's input or the driver can cause arrives here as a value,
//! never as a panic. Driver and codec errors carry the name of the call that failed and the
//! status *name* (`CUDA_ERROR_OUT_OF_MEMORY`, `NV_ENC_ERR_NO_ENCODE_DEVICE`), because those
//! names are what NVIDIA's documentation and forums are searchable by.
//!
//! This module knows nothing of decoders or encoders beyond naming their failures.

use std::time::Duration;

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

    /// A CUDA driver or NVDEC (cuvid) call failed; both report a `CUresult`.
    #[error("{call} failed: {name} ({code})")]
    Cuda {
        /// The failing call, e.g. `cuvidCreateDecoder`.
        call: &'static str,
        /// The `CUresult` name, e.g. `CUDA_ERROR_OUT_OF_MEMORY`.
        name: String,
        /// The numeric `CUresult`.
        code: u32,
    },

    /// An NVENC call failed.
    #[error("{call} failed: {status} ({code}){}", last_error_suffix(.last_error))]
    Encoder {
        /// The failing call, e.g. `NvEncInitializeEncoder`.
        call: &'static str,
        /// The `NVENCSTATUS` name, e.g. `NV_ENC_ERR_INVALID_PARAM`.
        status: &'static str,
        /// The numeric `NVENCSTATUS`.
        code: u32,
        /// `NvEncGetLastErrorString`, when the session existed to ask.
        last_error: Option<String>,
    },

    /// The GPU has no NVENC engine, e.g. an H100 or A100. Drivers report this as
    /// `NV_ENC_ERR_NO_ENCODE_DEVICE` or (R580 on an H100) `NV_ENC_ERR_UNSUPPORTED_DEVICE`.
    #[error("{device} has no NVENC encode engine (NvEncOpenEncodeSessionEx: {status})")]
    NoEncodeDevice {
        /// The CUDA device name.
        device: String,
        /// The status the driver returned.
        status: &'static str,
    },

    /// The GPU, driver or library cannot do what was asked.
    #[error("unsupported: {what}; supported: {supported}")]
    Unsupported {
        /// What was asked for.
        what: String,
        /// What the hardware reports it can do instead.
        supported: String,
    },

    /// A configuration value is out of range before any driver call was made.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// Input data is malformed: a bitstream, a container or a frame handed to the encoder.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// An input file or stream is malformed, truncated, unsupported or over a reader's
    /// limit (`input::*` readers); see [`InputError`](crate::input::InputError).
    #[error("invalid input: {0}")]
    Input(#[from] crate::input::InputError),

    /// The decoder or encoder reported a failure for a particular picture or stream change.
    #[error("codec error: {0}")]
    Codec(String),

    /// `CudaInitGuard::acquire_timeout` gave up: another thread held the init window too long.
    #[error("timed out after {waited:?} waiting for the CUDA init lock")]
    InitLockTimeout {
        /// How long this thread waited.
        waited: Duration,
    },

    /// This thread already holds the init lock; acquiring again would deadlock.
    #[error("this thread already holds the CUDA init lock (re-entrant acquire)")]
    InitLockHeld,

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
        "{queued} decoded frames are waiting to be taken; take them (`Decoder::queued`) before feeding more input (the packet was not consumed)"
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

    /// A session is unusable after an earlier failure (e.g. a failed decoder re-creation).
    #[error("session is unusable after an earlier error: {0}")]
    Poisoned(String),

    /// File I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn last_error_suffix(last: &Option<String>) -> String {
    match last {
        Some(s) if !s.is_empty() => format!(": {s}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_error_names_call_status_and_last_error() {
        let e = Error::Encoder {
            call: "NvEncInitializeEncoder",
            status: "NV_ENC_ERR_INVALID_PARAM",
            code: 8,
            last_error: Some("bad preset".into()),
        };
        assert_eq!(
            e.to_string(),
            "NvEncInitializeEncoder failed: NV_ENC_ERR_INVALID_PARAM (8): bad preset"
        );
    }

    #[test]
    fn cuda_error_names_call_and_status() {
        let e = Error::Cuda {
            call: "cuvidCreateDecoder",
            name: "CUDA_ERROR_OUT_OF_MEMORY".into(),
            code: 2,
        };
        assert_eq!(
            e.to_string(),
            "cuvidCreateDecoder failed: CUDA_ERROR_OUT_OF_MEMORY (2)"
        );
    }
}
