//! Handing out samples: the progressive index walked in decode order, a fragment's runs
//! as they arrive, the end of the file, and the state machine's step loop.
//!
//! Invariant: a packet is written only once its sample's bytes are all in the window, and
//! at most [`MAX_WINDOW`] bytes are asked for.

use super::{
    Cursor, MAX_FRAGMENT_INDEX, MAX_SILENT_TRANSITIONS, MAX_WINDOW, Mp4Demux, PacketInfo, Result,
    State, Step, go_to, internal, invalid, limit_exceeded, malformed, truncated,
};

impl Mp4Demux {
    /// The end of the file (or of a box running to it) where a box was due.
    pub(super) fn finish(&mut self) -> Result<Step> {
        if self.moov_end.is_none() {
            return Err(match self.jumped {
                Some((from, to)) => malformed(
                    from,
                    format!(
                        "MP4 file has no 'moov' box (the index): the file ends at or before byte \
                         {to}, where the box at this offset declares its end (a box size running \
                         past the end of the file, or a file truncated before its 'moov')"
                    ),
                ),
                None => invalid(
                    "MP4 file has no 'moov' box (the index; truncated before it, or not an MP4 \
                     file)",
                ),
            });
        }
        if let Some(f) = &self.fragment {
            return Err(truncated(
                f.moof_start,
                "the file ends after a fragment's 'moof' without its 'mdat'",
            ));
        }
        self.update_track_stats();
        self.finished = true;
        self.state = State::Done;
        Ok(Step::End)
    }

    /// Whether `offset..offset + size` is at the front of `input`; if not, the step that
    /// gets there.
    pub(super) fn reach(
        sample: u64,
        offset: u64,
        size: u32,
        input: &[u8],
        pos: u64,
        eof: bool,
    ) -> Result<Option<Step>> {
        if size as usize > MAX_WINDOW {
            return Err(limit_exceeded(
                format!("sample {sample} at byte offset {offset} declares {size} bytes, which"),
                MAX_WINDOW as u64,
            ));
        }
        if offset != pos {
            return Ok(Some(go_to(pos, offset, input.len())));
        }
        if input.len() >= size as usize {
            return Ok(None);
        }
        if eof {
            return Err(truncated(
                offset,
                format!(
                    "MP4 sample {sample} ({size} bytes) lies outside the file: {} bytes remain",
                    input.len()
                ),
            ));
        }
        Ok(Some(Step::NeedMore(size as usize)))
    }

    /// Writes sample `index`'s `bytes` into `out` as the decoder wants them.
    pub(super) fn write_packet(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<u8>,
        index: u64,
    ) -> Result<()> {
        out.clear();
        match &mut self.converter {
            Some(c) => c.convert_packet(bytes, out, usize::try_from(index).unwrap_or(usize::MAX)),
            None => {
                out.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    pub(super) fn progressive(
        &mut self,
        next: usize,
        input: &[u8],
        pos: u64,
        eof: bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<Step>> {
        let (Some(offset), Some(size), Some(pts)) = (
            self.index.offset(next),
            self.index.size(next),
            self.index.pts(next),
        ) else {
            // Past the last sample: fragments may follow `moov`, else the file is done.
            if !self.has_mvex {
                return self.finish().map(Some);
            }
            self.state = State::Boxes;
            let moov_end = self.moov_end.unwrap_or(pos);
            return Ok((moov_end != pos).then(|| go_to(pos, moov_end, input.len())));
        };
        let number = next as u64;
        if let Some(step) = Self::reach(number, offset, size, input, pos, eof)? {
            return Ok(Some(step));
        }
        let bytes = input.get(..size as usize).unwrap_or(&[]);
        self.write_packet(bytes, out, number)?;
        let key = self.index.is_key(next);
        self.state = State::Progressive { next: next + 1 };
        self.handed_out = number + 1;
        self.samples_seen = self.samples_seen.max(self.handed_out);
        Ok(Some(Step::Packet {
            consumed: size as usize,
            info: PacketInfo {
                pts,
                key,
                index: number,
            },
        }))
    }

    pub(super) fn fragment_samples(
        &mut self,
        mut cursor: Cursor,
        mdat_end: Option<u64>,
        input: &[u8],
        pos: u64,
        eof: bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<Step>> {
        let Some(fragment) = &self.fragment else {
            self.state = State::Boxes;
            return Ok(None);
        };
        // Pass over the samples before a seek's target: O(the fragment's records).
        let mut next = fragment.settle(&mut cursor);
        while let Some(sample) = next.filter(|_| self.handed_out < self.skip_until) {
            fragment.advance(&mut cursor, &sample);
            self.handed_out += 1;
            next = fragment.settle(&mut cursor);
        }
        let Some(sample) = next else {
            self.fragment = None;
            self.state = State::Boxes;
            let Some(end) = mdat_end else {
                return self.finish().map(Some);
            };
            return Ok((end != pos).then(|| go_to(pos, end, input.len())));
        };
        self.state = State::Fragment { cursor, mdat_end };
        let number = self.handed_out;
        if let Some(step) = Self::reach(number, sample.offset, sample.size, input, pos, eof)? {
            return Ok(Some(step));
        }
        let bytes = input.get(..sample.size as usize).unwrap_or(&[]);
        self.write_packet(bytes, out, number)?;
        if let Some(fragment) = &self.fragment {
            fragment.advance(&mut cursor, &sample);
        }
        self.state = State::Fragment { cursor, mdat_end };
        self.handed_out = number.saturating_add(1);
        self.samples_seen = self.samples_seen.max(self.handed_out);
        let pts = sample
            .dts
            .saturating_add(i64::from(sample.cts))
            .saturating_add(self.shift);
        if number == self.index.len() as u64 && !self.index_capped {
            if self.index.len() < MAX_FRAGMENT_INDEX {
                self.index.push(sample.offset, sample.size, pts, sample.key);
            } else {
                self.index_capped = true;
            }
        }
        Ok(Some(Step::Packet {
            consumed: sample.size as usize,
            info: PacketInfo {
                pts,
                key: sample.key,
                index: number,
            },
        }))
    }
}

impl Mp4Demux {
    /// One step of the state machine: internal transitions (closing containers, changing
    /// state) are taken here, up to [`MAX_SILENT_TRANSITIONS`].
    pub(super) fn next_step(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        out: &mut Vec<u8>,
    ) -> Result<Step> {
        for _ in 0..MAX_SILENT_TRANSITIONS {
            let step = match &self.state {
                State::Boxes => self.boxes(input, pos, eof)?,
                State::Table { .. } => self.table(input, pos, eof)?,
                &State::Progressive { next } => self.progressive(next, input, pos, eof, out)?,
                &State::Fragment { cursor, mdat_end } => {
                    self.fragment_samples(cursor, mdat_end, input, pos, eof, out)?
                }
                State::Done => Some(Step::End),
            };
            if let Some(step) = step {
                return Ok(step);
            }
        }
        Err(internal(format!("no progress at byte offset {pos}")))
    }
}
