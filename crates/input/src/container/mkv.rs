//! Matroska / WebM demuxing: an own EBML parser behind the sans-I/O [`Demux`] shape.
//!
//! Invariant: the parser keeps only its header state, one block's lace sizes (at most 256)
//! and its index between steps; it asks for at most one element at a time
//! ([`MAX_WINDOW`] bytes: a `SimpleBlock`/`BlockGroup` of at most [`MAX_BLOCK_ELEMENT`]
//! bytes plus its header) and skips everything else by size (`Consumed` when the bytes are
//! at hand, else [`Step::SeekTo`] forward). No timestamp, size or count from the file is
//! used in arithmetic that can overflow, and nothing is allocated from a declared size
//! before that size is checked against a limit. So, for any input:
//!
//! * **Memory**: peak heap ≤ the driver's window (≤ [`MAX_WINDOW`]) + one packet (its
//!   frame's bytes; for H.264/HEVC ≤ [`MAX_EXPANSION`] × them + the parameter sets +
//!   [`EXPANSION_SLACK`]) + the index + header data (≤ [`MAX_HEADER_ELEMENT`]) + a small
//!   constant. The index holds [`SampleIndex::BYTES_PER_SAMPLE`] bytes per indexed frame
//!   plus 16 bytes per cluster holding one (vectors may hold up to twice that while they
//!   grow). Frames of 0 bytes are skipped (neither handed out nor indexed), so every indexed
//!   frame carries at least one byte of the file: the index is at most one entry per byte
//!   read (≤ 40 heap bytes per byte in the worst case, fixed-size laces of 1-byte frames),
//!   and ≈ 20 bytes per frame for real files. `Cues` cost the same per `CuePoint` (each ≥ 2
//!   bytes of the file). A reader without frame index ([`MkvDemux::live`], the whole-file
//!   path) has constant memory besides `Cues`.
//! * **CPU**: O(bytes read): every step consumes or skips at least one element header, or
//!   hands out a frame; lace sizes are read once.
//! * **Output**: the packets from a start or seek on hold at most [`MAX_EXPANSION`] × the
//!   frame bytes read plus one copy of the parameter sets: `CodecPrivate` is capped at
//!   [`MAX_CONFIG_RECORD`] (64 KiB) and its parameter sets are repeated before later key
//!   frames only within that bound (see [`container`](super)).
//! * **No panic**: in release, in debug with overflow checks and with `panic = "abort"`.
//!
//! **Timestamps** are those `matroska-demuxer` 0.8 gave (and ffmpeg gives for valid files):
//! the cluster's `Timestamp` (0 when a cluster has none, as in ffmpeg; `matroska-demuxer`
//! kept the previous cluster's, which a seek could not reproduce) plus
//! the block's signed 16-bit relative timestamp, in `TimestampScale` units; all frames of a
//! lace share the block's timestamp. A sum below 0 is clamped to 0 (ffmpeg marks such a
//! packet as having no timestamp; negating −32768 would overflow) and a
//! sum above `i64::MAX` is an error naming the block, never a wrap.
//!
//! **Structure read**: the EBML header (`DocType` `matroska` or `webm`), one `Segment` of
//! known or unknown size (another EBML header or `Segment` after it ends the stream),
//! `SeekHead` (only for the `Cues` position, used by [`MkvDemux::with_cues_first`]), `Info`,
//! `Tracks` (the first video track), `Cluster`s of known or unknown size (an unknown-size
//! cluster ends at the next top-level element, as live WebM writes them), `SimpleBlock` and
//! `BlockGroup`/`Block` (key frame: the `SimpleBlock` flag, or a `BlockGroup` without
//! `ReferenceBlock`), Xiph, EBML and fixed-size lacing, and `Cues`. Everything else
//! (`Void`, `Tags`, `Attachments`, `Chapters`, other tracks' blocks) is skipped by its size.
//! Only `Segment` and `Cluster` may have an unknown size; elements inside an element read
//! whole must fit it.
//!
//! **Index**: with the whole file scanned from its start ([`MkvDemux::new`]), every frame
//! handed out is indexed (offset and size of the frame's stored bytes, pts, key flag) and
//! [`Demux::index`] returns it at the end; a file cut inside an element returns it at the
//! cut, holding the frames of the complete blocks before it ([`Demux::seal_truncated`]).
//! Before that, once a `Cues` element has been read
//! (in file order, or first with [`MkvDemux::with_cues_first`] on a seekable source), the
//! index is the cue points of the video track: key frames only, each entry's offset the
//! start of its `Cluster` element and its size 0 (not known before the cluster is read);
//! packet indices after a seek through it count cue points, not frames. Seeking
//! ([`Demux::seek_to_sample`]) jumps to the cluster that holds the sample and skips the
//! frames before it (should that cluster not hold it — a `Cues` entry naming the wrong
//! cluster — frames are handed out from the next cluster on). `Cues` are optional, so a `Cues` element that cannot be read (or a
//! `SeekHead` pointing elsewhere) is dropped, not an error: there is then no Cues index.
//!
//! Design trade-offs: a `BlockGroup` is read whole (its `Block` and `ReferenceBlock` are
//! small next to the frame), and a lace is handed out frame by frame from the window (the
//! element is consumed with its last frame: the earlier frames come as
//! `Step::Packet { consumed: 0, .. }`), so no frame is copied twice. Elements with
//! unknown size other than `Segment`/`Cluster` and frames above [`MAX_BLOCK_ELEMENT`] are
//! refused instead of handled, which bounds the window.

