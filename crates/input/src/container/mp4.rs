//! MP4 (ISO base media file format) demuxing: an own box parser, sans-I/O (a [`Demux`]).
//!
//! Invariant: the parser holds at most one box at a time, and only small ones (`stsd`,
//! `elst`, `tfhd`, `trun`, ... at most [`MAX_HELD_BOX`] bytes); containers are entered
//! header by header and the sample tables are read entry by entry, so the window a driver
//! keeps is at most [`MAX_WINDOW`] (the largest sample handed out; a larger one is refused).
//! Every count is checked against the bytes that carry it before anything is sized from it,
//! all arithmetic is checked or saturating, and the work is O(bytes read).
//!
//! **Memory bound.** Peak heap ≤ window (≤ [`MAX_WINDOW`] = 64 MiB, in practice the largest
//! sample or held box) + one packet (≤ 4 × its sample + the parameter sets, ≤ 2 ×
//! [`MAX_CONFIG_RECORD`](boxes::MAX_CONFIG_RECORD) + 1 MiB) + the parser's state:
//! - while `moov` is read, the video track's `stbl` tables: at most 4 × their bytes (`stco`'s
//!   4-byte offsets widen to 8, vectors grow by doubling); they are dropped once resolved;
//! - the [`SampleIndex`], 20 bytes a sample. A progressive track may list at most one sample
//!   per 4 bytes of its tables (what a size per sample in `stsz` takes), plus
//!   [`SAMPLE_ALLOWANCE`] (a fixed sample size lets 20 bytes of `stsz` declare 2^32 - 1
//!   samples: refused before any walk), so its index is at most 5 bytes per byte of sample
//!   table plus 20 × [`SAMPLE_ALLOWANCE`] (1.25 MiB), and at most 9 bytes per table byte
//!   while the tables are resolved into it; a fragmented
//!   file's samples are indexed as they are handed out, each at least one byte of its
//!   `mdat`, up to [`MAX_FRAGMENT_INDEX`] samples (then the index stops growing), plus 24
//!   bytes a fragment;
//! - the current fragment's runs: a few numbers a `trun` plus a copy of its per-sample
//!   records, at most [`MAX_FRAGMENT_STATE`](fragment::MAX_FRAGMENT_STATE) = 32 MiB. A `trun`
//!   of 16 bytes declaring 4,096 empty samples is not stored and costs O(1) (see
//!   [`fragment`]); a 1.07 MB file of them is read in under 64 KiB of parser heap.
//!
//! **Output bound.** The packets from a start or seek on hold at most
//! [`MAX_EXPANSION`](super::MAX_EXPANSION) × the sample bytes read plus one copy of the
//! parameter sets (≤ 2 × [`MAX_CONFIG_RECORD`](boxes::MAX_CONFIG_RECORD)): parameter sets
//! are repeated before later key frames only within that bound (see [`container`](super)).
//!
//! Tests hold it to this: `tests.rs` (`a_trun_bomb_costs_o_of_its_bytes`,
//! `huge_table_claims_cost_only_the_bytes_present`, the fuzz checks) and
//! `crates/input/tests/input_mp4_hostile.rs` (a counting allocator around the public API).
//!
//! Why an own parser: `mp4-atom` decodes whole boxes into owned structs, so a 1 MB `moof`
//! of 16-byte `trun`s declaring 4,096 samples each becomes 4 GB before any check of ours
//! could run, and it needs the whole `moov`/`moof` in memory; reading
//! only the boxes that matter, field by field, costs about as much code as driving it.
//!
//! **Layouts.** A progressive file with `moov` before `mdat` is read straight through (a
//! plain `Read` suffices); with `moov` after `mdat` the parser asks to [`Step::SeekTo`] past
//! the `mdat` to read `moov`, then back to the first sample, which a driver over a source that
//! cannot seek refuses with an error naming the layout (remux with `-movflags +faststart`).
//! A fragmented file (`moov` with `mvex`, then `moof` + `mdat` pairs) is read straight
//! through, packets coming out as each fragment's `mdat` passes: it works from a plain `Read`
//! and from live chunks; its frame rate is known after the first fragment's `moof`, its
//! duration (without `mehd`) and packet count grow with each fragment. Samples of a
//! progressive track must lie in decode order without overlapping, and a fragment's runs in
//! the `mdat` right after its `moof`, in order (every muxer writes them so): anything else is
//! refused, naming the sample, which keeps the bytes handed out at most the file's bytes.
//! `sidx`, `mfra`, `styp`, `emsg` and other boxes are skipped (`mfra`/`sidx` could index a
//! fragmented file up front; not read). Zero-size samples carry nothing and are not handed
//! out or indexed (their durations count).
//!
//! **Seeking.** [`Demux::index`] is the whole progressive index once `moov` is read, and for
//! a fragmented file once its end is reached; [`Demux::seek_to_sample`] works for any
//! sample indexed so far (in a fragment: back to its `moof`, passing over the samples before
//! it). H.264/HEVC parameter sets go before the first key frame after a seek again. A cut
//! file keeps random access over its complete samples: a fragmented one's index ends at the
//! cut ([`Demux::seal_truncated`]); a progressive one's table loses the samples from the
//! first that runs past the end of the source on ([`Demux::cut_index_at`]).
//!
//! Timestamps: `pts = dts + ctts/trun offset - edit-list media time` (the first edit; an
//! initial empty edit delays), in the `mdhd` timescale, as before and as ffmpeg gives them.

