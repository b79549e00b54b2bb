//! [`BitstreamError`]: a sequence header the decoder refuses, as a value a program can act on.
//!
//! Invariant: every field is what NVDEC's parser reported for the stream, read before any
//! arithmetic on it, beside the bound it broke; nothing is a formatted string. A sequence the
//! hardware *cannot* decode (a chroma format or bit depth it lacks) stays
//! [`Error::Unsupported`](crate::Error::Unsupported); a `BitstreamError` is a stream that does
//! not fit this decoder at all or reports values no valid stream has.

use std::fmt;

use crate::Codec;

/// What NVDEC's parser reported about a stream that the decoder refuses (reached as
/// [`Error::Bitstream`](crate::Error::Bitstream), from `Decoder::decode` or `flush`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BitstreamError {
    /// The stream is of another codec than the decoder was built for: build a decoder for
    /// `found` (when this crate knows it) and feed the stream again.
    #[error(
        "the stream is {} but the decoder was built for {expected}",
        StreamCodec(*.found, *.cuvid_codec)
    )]
    CodecMismatch {
        /// The codec the decoder was built for.
        expected: Codec,
        /// The codec the stream is, when the `cudaVideoCodec` value is one this crate knows.
        found: Option<Codec>,
        /// The `cudaVideoCodec` value the parser reported.
        cuvid_codec: u32,
    },

    /// The stream reports a bit depth above any NVDEC decodes: the header is corrupt.
    #[error("the stream reports a bit depth of {bit_depth} (at most {max})")]
    BitDepthOutOfRange {
        /// The luma bit depth reported (`bit_depth_luma_minus8 + 8`, saturating).
        bit_depth: u8,
        /// The largest bit depth accepted.
        max: u8,
    },

    /// The stream reports a coded size of zero or past the largest NVDEC decodes: the header
    /// is corrupt.
    #[error("the stream reports a coded size of {width}x{height} (supported: 1..={max})")]
    CodedSizeOutOfRange {
        /// Coded width reported.
        width: u32,
        /// Coded height reported.
        height: u32,
        /// The largest width and height accepted.
        max: u32,
    },
}

/// A `cudaVideoCodec` value, named as the codec when known.
struct StreamCodec(Option<Codec>, u32);

impl fmt::Display for StreamCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(codec) => write!(f, "{codec} (cudaVideoCodec {})", self.1),
            None => write!(f, "cudaVideoCodec {}", self.1),
        }
    }
}