mod block;
mod ebml;
mod frames;
#[cfg(any(test, fuzzing))]
pub(crate) mod fuzz_hooks;
mod header;
mod segment;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod whole_file;

#[cfg(test)]
pub(super) use whole_file::demux;

use std::fmt::Display;

use super::nal::AnnexBConverter;
use super::{ContainerKind, ContainerTrack};
#[cfg(doc)]
use super::{EXPANSION_SLACK, MAX_CONFIG_RECORD, MAX_EXPANSION};
use crate::InputError;
use crate::demux::{Demux, PacketInfo, SampleIndex, Step, TruncatedTail};
use crate::{Codec, ReadError, Result};
use ebml::MAX_HEADER_LEN;

/// Element IDs (marker bits kept, as the Matroska specification writes them).
pub(crate) mod ids {
    pub(crate) const EBML: u32 = 0x1A45_DFA3;
    pub(crate) const DOC_TYPE: u32 = 0x4282;
    pub(crate) const SEGMENT: u32 = 0x1853_8067;
    pub(crate) const SEEK_HEAD: u32 = 0x114D_9B74;
    pub(crate) const SEEK: u32 = 0x4DBB;
    pub(crate) const SEEK_ID: u32 = 0x53AB;
    pub(crate) const SEEK_POSITION: u32 = 0x53AC;
    pub(crate) const INFO: u32 = 0x1549_A966;
    pub(crate) const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub(crate) const DURATION: u32 = 0x4489;
    pub(crate) const TRACKS: u32 = 0x1654_AE6B;
    pub(crate) const TRACK_ENTRY: u32 = 0xAE;
    pub(crate) const TRACK_NUMBER: u32 = 0xD7;
    pub(crate) const TRACK_TYPE: u32 = 0x83;
    pub(crate) const CODEC_ID: u32 = 0x86;
    pub(crate) const CODEC_PRIVATE: u32 = 0x63A2;
    pub(crate) const DEFAULT_DURATION: u32 = 0x23_E383;
    pub(crate) const VIDEO: u32 = 0xE0;
    pub(crate) const PIXEL_WIDTH: u32 = 0xB0;
    pub(crate) const PIXEL_HEIGHT: u32 = 0xBA;
    pub(crate) const CONTENT_ENCODINGS: u32 = 0x6D80;
    pub(crate) const CONTENT_ENCODING: u32 = 0x6240;
    pub(crate) const CONTENT_ENCRYPTION: u32 = 0x5035;
    pub(crate) const CLUSTER: u32 = 0x1F43_B675;
    pub(crate) const TIMESTAMP: u32 = 0xE7;
    pub(crate) const SIMPLE_BLOCK: u32 = 0xA3;
    pub(crate) const BLOCK_GROUP: u32 = 0xA0;
    pub(crate) const BLOCK: u32 = 0xA1;
    pub(crate) const REFERENCE_BLOCK: u32 = 0xFB;
    pub(crate) const CUES: u32 = 0x1C53_BB6B;
    pub(crate) const CUE_POINT: u32 = 0xBB;
    pub(crate) const CUE_TIME: u32 = 0xB3;
    pub(crate) const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub(crate) const CUE_TRACK: u32 = 0xF7;
    pub(crate) const CUE_CLUSTER_POSITION: u32 = 0xF1;
    pub(crate) const TAGS: u32 = 0x1254_C367;
    pub(crate) const ATTACHMENTS: u32 = 0x1941_A469;
    pub(crate) const CHAPTERS: u32 = 0x1043_A770;
}

