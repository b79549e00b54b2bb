//! Reading IVF files (VP8, VP9, AV1).
//!
//! Invariant: [`IvfReader::new`] accepts only a well-formed 32-byte-or-longer header with a
//! known fourcc, and [`IvfFrames`] yields frames whose bytes lie wholly inside the input; it
//! never panics, and a truncated or corrupt frame header is reported (frame index, offset,
//! bytes missing) and ends the iteration.
//!
//! Layout (all little-endian): a header of `DKIF`, u16 version, u16 header length, fourcc,
//! u16 width, u16 height, u32 timebase denominator (frame rate), u32 timebase numerator
//! (scale), u32 frame count, u32 unused; then, from the header length on, frames of a
//! 12-byte header (u32 size, u64 pts) followed by `size` bytes.
//!
//! Lenient where tools disagree: any version is accepted, the frame count is informational
//! (writers often leave it 0 or stale), a zero width/height is allowed, and a zero-size frame
//! is yielded as an empty packet.

use std::iter::FusedIterator;

mod demux;
mod key;

pub(crate) use demux::IvfDemux;

use super::InputError;
use super::Packet;
use crate::{Codec, ReadError, Result};

/// Size of the fixed part of the file header; `header_len` may be larger, never smaller.
pub const HEADER_LEN: usize = 32;
/// Size of each frame's header (u32 size, u64 pts).
pub const FRAME_HEADER_LEN: usize = 12;
/// Largest frame size accepted (256 MiB), far above any real compressed picture; a larger
/// size field means a corrupt file, and is reported as such rather than as a truncation.
pub const MAX_FRAME_SIZE: u32 = 256 << 20;

/// The file magic.
const MAGIC: &[u8; 4] = b"DKIF";

/// The parsed IVF file header.
///
/// Invariant: `codec` is the one named by `fourcc`, and `header_len >= 32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfHeader {
    /// Format version (0 in every known writer; not checked).
    pub version: u16,
    /// Offset of the first frame header, at least [`HEADER_LEN`].
    pub header_len: u16,
    /// The fourcc as stored (`VP80`, `VP90` or `AV01`).
    pub fourcc: [u8; 4],
    /// The codec the fourcc names.
    pub codec: Codec,
    /// Frame width in pixels, as the writer declared it (may be 0).
    pub width: u16,
    /// Frame height in pixels, as the writer declared it (may be 0).
    pub height: u16,
    /// Timebase numerator: one pts tick lasts `timebase_num / timebase_den` seconds.
    pub timebase_num: u32,
    /// Timebase denominator (for constant-rate files, the frame rate).
    pub timebase_den: u32,
    /// Number of frames the writer declared; informational only, often 0 or stale.
    pub frame_count: u32,
}

/// Little-endian u16 at `at`; callers have checked that `data` holds [`HEADER_LEN`] bytes.
fn le_u16(data: &[u8], at: usize) -> u16 {
    let mut b = [0u8; 2];
    if let Some(src) = data.get(at..at.saturating_add(2)) {
        b.copy_from_slice(src);
    }
    u16::from_le_bytes(b)
}

/// Little-endian u32 at `at`, as [`le_u16`].
fn le_u32(data: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(src) = data.get(at..at.saturating_add(4)) {
        b.copy_from_slice(src);
    }
    u32::from_le_bytes(b)
}

/// Names a fourcc for error messages, escaping non-printable bytes.
fn show_fourcc(fourcc: [u8; 4]) -> String {
    fourcc.escape_ascii().to_string()
}

