//! [`AnnexBDemux`]: the Annex-B access-unit splitter as a sans-I/O [`Demux`], for streams that
//! arrive in pieces.
//!
//! Invariant: fed the same bytes in any chunking, it hands out the same packets, and the same
//! error after the same packets. It is the one Annex-B boundary finder:
//! [`AccessUnits`](super::AccessUnits) runs it over a whole slice (`slice_cuts.rs`). A packet is complete when the first NAL unit of the next access unit has
//! begun (its start code and the one to three header bytes that classify it have arrived), or
//! at the end of the stream; so a live feed gets each picture one NAL header after it ends,
//! not one picture later.
//!
//! Why it re-reads nothing: the state between steps is where the access unit's NAL units were
//! scanned up to (`search`), so each byte is scanned for start codes once whatever the chunk
//! sizes, and work is O(bytes).
//!
//! Memory: the window it asks for is the access unit plus the next NAL's first bytes, at most
//! [`MAX_ACCESS_UNIT`] bytes; a longer access unit is refused as
//! [`InputError::LimitExceeded`]. Its own state is a few integers.
//!
//! Index: made with [`AnnexBDemux::indexing`], it also builds the stream's [`SampleIndex`]
//! as the packets go by (see [`index`](super::index) for what each entry holds and the
//! memory it takes); once the last packet is out the index is complete, and
//! [`seek_to_sample`](Demux::seek_to_sample) restarts the splitter at any sample's first
//! byte. Packets handed out after that carry the index's pts (display rank) and key flag.

use super::super::InputError;
use super::super::demux::{Demux, PacketInfo, SampleIndex, Step};
use super::super::start_code;
use super::index::RawIndexer;
use super::{NalClass, Syntax};
use crate::slice_cuts::{SliceCutter, step_copying};
use crate::track::ContainerTrack;
use crate::{Codec, ReadError, Result};

/// The largest access unit accepted (64 MiB): far above a compressed picture of any level
/// NVDEC decodes; the driver's window bound for Annex-B input.
pub(crate) const MAX_ACCESS_UNIT: usize = 64 << 20;

/// The sans-I/O Annex-B splitter. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct AnnexBDemux {
    syntax: Syntax,
    /// The first start code was found; the input now begins with the current access unit.
    started: bool,
    /// Bytes skipped before the first start code.
    skipped: u64,
    /// Absolute offset of the `00 00 01` of the current access unit's first NAL unit.
    first: u64,
    /// Absolute offset of the `00 00 01` of the NAL unit being looked at.
    nal: u64,
    /// Absolute offset from which to search for the next start code (before it: scanned).
    search: u64,
    /// The NAL unit at `nal` was taken into the current access unit (classified, counted).
    applied: bool,
    /// The current access unit holds a slice.
    has_vcl: bool,
    /// The current access unit holds an IDR (H.264) or IRAP (HEVC) slice.
    key: bool,
    /// Packets handed out.
    index: u64,
    /// The last packet (ending at the end of the stream) was handed out.
    ended: bool,
    /// Builds the index while packets are handed out (made by [`indexing`](Self::indexing)).
    indexer: Option<Box<RawIndexer>>,
    /// The complete index: packets take their pts and key flag from it.
    complete: Option<SampleIndex>,
}

impl AnnexBDemux {
    /// A splitter for `codec` (H.264 or HEVC).
    ///
    /// # Errors
    /// [`InputError::Unsupported`] for other codecs.
    pub(crate) fn new(codec: Codec) -> Result<Self> {
        match codec {
            Codec::H264 => Ok(Self::with_syntax(Syntax::H264)),
            Codec::Hevc => Ok(Self::with_syntax(Syntax::Hevc)),
            other => Err(InputError::unsupported(format!(
                "Annex-B access-unit splitting is defined for h264 and hevc, not {other}"
            ))
            .into()),
        }
    }

    /// A splitter for the NAL syntax `syntax`.
    pub(crate) fn with_syntax(syntax: Syntax) -> Self {
        Self {
            syntax,
            started: false,
            skipped: 0,
            first: 0,
            nal: 0,
            search: 0,
            has_vcl: false,
            applied: false,
            key: false,
            index: 0,
            ended: false,
            indexer: None,
            complete: None,
        }
    }

    /// The NAL syntax it reads.
    pub(crate) fn syntax(&self) -> Syntax {
        self.syntax
    }