/// The largest `SimpleBlock` or `BlockGroup` of the video track read (its data, in bytes):
/// 32 MiB, several times a 4K intra frame. A larger one is refused with an error naming the
/// limit; other tracks' blocks are skipped by size whatever their size.
pub const MAX_BLOCK_ELEMENT: u64 = 32 << 20;
/// The largest EBML header, `Info`, `Tracks` or `SeekHead` read whole: 8 MiB.
pub const MAX_HEADER_ELEMENT: u64 = 8 << 20;
/// The largest `CuePoint` read: 64 KiB (real ones are about 20 bytes).
const MAX_CUE_POINT: u64 = 64 << 10;
/// Bytes of a block's data looked at to find its track: a `Block` header (≤ 12) and a
/// track number (≤ 8).
const PEEK: u64 = 20;
/// The largest cluster `Timestamp`: an 8-byte integer.
const MAX_TIMESTAMP_ELEMENT: u64 = 8;
/// The driver's window bound ([`Demux::max_window`]): the largest element read whole plus
/// its header.
pub const MAX_WINDOW: usize = MAX_BLOCK_ELEMENT as usize + MAX_HEADER_LEN;

/// Where the parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Expecting the EBML header.
    EbmlHeader,
    /// Expecting the `Segment` header.
    Segment,
    /// Inside the segment.
    Body,
    /// `End` was returned.
    Done,
}

/// The open cluster.
#[derive(Debug, Clone, Copy)]
struct Cluster {
    /// Absolute offset of the `Cluster` element.
    start: u64,
    /// Absolute end of its data; `None` for unknown size.
    end: Option<u64>,
    /// Whether its position is in `clusters` already.
    indexed: bool,
}

/// A block being handed out frame by frame (the element stays in the window until its
/// last frame is handed out).
#[derive(Debug, Clone, Copy)]
struct Lace {
    /// Next frame to hand out (index into `MkvDemux::lace_sizes`).
    next: usize,
    /// Offset of that frame's bytes from the element's start.
    at: usize,
    /// The element's length (header + data).
    total: usize,
    /// The last frame with bytes (frames after it are empty).
    last: usize,
    /// Absolute offset of the element.
    start: u64,
    pts: i64,
    key: bool,
}

/// After a seek: the frame to hand out first (earlier frames of its cluster are skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeekMatch {
    /// The frame whose stored bytes start at this absolute offset (block index).
    Offset(u64),
    /// The first key frame with this pts (cue index).
    KeyPts(i64),
}

/// The video track being read.
#[derive(Debug)]
struct Video {
    number: u64,
    codec: Codec,
    converter: Option<AnnexBConverter>,
    /// Bytes of CodecPrivate the converter was made from (0 without converter).
    private_len: usize,
}

/// The Matroska/WebM reader. See the module docs.
#[derive(Debug)]
pub(crate) struct MkvDemux {
    phase: Phase,
    kind: ContainerKind,
    /// Absolute offset of the segment's data (positions in `SeekHead`/`Cues` are relative).
    segment_data: u64,
    segment_end: Option<u64>,
    info: header::Info,
    video: Option<Video>,
    track: Option<ContainerTrack>,
    cluster: Option<Cluster>,
    /// The open cluster's `Timestamp` (0 until read).
    cluster_timestamp: u64,
    lace: Option<Lace>,
    /// Frame sizes of the current block, at most 256, reused.
    lace_sizes: Vec<u32>,
    /// Decode-order index of the next frame handed out.
    next_index: u64,
    /// Inside `Cues`: the absolute end of its data.
    cues_end: Option<u64>,
    /// The `Cues` position from `SeekHead`, absolute.
    cues_position: Option<u64>,
    /// Read `Cues` before the first cluster (seekable sources).
    cues_first: bool,
    /// While reading `Cues` out of order: where to continue afterwards.
    return_to: Option<u64>,
    seen_cluster: bool,
    cues: SampleIndex,
    cues_complete: bool,
    /// Index every frame handed out (false for live input and after a seek).
    scanning: bool,
    blocks: SampleIndex,
    /// (first frame index, absolute cluster offset) per cluster with an indexed frame.
    clusters: Vec<(u64, u64)>,
    blocks_complete: bool,
    seek: Option<SeekMatch>,
}

