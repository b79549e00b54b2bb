//! The Matroska header elements read whole: the EBML header, `Info`, `Tracks`, `SeekHead`
//! and one `CuePoint`.
//!
//! Invariant: each function gets an element's complete data (already bounded by the
//! parent module's limits) and returns plain values or an error naming the offset; nothing
//! here allocates more than the element's own bytes (strings and `CodecPrivate` are copies
//! of parts of it; the list of other tracks kept for an error message is capped).

use super::ebml::{self, Children};
use super::ids;
use crate::Codec;

/// What a header element is malformed by: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) offset: u64,
    pub(crate) what: String,
}

impl Fault {
    fn new(offset: u64, what: impl Into<String>) -> Self {
        Self {
            offset,
            what: what.into(),
        }
    }
}

impl From<ebml::ChildError> for Fault {
    fn from(e: ebml::ChildError) -> Self {
        Self::new(e.offset, e.what)
    }
}

fn uint_of(child: &ebml::Child<'_>, name: &str) -> Result<u64, Fault> {
    ebml::uint(child.data).ok_or_else(|| {
        Fault::new(
            child.offset,
            format!("{name} is a {}-byte integer (at most 8)", child.data.len()),
        )
    })
}

/// The EBML header's `DocType` (`matroska` when absent).
pub(crate) fn doc_type(data: &[u8], base: u64) -> Result<String, Fault> {
    let mut doc_type = String::from("matroska");
    for child in Children::new(data, base) {
        let child = child?;
        if child.id == ids::DOC_TYPE {
            doc_type = ebml::string(child.data);
        }
    }
    Ok(doc_type)
}

/// `Info`: `TimestampScale` (ns per tick, default 1,000,000) and `Duration` (ticks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Info {
    pub(crate) timestamp_scale: u64,
    pub(crate) duration: Option<f64>,
}

impl Default for Info {
    fn default() -> Self {
        Self {
            timestamp_scale: 1_000_000,
            duration: None,
        }
    }
}

/// Parses `Info`.
pub(crate) fn info(data: &[u8], base: u64) -> Result<Info, Fault> {
    let mut info = Info::default();
    for child in Children::new(data, base) {
        let child = child?;
        match child.id {
            ids::TIMESTAMP_SCALE => {
                info.timestamp_scale = uint_of(&child, "TimestampScale")?;
                if info.timestamp_scale == 0 {
                    return Err(Fault::new(child.offset, "TimestampScale is 0"));
                }
            }
            ids::DURATION => {
                info.duration = Some(ebml::float(child.data).ok_or_else(|| {
                    Fault::new(
                        child.offset,
                        format!("Duration is a {}-byte float (0, 4 or 8)", child.data.len()),
                    )
                })?);
            }
            _ => {}
        }
    }
    Ok(info)
}

/// The video track read, as `Tracks` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VideoTrack {
    pub(crate) number: u64,
    pub(crate) codec_id: String,
    pub(crate) codec_private: Option<Vec<u8>>,
    pub(crate) default_duration: Option<u64>,
    pub(crate) dimensions: Option<(u32, u32)>,
    /// `Some(true)` with `ContentEncryption`, `Some(false)` with any other content encoding
    /// (compression, header stripping, unknown), `None` without `ContentEncodings`.
    pub(crate) encrypted: Option<bool>,
}

/// `Tracks`: the first video track, or the other tracks' "type codec" list (at most 16
/// entries, for the error message) if there is none.
pub(crate) fn first_video_track(
    data: &[u8],
    base: u64,
) -> Result<Result<VideoTrack, Vec<String>>, Fault> {
    let mut others = Vec::new();
    for entry in Children::new(data, base) {
        let entry = entry?;
        if entry.id != ids::TRACK_ENTRY {
            continue;
        }
        let mut number = None;
        let mut kind = None;
        let mut track = VideoTrack {
            number: 0,
            codec_id: String::new(),
            codec_private: None,
            default_duration: None,
            dimensions: None,
            encrypted: None,
        };
        for child in Children::new(entry.data, entry.offset) {
            let child = child?;
            match child.id {
                ids::TRACK_NUMBER => number = Some(uint_of(&child, "TrackNumber")?),
                ids::TRACK_TYPE => kind = Some(uint_of(&child, "TrackType")?),
                ids::CODEC_ID => track.codec_id = ebml::string(child.data),
                ids::CODEC_PRIVATE => track.codec_private = Some(child.data.to_vec()),
                ids::DEFAULT_DURATION => {
                    track.default_duration =
                        Some(uint_of(&child, "DefaultDuration")?).filter(|&d| d != 0);
                }
                ids::VIDEO => track.dimensions = dimensions(child.data, child.offset)?,
                ids::CONTENT_ENCODINGS => {
                    track.encrypted = content_encryption(child.data, child.offset)?;
                }
                _ => {}
            }
        }
        if kind == Some(1) {
            track.number = number
                .filter(|&n| n != 0)
                .ok_or_else(|| Fault::new(entry.offset, "video TrackEntry has no TrackNumber"))?;
            return Ok(Ok(track));
        }
        if others.len() < 16 {
            let kind = match kind {
                Some(2) => "Audio".to_string(),
                Some(17) => "Subtitle".to_string(),
                Some(k) => format!("type {k}"),
                None => "untyped".to_string(),
            };
            others.push(format!("{kind} {}", printable(&track.codec_id)));
        }
    }
    Ok(Err(others))
}