    /// A splitter for `codec` that builds the stream's sample index while splitting it from
    /// its first byte; the index is complete ([`Demux::index`]) after the last packet.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub(crate) fn indexing(codec: Codec) -> Result<Self> {
        let mut demux = Self::new(codec)?;
        demux.indexer = Some(Box::new(RawIndexer::new(demux.syntax)));
        Ok(demux)
    }

    /// The last packet was handed out: the index being built is complete.
    fn end(&mut self) {
        self.ended = true;
        if let Some(indexer) = self.indexer.take() {
            self.complete = Some(indexer.finish());
        }
    }

    /// Whether a NAL unit with header byte `header` is a random-access slice.
    fn is_key(&self, header: u8) -> bool {
        match self.syntax {
            Syntax::H264 => header & 0x1f == 5,
            Syntax::Hevc => (16..=23).contains(&((header >> 1) & 0x3f)),
        }
    }

    /// Classifies the NAL unit whose body begins at `body` of `input` from its leading
    /// non-zero bytes alone, when they decide it: a NAL unit can only end at a start code,
    /// which begins with a zero byte, so bytes up to the first zero are surely its own and
    /// surely not trailing zeros. `None` when more of the unit is needed.
    fn classify_early(&self, input: &[u8], body: usize, offset: u64) -> Option<(NalClass, u8)> {
        let head = input.get(body..)?;
        let head = head.get(..head.len().min(3))?;
        let nonzero = head.iter().position(|&b| b == 0).unwrap_or(head.len());
        let head = head.get(..nonzero)?;
        let class = self.syntax.classify(head, offset).ok()?;
        Some((class, *head.first()?))
    }

    /// Hands out `input[..end]`, which begins at absolute offset `pos`, as the next packet.
    fn emit(&mut self, input: &[u8], pos: u64, end: usize) -> Result<Step> {
        let data = input.get(..end).ok_or_else(|| internal(end, input.len()))?;
        if let Some(indexer) = &mut self.indexer {
            indexer.push(data, pos);
        }
        let mut info = PacketInfo {
            pts: i64::try_from(self.index).unwrap_or(i64::MAX),
            key: self.key,
            index: self.index,
        };
        if let Some(index) = &self.complete {
            let sample = usize::try_from(self.index).unwrap_or(usize::MAX);
            if let Some(pts) = index.pts(sample) {
                info.pts = pts;
                info.key = index.is_key(sample);
            }
        }
        self.index = self.index.saturating_add(1);
        self.has_vcl = false;
        self.applied = false;
        self.key = false;
        self.first = self.nal;
        self.search = self.nal.saturating_add(3);
        Ok(Step::Packet {
            consumed: end,
            info,
        })
    }

    /// Before the first start code: skip what cannot belong to a stream.
    fn find_first(&mut self, input: &[u8], pos: u64, eof: bool) -> Result<Step> {
        match start_code::find(input, 0) {
            Some(prefix) => {
                let cut = cut_before(input, prefix);
                self.started = true;
                self.first = pos.saturating_add(prefix as u64);
                self.nal = self.first;
                self.search = self.first.saturating_add(3);
                self.skipped = self.skipped.saturating_add(cut as u64);
                Ok(Step::Consumed(cut))
            }
            None if eof => {
                let seen = self.skipped.saturating_add(input.len() as u64);
                if seen == 0 {
                    self.end();
                    return Ok(Step::End);
                }
                self.ended = true;
                Err(InputError::malformed_at(
                    0,
                    format!(
                        "no Annex-B start code (00 00 01) in {seen} bytes: not an {} \
                         elementary stream",
                        self.syntax.codec()
                    ),
                )
                .into())
            }
            // Keep the last three bytes: a start code (and a 4-byte one's zero byte) may
            // begin among them.
            None => match input.len().checked_sub(3) {
                Some(skip) if skip > 0 => {
                    self.skipped = self.skipped.saturating_add(skip as u64);
                    Ok(Step::Consumed(skip))
                }
                _ => Ok(Step::NeedMore(input.len().saturating_add(1))),
            },
        }
    }

    /// More bytes are needed to go on; refused past [`MAX_ACCESS_UNIT`].
    fn need_more(&self, have: usize, pos: u64) -> Result<Step> {
        let codec = self.syntax.codec();
        start_code::need_more(
            have,
            MAX_ACCESS_UNIT,
            format_args!("{codec} access unit"),
            pos,
        )
    }
}

/// Where a packet must begin for the NAL unit whose `00 00 01` is at `prefix` of `input`:
/// one byte earlier when that byte is a 4-byte start code's zero byte.
fn cut_before(input: &[u8], prefix: usize) -> usize {
    match prefix.checked_sub(1) {
        Some(before) if input.get(before) == Some(&0) => before,
        _ => prefix,
    }
}

/// `input[from..to]` without trailing zero bytes.
fn trimmed(input: &[u8], from: usize, to: usize) -> &[u8] {
    let raw = input.get(from..to).unwrap_or(&[]);
    let len = raw
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last.saturating_add(1));
    raw.get(..len).unwrap_or(&[])
}

