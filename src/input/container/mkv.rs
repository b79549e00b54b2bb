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
//! * **Memory**: peak heap ≤ the driver's window (≤ [`MAX_WINDOW`]) + one packet
//!   (≤ [`PACKET_BUDGET`]) + the index + header data (≤ [`MAX_HEADER_ELEMENT`]) + a small
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
//! * **No panic**: in release, in debug with overflow checks and with `panic = "abort"`.
//!
//! **Timestamps** are those `matroska-demuxer` 0.8 gave (and ffmpeg gives for valid files):
//! the cluster's `Timestamp` (kept from the previous cluster when a cluster has none) plus
//! the block's signed 16-bit relative timestamp, in `TimestampScale` units; all frames of a
//! lace share the block's timestamp. A sum below 0 is clamped to 0 (ffmpeg marks such a
//! packet as having no timestamp; the old crate negated −32768 and panicked: issue 12) and a
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
//! [`Demux::index`] returns it at the end. Before that, once a `Cues` element has been read
//! (in file order, or first with [`MkvDemux::with_cues_first`] on a seekable source), the
//! index is the cue points of the video track: key frames only, each entry's offset the
//! start of its `Cluster` element and its size 0 (not known before the cluster is read);
//! packet indices after a seek through it count cue points, not frames. Seeking
//! ([`Demux::seek_to_sample`]) jumps to the cluster that holds the sample and skips the
//! frames before it.
//!
//! Design trade-offs: a `BlockGroup` is read whole (its `Block` and `ReferenceBlock` are
//! small next to the frame), and a lace is handed out frame by frame from the window (the
//! element is consumed with its last frame), so no frame is copied twice. Elements with
//! unknown size other than `Segment`/`Cluster` and frames above [`MAX_BLOCK_ELEMENT`] are
//! refused instead of handled, which bounds the window.

mod block;
mod ebml;
mod header;
#[cfg(test)]
mod tests;

use std::fmt::Display;

use super::nal::{Converter, NalConfig};
use super::{
    Builder, ContainerKind, ContainerTrack, Demuxed, EXPANSION_SLACK, MAX_EXPANSION, Rational,
};
use crate::input::InputError;
use crate::input::demux::{Demux, PacketInfo, SampleIndex, Step};
use crate::{Codec, Error, Result};
use ebml::{ElementHeader, MAX_HEADER_LEN};

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
/// The largest packet written (H.264/HEVC after Annex-B conversion): [`MAX_EXPANSION`] ×
/// [`MAX_BLOCK_ELEMENT`] + [`EXPANSION_SLACK`].
pub const PACKET_BUDGET: usize = MAX_EXPANSION * MAX_BLOCK_ELEMENT as usize + EXPANSION_SLACK;

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
    converter: Option<Converter>,
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
    /// The last cluster `Timestamp` read (persists across clusters, as before).
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

fn malformed(offset: u64, what: impl Display) -> Error {
    InputError::malformed_at(offset, format!("Matroska: {what}")).into()
}

fn truncated(offset: u64, what: impl Display) -> Error {
    InputError::truncated(offset, format!("Matroska: the input ends inside {what}")).into()
}

fn too_large(offset: u64, what: impl Display, size: u64, limit: u64) -> Error {
    InputError::limit(
        format!("Matroska: {what} of {size} bytes at byte offset {offset}"),
        limit,
    )
    .into()
}

fn unsupported(what: impl Display) -> Error {
    InputError::unsupported(what.to_string()).into()
}

/// A misuse of this reader or a broken invariant of its own, reported instead of a panic.
fn internal(what: impl Display) -> Error {
    InputError::Internal {
        what: format!("Matroska: {what}"),
    }
    .into()
}

