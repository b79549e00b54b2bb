//! The box walk of [`Mp4Demux`]: box headers, containers entered, small boxes held and
//! parsed, sample tables read entry by entry, and the track chosen once `moov` is read.
//!
//! Invariant: as the parent module's: one held box at a time, at most
//! [`MAX_HELD_BOX`] bytes; every count checked against its bytes first.

use super::{
    AnnexBConverter, BoxHeader, ContainerKind, ContainerTrack, Durations, Fragment, FragmentMark,
    HeaderRead, MAX_HANDLERS, MAX_HELD_BOX, MAX_TREX, Mp4Demux, Open, Rational, Result,
    SAMPLE_ALLOWANCE, SampleDefaults, State, Step, TABLE_BATCH, Table, Traf, Trak, boxes,
    build_index, go_to, invalid, limit_exceeded, malformed, name, read_header, truncated,
    unsupported,
};

impl Mp4Demux {
    /// Reads box headers: enters containers, holds small boxes, starts tables, skips the
    /// rest. `None`: the state changed without a step to report.
    pub(super) fn boxes(&mut self, input: &[u8], pos: u64, eof: bool) -> Result<Option<Step>> {
        if let Some(open) = self.stack.last().copied() {
            if open.end.is_some_and(|end| pos >= end) {
                self.stack.pop();
                self.close(open.kind, pos)?;
                return Ok(None);
            }
        }
        let header = match read_header(input, pos)? {
            HeaderRead::Header(h) => h,
            HeaderRead::Need(n) if !eof => return Ok(Some(Step::NeedMore(n))),
            HeaderRead::Need(_) => return self.at_eof(input, pos),
        };
        let parent = self.stack.last().copied();
        let parent_end = parent.and_then(|p| p.end);
        let end = match header.size {
            Some(size) => Some(pos.checked_add(size).ok_or_else(|| {
                malformed(
                    pos,
                    format!("box '{}' ends past 2^64 bytes", name(&header.kind)),
                )
            })?),
            None if parent.is_some() && parent_end.is_none() => {
                return Err(malformed(
                    pos,
                    format!(
                        "box '{}' of size 0 inside a box of size 0",
                        name(&header.kind)
                    ),
                ));
            }
            None => parent_end,
        };
        if let (Some(end), Some(parent)) = (end, parent) {
            if parent.end.is_some_and(|parent_end| end > parent_end) {
                return Err(malformed(
                    pos,
                    format!(
                        "box '{}' ends at byte {end}, past the end of its parent '{}' (byte {})",
                        name(&header.kind),
                        name(&parent.kind),
                        parent.end.unwrap_or(0)
                    ),
                ));
            }
        }
        let kind = header.kind;
        let enter = |this: &mut Self| {
            this.stack.push(Open { kind, end });
            Ok(Some(Step::Consumed(header.header_len as usize)))
        };
        match (parent.as_ref().map(|p| &p.kind), &kind) {
            (None, b"moov") => {
                if self.moov_end.is_some() {
                    return Err(malformed(pos, "a second 'moov' box"));
                }
                enter(self)
            }
            (None, b"moof") => {
                if self.moov_end.is_none() {
                    return Err(malformed(pos, "a 'moof' box before the 'moov' box"));
                }
                if let Some(f) = &self.fragment {
                    return Err(malformed(
                        pos,
                        format!(
                            "the fragment at byte {} has samples but no 'mdat' follows it",
                            f.moof_start
                        ),
                    ));
                }
                self.revisiting = self.marks.last().is_some_and(|m| pos <= m.moof_start);
                if !self.revisiting {
                    self.marks.push(FragmentMark {
                        moof_start: pos,
                        first_sample: self.handed_out,
                        dts_before: self.next_dts,
                    });
                }
                self.fragment = Some(Fragment::new(pos));
                enter(self)
            }
            (None, b"mdat") => self.mdat(input, pos, eof, header, end),
            (Some(b"moov"), b"trak") => {
                self.trak = Some(Trak::default());
                enter(self)
            }
            (Some(b"moov"), b"mvex") => {
                self.has_mvex = true;
                enter(self)
            }
            (Some(b"trak"), b"edts" | b"mdia")
            | (Some(b"minf"), b"stbl")
            | (Some(b"moof"), b"traf") => enter(self),
            (Some(b"mdia"), b"minf") => {
                let wanted = self.chosen.is_none()
                    && self
                        .trak
                        .as_ref()
                        .is_some_and(|t| t.handler == Some(*b"vide"));
                if wanted {
                    enter(self)
                } else {
                    self.skip(input, pos, eof, end)
                }
            }
            (Some(b"stbl"), k) if Table::of(k).is_some() => {
                self.table_start(input, pos, eof, header, end)
            }
            (
                Some(b"moov" | b"trak" | b"edts" | b"mdia" | b"stbl" | b"mvex" | b"traf"),
                b"mvhd" | b"tkhd" | b"elst" | b"mdhd" | b"hdlr" | b"stsd" | b"trex" | b"mehd"
                | b"tfhd" | b"tfdt" | b"trun",
            ) => self.held(input, pos, eof, header, end),
            _ => self.skip(input, pos, eof, end),
        }
    }