fn dimensions(data: &[u8], base: u64) -> Result<Option<(u32, u32)>, Fault> {
    let (mut width, mut height) = (None, None);
    for child in Children::new(data, base) {
        let child = child?;
        match child.id {
            ids::PIXEL_WIDTH => width = Some(uint_of(&child, "PixelWidth")?),
            ids::PIXEL_HEIGHT => height = Some(uint_of(&child, "PixelHeight")?),
            _ => {}
        }
    }
    Ok(width
        .and_then(|w| u32::try_from(w).ok())
        .zip(height.and_then(|h| u32::try_from(h).ok()))
        .filter(|&(w, h)| w != 0 && h != 0))
}

/// Whether the first `ContentEncoding` encrypts (`Some(true)`) or does anything else
/// (`Some(false)`); `None` when there is none.
fn content_encryption(data: &[u8], base: u64) -> Result<Option<bool>, Fault> {
    for encoding in Children::new(data, base) {
        let encoding = encoding?;
        if encoding.id != ids::CONTENT_ENCODING {
            continue;
        }
        for child in Children::new(encoding.data, encoding.offset) {
            if child?.id == ids::CONTENT_ENCRYPTION {
                return Ok(Some(true));
            }
        }
        return Ok(Some(false));
    }
    Ok(None)
}

/// A codec ID fit for an error message: at most 64 characters, control characters escaped.
pub(crate) fn printable(s: &str) -> String {
    s.chars().take(64).flat_map(char::escape_default).collect()
}

/// The codec of a Matroska codec ID, among those read.
pub(crate) fn codec_of(codec_id: &str) -> Option<Codec> {
    CODECS
        .iter()
        .find(|(id, _)| *id == codec_id)
        .map(|&(_, c)| c)
}

/// Codec IDs read, with their codec.
pub(crate) const CODECS: &[(&str, Codec)] = &[
    ("V_MPEG4/ISO/AVC", Codec::H264),
    ("V_MPEGH/ISO/HEVC", Codec::Hevc),
    ("V_VP8", Codec::Vp8),
    ("V_VP9", Codec::Vp9),
    ("V_AV1", Codec::Av1),
];

/// `SeekHead`: the `Cues` position it names (relative to the segment's data), if any.
pub(crate) fn cues_position(data: &[u8], base: u64) -> Result<Option<u64>, Fault> {
    for seek in Children::new(data, base) {
        let seek = seek?;
        if seek.id != ids::SEEK {
            continue;
        }
        let (mut id, mut position) = (None, None);
        for child in Children::new(seek.data, seek.offset) {
            let child = child?;
            match child.id {
                ids::SEEK_ID => id = ebml::uint(child.data),
                ids::SEEK_POSITION => position = Some(uint_of(&child, "SeekPosition")?),
                _ => {}
            }
        }
        if id == Some(u64::from(ids::CUES)) {
            return Ok(position);
        }
    }
    Ok(None)
}

/// One `CuePoint`: its time and, for track `track`, the cluster position (relative to the
/// segment's data); `None` if it names no position for that track.
pub(crate) fn cue_point(data: &[u8], base: u64, track: u64) -> Result<Option<(u64, u64)>, Fault> {
    let mut time = None;
    let mut position = None;
    for child in Children::new(data, base) {
        let child = child?;
        match child.id {
            ids::CUE_TIME => time = Some(uint_of(&child, "CueTime")?),
            ids::CUE_TRACK_POSITIONS if position.is_none() => {
                let (mut t, mut p) = (None, None);
                for c in Children::new(child.data, child.offset) {
                    let c = c?;
                    match c.id {
                        ids::CUE_TRACK => t = Some(uint_of(&c, "CueTrack")?),
                        ids::CUE_CLUSTER_POSITION => p = Some(uint_of(&c, "CueClusterPosition")?),
                        _ => {}
                    }
                }
                if t == Some(track) {
                    position = p;
                }
            }
            _ => {}
        }
    }
    Ok(time.zip(position))
}