impl From<header::Fault> for Error {
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

/// What `whole` found: the element's data, or the step to return.
enum Whole<'a> {
    Data(&'a [u8]),
    Step(Step),
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

    /// Heap bytes held between steps: the indexes, the lace sizes and the track's header
    /// data (codec ID and parameter sets). The driver's window and packet buffer are not
    /// counted.
    #[allow(dead_code)] // for the drivers' memory accounting (branch `input`) and tests
    pub(crate) fn heap_bytes(&self) -> usize {
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

    /// Reads the element with `header` at the start of `input` whole, if it fits `limit`.
    fn whole<'a>(
        input: &'a [u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
        limit: u64,
    ) -> Result<Whole<'a>> {
        let Some(size) = header.size else {
            return Err(malformed(
                pos,
                format!("{} has an unknown size", name(header.id)),
            ));
        };
        if size > limit {
            return Err(too_large(pos, name(header.id), size, limit));
        }
        // size ≤ limit ≤ MAX_BLOCK_ELEMENT, so this fits a usize.
        let total = header
            .len
            .saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
        match input.get(header.len..total) {
            Some(data) => Ok(Whole::Data(data)),
            None if eof => Err(truncated(pos, name(header.id))),
            None => Ok(Whole::Step(Step::NeedMore(total))),
        }
    }

    /// Skips the element with `header` at `pos`: consumed if all of it is in `input`, else
    /// a seek forward to its end.
    fn skip(input: &[u8], pos: u64, header: ElementHeader) -> Result<Step> {
        let Some(size) = header.size else {
            return Err(malformed(
                pos,
                format!(
                    "{} has an unknown size; only Segment and Cluster may",
                    name(header.id)
                ),
            ));
        };
        let total = u64::try_from(header.len)
            .ok()
            .and_then(|len| len.checked_add(size));
        match total.and_then(|t| usize::try_from(t).ok()) {
            Some(t) if t <= input.len() => Ok(Step::Consumed(t)),
            _ => {
                let end = total
                    .and_then(|t| pos.checked_add(t))
                    .ok_or_else(|| malformed(pos, format!("{} ends past 2^64", name(header.id))))?;
                Ok(Step::SeekTo(end))
            }
        }
    }

    /// The end of an element of `size` bytes whose data starts at `data`.
    fn end_of(pos: u64, data: u64, size: Option<u64>, id: u32) -> Result<Option<u64>> {
        size.map(|s| {
            data.checked_add(s)
                .ok_or_else(|| malformed(pos, format!("{} ends past 2^64", name(id))))
        })
        .transpose()
    }

