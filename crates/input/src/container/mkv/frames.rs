//! Blocks to packets: a `SimpleBlock` or `BlockGroup` of the video track is read whole,
//! its lace split, and its frames handed out one per step, converted for H.264/HEVC.
//!
//! Invariant: a block stays in the driver's window (unconsumed) until its last non-empty
//! frame is handed out, so frames are read from the window in place; other tracks' blocks
//! are skipped by size after a peek at their track number.

use super::ebml::{self, ElementHeader};
use super::segment::Whole;
use super::{
    Lace, MAX_BLOCK_ELEMENT, MAX_TIMESTAMP_ELEMENT, MkvDemux, PEEK, PacketInfo, SeekMatch, Step,
    block, header, ids, malformed, name, truncated,
};
use crate::Result;

impl MkvDemux {
    pub(super) fn cluster_element(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
        out: &mut Vec<u8>,
    ) -> Result<Step> {
        match header.id {
            ids::TIMESTAMP => {
                let body = match Self::whole(input, pos, eof, header, MAX_TIMESTAMP_ELEMENT)? {
                    Whole::Data(d) => d,
                    Whole::Step(s) => return Ok(s),
                };
                // At most 8 bytes by the limit above.
                self.cluster_timestamp = ebml::uint(body).unwrap_or(0);
                Ok(Step::Consumed(header.len + body.len()))
            }
            ids::SIMPLE_BLOCK | ids::BLOCK_GROUP => self.block(input, pos, eof, header, out),
            _ => Self::skip(input, pos, header),
        }
    }

    pub(super) fn block(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
        out: &mut Vec<u8>,
    ) -> Result<Step> {
        let Some(size) = header.size else {
            return Err(malformed(
                pos,
                format!("{} has an unknown size", name(header.id)),
            ));
        };
        let number = self.video.as_ref().map_or(0, |v| v.number);
        // Other tracks' blocks are skipped by size, whatever their size: the track number
        // is in the first bytes (a BlockGroup's Block comes first in practice).
        let peek = header
            .len
            .saturating_add(usize::try_from(size.min(PEEK)).unwrap_or(0));
        let prefix = input.get(header.len..peek.min(input.len())).unwrap_or(&[]);
        let track = if header.id == ids::SIMPLE_BLOCK {
            block::peek_track(prefix)
        } else {
            match ebml::read_header(prefix) {
                Ok(Some(h)) if h.id == ids::BLOCK => {
                    prefix.get(h.len..).and_then(block::peek_track)
                }
                _ => None,
            }
        };
        match track {
            Some(t) if t != number => return Self::skip(input, pos, header),
            None if input.len() < peek && !eof => return Ok(Step::NeedMore(peek)),
            // Ours, or not known from the first bytes: read whole (bounded) and parse.
            _ => {}
        }
        let body = match Self::whole(input, pos, eof, header, MAX_BLOCK_ELEMENT)? {
            Whole::Data(d) => d,
            Whole::Step(s) => return Ok(s),
        };
        let total = header.len + body.len();
        // The Block's bytes and its offset inside the element; the key-frame flag.
        let (block, block_at, group_key) = if header.id == ids::SIMPLE_BLOCK {
            (body, header.len, None)
        } else {
            let base = pos.saturating_add(header.len as u64);
            let mut found = None;
            let mut referenced = false;
            for child in ebml::Children::new(body, base) {
                let child = child.map_err(header::Fault::from)?;
                match child.id {
                    ids::BLOCK if found.is_none() => found = Some(child),
                    ids::REFERENCE_BLOCK => referenced = true,
                    _ => {}
                }
            }
            let Some(child) = found else {
                return Ok(Step::Consumed(total)); // a BlockGroup without Block
            };
            (
                child.data,
                header.len.saturating_add(child.data_at),
                Some(!referenced),
            )
        };
        let parsed = block::parse(block, &mut self.lace_sizes)
            .map_err(|what| malformed(pos, format!("{}: {what}", name(header.id))))?;
        if parsed.track != number {
            return Ok(Step::Consumed(total));
        }
        let key = group_key.unwrap_or_else(|| parsed.simple_key());
        let pts = i128::from(self.cluster_timestamp) + i128::from(parsed.relative_timestamp);
        let pts = i64::try_from(pts.max(0)).map_err(|_| {
            malformed(
                pos,
                format!(
                    "block timestamp {} + {} does not fit a 64-bit timestamp",
                    self.cluster_timestamp, parsed.relative_timestamp
                ),
            )
        })?;
        let last = self.lace_sizes.iter().rposition(|&s| s != 0).unwrap_or(0);
        self.lace = Some(Lace {
            next: 0,
            at: block_at.saturating_add(parsed.data_start),
            total,
            last,
            start: pos,
            pts,
            key,
        });
        self.next_frame(input, pos, eof, out)
    }

