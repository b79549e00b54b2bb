//! [`ElementaryStream`]: a whole input file in memory, its format and codec, and its packets.
//!
//! Invariant: an `ElementaryStream` always has a known codec and format (construction fails
//! otherwise), and [`ElementaryStream::packets`] yields zero-copy packets of its bytes with
//! timestamps, never panicking on malformed content.

use std::path::Path;

use super::annexb::AccessUnits;
use super::container::{self, ContainerTrack, Demuxed, Entry, Rational};
use super::detect::{self, FormatHint, StreamFormat};
use super::ivf::{IvfFrames, IvfHeader};
use super::mpeg2::Mpeg2Pictures;
use super::{InputError, Packet};
use crate::{Codec, Error, Result};

/// A compressed video file held in memory, ready to be split into packets.
///
/// MP4 and Matroska/WebM files (recognised by content) are demuxed when opened: their first
/// video track becomes a table of packets, H.264/HEVC converted to Annex-B with the parameter
/// sets before key frames (see [`container`](super::container)), with the container's
/// timestamps ([`time_base`](Self::time_base)), frame rate and duration.
///
/// Invariant: `codec` and `format` agree (H.264/HEVC ⇔ Annex-B, MPEG-2 ⇔ MPEG-2 ES,
/// VP8/VP9/AV1 ⇔ IVF, any of H.264/HEVC/VP8/VP9/AV1 ⇔ MP4/Matroska), `ivf` is `Some` exactly
/// for IVF input, its header already validated against `bytes`, and `container` is `Some`
/// exactly for MP4/Matroska input, its entries' ranges inside `bytes` or its own data.
#[derive(Debug, Clone)]
pub struct ElementaryStream {
    bytes: Vec<u8>,
    format: StreamFormat,
    codec: Codec,
    ivf: Option<IvfHeader>,
    container: Option<Box<Demuxed>>,
}