mod boxes;
#[cfg(any(test, fuzzing))]
mod check;
mod fragment;
mod sample_table;
#[cfg(test)]
mod tests;

#[cfg(fuzzing)]
pub use check::fuzz_demux;

use std::fmt::Display;

use self::boxes::{BoxHeader, HeaderRead, SampleDefaults, SampleEntry, name, read_header};
use self::fragment::{Cursor, Fragment, Traf};
use self::sample_table::{Durations, Table, Tables, build_index};
use super::nal::AnnexBConverter;
use super::{ContainerKind, ContainerTrack, invalid};
#[cfg(test)]
use super::{Demuxed, PacketTableBuilder};
use crate::InputError;
use crate::Rational;
use crate::demux::{Demux, PacketInfo, SampleIndex, Step, TruncatedTail};
use crate::{Codec, ReadError, Result};

/// The most bytes the parser asks a driver to hold at once: its largest sample.
pub(crate) const MAX_WINDOW: usize = 64 << 20;
/// The largest box read whole (sample description, edit list, `trun`, ...).
pub(crate) const MAX_HELD_BOX: u64 = 16 << 20;
/// Samples a progressive track may declare beyond one per 4 bytes of its sample tables (a
/// fixed sample size in `stsz` describes any number of samples in 20 bytes).
pub(crate) const SAMPLE_ALLOWANCE: u64 = 1 << 16;
/// Table entries read in one step.
const TABLE_BATCH: usize = 1 << 16;
/// Fragment samples indexed as they pass (20 bytes each: 80 MiB, about 38 hours at 30
/// frames a second); past it the index stops growing and [`Demux::index`] stays `None`.
pub(crate) const MAX_FRAGMENT_INDEX: usize = 1 << 22;
/// Track handlers remembered for the "no video track" error.
const MAX_HANDLERS: usize = 32;
/// `trex` boxes remembered (one per track).
const MAX_TREX: usize = 256;

/// A malformed-file error at absolute byte `at`.
fn malformed(at: u64, what: impl Display) -> ReadError {
    InputError::malformed_at(at, format!("MP4: {what}")).into()
}

/// A file that ends before the bytes it declares (or a live feed that has not sent them).
fn truncated(at: u64, what: impl Display) -> ReadError {
    InputError::truncated(at, format!("MP4: {what}")).into()
}

/// A declared size or count over one of this reader's documented limits; `what` names the
/// quantity and where it was declared.
fn limit_exceeded(what: impl Display, limit: u64) -> ReadError {
    InputError::limit(format!("MP4: {what}"), limit).into()
}

/// Something valid that this reader does not read.
fn unsupported(what: impl Display) -> ReadError {
    InputError::unsupported(what.to_string()).into()
}

/// A broken invariant of this reader, reported instead of a panic or a hang.
fn internal(what: impl Display) -> ReadError {
    InputError::Internal {
        what: format!("MP4 reader: {what}"),
    }
    .into()
}

/// The step that moves from `pos` to `target`: skip bytes already in `input`, else seek.
fn go_to(pos: u64, target: u64, input_len: usize) -> Step {
    match target.checked_sub(pos).map(usize::try_from) {
        Some(Ok(n)) if n <= input_len => Step::Consumed(n),
        _ => Step::SeekTo(target),
    }
}

/// Where a fragment begins, for seeking back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FragmentMark {
    moof_start: u64,
    /// The number of its first sample.
    first_sample: u64,
    /// The decode time a sample without `tfdt` would start from.
    dts_before: i64,
}

