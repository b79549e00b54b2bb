//! Telling which input format a file is in.
//!
//! Invariant: a container magic (MP4 `ftyp` box, Matroska/WebM EBML header, IVF `DKIF`)
//! decides first, whatever the name says; otherwise the
//! caller's [`FormatHint`] (usually the file extension) decides, and with neither the answer
//! is an error listing the supported formats. Raw elementary streams carry no reliable
//! magic, so content sniffing is deliberately not attempted: a wrong guess would hand the
//! decoder garbage with a confident codec label.

use std::path::Path;

use super::InputError;
use crate::{Codec, Result};

/// The formats and extensions this module recognises, for error messages.
pub(crate) const SUPPORTED: &str = "MP4 (magic ftyp: H.264, HEVC, VP8, VP9, AV1), \
     Matroska/WebM (EBML magic: H.264, HEVC, VP8, VP9, AV1), \
     IVF (.ivf, magic DKIF: VP8, VP9, AV1), \
     H.264 Annex-B (.h264, .264, .avc), HEVC Annex-B (.hevc, .h265, .265), \
     MPEG-2 video elementary stream (.m2v, .mpg2, .mpeg2), \
     MPEG-TS/M2TS (sync bytes 0x47; .ts, .m2ts, .mts: H.264, HEVC, MPEG-2, AV1)";

/// What the caller knows about the bytes' format before they are looked at.
///
/// A container magic (MP4, Matroska/WebM, IVF) overrides the hint (and must then agree with a
/// [`FormatHint::Codec`]).
/// Without the magic the hint decides alone: raw elementary streams carry no reliable
/// magic, so their content is not sniffed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatHint {
    /// Nothing known: only a container magic (MP4, Matroska/WebM, IVF) can identify the input.
    Unknown,
    /// An IVF file (e.g. from a `.ivf` extension): a missing magic is reported as such.
    Ivf,
    /// A stream of this codec: raw Annex-B for H.264/HEVC, an elementary stream for MPEG-2;
    /// VP8, VP9 and AV1 are accepted only inside IVF. In a transport stream: its first
    /// video stream of this codec.
    Codec(Codec),
    /// An MPEG transport stream (e.g. from a `.ts`/`.m2ts` extension), and which of its
    /// streams to read. Sync bytes make a stream TS whatever the hint; this hint also picks
    /// the stream (see [`TsSelect`](crate::TsSelect)).
    MpegTs(crate::TsSelect),
}

impl FormatHint {
    /// The hint that `path`'s extension gives (case-insensitive), or [`FormatHint::Unknown`].
    pub fn from_path(path: &Path) -> Self {
        path.extension()
            .and_then(|ext| ext.to_str())
            .map_or(Self::Unknown, Self::from_extension)
    }

    /// The hint that a file extension (without the dot, any case) gives.
    pub fn from_extension(ext: &str) -> Self {
        match ext.to_ascii_lowercase().as_str() {
            "h264" | "264" | "avc" => Self::Codec(Codec::H264),
            "hevc" | "h265" | "265" => Self::Codec(Codec::Hevc),
            "m2v" | "mpg2" | "mpeg2" => Self::Codec(Codec::Mpeg2),
            "ivf" => Self::Ivf,
            "ts" | "m2ts" | "mts" | "m2t" | "trp" => Self::MpegTs(crate::TsSelect::default()),
            _ => Self::Unknown,
        }
    }
}

/// How a file's bytes are framed into packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamFormat {
    /// H.264 or HEVC Annex-B byte stream, split into access units by start codes.
    AnnexB,
    /// MPEG-2 video elementary stream, split into pictures by start codes.
    Mpeg2,
    /// IVF container (VP8, VP9, AV1), one frame per record.
    Ivf,
    /// MP4 / ISO base media file, progressive or fragmented (recognised by its `ftyp` box).
    Mp4,
    /// Matroska or WebM (recognised by the EBML magic).
    Matroska,
    /// MPEG transport stream or M2TS (recognised by sync bytes 0x47 a packet apart).
    MpegTs,
}

/// Whether `bytes` begin with the IVF magic.
pub(crate) fn has_ivf_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(b"DKIF")
}

