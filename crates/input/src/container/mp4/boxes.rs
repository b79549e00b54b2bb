//! Box headers and the small fixed-layout boxes the demuxer holds whole.
//!
//! Invariant: every read is bounds-checked against the box body it was handed; a field
//! missing from a short body is an error naming the box, its byte offset and the field,
//! never a panic or a default.

use super::{limit_exceeded, malformed, unsupported};
use crate::InputError;
use crate::Result;
use crate::container::nal::NalConfig;
use crate::{Codec, ReadError};

/// A box header as read from the bytes at some absolute offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BoxHeader {
    /// The four-character type.
    pub(super) kind: [u8; 4],
    /// Header bytes: 8, or 16 with a 64-bit size.
    pub(super) header_len: u64,
    /// The whole box's size, header included; `None` for size 0 ("to the end of the
    /// enclosing box, or of the file").
    pub(super) size: Option<u64>,
}

/// What reading a header at the front of some bytes gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeaderRead {
    /// At least this many bytes are needed (8, or 16 for a 64-bit size).
    Need(usize),
    /// A header.
    Header(BoxHeader),
}

/// `kind` printable for messages (`mdat`, `\x00\x01ab`).
pub(super) fn name(kind: &[u8; 4]) -> String {
    kind.escape_ascii().to_string()
}

/// Reads the box header at the front of `input`, which starts at absolute offset `at`.
///
/// # Errors
/// A declared size smaller than the header itself.
pub(super) fn read_header(input: &[u8], at: u64) -> Result<HeaderRead> {
    let Some(&[s0, s1, s2, s3, k0, k1, k2, k3]) = input.first_chunk::<8>() else {
        return Ok(HeaderRead::Need(8));
    };
    let kind = [k0, k1, k2, k3];
    let (header_len, size) = match u32::from_be_bytes([s0, s1, s2, s3]) {
        0 => (8, None),
        1 => {
            let Some(large) = input.get(8..16).and_then(|b| b.first_chunk::<8>()) else {
                return Ok(HeaderRead::Need(16));
            };
            (16, Some(u64::from_be_bytes(*large)))
        }
        n => (8, Some(u64::from(n))),
    };
    if size.is_some_and(|size| size < header_len) {
        let size = size.unwrap_or(0);
        return Err(malformed(
            at,
            format!(
                "box '{}' declares {size} bytes, less than its {header_len}-byte header",
                name(&kind)
            ),
        ));
    }
    Ok(HeaderRead::Header(BoxHeader {
        kind,
        header_len,
        size,
    }))
}

/// A bounds-checked big-endian reader over one box body.
pub(super) struct Fields<'a> {
    body: &'a [u8],
    at: usize,
    kind: &'static str,
    offset: u64,
}

impl<'a> Fields<'a> {
    /// A reader over the body of box `kind`, whose header starts at absolute `offset`.
    pub(super) fn new(body: &'a [u8], kind: &'static str, offset: u64) -> Self {
        Self {
            body,
            at: 0,
            kind,
            offset,
        }
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.saturating_add(n);
        let Some(bytes) = self.body.get(self.at..end) else {
            return Err(malformed(
                self.offset,
                format!(
                    "box '{}' is truncated: {n} bytes needed at body byte {}, {} present",
                    self.kind,
                    self.at,
                    self.body.len().saturating_sub(self.at)
                ),
            ));
        };
        self.at = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(super) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(super) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(super) fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(super) fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// A full box's version and flags.
    pub(super) fn version_flags(&mut self) -> Result<(u8, u32)> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }

    /// A 32-bit field in version 0, 64-bit in version 1.
    pub(super) fn u32_or_u64(&mut self, version: u8) -> Result<u64> {
        if version == 1 {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    /// Bytes not read yet.
    pub(super) fn rest(&self) -> &'a [u8] {
        self.body.get(self.at..).unwrap_or(&[])
    }

    /// Skips `n` bytes.
    pub(super) fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }
}

