//! What a container says of the video track it holds: [`ContainerTrack`] and [`ContainerKind`].
//!
//! Invariant: plain data, filled by the container readers (`container/`) and read by the
//! shared reader shape (`demux.rs`) and by users; it sits below both so neither imports the
//! other for it.

use std::fmt;

use crate::Rational;

/// Which container a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContainerKind {
    /// ISO base media file (MP4, MOV-style `ftyp` files), progressive or fragmented.
    Mp4,
    /// Matroska (`.mkv`).
    Matroska,
    /// WebM (Matroska with DocType `webm`).
    WebM,
    /// MPEG transport stream (`.ts`) or M2TS; the track id is the video PID, the time base
    /// 1/90000; no dimensions, frame rate, duration or packet count (the multiplex does not
    /// declare them; `packet_count` is 0).
    MpegTs,
}

impl fmt::Display for ContainerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContainerKind::Mp4 => "MP4",
            ContainerKind::Matroska => "Matroska",
            ContainerKind::WebM => "WebM",
            ContainerKind::MpegTs => "MPEG-TS",
        })
    }
}

/// The container's description of the video track that is read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContainerTrack {
    /// The container.
    pub kind: ContainerKind,
    /// The track's id (MP4 `track_ID`, Matroska `TrackNumber`).
    pub track_id: u64,
    /// The codec as the container names it (`avc1`, `hev1`, `vp09`, `V_MPEG4/ISO/AVC`, ...).
    pub codec_tag: String,
    /// Seconds per timestamp tick: packet pts are in these units.
    pub time_base: Rational,
    /// Frames per second, from the sample durations (MP4, when all equal) or the track's
    /// `DefaultDuration` (Matroska), when the container says.
    pub frame_rate: Option<Rational>,
    /// Duration in `time_base` ticks, when the container says (MP4 `mdhd`, else the sum of
    /// sample durations; Matroska segment `Duration`).
    pub duration: Option<u64>,
    /// `(width, height)` in pixels as the container declares them.
    pub dimensions: Option<(u32, u32)>,
    /// Number of packets (samples / frames) in the track.
    pub packet_count: usize,
}
