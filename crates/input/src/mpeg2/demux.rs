//! [`Mpeg2Demux`]: the MPEG-2 picture splitter as a sans-I/O [`Demux`], for streams that arrive
//! in pieces.
//!
//! Invariant: fed the same bytes in any chunking, it hands out the same packets, and the same
//! error after the same packets. It is the one MPEG-2 boundary finder:
//! [`Mpeg2Pictures`](super::Mpeg2Pictures) runs it over a whole slice (`slice_cuts.rs`). A packet is complete when the start code that begins the next one (and
//! its code byte) has arrived, or at the end of the stream.
//!
//! Memory: the window it asks for is one packet plus four bytes, at most [`MAX_PICTURE`]
//! bytes (a longer picture is [`InputError::LimitExceeded`]); start codes are searched once
//! per byte, whatever the chunk sizes (`search` remembers how far).

use super::super::InputError;
use super::super::demux::{Demux, PacketInfo, SampleIndex, Step};
use super::super::start_code;
use super::{GROUP, PICTURE, SEQUENCE_HEADER, check_code, cut_off_start_code};
use crate::slice_cuts::{SliceCutter, step_copying};
use crate::track::ContainerTrack;
use crate::{Codec, ReadError, Result};

/// The largest packet accepted (32 MiB), far above any MPEG-2 picture (MP@HL allows well
/// under 1 MiB); the driver's window bound for MPEG-2 input.
pub(crate) const MAX_PICTURE: usize = 32 << 20;

/// The sans-I/O MPEG-2 splitter. See the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct Mpeg2Demux {
    started: bool,
    skipped: u64,
    /// Absolute offset of the current packet's first start code.
    first: u64,
    /// Absolute offset of the start code being looked at.
    code: u64,
    /// Absolute offset from which the next start code is searched.
    search: u64,
    has_picture: bool,
    /// The start code at `code` was taken into the current packet (its code byte counted).
    applied: bool,
    /// The current packet holds a sequence header (where a decoder can start).
    key: bool,
    index: u64,
    ended: bool,
}

impl Mpeg2Demux {
    /// A splitter at the start of a stream.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Hands out `input[..end]` as the next packet.
    fn emit(&mut self, input: &[u8], end: usize) -> Result<Step> {
        if end > input.len() {
            return Err(internal(end, input.len()));
        }
        let info = PacketInfo {
            pts: i64::try_from(self.index).unwrap_or(i64::MAX),
            key: self.key,
            index: self.index,
        };
        self.index = self.index.saturating_add(1);
        self.has_picture = false;
        self.applied = false;
        self.key = false;
        self.first = self.code;
        self.search = self.code.saturating_add(4);
        Ok(Step::Packet {
            consumed: end,
            info,
        })
    }

    /// More bytes are needed to go on; refused past [`MAX_PICTURE`].
    fn need_more(have: usize, pos: u64) -> Result<Step> {
        start_code::need_more(have, MAX_PICTURE, "MPEG-2 packet", pos)
    }
}

fn internal(at: impl std::fmt::Display, len: usize) -> ReadError {
    start_code::outside_window("MPEG-2", at, len)
}

impl SliceCutter for Mpeg2Demux {
    fn cut(&mut self, input: &[u8], pos: u64, eof: bool) -> Result<Step> {
        if self.ended {
            return Ok(Step::End);
        }
        if !self.started {
            return match start_code::find(input, 0) {
                Some(prefix) => {
                    self.started = true;
                    self.first = pos.saturating_add(prefix as u64);
                    self.code = self.first;
                    self.search = self.first.saturating_add(4);
                    self.skipped = self.skipped.saturating_add(prefix as u64);
                    Ok(Step::Consumed(prefix))
                }
                None if eof => {
                    self.ended = true;
                    let seen = self.skipped.saturating_add(input.len() as u64);
                    if seen == 0 {
                        return Ok(Step::End);
                    }
                    Err(InputError::malformed_at(
                        0,
                        format!(
                            "no start code (00 00 01) in {seen} bytes: not an MPEG-2 video \
                             elementary stream"
                        ),
                    )
                    .into())
                }
                None => match input.len().checked_sub(2) {
                    Some(skip) if skip > 0 => {
                        self.skipped = self.skipped.saturating_add(skip as u64);
                        Ok(Step::Consumed(skip))
                    }
                    _ => Ok(Step::NeedMore(input.len().saturating_add(1))),
                },
            };
        }
        if eof && input.is_empty() {
            self.ended = true;
            return Ok(Step::End);
        }
        let rel = |abs: u64| start_code::in_window("MPEG-2", abs, pos, input);
        loop {
            let at = rel(self.code)?;
            let code = if self.applied {
                None
            } else {
                Some(
                    match input.get(at.saturating_add(start_code::PREFIX.len())) {
                        Some(&byte) => check_code(byte, self.code),
                        None if eof => Err(cut_off_start_code(self.code)),
                        None => return Self::need_more(input.len(), pos),
                    },
                )
            };
            match code {
                None => {}
                Some(Ok(PICTURE | SEQUENCE_HEADER | GROUP)) if self.has_picture => {
                    return self.emit(input, at);
                }
                Some(Ok(code)) => {
                    self.has_picture |= code == PICTURE;
                    self.key |= code == SEQUENCE_HEADER;
                    self.applied = true;
                }
                Some(Err(e)) if self.code == self.first => {
                    self.ended = true;
                    return Err(e);
                }
                // The packet read so far first; the next step meets the error again.
                Some(Err(_)) => return self.emit(input, at),
            }
            let from = rel(self.search.min(pos.saturating_add(input.len() as u64)))?;
            let from = from.max(at.saturating_add(4));
            match start_code::find(input, from) {
                Some(next) => {
                    self.code = pos.saturating_add(next as u64);
                    self.search = self.code.saturating_add(4);
                    self.applied = false;
                }
                None if eof => {
                    let step = self.emit(input, input.len())?;
                    self.ended = true;
                    return Ok(step);
                }
                None => {
                    let scanned = input.len().saturating_sub(2).max(from);
                    self.search = pos.saturating_add(scanned as u64);
                    return Self::need_more(input.len(), pos);
                }
            }
        }
    }
}

impl Demux for Mpeg2Demux {
    fn step(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step> {
        step_copying(self, input, pos, eof, out)
    }

    fn codec(&self) -> Option<Codec> {
        Some(Codec::Mpeg2)
    }

    fn track(&self) -> Option<&ContainerTrack> {
        None
    }

    fn index(&self) -> Option<&SampleIndex> {
        None
    }

    fn seek_to_sample(&mut self, sample: usize) -> Result<u64> {
        Err(InputError::unsupported(format!(
            "seeking to sample {sample}: MPEG-2 elementary streams have no sample index"
        ))
        .into())
    }

    fn max_window(&self) -> usize {
        MAX_PICTURE
    }
}