    fn step_inner(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step> {
        if self.phase == Phase::Done {
            return Ok(Step::End);
        }
        if self.lace.is_some() {
            return self.next_frame(input, pos, eof, out);
        }
        loop {
            // Close the containers this position has reached.
            if let Some(Cluster { end: Some(end), .. }) = self.cluster {
                if pos >= end {
                    if pos > end {
                        return Err(malformed(
                            pos,
                            format!("an element runs past its Cluster's end at byte {end}"),
                        ));
                    }
                    self.close_cluster();
                    continue;
                }
            }
            if let Some(end) = self.cues_end {
                if pos >= end {
                    if pos > end {
                        return Err(malformed(
                            pos,
                            format!("a CuePoint runs past the Cues' end at byte {end}"),
                        ));
                    }
                    self.cues_end = None;
                    self.cues_complete = true;
                    if let Some(back) = self.return_to.take() {
                        return Ok(Step::SeekTo(back));
                    }
                    continue;
                }
            }
            break;
        }
        if self.phase == Phase::Body {
            if let Some(end) = self.segment_end {
                if pos >= end && self.return_to.is_none() {
                    return self.finish();
                }
            }
        }
        let header = match ebml::read_header(input) {
            Ok(Some(header)) => header,
            Ok(None) if !eof => return Ok(Step::NeedMore(ebml::header_needs(input))),
            Ok(None) if input.is_empty() => {
                if let Some(back) = self.return_to.take() {
                    // The Cues SeekHead named were not there; continue where we left off.
                    return Ok(Step::SeekTo(back));
                }
                return self.finish();
            }
            Ok(None) => return Err(truncated(pos, "an element header")),
            Err(e) => return Err(malformed(pos, e)),
        };
        let data = pos
            .checked_add(header.len as u64)
            .ok_or_else(|| malformed(pos, "element header past 2^64"))?;
        let end = Self::end_of(pos, data, header.size, header.id)?;
        match self.phase {
            Phase::EbmlHeader => self.ebml_header(input, pos, eof, header),
            Phase::Segment => {
                if header.id != ids::SEGMENT {
                    return Self::skip(input, pos, header);
                }
                self.segment_data = data;
                self.segment_end = end;
                self.phase = Phase::Body;
                Ok(Step::Consumed(header.len))
            }
            Phase::Done => Ok(Step::End), // handled above
            Phase::Body if self.cues_end.is_some() => self.cue_element(input, pos, eof, header),
            Phase::Body if self.cluster.is_some() => {
                if is_top_level(header.id) && self.cluster.is_some_and(|c| c.end.is_none()) {
                    // An unknown-size cluster ends at the next top-level element.
                    self.close_cluster();
                    return self.segment_element(input, pos, eof, header, data, end);
                }
                self.check_inside_cluster(pos, end)?;
                self.cluster_element(input, pos, eof, header, out)
            }
            Phase::Body => self.segment_element(input, pos, eof, header, data, end),
        }
    }

    /// An element of a known-size cluster must end inside it.
    fn check_inside_cluster(&self, pos: u64, end: Option<u64>) -> Result<()> {
        if let Some(Cluster {
            end: Some(cluster_end),
            ..
        }) = self.cluster
        {
            if end.is_some_and(|e| e > cluster_end) {
                return Err(malformed(
                    pos,
                    format!("an element runs past its Cluster's end at byte {cluster_end}"),
                ));
            }
        }
        Ok(())
    }

    fn close_cluster(&mut self) {
        self.cluster = None;
        // A seek target not found in its cluster: hand out frames from here on.
        self.seek = None;
    }

    fn finish(&mut self) -> Result<Step> {
        if self.phase == Phase::Done {
            return Ok(Step::End);
        }
        if self.track.is_none() {
            return Err(match self.phase {
                Phase::EbmlHeader => truncated(0, "the EBML header"),
                _ => truncated(0, format!("{} file before its Tracks element", self.kind)),
            });
        }
        self.phase = Phase::Done;
        self.cluster = None;
        if self.scanning {
            self.blocks_complete = true;
            self.scanning = false;
        }
        Ok(Step::End)
    }

    fn ebml_header(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
    ) -> Result<Step> {
        if header.id != ids::EBML {
            return Err(malformed(pos, "not an EBML file (no EBML header)"));
        }
        let data = match Self::whole(input, pos, eof, header, MAX_HEADER_ELEMENT)? {
            Whole::Data(d) => d,
            Whole::Step(s) => return Ok(s),
        };
        let doc_type = header::doc_type(data, pos.saturating_add(header.len as u64))?;
        self.kind = match doc_type.as_str() {
            "matroska" => ContainerKind::Matroska,
            "webm" => ContainerKind::WebM,
            other => {
                return Err(unsupported(format!(
                    "EBML DocType '{}' is not supported; supported: matroska, webm",
                    header::printable(other)
                )));
            }
        };
        self.phase = Phase::Segment;
        Ok(Step::Consumed(header.len + data.len()))
    }

    fn segment_element(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
        data: u64,
        end: Option<u64>,
    ) -> Result<Step> {
        if let Some(back) = self.return_to {
            if header.id != ids::CUES {
                // SeekHead named no Cues here: continue where we left off.
                self.return_to = None;
                return Ok(Step::SeekTo(back));
            }
        }
        if let (Some(segment_end), Some(end)) = (self.segment_end, end) {
            if end > segment_end {
                return Err(malformed(
                    pos,
                    format!(
                        "{} runs past the Segment's end at byte {segment_end}",
                        name(header.id)
                    ),
                ));
            }
        }
        match header.id {
            ids::CLUSTER => {
                if self.track.is_none() {
                    return Err(malformed(pos, "a Cluster comes before the Tracks element"));
                }
                if !self.seen_cluster && self.cues_first && !self.cues_complete {
                    if let Some(cues) = self.cues_position.filter(|&c| c > pos) {
                        self.seen_cluster = true;
                        self.return_to = Some(pos);
                        return Ok(Step::SeekTo(cues));
                    }
                }
                self.seen_cluster = true;
                self.cluster = Some(Cluster {
                    start: pos,
                    end,
                    indexed: false,
                });
                Ok(Step::Consumed(header.len))
            }
            ids::CUES => {
                if end.is_none() {
                    return Err(malformed(pos, "Cues has an unknown size"));
                }
                if self.cues_complete || self.video.is_none() {
                    return Self::skip(input, pos, header);
                }
                self.cues = SampleIndex::new();
                self.cues_end = end;
                if end == Some(data) {
                    // Empty Cues: complete at once.
                    self.cues_end = None;
                    self.cues_complete = true;
                }
                Ok(Step::Consumed(header.len))
            }
            ids::INFO | ids::TRACKS | ids::SEEK_HEAD => {
                let body = match Self::whole(input, pos, eof, header, MAX_HEADER_ELEMENT)? {
                    Whole::Data(d) => d,
                    Whole::Step(s) => return Ok(s),
                };
                match header.id {
                    ids::INFO => {
                        self.info = header::info(body, data)?;
                        self.update_track_info();
                    }
                    ids::TRACKS if self.track.is_none() => self.tracks(body, data)?,
                    ids::SEEK_HEAD if self.cues_position.is_none() => {
                        self.cues_position = header::cues_position(body, data)?
                            .and_then(|p| self.segment_data.checked_add(p));
                    }
                    _ => {}
                }
                Ok(Step::Consumed(header.len + body.len()))
            }
            // Another segment (chained live streams, concatenated files): the first one ends.
            ids::EBML | ids::SEGMENT => self.finish(),
            _ => Self::skip(input, pos, header),
        }
    }

    /// Applies `Info` to the track description (when `Info` follows `Tracks`).
    fn update_track_info(&mut self) {
        let (time_base, duration) = self.time_base_and_duration();
        if let (Some(track), Some(time_base)) = (&mut self.track, time_base) {
            track.time_base = time_base;
            track.duration = duration;
        }
    }

    fn time_base_and_duration(&self) -> (Option<Rational>, Option<u64>) {
        let time_base = Rational::new(self.info.timestamp_scale, 1_000_000_000);
        let duration = self
            .info
            .duration
            .filter(|d| d.is_finite() && *d >= 0.0 && *d < 9.0e18)
            // In range by the filter; `as` rounds toward zero after `round`.
            .map(|d| d.round() as u64);
        (time_base, duration)
    }

    fn tracks(&mut self, body: &[u8], data: u64) -> Result<()> {
        let kind = self.kind;
        let track = header::first_video_track(body, data)?.map_err(|others| {
            unsupported(format!(
                "{kind} file has no video track (tracks: [{}])",
                others.join(", ")
            ))
        })?;
        let codec_id = track.codec_id.clone();
        let codec = header::codec_of(&codec_id).ok_or_else(|| {
            unsupported(format!(
                "{kind} video codec '{}' is not supported; supported: {}",
                header::printable(&codec_id),
                header::CODECS
                    .iter()
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        match track.encrypted {
            Some(true) => {
                return Err(unsupported(format!(
                    "the {kind} video track is encrypted (ContentEncryption); encrypted tracks \
                     are not supported"
                )));
            }
            Some(false) => {
                return Err(unsupported(format!(
                    "the {kind} video track uses ContentCompression (or an unknown \
                     ContentEncoding); compressed tracks are not supported"
                )));
            }
            None => {}
        }
        let converter = match codec {
            Codec::H264 | Codec::Hevc => {
                let private = track.codec_private.as_deref().ok_or_else(|| {
                    malformed(
                        data,
                        format!("{kind} {codec} track has no CodecPrivate (the avcC/hvcC record)"),
                    )
                })?;
                let parsed = if codec == Codec::H264 {
                    NalConfig::parse_avcc(private)
                } else {
                    NalConfig::parse_hvcc(private)
                };
                let config = parsed.map_err(|e| match e {
                    Error::Input(InputError::Malformed { what, .. }) => {
                        InputError::malformed(format!("{kind} CodecPrivate: {what}")).into()
                    }
                    other => other,
                })?;
                Some(Converter::new(codec, &config, PACKET_BUDGET))
            }
            _ => None,
        };
        let (time_base, duration) = self.time_base_and_duration();
        let time_base = time_base
            .ok_or_else(|| InputError::malformed(format!("{kind} TimestampScale is 0")))?;
        self.track = Some(ContainerTrack {
            kind,
            track_id: track.number,
            codec_tag: codec_id,
            time_base,
            frame_rate: track
                .default_duration
                .and_then(|ns| Rational::new(1_000_000_000, ns)),
            duration,
            dimensions: track.dimensions,
            packet_count: 0,
        });
        self.video = Some(Video {
            number: track.number,
            codec,
            private_len: if converter.is_some() {
                track.codec_private.as_ref().map_or(0, Vec::len)
            } else {
                0
            },
            converter,
        });
        Ok(())
    }

    fn cue_element(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
    ) -> Result<Step> {
        if header.id != ids::CUE_POINT {
            return Self::skip(input, pos, header);
        }
        let body = match Self::whole(input, pos, eof, header, MAX_CUE_POINT)? {
            Whole::Data(d) => d,
            Whole::Step(s) => return Ok(s),
        };
        let number = self.video.as_ref().map_or(0, |v| v.number);
        let base = pos.saturating_add(header.len as u64);
        if let Some((time, cluster)) = header::cue_point(body, base, number)? {
            // Cue points whose position or time cannot be represented are skipped.
            if let (Some(offset), Ok(pts)) =
                (self.segment_data.checked_add(cluster), i64::try_from(time))
            {
                self.cues.push(offset, 0, pts, true);
            }
        }
        Ok(Step::Consumed(header.len + body.len()))
    }

    fn cluster_element(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
        out: &mut Vec<u8>,
    ) -> Result<Step> {
        match header.id {
            ids::TIMESTAMP => {
                let body = match Self::whole(input, pos, eof, header, MAX_TIMESTAMP_ELEMENT)? {
                    Whole::Data(d) => d,
                    Whole::Step(s) => return Ok(s),
                };
                // At most 8 bytes by the limit above.
                self.cluster_timestamp = ebml::uint(body).unwrap_or(0);
                Ok(Step::Consumed(header.len + body.len()))
            }
            ids::SIMPLE_BLOCK | ids::BLOCK_GROUP => self.block(input, pos, eof, header, out),
            _ => Self::skip(input, pos, header),
        }
    }

    fn block(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
        out: &mut Vec<u8>,
    ) -> Result<Step> {
        let Some(size) = header.size else {
            return Err(malformed(
                pos,
                format!("{} has an unknown size", name(header.id)),
            ));
        };
        let number = self.video.as_ref().map_or(0, |v| v.number);
        // Other tracks' blocks are skipped by size, whatever their size: the track number
        // is in the first bytes (a BlockGroup's Block comes first in practice).
        let peek = header
            .len
            .saturating_add(usize::try_from(size.min(PEEK)).unwrap_or(0));
        let prefix = input.get(header.len..peek.min(input.len())).unwrap_or(&[]);
        let track = if header.id == ids::SIMPLE_BLOCK {
            block::peek_track(prefix)
        } else {
            match ebml::read_header(prefix) {
                Ok(Some(h)) if h.id == ids::BLOCK => {
                    prefix.get(h.len..).and_then(block::peek_track)
                }
                _ => None,
            }
        };
        match track {
            Some(t) if t != number => return Self::skip(input, pos, header),
            None if input.len() < peek && !eof => return Ok(Step::NeedMore(peek)),
            // Ours, or not known from the first bytes: read whole (bounded) and parse.
            _ => {}
        }
        let body = match Self::whole(input, pos, eof, header, MAX_BLOCK_ELEMENT)? {
            Whole::Data(d) => d,
            Whole::Step(s) => return Ok(s),
        };
        let total = header.len + body.len();
        // The Block's bytes and its offset inside the element; the key-frame flag.
        let (block, block_at, group_key) = if header.id == ids::SIMPLE_BLOCK {
            (body, header.len, None)
        } else {
            let base = pos.saturating_add(header.len as u64);
            let mut found = None;
            let mut referenced = false;
            for child in ebml::Children::new(body, base) {
                let child = child.map_err(header::Fault::from)?;
                match child.id {
                    ids::BLOCK if found.is_none() => found = Some(child),
                    ids::REFERENCE_BLOCK => referenced = true,
                    _ => {}
                }
            }
            let Some(child) = found else {
                return Ok(Step::Consumed(total)); // a BlockGroup without Block
            };
            (
                child.data,
                header.len.saturating_add(child.data_at),
                Some(!referenced),
            )
        };
        let parsed = block::parse(block, &mut self.lace_sizes)
            .map_err(|what| malformed(pos, format!("{}: {what}", name(header.id))))?;
        if parsed.track != number {
            return Ok(Step::Consumed(total));
        }
        let key = group_key.unwrap_or_else(|| parsed.simple_key());
        let pts = i128::from(self.cluster_timestamp) + i128::from(parsed.relative_timestamp);
        let pts = i64::try_from(pts.max(0)).map_err(|_| {
            malformed(
                pos,
                format!(
                    "block timestamp {} + {} does not fit a 64-bit timestamp",
                    self.cluster_timestamp, parsed.relative_timestamp
                ),
            )
        })?;
        let last = self.lace_sizes.iter().rposition(|&s| s != 0).unwrap_or(0);
        self.lace = Some(Lace {
            next: 0,
            at: block_at.saturating_add(parsed.data_start),
            total,
            last,
            start: pos,
            pts,
            key,
        });
        self.next_frame(input, pos, eof, out)
    }

    /// Hands out the next frame of the current block (skipping empty frames and, after a
    /// seek, frames before the target), consuming the element with its last frame.
    fn next_frame(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step> {
        let Some(mut lace) = self.lace else {
            return Ok(Step::Consumed(0));
        };
        if input.len() < lace.total {
            // The driver keeps unconsumed bytes; this only happens if it did not.
            return if eof {
                Err(truncated(pos, "a block"))
            } else {
                Ok(Step::NeedMore(lace.total))
            };
        }
        while let Some(&size) = self.lace_sizes.get(lace.next) {
            let k = lace.next;
            let size = size as usize; // u32 → usize: no loss on the targets built for
            let from = lace.at;
            lace.next += 1;
            lace.at = lace.at.saturating_add(size);
            if size == 0 {
                continue;
            }
            let frame = input
                .get(from..from.saturating_add(size))
                .ok_or_else(|| malformed(pos, "a laced frame runs past its block"))?;
            let offset = lace.start.saturating_add(from as u64);
            if let Some(target) = self.seek {
                let hit = match target {
                    SeekMatch::Offset(o) => o == offset,
                    SeekMatch::KeyPts(p) => lace.key && p == lace.pts,
                };
                if !hit {
                    continue;
                }
                self.seek = None;
            }
            let done = k >= lace.last;
            self.lace = (!done).then_some(lace);
            return self.emit(
                frame,
                offset,
                lace.pts,
                lace.key,
                if done { lace.total } else { 0 },
                out,
            );
        }
        self.lace = None;
        Ok(Step::Consumed(lace.total))
    }

    fn emit(
        &mut self,
        frame: &[u8],
        offset: u64,
        pts: i64,
        key: bool,
        consumed: usize,
        out: &mut Vec<u8>,
    ) -> Result<Step> {
        let index = self.next_index;
        out.clear();
        match self.video.as_mut().and_then(|v| v.converter.as_mut()) {
            Some(converter) => {
                converter.convert(frame, out, usize::try_from(index).unwrap_or(usize::MAX))?;
            }
            None => out.extend_from_slice(frame),
        }
        if self.scanning {
            if let Some(cluster) = self.cluster.as_mut() {
                if !cluster.indexed {
                    cluster.indexed = true;
                    self.clusters.push((index, cluster.start));
                }
            }
            // A frame is at most MAX_BLOCK_ELEMENT bytes: its size fits a u32.
            self.blocks.push(
                offset,
                u32::try_from(frame.len()).unwrap_or(u32::MAX),
                pts,
                key,
            );
        }
        self.next_index = index.saturating_add(1);
        Ok(Step::Packet {
            consumed,
            info: PacketInfo { pts, key, index },
        })
    }
}

impl Demux for MkvDemux {
    fn step(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step> {
        let result = self.step_inner(input, pos, eof, out);
        if result.is_err() {
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
        let index = self
            .index()
            .ok_or_else(|| internal("no index to seek by (no Cues read, no full scan yet)"))?;
        let (Some(offset), Some(pts)) = (index.offset(sample), index.pts(sample)) else {
            return Err(internal(format!(
                "sample {sample} is outside the index of {} samples",
                index.len()
            )));
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
        Ok(cluster)
    }

    fn max_window(&self) -> usize {
        MAX_WINDOW
    }
}

/// Demuxes the first video track of the Matroska/WebM file `bytes` into a packet table
/// (the whole-file path of `ElementaryStream`), by running [`MkvDemux`] over it.
pub(super) fn demux(bytes: &[u8]) -> Result<Demuxed> {
    let mut parser = MkvDemux::new().without_frame_index();
    let mut out = Vec::new();
    let mut builder: Option<Builder> = None;
    let mut pos = 0usize;
    let mut error = None;
    // Steps in a row that neither moved nor handed out a packet: a parser bug if many.
    let mut idle = 0u8;
    loop {
        let input = bytes.get(pos..).unwrap_or(&[]);
        let step = match parser.step(input, pos as u64, true, &mut out) {
            Ok(step) => step,
            Err(e) if parser.track().is_none() => return Err(e),
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let before = pos;
        match step {
            Step::Consumed(n) => pos = pos.saturating_add(n),
            Step::Packet { consumed, info } => {
                let Some(codec) = parser.codec() else {
                    return Err(internal("a packet before the track"));
                };
                let b = builder.get_or_insert_with(|| Builder::new(codec, None, bytes.len()));
                if let Err(e) = b.push_copy(&out, info.pts) {
                    error = Some(e);
                    break;
                }
                idle = 0;
                pos = pos.saturating_add(consumed);
            }
            Step::SeekTo(to) => pos = usize::try_from(to).unwrap_or(usize::MAX).min(bytes.len()),
            Step::NeedMore(_) => {
                error = Some(truncated(
                    pos as u64,
                    "an element (more bytes asked at the end)",
                ));
                break;
            }
            Step::End => break,
        }
        if pos == before && !matches!(step, Step::Packet { .. }) {
            idle = idle.saturating_add(1);
            if idle > 2 {
                error = Some(internal("the reader made no progress"));
                break;
            }
        } else if pos != before {
            idle = 0;
        }
    }
    let (Some(codec), Some(track)) = (parser.codec(), parser.track().cloned()) else {
        return Err(error.unwrap_or_else(|| internal("ended without a track or an error")));
    };
    let builder = builder.unwrap_or_else(|| Builder::new(codec, None, bytes.len()));
    Ok(builder.finish(codec, track, error))
}