/// A box being read whose children follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Open {
    kind: [u8; 4],
    /// Where it ends; `None`: at the end of the file.
    end: Option<u64>,
}

/// What is known of a `trak` while it is read.
#[derive(Debug, Default)]
struct Trak {
    track_id: u32,
    handler: Option<[u8; 4]>,
    timescale: u32,
    duration: u64,
    edits: Vec<(u64, i64)>,
    entry: Option<SampleEntry>,
    tables: Tables,
}

#[derive(Debug)]
enum State {
    /// Reading box headers.
    Boxes,
    /// Reading a sample table's entries; the box ends at `end`.
    Table {
        table: Table,
        remaining: u64,
        end: u64,
    },
    /// Handing out the progressive index's samples from `next` on.
    Progressive { next: usize },
    /// Handing out the current fragment's samples; its `mdat` ends at `mdat_end`.
    Fragment {
        cursor: Cursor,
        mdat_end: Option<u64>,
    },
    /// After the end.
    Done,
}

/// The MP4 [`Demux`]: the first video track's packets. See the module docs.
#[derive(Debug)]
pub(crate) struct Mp4Demux {
    state: State,
    stack: Vec<Open>,
    movie_timescale: u32,
    /// `mehd`: the fragmented movie's duration, movie timescale.
    fragment_duration: Option<u64>,
    trex: Vec<(u32, SampleDefaults)>,
    handlers: Vec<[u8; 4]>,
    /// The `trak` being read.
    trak: Option<Trak>,
    /// The first video `trak`, once read.
    chosen: Option<Trak>,
    has_mvex: bool,
    moov_end: Option<u64>,
    // Known after `moov`:
    codec: Option<Codec>,
    track: Option<ContainerTrack>,
    converter: Option<AnnexBConverter>,
    track_id: u32,
    timescale: u32,
    defaults: SampleDefaults,
    shift: i64,
    duration_declared: bool,
    index: SampleIndex,
    durations: Durations,
    /// Decode time of the next fragment sample without a `tfdt`.
    next_dts: i64,
    /// The number of the next packet (fragment samples are numbered after the samples of
    /// `moov`).
    handed_out: u64,
    /// Samples numbered below this are passed over without being handed out (after a seek
    /// into a fragment).
    skip_until: u64,
    /// The highest packet number handed out, plus one.
    samples_seen: u64,
    /// Samples listed in `moov` (the first entries of `index`).
    progressive_len: usize,
    /// Every fragment's start, in file order.
    marks: Vec<FragmentMark>,
    /// Whether the `moof` being read was read before (its durations are counted already).
    revisiting: bool,
    /// Whether the index stopped growing at [`MAX_FRAGMENT_INDEX`].
    index_capped: bool,
    fragment: Option<Fragment>,
    traf: Option<Traf>,
    finished: bool,
    /// The offset of the last [`Step::SeekTo`] asked for: if the next step starts elsewhere,
    /// the source ended before it (a driver over bytes in memory stops at their end).
    sought: Option<u64>,
    /// The last jump asked for (from, to): where the file may have ended, for the error
    /// when no `moov` box came.
    jumped: Option<(u64, u64)>,
    /// The source length the progressive index was last checked against
    /// ([`Demux::cut_index_at`]).
    len_checked: Option<u64>,
}

impl Default for Mp4Demux {
    fn default() -> Self {
        Self::new()
    }
}

impl Mp4Demux {
    /// A parser at the start of a file.
    pub(crate) fn new() -> Self {
        Self {
            state: State::Boxes,
            stack: Vec::new(),
            movie_timescale: 0,
            fragment_duration: None,
            trex: Vec::new(),
            handlers: Vec::new(),
            trak: None,
            chosen: None,
            has_mvex: false,
            moov_end: None,
            codec: None,
            track: None,
            converter: None,
            track_id: 0,
            timescale: 0,
            defaults: SampleDefaults::default(),
            shift: 0,
            duration_declared: false,
            index: SampleIndex::new(),
            durations: Durations::default(),
            next_dts: 0,
            handed_out: 0,
            skip_until: 0,
            samples_seen: 0,
            progressive_len: 0,
            marks: Vec::new(),
            revisiting: false,
            index_capped: false,
            fragment: None,
            traf: None,
            finished: false,
            len_checked: None,
            sought: None,
            jumped: None,
        }
    }

