//! [`IvfDemux`]: the IVF reader as a sans-I/O [`Demux`], for files read incrementally and
//! streams that arrive in pieces.
//!
//! Invariant: fed the same bytes in any chunking, it hands out exactly the frames that
//! [`IvfFrames`](super::IvfFrames) reads from the whole file, and the same error after the same
//! frames (both go through [`parse_frame`](super::parse_frame)). A frame is complete when its
//! 12-byte header and the `size` bytes it declares have arrived.
//!
//! Memory: the window it asks for is one frame and its header, at most
//! [`MAX_FRAME_SIZE`](super::MAX_FRAME_SIZE) + 12 bytes (a larger size field is refused before
//! anything is read); drivers grow their buffer only with bytes that actually arrive, so a
//! lying size field in a short file costs nothing.
//!
//! Index: made with [`IvfDemux::indexing`], it also records each frame in a [`SampleIndex`]
//! as it is read (offset and size of the frame's bytes, the frame header's pts, whether it
//! shows a frame (not for a packet of hidden frames only, [`vpx::shows_frame`](crate::vpx)),
//! the key bit
//! of [`key::is_key`](super::key::is_key)): 20 bytes a frame, complete after the last one;
//! [`seek_to_sample`](Demux::seek_to_sample) then restarts at any frame's header. A file cut
//! inside a frame (header or data) after complete frames keeps the index of those, the cut
//! recorded ([`Demux::seal_truncated`]); reading on past the last of them ends in the same
//! truncation error as before.

use super::super::InputError;
use super::super::demux::{Demux, PacketInfo, SampleIndex, Step, TruncatedTail};
use super::{
    FRAME_HEADER_LEN, HEADER_LEN, IvfHeader, MAX_FRAME_SIZE, key, le_u16, le_u32, parse_frame,
};
use crate::track::ContainerTrack;
use crate::{Codec, ReadError, Result};

/// The sans-I/O IVF reader. See the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct IvfDemux {
    header: Option<IvfHeader>,
    index: u64,
    ended: bool,
    /// The index being built (made by [`indexing`](Self::indexing)), or built.
    samples: Option<SampleIndex>,
    /// `samples` holds every frame of the file.
    complete: bool,
}

impl IvfDemux {
    /// A reader at the start of an IVF file.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A reader at the start of an IVF file that records every frame in its index, complete
    /// ([`Demux::index`]) once the last frame is read.
    pub(crate) fn indexing() -> Self {
        Self {
            samples: Some(SampleIndex::new()),
            ..Self::default()
        }
    }
}

impl Demux for IvfDemux {
    fn step(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step> {
        if self.ended {
            return Ok(Step::End);
        }
        if self.header.is_none() {
            let declared = usize::from(le_u16(input, 6)).max(HEADER_LEN);
            if !eof && input.len() < declared {
                return Ok(Step::NeedMore(if input.len() < HEADER_LEN {
                    HEADER_LEN
                } else {
                    declared
                }));
            }
            let header = IvfHeader::parse(input).inspect_err(|_| self.ended = true)?;
            self.header = Some(header);
            return Ok(Step::Consumed(usize::from(header.header_len)));
        }
        if !eof {
            if input.len() < FRAME_HEADER_LEN {
                return Ok(Step::NeedMore(FRAME_HEADER_LEN));
            }
            let size = le_u32(input, 0);
            if size <= MAX_FRAME_SIZE {
                let whole = FRAME_HEADER_LEN.saturating_add(size as usize);
                if input.len() < whole {
                    return Ok(Step::NeedMore(whole));
                }
            }
        }
        match parse_frame(input, self.index, pos) {
            Ok(Some((packet, consumed))) => {
                out.clear();
                out.extend_from_slice(packet.data);
                let key = self
                    .header
                    .is_some_and(|h| key::is_key(h.codec, packet.data));
                if let (Some(samples), false) = (&mut self.samples, self.complete) {
                    // MAX_FRAME_SIZE (256 MiB) keeps every frame's size within u32.
                    let size = u32::try_from(packet.data.len()).unwrap_or(u32::MAX);
                    let offset = pos.saturating_add(FRAME_HEADER_LEN as u64);
                    // A packet that only holds hidden frames gets no display index.
                    let shown = self
                        .header
                        .is_none_or(|h| crate::vpx::shows_frame(h.codec, packet.data));
                    samples.push_sample(offset, size, packet.pts, key, shown);
                }
                let info = PacketInfo {
                    pts: packet.pts,
                    key,
                    index: self.index,
                };
                self.index = self.index.saturating_add(1);
                Ok(Step::Packet { consumed, info })
            }
            Ok(None) => {
                self.ended = true;
                self.complete = self.samples.is_some();
                Ok(Step::End)
            }
            Err(e) => {
                self.ended = true;
                Err(e)
            }
        }
    }

    fn codec(&self) -> Option<Codec> {
        self.header.map(|h| h.codec)
    }

    fn track(&self) -> Option<&ContainerTrack> {
        None
    }

    fn index(&self) -> Option<&SampleIndex> {
        self.samples.as_ref().filter(|_| self.complete)
    }

    fn seek_to_sample(&mut self, sample: usize) -> Result<u64> {
        let index = self.index().ok_or_else(|| {
            ReadError::from(InputError::unsupported(format!(
                "seeking to sample {sample}: this IVF file has not been indexed \
                 (ElementaryStream::build_index reads it once)"
            )))
        })?;
        let offset = index.offset(sample).ok_or_else(|| {
            ReadError::from(InputError::sample_out_of_range(
                sample,
                index.len(),
                "seeking in an IVF file",
            ))
        })?;
        self.index = sample as u64;
        self.ended = false;
        Ok(offset.saturating_sub(FRAME_HEADER_LEN as u64))
    }

    /// An indexing reader keeps the frames before a cut frame as its complete index.
    fn seal_truncated(&mut self, tail: TruncatedTail) -> bool {
        match &mut self.samples {
            Some(samples) if !self.complete && !samples.is_empty() => {
                samples.set_truncated(tail);
                self.complete = true;
                true
            }
            _ => false,
        }
    }

    fn max_window(&self) -> usize {
        FRAME_HEADER_LEN
            .saturating_add(MAX_FRAME_SIZE as usize)
            .max(usize::from(u16::MAX))
    }
}