fn malformed(offset: u64, what: impl Display) -> ReadError {
    InputError::malformed_at(offset, format!("Matroska: {what}")).into()
}

fn truncated(offset: u64, what: impl Display) -> ReadError {
    InputError::truncated(offset, format!("Matroska: the input ends inside {what}")).into()
}

fn too_large(offset: u64, what: impl Display, size: u64, limit: u64) -> ReadError {
    InputError::limit(
        format!("Matroska: {what} of {size} bytes at byte offset {offset}"),
        limit,
    )
    .into()
}

fn unsupported(what: impl Display) -> ReadError {
    InputError::unsupported(what.to_string()).into()
}

/// A misuse of this reader or a broken invariant of its own, reported instead of a panic.
fn internal(what: impl Display) -> ReadError {
    InputError::Internal {
        what: format!("Matroska: {what}"),
    }
    .into()
}

impl From<header::Fault> for ReadError {
    fn from(f: header::Fault) -> Self {
        malformed(f.offset, f.what)
    }
}

/// Element name for messages.
fn name(id: u32) -> String {
    match id {
        ids::EBML => "the EBML header".into(),
        ids::SEGMENT => "Segment".into(),
        ids::SEEK_HEAD => "SeekHead".into(),
        ids::INFO => "Info".into(),
        ids::TRACKS => "Tracks".into(),
        ids::CLUSTER => "Cluster".into(),
        ids::CUES => "Cues".into(),
        ids::CUE_POINT => "CuePoint".into(),
        ids::TIMESTAMP => "the cluster Timestamp".into(),
        ids::SIMPLE_BLOCK => "SimpleBlock".into(),
        ids::BLOCK_GROUP => "BlockGroup".into(),
        other => format!("element {other:#x}"),
    }
}

/// Children of `Segment`: they end an unknown-size `Cluster`.
fn is_top_level(id: u32) -> bool {
    matches!(
        id,
        ids::CLUSTER
            | ids::CUES
            | ids::TAGS
            | ids::INFO
            | ids::TRACKS
            | ids::SEEK_HEAD
            | ids::CHAPTERS
            | ids::ATTACHMENTS
            | ids::EBML
            | ids::SEGMENT
    )
}

impl MkvDemux {
    /// A reader that indexes every frame it hands out (the full index is there at the end).
    pub(crate) fn new() -> Self {
        Self {
            phase: Phase::EbmlHeader,
            kind: ContainerKind::Matroska,
            segment_data: 0,
            segment_end: None,
            info: header::Info::default(),
            video: None,
            track: None,
            cluster: None,
            cluster_timestamp: 0,
            lace: None,
            lace_sizes: Vec::with_capacity(block::MAX_LACED_FRAMES),
            next_index: 0,
            cues_end: None,
            cues_position: None,
            cues_first: false,
            return_to: None,
            seen_cluster: false,
            cues: SampleIndex::new(),
            cues_complete: false,
            scanning: true,
            blocks: SampleIndex::new(),
            clusters: Vec::new(),
            blocks_complete: false,
            seek: None,
        }
    }

    /// A reader for live input: no frame index is kept (memory stays constant however long
    /// the stream runs); `Cues`, if a live stream has any, are still read.
    #[allow(dead_code)] // used by the live-feed driver (branch `input`)
    pub(crate) fn live() -> Self {
        Self::new().without_frame_index()
    }

    /// Keeps no index of the frames handed out (the whole-file path has its own table, a
    /// live stream never ends).
    pub(crate) fn without_frame_index(mut self) -> Self {
        self.scanning = false;
        self
    }