    /// Hands out the next frame of the current block (skipping empty frames and, after a
    /// seek, frames before the target), consuming the element with its last frame.
    pub(super) fn next_frame(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        out: &mut Vec<u8>,
    ) -> Result<Step> {
        let Some(mut lace) = self.lace else {
            return Ok(Step::Consumed(0));
        };
        if input.len() < lace.total {
            // The driver keeps unconsumed bytes; this only happens if it did not.
            return if eof {
                Err(truncated(pos, "a block"))
            } else {
                Ok(Step::NeedMore(lace.total))
            };
        }
        while let Some(&size) = self.lace_sizes.get(lace.next) {
            let k = lace.next;
            let size = size as usize; // u32 → usize: no loss on the targets built for
            let from = lace.at;
            lace.next += 1;
            lace.at = lace.at.saturating_add(size);
            if size == 0 {
                continue;
            }
            let frame = input
                .get(from..from.saturating_add(size))
                .ok_or_else(|| malformed(pos, "a laced frame runs past its block"))?;
            let offset = lace.start.saturating_add(from as u64);
            if let Some(target) = self.seek {
                let hit = match target {
                    SeekMatch::Offset(o) => o == offset,
                    SeekMatch::KeyPts(p) => lace.key && p == lace.pts,
                };
                if !hit {
                    continue;
                }
                self.seek = None;
            }
            let done = k >= lace.last;
            self.lace = (!done).then_some(lace);
            return self.emit(
                frame,
                offset,
                lace.pts,
                lace.key,
                if done { lace.total } else { 0 },
                out,
            );
        }
        self.lace = None;
        Ok(Step::Consumed(lace.total))
    }

    pub(super) fn emit(
        &mut self,
        frame: &[u8],
        offset: u64,
        pts: i64,
        key: bool,
        consumed: usize,
        out: &mut Vec<u8>,
    ) -> Result<Step> {
        let index = self.next_index;
        match self.video.as_mut().and_then(|v| v.converter.as_mut()) {
            Some(converter) => {
                let index = usize::try_from(index).unwrap_or(usize::MAX);
                converter.convert_packet(frame, out, index)?;
            }
            None => {
                out.clear();
                out.extend_from_slice(frame);
            }
        }
        if self.scanning {
            if let Some(cluster) = self.cluster.as_mut() {
                if !cluster.indexed {
                    cluster.indexed = true;
                    self.clusters.push((index, cluster.start));
                }
            }
            // A frame of hidden VP8/VP9 frames only is decoded but never shown: no display
            // index (see `vpx::shows_frame`).
            let shown = self
                .video
                .as_ref()
                .is_none_or(|v| crate::vpx::shows_frame(v.codec, frame));
            // A frame is at most MAX_BLOCK_ELEMENT bytes: its size fits a u32.
            self.blocks.push_sample(
                offset,
                u32::try_from(frame.len()).unwrap_or(u32::MAX),
                pts,
                key,
                shown,
            );
        }
        self.next_index = index.saturating_add(1);
        Ok(Step::Packet {
            consumed,
            info: PacketInfo { pts, key, index },
        })
    }
}