impl ElementaryStream {
    /// Reads the file at `path` and detects its format from its content (MP4 `ftyp`,
    /// Matroska/WebM EBML or IVF magic), else from the extension (see
    /// [`FormatHint::from_path`]).
    ///
    /// MP4/Matroska/WebM errors name what cannot be read: the codec, an encrypted track, a
    /// missing video track, or the malformed structure.
    ///
    /// I/O errors keep their kind and gain the path in their message.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", path.display()),
            ))
        })?;
        Self::build(
            bytes,
            FormatHint::from_path(path),
            &path.display().to_string(),
        )
    }

    /// Takes `bytes` as a whole file whose format is detected from its content (MP4,
    /// Matroska/WebM or IVF magic), else from `hint`.
    ///
    /// With [`FormatHint::Codec`] and IVF or container bytes, the file's codec must be that
    /// codec.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>, hint: FormatHint) -> Result<Self> {
        Self::build(bytes.into(), hint, "input")
    }

    fn build(bytes: Vec<u8>, hint: FormatHint, what: &str) -> Result<Self> {
        let format = detect::detect(&bytes, hint, what)?;
        if matches!(format, StreamFormat::Mp4 | StreamFormat::Matroska) {
            let demuxed = container::demux(&bytes, what)?;
            if let FormatHint::Codec(expected) = hint {
                if expected != demuxed.codec {
                    return Err(InputError::CodecMismatch {
                        expected,
                        found: demuxed.codec,
                        what: format!(
                            "{what}: the {} video track (\"{}\")",
                            demuxed.track.kind, demuxed.track.codec_tag
                        ),
                    }
                    .into());
                }
            }
            return Ok(Self {
                bytes,
                format,
                codec: demuxed.codec,
                ivf: None,
                container: Some(Box::new(demuxed)),
            });
        }
        let (codec, ivf) = match (format, hint) {
            (StreamFormat::Ivf, _) => {
                let header = IvfHeader::parse(&bytes).map_err(|e| in_input(e, what))?;
                if let FormatHint::Codec(expected) = hint {
                    if expected != header.codec {
                        return Err(InputError::CodecMismatch {
                            expected,
                            found: header.codec,
                            what: format!(
                                "{what}: the IVF fourcc \"{}\"",
                                header.fourcc.escape_ascii()
                            ),
                        }
                        .into());
                    }
                }
                (header.codec, Some(header))
            }
            (_, FormatHint::Codec(codec)) => (codec, None),
            // `detect` returns Annex-B / MPEG-2 only for a codec hint.
            (_, _) => {
                return Err(InputError::Unrecognized {
                    what: format!(
                        "{what}: unrecognised format; supported: {}",
                        detect::SUPPORTED
                    ),
                }
                .into());
            }
        };
        Ok(Self {
            bytes,
            format,
            codec,
            ivf,
            container: None,
        })
    }

    /// The codec of the stream.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// How the bytes are framed (Annex-B, MPEG-2 ES, IVF, MP4 or Matroska).
    pub fn format(&self) -> StreamFormat {
        self.format
    }

    /// `(width, height)` when the container declares them (IVF with non-zero sizes, MP4 or
    /// Matroska); raw elementary streams return `None`, the decoder's sequence callback has
    /// the real size.
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        if let Some(c) = &self.container {
            return c.track.dimensions;
        }
        self.ivf
            .filter(|h| h.width != 0 && h.height != 0)
            .map(|h| (u32::from(h.width), u32::from(h.height)))
    }

    /// The IVF file header, for IVF input.
    pub fn ivf_header(&self) -> Option<&IvfHeader> {
        self.ivf.as_ref()
    }

    /// The MP4/Matroska track being read, for container input.
    pub fn container(&self) -> Option<&ContainerTrack> {
        self.container.as_ref().map(|c| &c.track)
    }

    /// Seconds per [`Packet::pts`] tick, where the input has timestamps (IVF, MP4,
    /// Matroska/WebM); `None` for raw streams, whose packets are numbered instead.
    pub fn time_base(&self) -> Option<Rational> {
        if let Some(c) = &self.container {
            return Some(c.track.time_base);
        }
        self.ivf.and_then(|h| {
            Rational::new(u64::from(h.timebase_num), u64::from(h.timebase_den))
                .filter(|r| r.num != 0)
        })
    }

    /// Frames per second where the container says (MP4 constant sample duration, Matroska
    /// `DefaultDuration`); `None` otherwise.
    pub fn frame_rate(&self) -> Option<Rational> {
        self.container.as_ref().and_then(|c| c.track.frame_rate)
    }

    /// The duration the container declares (MP4, Matroska/WebM), if any.
    pub fn duration(&self) -> Option<std::time::Duration> {
        let c = self.container.as_ref()?;
        let (ticks, tb) = (c.track.duration?, c.track.time_base);
        let nanos = u128::from(ticks) * u128::from(tb.num) * 1_000_000_000 / u128::from(tb.den);
        Some(std::time::Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    /// Heap bytes this value holds: the file, plus for container input the converted packet
    /// bytes and the packet table. Bounded by
    /// [`MAX_EXPANSION`](super::container::MAX_EXPANSION) × the file size plus
    /// [`EXPANSION_SLACK`](super::container::EXPANSION_SLACK) on top of the file itself.
    pub fn memory_footprint(&self) -> usize {
        self.bytes.capacity().saturating_add(
            self.container
                .as_ref()
                .map_or(0, |c| c.heap_bytes().saturating_add(size_of::<Demuxed>())),
        )
    }

    /// The whole file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The packets (one picture each), in stream order; restartable by calling again.
    pub fn packets(&self) -> Packets<'_> {
        if let Some(c) = &self.container {
            let inner = Inner::Table {
                file: &self.bytes,
                demuxed: c,
                entries: c.entries.iter(),
                error: c.error.as_ref(),
            };
            return Packets { inner, index: 0 };
        }
        // By the type's invariant: IVF iff `ivf` is set, else the codec picks the splitter.
        let inner = match (&self.ivf, self.codec) {
            (Some(h), _) => Inner::Ivf(IvfFrames::starting_at(
                &self.bytes,
                usize::from(h.header_len),
            )),
            (None, Codec::Mpeg2) => Inner::Mpeg2(Mpeg2Pictures::new(&self.bytes)),
            (None, Codec::Hevc) => Inner::AnnexB(AccessUnits::hevc(&self.bytes)),
            (None, _) => Inner::AnnexB(AccessUnits::h264(&self.bytes)),
        };
        Packets { inner, index: 0 }
    }
}

/// `e` with the input's name `what` before its message, when it is an input error.
fn in_input(e: Error, what: &str) -> Error {
    match e {
        Error::Input(e) => Error::Input(e.in_input(what)),
        other => other,
    }
}

/// The per-format splitter behind [`Packets`].
#[derive(Debug)]
enum Inner<'a> {
    AnnexB(AccessUnits<'a>),
    Mpeg2(Mpeg2Pictures<'a>),
    Ivf(IvfFrames<'a>),
    /// A demuxed container track: its entries, then its error if demuxing stopped early.
    Table {
        file: &'a [u8],
        demuxed: &'a Demuxed,
        entries: std::slice::Iter<'a, Entry>,
        error: Option<&'a InputError>,
    },
}

/// Iterator over an [`ElementaryStream`]'s packets.
///
/// Invariant: IVF, MP4 and Matroska packets carry the file's pts (in
/// [`ElementaryStream::time_base`] units; container packets in decode order); raw-stream
/// packets carry their index (0, 1, 2, ...), since raw streams have no timestamps. Ends after
/// the first `Err`.
#[derive(Debug)]
pub struct Packets<'a> {
    inner: Inner<'a>,
    index: i64,
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<Packet<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let index = self.index;
        let item = match &mut self.inner {
            Inner::Ivf(frames) => frames.next()?,
            Inner::AnnexB(units) => units.next()?.map(|data| Packet { data, pts: index }),
            Inner::Mpeg2(pictures) => pictures.next()?.map(|data| Packet { data, pts: index }),
            Inner::Table {
                file,
                demuxed,
                entries,
                error,
            } => match entries.next() {
                Some(e) => Ok(Packet {
                    data: demuxed.bytes(file, e),
                    pts: e.pts,
                }),
                None => Err(Error::Input(error.take()?.clone())),
            },
        };
        self.index = index.saturating_add(1);
        Some(item)
    }
}