impl IvfHeader {
    /// Parses the header at the start of `data`, checking the magic, fourcc and header length
    /// against `data.len()`.
    ///
    /// # Errors
    /// [`InputError::Unrecognized`] without the `DKIF` magic; [`InputError::Unsupported`]
    /// for a fourcc other than `VP80`, `VP90` or `AV01`; [`InputError::Truncated`] when
    /// `data` is shorter than the 32-byte header or the header length it declares;
    /// [`InputError::Malformed`] for a declared header length under 32 bytes.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let header = Self::parse_fixed(data)?;
        if usize::from(header.header_len) > data.len() {
            return Err(InputError::truncated(
                0,
                format!(
                    "IVF header length {} runs past the end of the {}-byte file",
                    header.header_len,
                    data.len()
                ),
            )
            .into());
        }
        Ok(header)
    }

    /// Parses the fixed 32-byte header at the start of `data`, without checking the header
    /// length against `data.len()` (the streaming reader waits for those bytes instead).
    pub(crate) fn parse_fixed(data: &[u8]) -> Result<Self> {
        let fixed = data.get(..HEADER_LEN).ok_or_else(|| {
            ReadError::from(InputError::truncated(
                0,
                format!(
                    "IVF header truncated: {HEADER_LEN} bytes needed, the file has {}",
                    data.len()
                ),
            ))
        })?;
        let mut magic = [0u8; 4];
        magic.copy_from_slice(fixed.get(..4).unwrap_or(&[0; 4]));
        if &magic != MAGIC {
            return Err(InputError::Unrecognized {
                what: format!(
                    "not an IVF file: magic is \"{}\", expected \"DKIF\"",
                    show_fourcc(magic)
                ),
            }
            .into());
        }
        let mut fourcc = [0u8; 4];
        fourcc.copy_from_slice(fixed.get(8..12).unwrap_or(&[0; 4]));
        let codec = match &fourcc {
            b"VP80" => Codec::Vp8,
            b"VP90" => Codec::Vp9,
            b"AV01" => Codec::Av1,
            _ => {
                return Err(InputError::unsupported(format!(
                    "IVF fourcc \"{}\" is not supported; supported: VP80 (vp8), VP90 (vp9), \
                     AV01 (av1)",
                    show_fourcc(fourcc)
                ))
                .into());
            }
        };
        let header_len = le_u16(fixed, 6);
        if usize::from(header_len) < HEADER_LEN {
            return Err(InputError::malformed_at(
                6,
                format!(
                    "IVF header length {header_len} is shorter than the {HEADER_LEN}-byte fixed \
                     header"
                ),
            )
            .into());
        }
        Ok(Self {
            version: le_u16(fixed, 4),
            header_len,
            fourcc,
            codec,
            width: le_u16(fixed, 12),
            height: le_u16(fixed, 14),
            timebase_den: le_u32(fixed, 16),
            timebase_num: le_u32(fixed, 20),
            frame_count: le_u32(fixed, 24),
        })
    }
}

/// A parsed IVF file: its header plus the bytes its frames are read from.
///
/// Invariant: the header was validated against these bytes, so [`IvfReader::frames`] starts
/// inside them.
#[derive(Debug, Clone, Copy)]
pub struct IvfReader<'a> {
    header: IvfHeader,
    data: &'a [u8],
}

impl<'a> IvfReader<'a> {
    /// Parses the header of the IVF file `data` (the whole file).
    ///
    /// # Errors
    /// As [`IvfHeader::parse`].
    pub fn new(data: &'a [u8]) -> Result<Self> {
        let header = IvfHeader::parse(data)?;
        Ok(Self { header, data })
    }

    /// The file header.
    pub fn header(&self) -> &IvfHeader {
        &self.header
    }

    /// The frames, in file order; each pass starts again from the first frame.
    pub fn frames(&self) -> IvfFrames<'a> {
        IvfFrames::starting_at(self.data, usize::from(self.header.header_len))
    }
}

/// Iterator over the frames of an IVF file, as [`Packet`]s borrowing its bytes.
///
/// Invariant: each frame's data lies inside the file and frames are yielded in file order,
/// back to back; iteration ends at the end of the file, or after the first `Err` (a
/// truncated frame header or frame, or an absurd frame size).
#[derive(Debug, Clone)]
pub struct IvfFrames<'a> {
    data: &'a [u8],
    offset: usize,
    index: u64,
    done: bool,
}

impl<'a> IvfFrames<'a> {
    /// Frames of the file `data` whose first frame header is at `offset`.
    pub(crate) fn starting_at(data: &'a [u8], offset: usize) -> Self {
        Self {
            data,
            offset,
            index: 0,
            done: false,
        }
    }