/// The format of `bytes` given `hint`; `what` names the input in error messages.
pub(crate) fn detect(bytes: &[u8], hint: FormatHint, what: &str) -> Result<StreamFormat> {
    if super::container::has_mp4_magic(bytes) {
        return Ok(StreamFormat::Mp4);
    }
    if super::container::has_ebml_magic(bytes) {
        return Ok(StreamFormat::Matroska);
    }
    if has_ivf_magic(bytes) {
        return Ok(StreamFormat::Ivf);
    }
    if crate::ts::has_sync_bytes(bytes) {
        return Ok(StreamFormat::MpegTs);
    }
    match hint {
        FormatHint::MpegTs(_) => Ok(StreamFormat::MpegTs),
        FormatHint::Ivf => Ok(StreamFormat::Ivf),
        FormatHint::Codec(Codec::H264 | Codec::Hevc) => Ok(StreamFormat::AnnexB),
        FormatHint::Codec(Codec::Mpeg2) => Ok(StreamFormat::Mpeg2),
        FormatHint::Codec(codec @ (Codec::Vp8 | Codec::Vp9 | Codec::Av1)) => {
            Err(InputError::Unrecognized {
                what: format!(
                    "{what}: {codec} is only read from IVF files, and this one has no DKIF \
                     magic; supported: {SUPPORTED}"
                ),
            }
            .into())
        }
        FormatHint::Codec(codec) => Err(InputError::unsupported(format!(
            "{what}: no reader for {codec} input; supported: {SUPPORTED}"
        ))
        .into()),
        FormatHint::Unknown => Err(InputError::Unrecognized {
            what: format!(
                "{what}: unrecognised format (no IVF magic and no known extension); \
                 supported: {SUPPORTED}"
            ),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_map_to_codecs_case_insensitively() {
        for (ext, hint) in [
            ("h264", FormatHint::Codec(Codec::H264)),
            ("264", FormatHint::Codec(Codec::H264)),
            ("AVC", FormatHint::Codec(Codec::H264)),
            ("hevc", FormatHint::Codec(Codec::Hevc)),
            ("H265", FormatHint::Codec(Codec::Hevc)),
            ("265", FormatHint::Codec(Codec::Hevc)),
            ("m2v", FormatHint::Codec(Codec::Mpeg2)),
            ("mpg2", FormatHint::Codec(Codec::Mpeg2)),
            ("mpeg2", FormatHint::Codec(Codec::Mpeg2)),
            ("Ivf", FormatHint::Ivf),
            ("mp4", FormatHint::Unknown),
        ] {
            assert_eq!(FormatHint::from_extension(ext), hint, "{ext}");
        }
        assert_eq!(
            FormatHint::from_path(Path::new("/clips/a.b.HEVC")),
            FormatHint::Codec(Codec::Hevc)
        );
        assert_eq!(
            FormatHint::from_path(Path::new("noext")),
            FormatHint::Unknown
        );
    }

    #[test]
    fn ivf_magic_wins_over_the_hint() {
        let format = detect(b"DKIF....", FormatHint::Codec(Codec::H264), "x").unwrap();
        assert_eq!(format, StreamFormat::Ivf);
    }

    #[test]
    fn raw_streams_are_framed_by_their_hinted_codec() {
        let detect = |hint| detect(&[0, 0, 1], hint, "x").unwrap();
        assert_eq!(detect(FormatHint::Codec(Codec::H264)), StreamFormat::AnnexB);
        assert_eq!(detect(FormatHint::Codec(Codec::Hevc)), StreamFormat::AnnexB);
        assert_eq!(detect(FormatHint::Codec(Codec::Mpeg2)), StreamFormat::Mpeg2);
    }

    #[test]
    fn unknown_input_is_an_error_naming_the_supported_formats() {
        let err = detect(&[1, 2, 3], FormatHint::Unknown, "clip.xyz").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("invalid input: clip.xyz:"), "{msg}");
        assert!(msg.contains(".h264") && msg.contains(".ivf") && msg.contains(".m2v"));
    }

    #[test]
    fn raw_vp9_without_ivf_is_an_error() {
        assert!(detect(&[0; 8], FormatHint::Codec(Codec::Vp9), "x").is_err());
        assert!(detect(&[0; 8], FormatHint::Codec(Codec::Jpeg), "x").is_err());
    }
}