fn internal(at: impl std::fmt::Display, len: usize) -> ReadError {
    start_code::outside_window("Annex-B", at, len)
}

impl SliceCutter for AnnexBDemux {
    fn cut(&mut self, input: &[u8], pos: u64, eof: bool) -> Result<Step> {
        if self.ended {
            return Ok(Step::End);
        }
        if !self.started {
            return self.find_first(input, pos, eof);
        }
        if eof && input.is_empty() {
            self.end();
            return Ok(Step::End);
        }
        let rel = |abs: u64| start_code::in_window("Annex-B", abs, pos, input);
        loop {
            let nal = rel(self.nal)?;
            let body = nal.saturating_add(start_code::PREFIX.len());
            let offset = self.nal.saturating_add(start_code::PREFIX.len() as u64);
            let from = body.max(rel(self
                .search
                .min(pos.saturating_add(input.len() as u64)))?);
            let mut next = None;
            if !self.applied {
                let classified = match self.classify_early(input, body, offset) {
                    Some(found) => Ok(found),
                    None => {
                        next = start_code::find(input, from);
                        let end = match next {
                            Some(n) => n,
                            None if eof => input.len(),
                            None => {
                                self.search = pos
                                    .saturating_add(input.len().saturating_sub(2) as u64)
                                    .max(offset);
                                return self.need_more(input.len(), pos);
                            }
                        };
                        let unit = trimmed(input, body, end);
                        self.syntax
                            .classify(unit, offset)
                            .map(|class| (class, unit.first().copied().unwrap_or(0)))
                    }
                };
                let (class, header) = match classified {
                    Ok(found) => found,
                    Err(e) if self.nal == self.first => {
                        self.ended = true;
                        return Err(e);
                    }
                    // Hand out the access unit read so far; the next step meets the error again
                    // as the first NAL unit of its access unit.
                    Err(_) => return self.emit(input, pos, cut_before(input, nal)),
                };
                if class.starts_au && self.has_vcl {
                    return self.emit(input, pos, cut_before(input, nal));
                }
                self.has_vcl |= class.vcl;
                self.key |= class.vcl && self.is_key(header);
                self.applied = true;
            }
            let next = match next {
                Some(n) => Some(n),
                None => start_code::find(input, from),
            };
            match next {
                Some(n) => {
                    self.nal = pos.saturating_add(n as u64);
                    self.search = self.nal.saturating_add(3);
                    self.applied = false;
                }
                None if eof => {
                    let step = self.emit(input, pos, input.len())?;
                    self.end();
                    return Ok(step);
                }
                None => {
                    self.search = pos
                        .saturating_add(input.len().saturating_sub(2) as u64)
                        .max(offset);
                    return self.need_more(input.len(), pos);
                }
            }
        }
    }
}

impl Demux for AnnexBDemux {
    fn step(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step> {
        step_copying(self, input, pos, eof, out)
    }

    fn codec(&self) -> Option<Codec> {
        Some(self.syntax.codec())
    }

    fn track(&self) -> Option<&ContainerTrack> {
        None
    }

    fn index(&self) -> Option<&SampleIndex> {
        self.complete.as_ref()
    }

    fn seek_to_sample(&mut self, sample: usize) -> Result<u64> {
        let codec = self.syntax.codec();
        let index = self.complete.as_ref().ok_or_else(|| {
            ReadError::from(InputError::unsupported(format!(
                "seeking to sample {sample}: this raw {codec} stream has not been indexed \
                 (ElementaryStream::build_index scans it once)"
            )))
        })?;
        let offset = index.offset(sample).ok_or_else(|| {
            ReadError::from(InputError::sample_out_of_range(
                sample,
                index.len(),
                format!("seeking in a raw {codec} stream"),
            ))
        })?;
        // The state of a splitter at the start of a stream whose first byte is the sample's:
        // access units are cut from local information only, so the packets that follow are
        // exactly those of a whole-stream pass.
        self.started = false;
        self.skipped = 0;
        self.first = offset;
        self.nal = offset;
        self.search = offset;
        self.applied = false;
        self.has_vcl = false;
        self.key = false;
        self.index = sample as u64;
        self.ended = false;
        Ok(offset)
    }

    fn max_window(&self) -> usize {
        MAX_ACCESS_UNIT
    }

    fn heap_bytes(&self) -> usize {
        let building = self.indexer.as_ref().map_or(0, |i| i.heap_bytes());
        self.complete
            .as_ref()
            .map_or(0, SampleIndex::heap_bytes)
            .saturating_add(building)
    }
}
