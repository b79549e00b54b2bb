//! Program-specific information: PAT and PMT sections reassembled from TS packet payloads,
//! CRC-checked and parsed.
//!
//! Invariant: a section is handed on only when all of its bytes arrived in order (no
//! continuity-counter gap inside it) and its CRC-32 matches; anything else is dropped and
//! counted by the caller. A section buffer never holds more than [`MAX_SECTION`] bytes.

use crate::Codec;

/// The largest PSI section: 3 header bytes and a `section_length` of at most 1021.
pub(super) const MAX_SECTION: usize = 1024;

/// MPEG-2 systems CRC-32 (polynomial 0x04C11DB7, initial value all ones, no reflection) of
/// `data`; a section whose CRC field is included checks to 0.
pub(super) fn crc32(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// One PID's section being reassembled.
#[derive(Debug, Default)]
pub(super) struct SectionBuffer {
    buf: Vec<u8>,
    /// A section is in progress in `buf`.
    active: bool,
    /// The last continuity counter seen on this PID.
    last_cc: Option<u8>,
}

/// What a PSI packet gave: complete sections (CRC not yet checked), and whether one was
/// dropped for a gap.
#[derive(Debug, Default)]
pub(super) struct Sections {
    pub(super) complete: Vec<Vec<u8>>,
    pub(super) dropped: bool,
}

impl SectionBuffer {
    /// Takes one TS packet's payload on this PID (`cc`: its continuity counter, `start`: its
    /// payload_unit_start_indicator).
    pub(super) fn push(&mut self, payload: &[u8], start: bool, cc: u8) -> Sections {
        let mut out = Sections::default();
        // A repeated packet is taken again: a section it completes is the same version
        // (ignored), and one it continues fails its CRC and waits for the next repetition.
        let expected = self.last_cc.map(|c| (c + 1) & 0x0f);
        self.last_cc = Some(cc);
        if expected.is_some_and(|e| e != cc) && self.active {
            self.active = false;
            out.dropped = true;
        }
        let mut data = payload;
        if start {
            let Some((&pointer, rest)) = data.split_first() else {
                return out;
            };
            let pointer = usize::from(pointer).min(rest.len());
            let (tail, rest) = rest.split_at(pointer);
            if self.active {
                self.append(tail, &mut out);
            }
            self.active = false;
            data = rest;
            // Sections back to back until stuffing (0xFF) or the end of the payload.
            while data.first().is_some_and(|&b| b != 0xff) {
                self.buf.clear();
                self.active = true;
                let used = self.append(data, &mut out);
                data = data.get(used..).unwrap_or(&[]);
                if self.active {
                    break;
                }
            }
        } else if self.active {
            self.append(data, &mut out);
        }
        out
    }

    /// Appends what belongs to the section in progress; returns the bytes used.
    fn append(&mut self, data: &[u8], out: &mut Sections) -> usize {
        let mut used = 0;
        if self.buf.len() < 3 {
            let take = (3 - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(data.get(..take).unwrap_or(&[]));
            used = take;
            if self.buf.len() < 3 {
                return used;
            }
        }
        let total = match self.buf.get(1..3) {
            Some(&[hi, lo]) => 3 + (usize::from(hi & 0x0f) << 8 | usize::from(lo)),
            _ => return used,
        };
        if total > MAX_SECTION {
            self.active = false;
            out.dropped = true;
            return data.len();
        }
        let take = total.saturating_sub(self.buf.len()).min(data.len() - used);
        self.buf
            .extend_from_slice(data.get(used..used + take).unwrap_or(&[]));
        used += take;
        if self.buf.len() == total {
            out.complete.push(std::mem::take(&mut self.buf));
            self.active = false;
        }
        used
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }
}

/// The fixed 8-byte long-section header and the body before the CRC, once the CRC checked.
pub(super) struct Section<'a> {
    pub(super) table_id: u8,
    /// `transport_stream_id` (PAT) or `program_number` (PMT).
    pub(super) id: u16,
    pub(super) version: u8,
    pub(super) current: bool,
    pub(super) body: &'a [u8],
}

/// Parses a complete section's long header; `None` when too short or its CRC fails.
pub(super) fn parse_section(section: &[u8]) -> Option<Section<'_>> {
    if section.len() < 12 || crc32(section) != 0 {
        return None;
    }
    let &[table_id, _, _, id_hi, id_lo, flags, _, _] = section.get(..8)? else {
        return None;
    };
    Some(Section {
        table_id,
        id: u16::from_be_bytes([id_hi, id_lo]),
        version: (flags >> 1) & 0x1f,
        current: flags & 1 == 1,
        body: section.get(8..section.len() - 4)?,
    })
}

/// A PAT's `(program_number, PMT PID)` pairs, the network PID entry (program 0) left out.
pub(super) fn pat_programs(body: &[u8]) -> Vec<(u16, u16)> {
    body.chunks_exact(4)
        .filter_map(|e| match *e {
            [a, b, c, d] => Some((u16::from_be_bytes([a, b]), pid(c, d))),
            _ => None,
        })
        .filter(|&(program, _)| program != 0)
        .collect()
}

fn pid(hi: u8, lo: u8) -> u16 {
    u16::from_be_bytes([hi & 0x1f, lo])
}

/// One elementary stream a PMT lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PmtStream {
    pub(super) stream_type: u8,
    pub(super) pid: u16,
    /// The `format_identifier` of its registration descriptor (tag 5), if any.
    pub(super) registration: Option<[u8; 4]>,
}