/// `mvhd` / `mdhd`: the timescale and duration (`mdhd` layout equals `mvhd`'s up to there).
pub(super) fn timescale_and_duration(
    body: &[u8],
    kind: &'static str,
    at: u64,
) -> Result<(u32, u64)> {
    let mut f = Fields::new(body, kind, at);
    let (version, _) = f.version_flags()?;
    f.u32_or_u64(version)?; // creation time
    f.u32_or_u64(version)?; // modification time
    let timescale = f.u32()?;
    let duration = f.u32_or_u64(version)?;
    // A version-0 "unknown" duration is all ones in 32 bits; report it as such in 64.
    let duration = if version != 1 && duration == u64::from(u32::MAX) {
        u64::MAX
    } else {
        duration
    };
    Ok((timescale, duration))
}

/// `tkhd`: the track id.
pub(super) fn tkhd_track_id(body: &[u8], at: u64) -> Result<u32> {
    let mut f = Fields::new(body, "tkhd", at);
    let (version, _) = f.version_flags()?;
    f.u32_or_u64(version)?;
    f.u32_or_u64(version)?;
    f.u32()
}

/// `hdlr`: the handler type (`vide`, `soun`, ...).
pub(super) fn hdlr_handler(body: &[u8], at: u64) -> Result<[u8; 4]> {
    let mut f = Fields::new(body, "hdlr", at);
    f.version_flags()?;
    f.u32()?; // pre_defined
    f.array()
}

/// `mehd`: the whole fragmented movie's duration in the movie timescale.
pub(super) fn mehd_duration(body: &[u8], at: u64) -> Result<u64> {
    let mut f = Fields::new(body, "mehd", at);
    let (version, _) = f.version_flags()?;
    f.u32_or_u64(version)
}

/// `tfdt`: the fragment's base media decode time.
pub(super) fn tfdt_base(body: &[u8], at: u64) -> Result<u64> {
    let mut f = Fields::new(body, "tfdt", at);
    let (version, _) = f.version_flags()?;
    f.u32_or_u64(version)
}

/// A track's per-sample defaults (`trex`, overridden field by field by `tfhd`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SampleDefaults {
    pub(super) duration: u32,
    pub(super) size: u32,
    pub(super) flags: u32,
}

/// `trex`: `(track_id, defaults)`.
pub(super) fn trex(body: &[u8], at: u64) -> Result<(u32, SampleDefaults)> {
    let mut f = Fields::new(body, "trex", at);
    f.version_flags()?;
    let track_id = f.u32()?;
    f.u32()?; // default sample description index
    Ok((
        track_id,
        SampleDefaults {
            duration: f.u32()?,
            size: f.u32()?,
            flags: f.u32()?,
        },
    ))
}

/// `tfhd`: the track fragment header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tfhd {
    pub(super) track_id: u32,
    pub(super) base_data_offset: Option<u64>,
    pub(super) default_base_is_moof: bool,
    pub(super) duration: Option<u32>,
    pub(super) size: Option<u32>,
    pub(super) flags: Option<u32>,
}

pub(super) fn tfhd(body: &[u8], at: u64) -> Result<Tfhd> {
    let mut f = Fields::new(body, "tfhd", at);
    let (_, flags) = f.version_flags()?;
    let track_id = f.u32()?;
    let base_data_offset = if flags & 0x1 != 0 {
        Some(f.u64()?)
    } else {
        None
    };
    if flags & 0x2 != 0 {
        f.u32()?; // sample description index
    }
    let mut opt = |bit: u32| -> Result<Option<u32>> {
        if flags & bit != 0 {
            f.u32().map(Some)
        } else {
            Ok(None)
        }
    };
    let duration = opt(0x8)?;
    let size = opt(0x10)?;
    let sample_flags = opt(0x20)?;
    Ok(Tfhd {
        track_id,
        base_data_offset,
        default_base_is_moof: flags & 0x2_0000 != 0,
        duration,
        size,
        flags: sample_flags,
    })
}

