//! Readers that split compressed video files into packets for the decoder.
//!
//! Invariant: no reader panics or reads out of bounds, whatever the bytes; malformed input
//! becomes an [`InputError`] (reached as [`Error::Input`](crate::Error::Input)) naming the byte offset (or
//! frame) at fault, and every packet is a zero-copy sub-slice of the input (for MP4/Matroska:
//! of the file or of the converted packet table built when it is opened). This holds for
//! arbitrary bytes because files come from users, and it is checked by property tests.
//!
//! One packet is one access unit (one picture), the unit NVDEC's `cuvidParseVideoData`
//! expects. Supported formats:
//!
//! * **H.264 / HEVC Annex-B** elementary streams (`.h264`, `.264`, `.avc`, `.hevc`, `.h265`,
//!   `.265`), split by [`AccessUnits`].
//! * **MPEG-2 video** elementary streams (`.m2v`, `.mpg2`, `.mpeg2`), split by
//!   [`Mpeg2Pictures`].
//! * **IVF** files (`DKIF` magic; VP8, VP9 or AV1), read by [`IvfReader`].
//! * **MP4** (progressive and fragmented) and **Matroska/WebM** files (H.264, HEVC, VP8, VP9,
//!   AV1), demuxed by [`container`] (cargo feature `containers`, on by default).
//!
//! [`ElementaryStream`] owns a file's bytes, detects which of these it is (container magic
//! first, then the file extension or a [`FormatHint`]) and yields [`Packet`]s with timestamps.
//! The format modules ([`annexb`], [`ivf`], [`mpeg2`], [`container`]) document exactly where
//! packets are cut and what counts as malformed.

pub mod annexb;
pub mod container;
// The shared reader shape; its users (streaming drivers, container parsers) land next.
#[allow(dead_code)]
mod demux;
mod detect;
mod error;
pub mod ivf;
pub mod mpeg2;
mod start_code;
mod stream;

pub use annexb::AccessUnits;
pub use container::{ContainerKind, ContainerTrack, Rational};
pub use demux::SampleIndex;
pub use detect::{FormatHint, StreamFormat};
pub use error::InputError;
pub use ivf::{IvfFrames, IvfHeader, IvfReader};
pub use mpeg2::Mpeg2Pictures;
pub use stream::{ElementaryStream, Packets};

/// One compressed picture (access unit / frame) and its timestamp, borrowed from the input.
///
/// `pts` is the container's timestamp (IVF, MP4, Matroska/WebM: in
/// [`ElementaryStream::time_base`] units) or, for raw elementary streams, which carry none,
/// the packet's index 0, 1, 2, ... in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The compressed bytes, a sub-slice of the input (start codes included for Annex-B and
    /// MPEG-2).
    pub data: &'a [u8],
    /// Presentation timestamp, or the packet index where the format has none.
    pub pts: i64,
}
