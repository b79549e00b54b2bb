//! Access units out of the elementary stream: cut where the next one begins, timestamped
//! from the PES they started in, checked for a lost head, and indexed.
//!
//! Invariant: a packet handed out is one whole access unit of the selected stream, or it
//! is dropped and the loss counted.

use super::{
    Codec, InputError, MAX_INNER_STALLS, PacketInfo, PesStart, ReadError, Result, Step, TsDemux,
    av1_low_overhead, has_i_picture, internal, starts_access_unit,
};

impl TsDemux {
    /// The PES start an access unit beginning at `start` begins in, if its PTS is unused.
    pub(super) fn take_start(&mut self, start: u64) -> Option<PesStart> {
        let limit = start.saturating_add(1);
        while self.starts.get(1).is_some_and(|s| s.at <= limit) {
            self.starts.pop_front();
        }
        let entry = self.starts.front_mut()?;
        if entry.at > limit || entry.used {
            return None;
        }
        entry.used = true;
        Some(*entry)
    }

    /// The packet and payload offset where elementary-stream byte `start` lies.
    pub(super) fn packet_ref(&mut self, start: u64) -> Option<(u64, u32)> {
        let indexing = self.indexing.as_mut()?;
        while indexing.packets.get(1).is_some_and(|p| p.0 <= start) {
            indexing.packets.pop_front();
        }
        let &(first, packet, pid) = indexing.packets.front()?;
        let skip = u32::try_from(start.checked_sub(first)?).ok()?;
        (skip < 256).then_some((packet, u32::from(pid) << 8 | skip))
    }

    /// An access unit the splitter cut (`out`), beginning at elementary-stream offset
    /// `start`: handed out, or dropped when it may have lost its head.
    pub(super) fn accept(
        &mut self,
        start: u64,
        key: bool,
        out: &[u8],
    ) -> Result<Option<PacketInfo>> {
        let entry = self.take_start(start);
        let place = self.packet_ref(start);
        let codec = self.selected.map_or(Codec::H264, |s| s.codec);
        if self.check_next {
            if !starts_access_unit(codec, out) {
                self.stats.dropped_access_units = self.stats.dropped_access_units.saturating_add(1);
                return Ok(None);
            }
            self.check_next = false;
        }
        let pts = match entry.and_then(|e| e.pts) {
            Some(pts) => pts,
            None => self.last_pts.map_or(0, |p| p.saturating_add(1)),
        };
        self.last_pts = Some(pts);
        let key = match codec {
            Codec::Mpeg2 => key && has_i_picture(out),
            Codec::H264 | Codec::Hevc => key,
            _ => entry.is_some_and(|e| e.random_access),
        };
        let mut info = PacketInfo {
            pts,
            key,
            index: self.sample,
        };
        if let Some(indexing) = &mut self.indexing {
            let (packet, seek) = place.ok_or_else(|| {
                internal(format!(
                    "no packet recorded for stream byte {start} while indexing"
                ))
            })?;
            let size = u32::try_from(out.len()).unwrap_or(u32::MAX);
            indexing.index.push(packet, size, pts, key);
            indexing.seek.push(seek);
        }
        if let Some((index, _)) = &self.complete {
            let sample = usize::try_from(self.sample).unwrap_or(usize::MAX);
            if let Some(pts) = index.pts(sample) {
                info.pts = pts;
                info.key = index.is_key(sample);
            }
        }
        self.sample = self.sample.saturating_add(1);
        Ok(Some(info))
    }

    /// Runs the splitter over the buffer: the next access unit handed out, if one is ready.
    pub(super) fn pump(&mut self, out: &mut Vec<u8>) -> Result<Option<PacketInfo>> {
        let eof = self.ts_eof || self.switch_to.is_some();
        let mut stalls = 0u32;
        loop {
            if self.inner_ended {
                return Ok(None);
            }
            let Some(mut splitter) = self.splitter.take() else {
                return self.pump_whole(eof, out);
            };
            let window = self.es.get(self.es_start..).unwrap_or(&[]);
            if !eof && window.len() < self.inner_need {
                self.splitter = Some(splitter);
                return Ok(None);
            }
            let pos = self.es_base.saturating_add(self.es_start as u64);
            let step = splitter.step(window, pos, eof, out);
            self.splitter = Some(splitter);
            match step {
                Ok(Step::Consumed(n)) => {
                    stalls = if n == 0 { stalls + 1 } else { 0 };
                    if stalls > MAX_INNER_STALLS {
                        return Err(internal("the access-unit splitter made no progress"));
                    }
                    self.drop_es(n);
                }
                Ok(Step::NeedMore(n)) if !eof => {
                    self.inner_need = n;
                    return Ok(None);
                }
                Ok(Step::Packet { consumed, info }) => {
                    self.drop_es(consumed);
                    self.inner_need = 0;
                    let data = std::mem::take(out);
                    let accepted = self.accept(pos, info.key, &data);
                    *out = data;
                    if let Some(info) = accepted? {
                        return Ok(Some(info));
                    }
                }
                Ok(Step::End) => {
                    self.inner_ended = true;
                    return Ok(None);
                }
                Ok(Step::NeedMore(_) | Step::SeekTo(_)) => {
                    return Err(internal(
                        "the access-unit splitter asked for more at the end",
                    ));
                }
                Err(ReadError::Input(e @ InputError::LimitExceeded { .. })) => {
                    return Err(e.into());
                }
                Err(_) => {
                    // Elementary-stream bytes the splitter refuses (torn or damaged): drop
                    // them and start again at the next PES.
                    self.drop_partial();
                    self.pes.active = false;
                    if eof {
                        self.inner_ended = true;
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// AV1: one PES is one packet, complete when the next PES begins (or at the end).
    pub(super) fn pump_whole(
        &mut self,
        eof: bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<PacketInfo>> {
        loop {
            let begin = self.es_base.saturating_add(self.es_start as u64);
            let end = match self.starts.iter().find(|s| s.at > begin) {
                Some(next) => next.at,
                None if eof => self.es_end(),
                None => return Ok(None),
            };
            if end <= begin {
                self.inner_ended = eof;
                return Ok(None);
            }
            let len = usize::try_from(end - begin).unwrap_or(usize::MAX);
            out.clear();
            av1_low_overhead(self.window().get(..len).unwrap_or(&[]), out);
            self.drop_es(len);
            let data = std::mem::take(out);
            let accepted = self.accept(begin, false, &data);
            *out = data;
            if let Some(info) = accepted? {
                return Ok(Some(info));
            }
        }
    }
}