    fn read_frame(&mut self) -> Result<Option<Packet<'a>>> {
        let (index, offset) = (self.index, self.offset);
        let rest = self.data.get(offset..).unwrap_or(&[]);
        let Some((packet, len)) = parse_frame(rest, index, offset as u64)? else {
            return Ok(None);
        };
        // In bounds: the frame ends inside `self.data`, which is no longer than usize::MAX.
        self.offset = offset.saturating_add(len);
        self.index += 1;
        Ok(Some(packet))
    }
}

/// The frame at the start of `rest` (frame `index`, at absolute byte offset `offset`) and the
/// bytes it spans with its header; `None` when `rest` is empty.
pub(crate) fn parse_frame(
    rest: &[u8],
    index: u64,
    offset: u64,
) -> Result<Option<(Packet<'_>, usize)>> {
    {
        if rest.is_empty() {
            return Ok(None);
        }
        let frame_header = rest.get(..FRAME_HEADER_LEN).ok_or_else(|| {
            ReadError::from(InputError::truncated(
                offset,
                format!(
                    "IVF frame {index}: frame header truncated, {FRAME_HEADER_LEN} bytes needed, \
                     {} present ({} missing)",
                    rest.len(),
                    FRAME_HEADER_LEN.saturating_sub(rest.len())
                ),
            ))
        })?;
        let size = le_u32(frame_header, 0);
        let mut pts = [0u8; 8];
        pts.copy_from_slice(frame_header.get(4..12).unwrap_or(&[0; 8]));
        let pts = i64::from_le_bytes(pts);
        if size > MAX_FRAME_SIZE {
            return Err(InputError::limit(
                format!(
                    "IVF frame {index} at byte offset {offset}: frame size {size} bytes \
                     (corrupt frame header?)"
                ),
                u64::from(MAX_FRAME_SIZE),
            )
            .into());
        }
        let size = usize::try_from(size).map_err(|_| {
            ReadError::from(InputError::limit(
                format!("IVF frame {index} at byte offset {offset}: frame size {size} bytes"),
                usize::MAX as u64,
            ))
        })?;
        let payload = rest.get(FRAME_HEADER_LEN..).unwrap_or(&[]);
        let data = payload.get(..size).ok_or_else(|| {
            ReadError::from(InputError::truncated(
                offset,
                format!(
                    "IVF frame {index} is truncated: its header says {size} bytes, {} present \
                     ({} missing)",
                    payload.len(),
                    size.saturating_sub(payload.len())
                ),
            ))
        })?;
        Ok(Some((
            Packet { data, pts },
            FRAME_HEADER_LEN.saturating_add(size),
        )))
    }
}