/// One `elst` entry up to and including the first real edit: `(segment_duration,
/// media_time)`, `media_time == -1` for an empty edit. Entries after the first real one are
/// not returned (not read: only an initial empty edit and the first real edit matter).
///
/// # Errors
/// A truncated entry, or a media time below -1 (undefined by ISO/IEC 14496-12 §8.6.6).
pub(super) fn elst(body: &[u8], at: u64) -> Result<Vec<(u64, i64)>> {
    let mut f = Fields::new(body, "elst", at);
    let (version, _) = f.version_flags()?;
    let count = f.u32()?;
    let mut edits = Vec::new();
    for _ in 0..count {
        let (duration, media_time) = if version == 1 {
            (f.u64()?, f.i64()?)
        } else {
            (u64::from(f.u32()?), i64::from(f.i32()?))
        };
        f.u32()?; // media rate
        if media_time < -1 {
            return Err(malformed(
                at,
                format!("'elst' media time {media_time} is neither -1 nor non-negative"),
            ));
        }
        edits.push((duration, media_time));
        if media_time >= 0 {
            break;
        }
    }
    Ok(edits)
}

/// The first sample description of a video track: what it is and what the decoder needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SampleEntry {
    /// The sample entry type as stored (`avc1`, `vp09`, ...).
    pub(super) tag: &'static str,
    pub(super) codec: Codec,
    /// Parameter sets and NAL length size (H.264/HEVC).
    pub(super) config: Option<NalConfig>,
    pub(super) width: u16,
    pub(super) height: u16,
}

const SUPPORTED: &[(&[u8; 4], &str, Codec)] = &[
    (b"avc1", "avc1", Codec::H264),
    (b"avc3", "avc3", Codec::H264),
    (b"hvc1", "hvc1", Codec::Hevc),
    (b"hev1", "hev1", Codec::Hevc),
    (b"vp08", "vp08", Codec::Vp8),
    (b"vp09", "vp09", Codec::Vp9),
    (b"av01", "av01", Codec::Av1),
];

/// The largest `avcC`/`hvcC` record read: the parameter sets inserted before each key frame.
pub(crate) const MAX_CONFIG_RECORD: usize = crate::container::MAX_CONFIG_RECORD;

/// Bytes of a `VisualSampleEntry` before its child boxes (ISO/IEC 14496-12 §12.1.3).
const VISUAL_ENTRY_FIELDS: usize = 78;

/// `stsd`: the first sample entry, its codec and (H.264/HEVC) parameter sets.
///
/// # Errors
/// No entry; an encrypted (`encv`) or unsupported entry, named; a missing or malformed
/// `avcC`/`hvcC`.
pub(super) fn stsd(body: &[u8], at: u64) -> Result<SampleEntry> {
    let mut f = Fields::new(body, "stsd", at);
    f.version_flags()?;
    if f.u32()? == 0 {
        return Err(malformed(
            at,
            "the video track has no sample description (stsd)",
        ));
    }
    let size = f.u32()?;
    let kind: [u8; 4] = f.array()?;
    let entry_len = usize::try_from(size)
        .ok()
        .and_then(|s| s.checked_sub(8))
        .ok_or_else(|| {
            malformed(
                at,
                format!("sample entry '{}' declares {size} bytes", name(&kind)),
            )
        })?;
    let entry = f.take(entry_len)?;
    if &kind == b"encv" {
        return Err(unsupported(
            "the MP4 video track is encrypted (sample entry 'encv'); encrypted tracks are not \
             supported",
        ));
    }
    let Some(&(_, tag, codec)) = SUPPORTED.iter().find(|(k, _, _)| **k == kind) else {
        return Err(unsupported(format!(
            "MP4 video codec '{}' is not supported; supported: avc1, avc3 (h264), hvc1, hev1 \
             (hevc), vp08, vp09, av01",
            name(&kind)
        )));
    };
    let mut v = Fields::new(entry, "stsd", at);
    v.skip(24)?;
    let width = v.u16()?;
    let height = v.u16()?;
    v.skip(VISUAL_ENTRY_FIELDS - 28)?;
    let wanted: Option<&[u8; 4]> = match codec {
        Codec::H264 => Some(b"avcC"),
        Codec::Hevc => Some(b"hvcC"),
        _ => None,
    };
    let config = match wanted {
        None => None,
        Some(wanted) => {
            let record = child(v.rest(), wanted, at)?.ok_or_else(|| {
                malformed(
                    at,
                    format!("sample entry '{tag}' has no '{}' box", name(wanted)),
                )
            })?;
            // Parameter sets go before key frames: their size is capped (real records are
            // well under 1 KiB) and their repetition bounded (see `nal`).
            if record.len() > MAX_CONFIG_RECORD {
                return Err(limit_exceeded(
                    format!("the '{}' record of {} bytes", name(wanted), record.len()),
                    MAX_CONFIG_RECORD as u64,
                ));
            }
            let parsed = if codec == Codec::H264 {
                NalConfig::parse_avcc(record)
            } else {
                NalConfig::parse_hvcc(record)
            };
            Some(parsed.map_err(|e| match e {
                ReadError::Input(InputError::Malformed { what, .. }) => malformed(at, what),
                other => other,
            })?)
        }
    };
    Ok(SampleEntry {
        tag,
        codec,
        config,
        width,
        height,
    })
}