    /// Skips a box ending at `end` (`None`: at the end of the file).
    pub(super) fn skip(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        end: Option<u64>,
    ) -> Result<Option<Step>> {
        match end {
            Some(end) => Ok(Some(go_to(pos, end, input.len()))),
            None => {
                let _ = (input, eof);
                self.finish().map(Some)
            }
        }
    }

    /// The file ended where a box header was due.
    pub(super) fn at_eof(&mut self, input: &[u8], pos: u64) -> Result<Option<Step>> {
        if !input.is_empty() {
            return Err(truncated(
                pos,
                format!("box header cut short ({} of 8 bytes)", input.len()),
            ));
        }
        match self.stack.last().copied() {
            None => self.finish().map(Some),
            Some(Open { kind, end: None }) => {
                self.stack.pop();
                self.close(kind, pos)?;
                Ok(None)
            }
            Some(Open {
                kind,
                end: Some(end),
            }) => Err(truncated(
                pos,
                format!(
                    "the file ends inside box '{}', which declares bytes up to {end}",
                    name(&kind)
                ),
            )),
        }
    }

    /// A top-level `mdat`: skipped before `moov`, else its fragment's samples follow.
    pub(super) fn mdat(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: BoxHeader,
        end: Option<u64>,
    ) -> Result<Option<Step>> {
        if self.moov_end.is_none() {
            return match end {
                Some(end) => Ok(Some(go_to(pos, end, input.len()))),
                None => Err(malformed(
                    pos,
                    "MP4 file has no 'moov' box (the index) before an 'mdat' that runs to the \
                     end of the file",
                )),
            };
        }
        let Some(fragment) = &self.fragment else {
            return self.skip(input, pos, eof, end);
        };
        let body_start = pos.saturating_add(header.header_len);
        fragment.check_in(body_start, end)?;
        self.state = State::Fragment {
            cursor: fragment.start(),
            mdat_end: end,
        };
        Ok(Some(Step::Consumed(header.header_len as usize)))
    }

    /// A box read whole: its bytes are asked for, then parsed.
    pub(super) fn held(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: BoxHeader,
        end: Option<u64>,
    ) -> Result<Option<Step>> {
        let kind = header.kind;
        let size = end.and_then(|e| e.checked_sub(pos)).unwrap_or(u64::MAX);
        if size > MAX_HELD_BOX {
            return Err(limit_exceeded(
                format!(
                    "box '{}' at byte offset {pos}, read whole, declares {size} bytes, which",
                    name(&kind)
                ),
                MAX_HELD_BOX,
            ));
        }
        // At most MAX_HELD_BOX: fits.
        let size = size as usize;
        let Some(whole) = input.get(..size) else {
            if eof {
                return Err(truncated(
                    pos,
                    format!(
                        "box '{}' declares {size} bytes, {} remain",
                        name(&kind),
                        input.len()
                    ),
                ));
            }
            return Ok(Some(Step::NeedMore(size)));
        };
        let body = whole.get(header.header_len as usize..).unwrap_or(&[]);
        self.parse_held(&kind, body, pos)?;
        Ok(Some(Step::Consumed(size)))
    }