    /// Reads box headers: enters containers, holds small boxes, starts tables, skips the
    /// rest. `None`: the state changed without a step to report.
    fn boxes(&mut self, input: &[u8], pos: u64, eof: bool) -> Result<Option<Step>> {
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
    fn skip(
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
    fn at_eof(&mut self, input: &[u8], pos: u64) -> Result<Option<Step>> {
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
    fn mdat(
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
    fn held(
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

    fn parse_held(&mut self, kind: &[u8; 4], body: &[u8], at: u64) -> Result<()> {
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
    fn table_start(
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
    fn table(&mut self, input: &[u8], pos: u64, eof: bool) -> Result<Option<Step>> {
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
    fn close(&mut self, kind: [u8; 4], pos: u64) -> Result<()> {
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
    fn moov_read(&mut self, moov_end: u64) -> Result<()> {
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
    fn update_track_stats(&mut self) {
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

    /// The end of the file (or of a box running to it) where a box was due.
    fn finish(&mut self) -> Result<Step> {
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
    fn reach(
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
    fn write_packet(&mut self, bytes: &[u8], out: &mut Vec<u8>, index: u64) -> Result<()> {
        out.clear();
        match &mut self.converter {
            Some(c) => c.convert_packet(bytes, out, usize::try_from(index).unwrap_or(usize::MAX)),
            None => {
                out.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    fn progressive(
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

    fn fragment_samples(
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

/// Steps the parser may take without reporting one (closing containers, changing state)
/// before it is considered stuck: far more than the nesting depth.
const MAX_SILENT_TRANSITIONS: usize = 64;

impl Demux for Mp4Demux {
    fn step(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step> {
        // After a seek the driver could not make (a source in memory stops at its end), go
        // on as a file would: at the offset asked for, with nothing left.
        let (input, pos, eof) = match self.sought.take() {
            Some(target) if target != pos => (&[][..], target, true),
            _ => (input, pos, eof),
        };
        let step = self.next_step(input, pos, eof, out)?;
        if let Step::SeekTo(target) = step {
            self.sought = Some(target);
            self.jumped = Some((pos, target));
        }
        Ok(step)
    }
    fn codec(&self) -> Option<Codec> {
        self.codec
    }

    fn track(&self) -> Option<&ContainerTrack> {
        self.track.as_ref()
    }

    fn index(&self) -> Option<&SampleIndex> {
        let complete = !self.has_mvex || (self.finished && !self.index_capped);
        (self.moov_end.is_some() && complete).then_some(&self.index)
    }

    /// Seeks to a sample of `moov`'s table, or of a fragment already read (fragmented files
    /// are indexed as they pass; the seek goes back to the fragment's `moof` and passes over
    /// the samples before `sample`).
    fn seek_to_sample(&mut self, sample: usize) -> Result<u64> {
        if self.moov_end.is_none() {
            return Err(unsupported("MP4: seeking before the 'moov' box is read"));
        }
        if sample >= self.index.len() {
            return Err(InputError::sample_out_of_range(
                sample,
                self.index.len(),
                if self.has_mvex {
                    "seeking in an MP4 file (the index of the fragments read so far)"
                } else {
                    "seeking in an MP4 file"
                },
            )
            .into());
        }
        if let Some(c) = &mut self.converter {
            c.reset();
        }
        self.fragment = None;
        self.traf = None;
        self.stack.clear();
        let number = sample as u64;
        if sample < self.progressive_len {
            self.handed_out = number;
            self.skip_until = 0;
            self.state = State::Progressive { next: sample };
            return self
                .index
                .offset(sample)
                .ok_or_else(|| internal(format!("sample {sample} has no offset")));
        }
        let at = self.marks.partition_point(|m| m.first_sample <= number);
        let mark = at
            .checked_sub(1)
            .and_then(|i| self.marks.get(i).copied())
            .ok_or_else(|| internal(format!("no fragment holds sample {sample}")))?;
        self.handed_out = mark.first_sample;
        self.skip_until = number;
        self.next_dts = mark.dts_before;
        self.state = State::Boxes;
        Ok(mark.moof_start)
    }

    /// A fragmented file cut inside a fragment (its `moof`, or a sample of its `mdat`) keeps
    /// the samples handed out before the cut as its complete index. The index grows only
    /// with the next sample in decode order, so it always holds samples `0..len` however
    /// often the pass was sought back.
    fn seal_truncated(&mut self, tail: TruncatedTail) -> bool {
        if self.moov_end.is_none()
            || !self.has_mvex
            || self.finished
            || self.index_capped
            || self.index.len() <= self.progressive_len
        {
            return false;
        }
        self.index.set_truncated(tail);
        self.finished = true;
        self.fragment = None;
        self.state = State::Done;
        true
    }

    /// Drops the progressive samples from the first whose bytes run past `len` on (samples
    /// lie in decode order without overlapping, so the ones before it end inside the file).
    fn cut_index_at(&mut self, len: u64) {
        if self.moov_end.is_none()
            || self.index.truncated().is_some()
            || self.len_checked == Some(len)
        {
            return;
        }
        self.len_checked = Some(len);
        let past_end = |i: usize| match (self.index.offset(i), self.index.size(i)) {
            (Some(offset), Some(size)) => offset.saturating_add(u64::from(size)) > len,
            _ => false,
        };
        let Some(cut) = (0..self.progressive_len).find(|&i| past_end(i)) else {
            return;
        };
        let (offset, size) = (
            self.index.offset(cut).unwrap_or(len),
            self.index.size(cut).unwrap_or(0),
        );
        let dropped = self.index.len().saturating_sub(cut) as u64;
        let error = InputError::truncated(
            offset,
            format!(
                "MP4 sample {cut} ({size} bytes) lies outside the file: {} bytes remain;                  {dropped} samples from it on are left out of the index",
                len.saturating_sub(offset)
            ),
        );
        self.index.truncate(cut);
        self.index
            .set_truncated(TruncatedTail::new(offset, len, Some(dropped), error));
        self.progressive_len = cut;
        if let Some(track) = &mut self.track {
            track.packet_count = cut;
        }
    }

    fn max_window(&self) -> usize {
        MAX_WINDOW
    }

    /// The index, the tables of the track being read (while `moov` is read), the current
    /// fragment's runs and the fragment marks; the driver's window is not included.
    fn heap_bytes(&self) -> usize {
        let tables = |t: &Option<Trak>| t.as_ref().map_or(0, |t| t.tables.heap_bytes());
        self.index
            .heap_bytes()
            .saturating_add(tables(&self.trak))
            .saturating_add(tables(&self.chosen))
            .saturating_add(self.fragment.as_ref().map_or(0, Fragment::heap_bytes))
            .saturating_add(self.marks.capacity() * size_of::<FragmentMark>())
    }
}

/// Demuxes the first video track of the MP4 file `bytes` into a packet table, driving
/// [`Mp4Demux`] over the bytes in memory: the whole-file reference the tests compare the
/// streaming drivers against.
#[cfg(test)]
pub(super) fn demux(bytes: &[u8]) -> Result<Demuxed> {
    let mut parser = Mp4Demux::new();
    let mut out = Vec::new();
    let mut pos = 0u64;
    let mut builder: Option<PacketTableBuilder> = None;
    let mut stalls = 0u32;
    let error = loop {
        let from = usize::try_from(pos).map_or(bytes.len(), |p| p.min(bytes.len()));
        let input = bytes.get(from..).unwrap_or(&[]);
        let step = match parser.step(input, pos, true, &mut out) {
            Ok(step) => step,
            Err(e) => break Some(e),
        };
        if builder.is_none() {
            builder = parser
                .codec()
                .map(|codec| PacketTableBuilder::new(codec, None, bytes.len()));
        }
        match step {
            Step::Consumed(n) => {
                pos = pos.saturating_add(n as u64);
                stalls = if n == 0 { stalls + 1 } else { 0 };
            }
            Step::SeekTo(to) => {
                pos = to;
                stalls += 1;
            }
            Step::Packet { consumed, info } => {
                let Some(table) = &mut builder else {
                    break Some(internal("a packet before its track"));
                };
                if let Err(e) = table.push_copy(&out, info.pts) {
                    break Some(e);
                }
                pos = pos.saturating_add(consumed as u64);
                stalls = 0;
            }
            Step::NeedMore(n) => {
                break Some(internal(format!(
                    "asked for {n} bytes at byte offset {pos} after the end"
                )));
            }
            Step::End => break None,
        }
        if stalls > 8 {
            break Some(internal(format!("no progress at byte offset {pos}")));
        }
    };
    match (parser.codec(), parser.track(), builder) {
        (Some(codec), Some(track), Some(table)) => Ok(table.finish(codec, track.clone(), error)),
        _ => Err(error.unwrap_or_else(|| invalid("MP4 file has no video track"))),
    }
}

impl Mp4Demux {
    /// One step of the state machine: internal transitions (closing containers, changing
    /// state) are taken here, up to [`MAX_SILENT_TRANSITIONS`].
    fn next_step(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step> {
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