impl<'a> Iterator for IvfFrames<'a> {
    type Item = Result<Packet<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_frame() {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl FusedIterator for IvfFrames<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fourcc: &[u8; 4], header_len: u16) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(b"DKIF");
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&header_len.to_le_bytes());
        h.extend_from_slice(fourcc);
        h.extend_from_slice(&352u16.to_le_bytes());
        h.extend_from_slice(&288u16.to_le_bytes());
        h.extend_from_slice(&30u32.to_le_bytes()); // timebase denominator
        h.extend_from_slice(&1u32.to_le_bytes()); // timebase numerator
        h.extend_from_slice(&2u32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.resize(usize::from(header_len).max(h.len()), 0xee);
        h
    }

    fn push_frame(file: &mut Vec<u8>, pts: i64, data: &[u8]) {
        file.extend_from_slice(&(data.len() as u32).to_le_bytes());
        file.extend_from_slice(&pts.to_le_bytes());
        file.extend_from_slice(data);
    }

    #[test]
    fn header_fields_are_read_little_endian() {
        let file = header(b"VP90", 32);
        let h = *IvfReader::new(&file).unwrap().header();
        assert_eq!(
            h,
            IvfHeader {
                version: 0,
                header_len: 32,
                fourcc: *b"VP90",
                codec: Codec::Vp9,
                width: 352,
                height: 288,
                timebase_num: 1,
                timebase_den: 30,
                frame_count: 2,
            }
        );
    }

    #[test]
    fn each_known_fourcc_names_its_codec() {
        for (fourcc, codec) in [
            (b"VP80", Codec::Vp8),
            (b"VP90", Codec::Vp9),
            (b"AV01", Codec::Av1),
        ] {
            assert_eq!(IvfHeader::parse(&header(fourcc, 32)).unwrap().codec, codec);
        }
    }

    #[test]
    fn frames_carry_their_pts_and_bytes() {
        let mut file = header(b"AV01", 32);
        push_frame(&mut file, 0, &[1, 2, 3]);
        push_frame(&mut file, 1, &[]);
        push_frame(&mut file, -5, &[4]);
        let frames: Vec<_> = IvfReader::new(&file)
            .unwrap()
            .frames()
            .map(|f| f.unwrap())
            .collect();
        assert_eq!(
            frames,
            vec![
                Packet {
                    data: &[1, 2, 3],
                    pts: 0
                },
                Packet { data: &[], pts: 1 },
                Packet {
                    data: &[4],
                    pts: -5
                },
            ]
        );
    }

    #[test]
    fn frames_start_after_a_longer_header() {
        let mut file = header(b"VP80", 40);
        push_frame(&mut file, 7, &[9, 9]);
        let reader = IvfReader::new(&file).unwrap();
        let frames: Vec<_> = reader.frames().map(|f| f.unwrap()).collect();
        assert_eq!(
            frames,
            vec![Packet {
                data: &[9, 9],
                pts: 7
            }]
        );
    }

    #[test]
    fn a_truncated_last_frame_is_reported_with_its_index_and_missing_bytes() {
        let mut file = header(b"VP90", 32);
        push_frame(&mut file, 0, &[1; 10]);
        push_frame(&mut file, 1, &[2; 10]);
        file.truncate(file.len() - 4);
        let mut frames = IvfReader::new(&file).unwrap().frames();
        assert_eq!(frames.next().unwrap().unwrap().data, &[1; 10]);
        let err = frames.next().unwrap().unwrap_err().to_string();
        assert!(err.contains("frame 1"), "{err}");
        assert!(err.contains("byte offset 54"), "{err}");
        assert!(err.contains("10 bytes, 6 present (4 missing)"), "{err}");
        assert!(frames.next().is_none());
    }

    #[test]
    fn a_truncated_frame_header_is_reported() {
        let mut file = header(b"VP90", 32);
        file.extend_from_slice(&[5, 0, 0]);
        let err = IvfReader::new(&file)
            .unwrap()
            .frames()
            .next()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(err.contains("frame 0"), "{err}");
        assert!(err.contains("3 present (9 missing)"), "{err}");
    }

    #[test]
    fn an_absurd_frame_size_is_reported_as_corruption() {
        let mut file = header(b"VP90", 32);
        file.extend_from_slice(&u32::MAX.to_le_bytes());
        file.extend_from_slice(&0u64.to_le_bytes());
        let err = IvfReader::new(&file)
            .unwrap()
            .frames()
            .next()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(err.contains("exceeds"), "{err}");
    }

    #[test]
    fn bad_magic_unknown_fourcc_and_bad_header_lengths_are_rejected() {
        let mut bad_magic = header(b"VP90", 32);
        bad_magic[0] = b'X';
        let msg = |file: &[u8]| IvfReader::new(file).unwrap_err().to_string();
        assert!(msg(&bad_magic).contains("magic"));
        assert!(msg(&header(b"H264", 32)).contains("\"H264\" is not supported"));
        let mut short_len = header(b"VP90", 32);
        short_len[6] = 16;
        assert!(msg(&short_len).contains("shorter than"));
        let mut long_len = header(b"VP90", 32);
        long_len[6] = 64;
        assert!(msg(&long_len).contains("past the end"));
        assert!(msg(&header(b"VP90", 32)[..31]).contains("truncated"));
        assert!(msg(&[]).contains("truncated"));
    }
}