/// A parsed PMT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pmt {
    pub(super) program: u16,
    pub(super) version: u8,
    pub(super) pcr_pid: u16,
    pub(super) streams: Vec<PmtStream>,
}

/// Parses a PMT section's body; `None` when its lengths do not fit.
pub(super) fn parse_pmt(section: &Section<'_>) -> Option<Pmt> {
    let body = section.body;
    let &[pcr_hi, pcr_lo, info_hi, info_lo] = body.get(..4)? else {
        return None;
    };
    let info_len = usize::from(info_hi & 0x0f) << 8 | usize::from(info_lo);
    let program_registration = registration(body.get(4..4 + info_len)?);
    let mut rest = body.get(4 + info_len..)?;
    let mut streams = Vec::new();
    while rest.len() >= 5 {
        let &[stream_type, pid_hi, pid_lo, len_hi, len_lo] = rest.get(..5)? else {
            return None;
        };
        let len = usize::from(len_hi & 0x0f) << 8 | usize::from(len_lo);
        let descriptors = rest.get(5..5 + len)?;
        streams.push(PmtStream {
            stream_type,
            pid: pid(pid_hi, pid_lo),
            registration: registration(descriptors).or(program_registration),
        });
        rest = rest.get(5 + len..)?;
    }
    Some(Pmt {
        program: section.id,
        version: section.version,
        pcr_pid: pid(pcr_hi, pcr_lo),
        streams,
    })
}

/// The `format_identifier` of the first registration descriptor in `descriptors`.
fn registration(mut descriptors: &[u8]) -> Option<[u8; 4]> {
    while let [tag, len, rest @ ..] = descriptors {
        let len = usize::from(*len);
        let body = rest.get(..len)?;
        if *tag == 5 {
            if let Some(&[a, b, c, d]) = body.get(..4) {
                return Some([a, b, c, d]);
            }
        }
        descriptors = rest.get(len..)?;
    }
    None
}

/// What a PMT stream is to this reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Video this reader reads.
    Video(Codec),
    /// Video it does not read (named).
    OtherVideo(&'static str),
    /// Audio, data, subtitles: not video.
    NotVideo,
}

/// Classifies a PMT stream by its `stream_type` (ISO/IEC 13818-1 Table 2-34) and, for
/// private data (0x06), its registration descriptor.
pub(super) fn kind(stream: &PmtStream) -> Kind {
    match stream.stream_type {
        0x1b => Kind::Video(Codec::H264),
        0x24 => Kind::Video(Codec::Hevc),
        0x02 => Kind::Video(Codec::Mpeg2),
        0x06 if stream.registration == Some(*b"AV01") => Kind::Video(Codec::Av1),
        0x01 => Kind::OtherVideo("MPEG-1 video (stream_type 0x01)"),
        0x10 => Kind::OtherVideo("MPEG-4 Part 2 video (stream_type 0x10)"),
        0x1e => Kind::OtherVideo("auxiliary video (stream_type 0x1E)"),
        0x1f => Kind::OtherVideo("SVC video sub-bitstream (stream_type 0x1F)"),
        0x20 => Kind::OtherVideo("MVC video sub-bitstream (stream_type 0x20)"),
        0x21 => Kind::OtherVideo("JPEG 2000 video (stream_type 0x21)"),
        0x22 | 0x23 => Kind::OtherVideo("stereoscopic MPEG-2/H.264 video (stream_type 0x22/0x23)"),
        0x25..=0x2a => Kind::OtherVideo("layered HEVC sub-partition (stream_type 0x25-0x2A)"),
        0x32 => Kind::OtherVideo("JPEG XS video (stream_type 0x32)"),
        0x33 | 0x34 => Kind::OtherVideo("VVC video (stream_type 0x33/0x34)"),
        0x42 => Kind::OtherVideo("AVS video (stream_type 0x42)"),
        0xd1 => Kind::OtherVideo("Dirac video (stream_type 0xD1)"),
        0xea => Kind::OtherVideo("VC-1 video (stream_type 0xEA)"),
        _ => Kind::NotVideo,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_of_a_section_with_its_crc_is_zero() {
        // ffmpeg's PAT for program 1 on PMT PID 0x1000.
        let pat = [
            0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00, 0x2a, 0xb1,
            0x04, 0xb2,
        ];
        assert_eq!(crc32(&pat), 0);
        let section = parse_section(&pat).unwrap();
        assert_eq!(pat_programs(section.body), vec![(1, 0x1000)]);
        let mut bad = pat;
        bad[9] ^= 1;
        assert!(parse_section(&bad).is_none());
    }

    #[test]
    fn a_section_split_over_packets_with_a_gap_is_dropped() {
        let section = [0x02, 0xb0, 0x05, 1, 2, 3, 4, 5];
        let mut buffer = SectionBuffer::default();
        let mut first = vec![0u8];
        first.extend_from_slice(&section[..4]);
        assert!(buffer.push(&first, true, 0).complete.is_empty());
        let got = buffer.push(&section[4..], false, 2);
        assert!(got.dropped && got.complete.is_empty());
        let mut buffer = SectionBuffer::default();
        buffer.push(&first, true, 0);
        let got = buffer.push(&section[4..], false, 1);
        assert_eq!(got.complete, vec![section.to_vec()]);
    }
}
