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
mod samples;
#[cfg(test)]
mod tests;
mod walk;
#[cfg(test)]
mod whole_file;

#[cfg(test)]
pub(super) use whole_file::demux;

#[cfg(fuzzing)]
pub use check::fuzz_demux;

use std::fmt::Display;

use self::boxes::{BoxHeader, HeaderRead, SampleDefaults, SampleEntry, name, read_header};
use self::fragment::{Cursor, Fragment, Traf};
use self::sample_table::{Durations, Table, Tables, build_index};
use super::nal::AnnexBConverter;
use super::{ContainerKind, ContainerTrack, invalid};
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