/// The body of the first child box `kind` among the boxes that fill `bytes`.
fn child<'a>(mut bytes: &'a [u8], kind: &[u8; 4], at: u64) -> Result<Option<&'a [u8]>> {
    while bytes.len() >= 8 {
        let HeaderRead::Header(h) = read_header(bytes, at)? else {
            break;
        };
        let size = match h.size {
            None => bytes.len(),
            Some(s) => usize::try_from(s).unwrap_or(usize::MAX),
        };
        let header = usize::try_from(h.header_len).unwrap_or(usize::MAX);
        let Some(body) = bytes.get(header..size) else {
            return Err(malformed(
                at,
                format!(
                    "box '{}' inside the sample entry declares {size} bytes, {} remain",
                    name(&h.kind),
                    bytes.len()
                ),
            ));
        };
        if &h.kind == kind {
            return Ok(Some(body));
        }
        bytes = bytes.get(size..).unwrap_or(&[]);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_need_their_bytes_and_refuse_sizes_below_the_header() {
        assert_eq!(read_header(b"\0\0\0", 0).unwrap(), HeaderRead::Need(8));
        assert_eq!(
            read_header(b"\0\0\0\x01mdat\0\0", 0).unwrap(),
            HeaderRead::Need(16)
        );
        let h = read_header(b"\0\0\0\x01mdat\0\0\0\x01\0\0\0\0", 0).unwrap();
        assert_eq!(
            h,
            HeaderRead::Header(BoxHeader {
                kind: *b"mdat",
                header_len: 16,
                size: Some(1 << 32)
            })
        );
        let h = read_header(b"\0\0\0\0free", 0).unwrap();
        assert!(matches!(
            h,
            HeaderRead::Header(BoxHeader { size: None, .. })
        ));
        let err = read_header(b"\0\0\0\x07moov", 99).unwrap_err().to_string();
        assert!(err.contains("99") && err.contains("moov"), "{err}");
        assert!(read_header(b"\0\0\0\x01mdat\0\0\0\0\0\0\0\x0f", 0).is_err());
    }

    #[test]
    fn short_bodies_are_errors_naming_the_box() {
        let err = tkhd_track_id(&[0, 0, 0, 0, 1], 40).unwrap_err().to_string();
        assert!(err.contains("tkhd") && err.contains("40"), "{err}");
        assert!(tfhd(&[0, 0, 0, 0x08, 0, 0, 0, 1], 0).is_err()); // duration flag, no field
        let t = tfhd(&[0, 2, 0, 0x10, 0, 0, 0, 7, 0, 0, 1, 0], 0).unwrap();
        assert_eq!(
            (t.track_id, t.size, t.default_base_is_moof),
            (7, Some(256), true)
        );
    }

    #[test]
    fn edit_lists_stop_at_the_first_real_edit_and_refuse_undefined_media_times() {
        let mut body = vec![0, 0, 0, 0, 0, 0, 0, 3];
        for (d, t) in [(10u32, -1i32), (20, 512), (30, 7)] {
            body.extend_from_slice(&d.to_be_bytes());
            body.extend_from_slice(&t.to_be_bytes());
            body.extend_from_slice(&[0, 1, 0, 0]);
        }
        assert_eq!(elst(&body, 0).unwrap(), vec![(10, -1), (20, 512)]);
        body[12..16].copy_from_slice(&(-2i32).to_be_bytes());
        assert!(elst(&body, 0).is_err());
    }
}