impl std::iter::FusedIterator for Packets<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivf(fourcc: &[u8; 4], frames: &[(i64, &[u8])]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(b"DKIF");
        f.extend_from_slice(&0u16.to_le_bytes());
        f.extend_from_slice(&32u16.to_le_bytes());
        f.extend_from_slice(fourcc);
        f.extend_from_slice(&640u16.to_le_bytes());
        f.extend_from_slice(&360u16.to_le_bytes());
        f.extend_from_slice(&[30, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for (pts, data) in frames {
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.extend_from_slice(&pts.to_le_bytes());
            f.extend_from_slice(data);
        }
        f
    }

    #[test]
    fn ivf_bytes_are_detected_by_magic_with_codec_dimensions_and_pts() {
        let es = ElementaryStream::from_bytes(
            ivf(b"VP90", &[(10, &[1, 2]), (20, &[3])]),
            FormatHint::Unknown,
        )
        .unwrap();
        assert_eq!(es.codec(), Codec::Vp9);
        assert_eq!(es.format(), StreamFormat::Ivf);
        assert_eq!(es.dimensions(), Some((640, 360)));
        let packets: Vec<_> = es.packets().map(|p| p.unwrap()).collect();
        assert_eq!(
            packets,
            vec![
                Packet {
                    data: &[1, 2],
                    pts: 10
                },
                Packet {
                    data: &[3],
                    pts: 20
                }
            ]
        );
    }

    #[test]
    fn raw_annex_b_packets_are_numbered_in_stream_order() {
        let h264 = [
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x41, 0x9a,
        ];
        let es = ElementaryStream::from_bytes(&h264[..], FormatHint::Codec(Codec::H264)).unwrap();
        assert_eq!(es.dimensions(), None);
        let pts: Vec<i64> = es.packets().map(|p| p.unwrap().pts).collect();
        assert_eq!(pts, vec![0, 1, 2]);
    }

    #[test]
    fn mpeg2_packets_are_numbered_in_stream_order() {
        let m2v = [
            0, 0, 1, 0xb3, 9, 0, 0, 1, 0, 9, 0, 0, 1, 1, 9, 0, 0, 1, 0, 9,
        ];
        let es = ElementaryStream::from_bytes(&m2v[..], FormatHint::from_extension("m2v")).unwrap();
        assert_eq!(es.codec(), Codec::Mpeg2);
        let packets: Vec<_> = es.packets().map(|p| p.unwrap()).collect();
        assert_eq!(packets.len(), 2);
        assert_eq!(
            packets[1],
            Packet {
                data: &m2v[15..],
                pts: 1
            }
        );
    }

    #[test]
    fn a_codec_hint_that_contradicts_the_ivf_fourcc_is_an_error() {
        let err = ElementaryStream::from_bytes(ivf(b"AV01", &[]), FormatHint::Codec(Codec::Vp8))
            .unwrap_err();
        assert!(err.to_string().contains("AV01"), "{err}");
    }

    #[test]
    fn an_ivf_hint_without_magic_reports_the_bad_magic() {
        let err = ElementaryStream::from_bytes(vec![0; 40], FormatHint::Ivf).unwrap_err();
        assert!(err.to_string().contains("DKIF"), "{err}");
    }

    #[test]
    fn opening_a_file_with_an_unknown_extension_names_the_file_and_supported_formats() {
        let path = std::env::temp_dir().join(format!("nvcg-input-{}.xyz", std::process::id()));
        std::fs::write(&path, [0, 0, 1, 0x65, 0x88]).unwrap();
        let err = ElementaryStream::open(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains(".xyz") && err.contains(".h264"), "{err}");
    }

    #[test]
    fn opening_a_missing_file_is_an_io_error_naming_the_path() {
        let err = ElementaryStream::open("/nonexistent/clip.h264").unwrap_err();
        assert!(matches!(err, Error::Io(_)));
        assert!(err.to_string().contains("/nonexistent/clip.h264"), "{err}");
    }
}