    /// Before the first cluster, jump to the `Cues` that `SeekHead` names (if they lie
    /// after it), read them, and jump back: the key-frame index is then known before the
    /// first packet. Needs a source that can seek backwards.
    #[allow(dead_code)] // used by the Read + Seek driver (branch `input`)
    pub(crate) fn with_cues_first(mut self) -> Self {
        self.cues_first = true;
        self
    }
}

impl Demux for MkvDemux {
    fn step(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step> {
        let result = self.step_inner(input, pos, eof, out);
        if result.is_err() {
            if self.return_to.is_some() || self.cues_end.is_some() {
                // Whatever SeekHead pointed at, or the Cues element met in file order, could
                // not be read as Cues: drop them and read the file on without them, as the
                // frames do not depend on them.
                return Ok(self.abandon_cues());
            }
            self.phase = Phase::Done;
            self.lace = None;
        }
        result
    }

    fn codec(&self) -> Option<Codec> {
        self.video.as_ref().map(|v| v.codec)
    }

    fn track(&self) -> Option<&ContainerTrack> {
        self.track.as_ref()
    }

    fn index(&self) -> Option<&SampleIndex> {
        if self.blocks_complete {
            Some(&self.blocks)
        } else if self.cues_complete && !self.cues.is_empty() {
            Some(&self.cues)
        } else {
            None
        }
    }

    fn seek_to_sample(&mut self, sample: usize) -> Result<u64> {
        let full = self.blocks_complete;
        let index = self.index().ok_or_else(|| {
            unsupported(format!(
                "seeking to sample {sample}: this {} file has no index yet (no Cues read, no \
                 full scan yet)",
                self.kind
            ))
        })?;
        let (Some(offset), Some(pts)) = (index.offset(sample), index.pts(sample)) else {
            return Err(InputError::sample_out_of_range(
                sample,
                index.len(),
                format!(
                    "seeking in a {} file ({})",
                    self.kind,
                    if full { "frame index" } else { "Cues index" }
                ),
            )
            .into());
        };
        let (cluster, target) = if full {
            let sample_u64 = sample as u64; // usize → u64: lossless on supported targets
            let i = self
                .clusters
                .partition_point(|&(first, _)| first <= sample_u64);
            let cluster = i
                .checked_sub(1)
                .and_then(|i| self.clusters.get(i))
                .map(|&(_, at)| at)
                .ok_or_else(|| internal(format!("no cluster holds sample {sample}")))?;
            (cluster, SeekMatch::Offset(offset))
        } else {
            (offset, SeekMatch::KeyPts(pts))
        };
        self.phase = Phase::Body;
        self.cluster = None;
        self.cues_end = None;
        self.return_to = None;
        self.lace = None;
        self.scanning = false;
        self.seek = Some(target);
        self.next_index = sample as u64;
        if let Some(converter) = self.video.as_mut().and_then(|v| v.converter.as_mut()) {
            // The parameter sets go before the key frame sought, as before the first one.
            converter.reset();
        }
        Ok(cluster)
    }

    /// A full scan cut inside an element keeps the frames handed out before it as the
    /// complete index (a cut block's frames are not among them: a block is handed out only
    /// once its whole element is there).
    fn seal_truncated(&mut self, tail: TruncatedTail) -> bool {
        if !self.scanning || self.blocks_complete || self.blocks.is_empty() {
            return false;
        }
        self.blocks.set_truncated(tail);
        self.blocks_complete = true;
        self.scanning = false;
        true
    }

    fn max_window(&self) -> usize {
        MAX_WINDOW
    }

    /// The indexes, the lace sizes and the track's header data (codec ID and parameter
    /// sets); the driver's window and packet buffer are the driver's.
    fn heap_bytes(&self) -> usize {
        let track = self.track.as_ref().map_or(0, |t| t.codec_tag.capacity());
        // The converter keeps the parameter sets with 4-byte start codes twice (all, and
        // split): each NAL unit has a 2-byte length in CodecPrivate, so ≤ 6 × its size.
        let converter = self
            .video
            .as_ref()
            .map_or(0, |v| v.private_len.saturating_mul(6));
        self.blocks
            .heap_bytes()
            .saturating_add(self.cues.heap_bytes())
            .saturating_add(self.clusters.capacity().saturating_mul(16))
            .saturating_add(self.lace_sizes.capacity().saturating_mul(4))
            .saturating_add(track)
            .saturating_add(converter)
    }
}
