//! Video codecs named by this crate, independent of direction (decode or encode).

use std::fmt;

/// A compressed video format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// H.264 / AVC.
    H264,
    /// H.265 / HEVC.
    Hevc,
    /// VP8.
    Vp8,
    /// VP9.
    Vp9,
    /// AV1.
    Av1,
    /// MPEG-2 video.
    Mpeg2,
    /// JPEG / Motion-JPEG.
    Jpeg,
}

impl Codec {
    /// Short lower-case name, as used in file names and logs (`h264`, `hevc`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::Hevc => "hevc",
            Codec::Vp8 => "vp8",
            Codec::Vp9 => "vp9",
            Codec::Av1 => "av1",
            Codec::Mpeg2 => "mpeg2",
            Codec::Jpeg => "jpeg",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