    pub(super) fn parse_held(&mut self, kind: &[u8; 4], body: &[u8], at: u64) -> Result<()> {
        match kind {
            b"mvhd" => self.movie_timescale = boxes::timescale_and_duration(body, "mvhd", at)?.0,
            b"mehd" => self.fragment_duration = Some(boxes::mehd_duration(body, at)?),
            b"trex" => {
                let trex = boxes::trex(body, at)?;
                if self.trex.len() < MAX_TREX {
                    self.trex.push(trex);
                }
            }
            b"tkhd" | b"elst" | b"mdhd" | b"hdlr" | b"stsd" => {
                let Some(trak) = &mut self.trak else {
                    return Ok(());
                };
                match kind {
                    b"tkhd" => trak.track_id = boxes::tkhd_track_id(body, at)?,
                    b"elst" => trak.edits = boxes::elst(body, at)?,
                    b"mdhd" => {
                        (trak.timescale, trak.duration) =
                            boxes::timescale_and_duration(body, "mdhd", at)?;
                    }
                    b"hdlr" => trak.handler = Some(boxes::hdlr_handler(body, at)?),
                    _ => trak.entry = Some(boxes::stsd(body, at)?),
                }
            }
            b"tfhd" => {
                let tfhd = boxes::tfhd(body, at)?;
                let Some(fragment) = &self.fragment else {
                    return Ok(());
                };
                self.traf = (tfhd.track_id == self.track_id).then(|| {
                    let base = tfhd
                        .base_data_offset
                        .or(tfhd.default_base_is_moof.then_some(fragment.moof_start))
                        .unwrap_or(fragment.data_end);
                    let defaults = SampleDefaults {
                        duration: tfhd.duration.unwrap_or(self.defaults.duration),
                        size: tfhd.size.unwrap_or(self.defaults.size),
                        flags: tfhd.flags.unwrap_or(self.defaults.flags),
                    };
                    Traf {
                        base,
                        defaults,
                        next_offset: base,
                    }
                });
            }
            b"tfdt" if self.traf.is_some() => {
                let base = boxes::tfdt_base(body, at)?;
                self.next_dts = i64::try_from(base).unwrap_or(i64::MAX);
            }
            b"trun" => {
                if let (Some(traf), Some(fragment)) = (&mut self.traf, &mut self.fragment) {
                    let mut again = Durations::default();
                    let durations = if self.revisiting {
                        &mut again
                    } else {
                        &mut self.durations
                    };
                    fragment.add_trun(body, at, traf, &mut self.next_dts, durations)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads a table box's fixed fields and starts reading its entries.
    pub(super) fn table_start(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: BoxHeader,
        end: Option<u64>,
    ) -> Result<Option<Step>> {
        let Some(table) = Table::of(&header.kind) else {
            return self.skip(input, pos, eof, end);
        };
        let head = header.header_len as usize + table.fixed_fields();
        let Some(fixed) = input.get(header.header_len as usize..head) else {
            if eof {
                return Err(truncated(
                    pos,
                    format!("box '{}' cut short", name(&header.kind)),
                ));
            }
            return Ok(Some(Step::NeedMore(head)));
        };
        let mut f = boxes::Fields::new(fixed, "sample table", pos);
        f.version_flags()?;
        let fixed_size = if table == Table::Stsz { f.u32()? } else { 0 };
        let count = f.u32()?;
        let end = end.unwrap_or(u64::MAX);
        let room = end.saturating_sub(pos.saturating_add(head as u64));
        let entries = if table == Table::Stsz && fixed_size != 0 {
            0
        } else {
            u64::from(count)
        };
        if entries.saturating_mul(table.entry_size() as u64) > room {
            return Err(malformed(
                pos,
                format!(
                    "'{}' declares {count} entries of {} bytes, but the box holds {room} bytes",
                    name(&header.kind),
                    table.entry_size()
                ),
            ));
        }
        if let Some(trak) = &mut self.trak {
            trak.tables.begin(table, fixed_size, count);
        }
        self.state = State::Table {
            table,
            remaining: entries,
            end,
        };
        Ok(Some(Step::Consumed(head)))
    }

    /// Reads the next batch of table entries.
    pub(super) fn table(&mut self, input: &[u8], pos: u64, eof: bool) -> Result<Option<Step>> {
        let State::Table {
            table,
            remaining,
            end,
        } = &mut self.state
        else {
            return Ok(None);
        };
        if *remaining == 0 {
            let end = *end;
            self.state = State::Boxes;
            return Ok((end != pos).then(|| go_to(pos, end, input.len())));
        }
        let entry = table.entry_size();
        let n = (input.len() / entry)
            .min(TABLE_BATCH)
            .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
        if n == 0 {
            if eof {
                return Err(truncated(
                    pos,
                    format!("sample table cut short, {remaining} entries missing"),
                ));
            }
            return Ok(Some(Step::NeedMore(entry)));
        }
        let bytes = n * entry;
        *remaining -= n as u64;
        let table = *table;
        if let Some(trak) = &mut self.trak {
            trak.tables.extend(table, input.get(..bytes).unwrap_or(&[]));
        }
        Ok(Some(Step::Consumed(bytes)))
    }

    /// A container box ended at `pos`.
    pub(super) fn close(&mut self, kind: [u8; 4], pos: u64) -> Result<()> {
        match &kind {
            b"trak" => {
                if let Some(trak) = self.trak.take() {
                    if self.handlers.len() < MAX_HANDLERS {
                        self.handlers.push(trak.handler.unwrap_or(*b"????"));
                    }
                    if self.chosen.is_none() && trak.handler == Some(*b"vide") {
                        self.chosen = Some(trak);
                    }
                }
            }
            b"traf" => {
                if let (Some(traf), Some(fragment)) = (self.traf.take(), &mut self.fragment) {
                    fragment.data_end = traf.next_offset;
                }
            }
            b"moof" => {
                if self.fragment.as_ref().is_some_and(|f| f.runs.is_empty()) {
                    self.fragment = None;
                }
                // The frame rate is known from the first fragment on; the duration and
                // count grow with each.
                self.update_track_stats();
            }
            b"moov" => self.moov_read(pos)?,
            _ => {}
        }
        Ok(())
    }

    /// `moov` ended at `moov_end`: the track, its codec and its sample index.
    pub(super) fn moov_read(&mut self, moov_end: u64) -> Result<()> {
        self.moov_end = Some(moov_end);
        let Some(trak) = self.chosen.take() else {
            let names: Vec<String> = self.handlers.iter().map(name).collect();
            return Err(unsupported(format!(
                "MP4 file has no video track (track handlers: [{}])",
                names.join(", ")
            )));
        };
        let entry = trak
            .entry
            .ok_or_else(|| invalid("MP4 video track has no sample description (stsd)"))?;
        let time_base = Rational::new(1, u64::from(trak.timescale))
            .ok_or_else(|| invalid("MP4 video track has a zero timescale (mdhd)"))?;
        self.timescale = trak.timescale;
        self.track_id = trak.track_id;
        self.defaults = self
            .trex
            .iter()
            .find(|(id, _)| *id == trak.track_id)
            .map_or_else(SampleDefaults::default, |&(_, d)| d);
        self.shift = edit_shift(&trak.edits, self.movie_timescale, trak.timescale);
        let resolved = build_index(&trak.tables, self.shift, SAMPLE_ALLOWANCE)?;
        drop(trak.tables);
        self.index = resolved.index;
        self.progressive_len = self.index.len();
        self.durations = resolved.durations;
        self.next_dts = resolved.next_dts;
        self.converter = entry
            .config
            .as_ref()
            .map(|config| AnnexBConverter::new(entry.codec, config, 0));
        let duration = match trak.duration {
            0 | 0xffff_ffff | u64::MAX => self.fragment_duration.filter(|&d| d != 0).map(|d| {
                let t = u128::from(d) * u128::from(trak.timescale)
                    / u128::from(self.movie_timescale.max(1));
                u64::try_from(t).unwrap_or(u64::MAX)
            }),
            d => Some(d),
        };
        self.duration_declared = duration.is_some();
        let dimensions = (entry.width != 0 && entry.height != 0)
            .then(|| (u32::from(entry.width), u32::from(entry.height)));
        self.codec = Some(entry.codec);
        self.track = Some(ContainerTrack {
            kind: ContainerKind::Mp4,
            track_id: u64::from(trak.track_id),
            codec_tag: entry.tag.to_string(),
            time_base,
            frame_rate: None,
            duration,
            dimensions,
            packet_count: self.index.len(),
        });
        self.update_track_stats();
        self.state = if self.index.is_empty() {
            State::Boxes
        } else {
            State::Progressive { next: 0 }
        };
        Ok(())
    }

    /// Frame rate, (if not declared) duration and packet count from the samples seen: final
    /// for a progressive file, growing with each fragment of a fragmented one.
    pub(super) fn update_track_stats(&mut self) {
        let count = self.samples_seen.max(self.progressive_len as u64);
        let timescale = u64::from(self.timescale);
        let rate = self
            .durations
            .constant()
            .and_then(|d| Rational::new(timescale, d));
        let summed = (self.durations.sum > 0).then_some(self.durations.sum);
        let declared = self.duration_declared;
        if let Some(track) = &mut self.track {
            track.frame_rate = rate;
            if !declared {
                track.duration = summed;
            }
            track.packet_count = usize::try_from(count).unwrap_or(usize::MAX);
        }
    }
}

/// The shift from composition to presentation time given by an edit list: initial empty
/// edits delay (converted from the movie timescale), the first real edit's media time is
/// subtracted.
fn edit_shift(edits: &[(u64, i64)], movie_timescale: u32, media_timescale: u32) -> i64 {
    let mut shift = 0i64;
    for &(duration, media_time) in edits {
        if media_time < 0 {
            let delay = u128::from(duration) * u128::from(media_timescale)
                / u128::from(movie_timescale.max(1));
            shift = shift.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
        } else {
            return shift.saturating_sub(media_time);
        }
    }
    shift
}
