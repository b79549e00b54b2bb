//! `nvcodec-input`: readers that split compressed video files and streams into packets for a
//! hardware decoder, safe on hostile input. The crate has no GPU, CUDA or NVIDIA dependency:
//! it is the input layer of `nvcodec-guard` (re-exported there as `nvcodec_guard::input`)
//! and useful on its own.
//!
//! Invariant: no reader panics or reads out of bounds, whatever the bytes; malformed input
//! becomes an [`InputError`] (reached as [`ReadError::Input`]) naming the
//! byte offset (or frame) at fault; and memory is bounded whatever the input's length: the
//! streaming readers hold one window of about one packet (see `source.rs` for the bound;
//! MP4/Matroska add their sample index, 20 bytes a sample); and the bytes handed out as
//! packets are at most [`MAX_EXPANSION`](container::MAX_EXPANSION) × the bytes read plus
//! 2 × [`MAX_CONFIG_RECORD`](container::MAX_CONFIG_RECORD) per start or seek (the raw
//! readers and IVF hand out only bytes they read; the containers' conversion to Annex-B adds
//! start codes and parameter sets within that bound). This
//! holds for arbitrary bytes because files come from users, and it is checked by property
//! tests, fuzz targets (`fuzz/`) and a multi-gigabyte test under a counting allocator. Time is
//! bounded per input byte too: reading is linear in bytes whatever sizes `read()` returns,
//! and `scripts/fuzz.sh` fails any input of up to 64 KiB that takes over 2 s in an optimised
//! build (about 30 µs a byte); every reader's fuzz target also checks the output bound.
//!
//! Every format has one sans-I/O parser (`demux.rs`: handed bytes, it says what it needs
//! next), run by a driver over bytes in memory, a `Read + Seek`, a plain `Read` or a live
//! feed ([`LiveStream`]); the same bytes give the same packets whatever the chunking. The
//! whole-slice splitters [`AccessUnits`] and [`Mpeg2Pictures`] are those same parsers run
//! over a slice (`slice_cuts.rs`), yielding zero-copy sub-slices, so each format's packet
//! boundaries are decided in one place; [`IvfReader`] reads IVF already in memory.
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
//! * **MPEG-TS** (188-byte packets) and **M2TS** (192-byte), recognised by their sync bytes:
//!   H.264, HEVC, MPEG-2 and AV1 video, read by [`ts`].
//!
//! Live input: [`LiveStream`] takes bytes as they arrive; [`net`] receives them from the
//! network: `udp://` unicast and multicast ([`UdpSource`], MPEG-TS as IPTV sends it), with
//! the URL forms in [`SourceUrl`].
//!
//! [`ElementaryStream`] reads a file or stream incrementally, detects which of these it is
//! from its first bytes (container magic first, then the file extension or a [`FormatHint`])
//! and lends out [`Packet`]s with timestamps.
//! The format modules ([`annexb`], [`ivf`], [`mpeg2`], [`container`]) document exactly where
//! packets are cut and what counts as malformed.
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod annexb;
pub mod container;
mod demux;
mod detect;
mod error;
pub mod ivf;
mod live;
pub mod mpeg2;
pub mod net;
mod random_access;
mod slice_cuts;
mod source;
mod start_code;
mod stream;
mod track;
pub mod ts;
mod vpx;

pub use annexb::AccessUnits;
pub use demux::{SampleIndex, TruncatedTail};
pub use detect::{FormatHint, StreamFormat};
pub use error::{InputError, NetworkError, ReadError, Result};
pub use ivf::{IvfFrames, IvfHeader, IvfReader};
pub use live::LiveStream;
pub use mpeg2::Mpeg2Pictures;
#[cfg(feature = "rtsp")]
#[cfg_attr(docsrs, doc(cfg(feature = "rtsp")))]
pub use net::rtsp::{RtspCredentials, RtspOptions, RtspSource, RtspTransport};
pub use net::{SourceUrl, UdpSource, UdpStats, UdpUrl};
pub use nvcodec_media::{Codec, Rational};
pub use random_access::{DisplayRanks, RandomAccessSource};
pub use stream::{ElementaryStream, Packets};
pub use track::{ContainerKind, ContainerTrack};
pub use ts::{TsSelect, TsStats};

/// One compressed picture (access unit / frame) and its timestamp, borrowed from the input
/// (the splitters over a slice) or from the reader's packet buffer
/// ([`ElementaryStream::next_packet`], until the next call).
///
/// `pts` is the container's timestamp (IVF, MP4, Matroska/WebM: in
/// [`ElementaryStream::time_base`] units) or, for raw elementary streams, which carry none,
/// the packet's index 0, 1, 2, ... in stream order (after
/// [`ElementaryStream::build_index`]: the display rank of its picture, the index's pts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The compressed bytes (start codes included for Annex-B and MPEG-2).
    pub data: &'a [u8],
    /// Presentation timestamp, or the packet index where the format has none.
    pub pts: i64,
}

impl Packet<'_> {
    /// A copy that owns its bytes.
    pub fn to_owned_packet(&self) -> OwnedPacket {
        OwnedPacket {
            data: self.data.to_vec(),
            pts: self.pts,
        }
    }
}

/// A [`Packet`] that owns its bytes, as [`ElementaryStream::packets`] yields them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedPacket {
    /// The compressed bytes (start codes included for Annex-B and MPEG-2).
    pub data: Vec<u8>,
    /// Presentation timestamp, or the packet index where the format has none.
    pub pts: i64,
}

impl OwnedPacket {
    /// The packet, borrowed.
    pub fn as_packet(&self) -> Packet<'_> {
        Packet {
            data: &self.data,
            pts: self.pts,
        }
    }
}
