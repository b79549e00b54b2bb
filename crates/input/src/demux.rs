//! The one shape every reader has: a sans-I/O parser that is handed bytes and says what it
//! wants next.
//!
//! Invariant: a [`Demux`] never reads a file, a socket or a clock itself. It is handed a
//! window of the source's bytes (`input`, starting at absolute offset `pos`) and answers with
//! one [`Step`]: bytes used, more bytes needed (never more than [`Demux::max_window`]), a
//! jump to another offset, a packet written into the caller's buffer, or the end. So one
//! parser serves a whole file held in memory, a `Read + Seek` file read incrementally, a
//! plain `Read` (pipe, socket) and bytes pushed in as they arrive (live input), and its
//! memory is what it keeps between steps (its header state and its [`SampleIndex`]) plus the
//! driver's window — never a function of how long the input is, except for the index.
//!
//! Why sans-I/O: the readers are the code hostile files reach first. A parser that only sees
//! slices cannot block, cannot read past what it was given, and can be fuzzed by handing it
//! bytes in arbitrary chunk sizes; the same code then runs for files and for live feeds. The
//! price is that a parser must be able to stop at any byte and resume, which each one does
//! by only advancing its state on complete units (a box, an element, a frame header).
//!
//! Drivers (`source.rs`) loop: read at least what `NeedMore` asks (or report `eof`), drop
//! what `Consumed`/`Packet` used, reposition on `SeekTo` (a forward `SeekTo` on a source that
//! cannot seek is served by reading and discarding; a backward one is an error naming the
//! container layout that needs seeking, e.g. a progressive MP4 with `moov` after `mdat`).

use crate::InputError;
use crate::track::ContainerTrack;
use crate::{Codec, Result};

/// What a parser says after one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The first `n` bytes of `input` were used and produced nothing to hand out (a header,
    /// a skipped box); call again with the bytes after them. `n` may be 0 only together with
    /// a changed internal state (the driver treats two `Consumed(0)` in a row with the same
    /// input as a parser bug and stops with an error rather than spinning).
    Consumed(usize),
    /// At least `min` bytes from the current position are needed, more than `input.len()`.
    /// Never asked once `eof` was passed (the parser then returns `End` or an error), and
    /// never more than [`Demux::max_window`].
    NeedMore(usize),
    /// Continue with the bytes at absolute offset `pos` (skip forward over data not needed,
    /// or jump to a box/element/cluster elsewhere in the file). Only the containers ask it.
    #[cfg_attr(not(feature = "containers"), allow(dead_code))]
    SeekTo(u64),
    /// One packet (one picture, the unit NVDEC's parser wants) was written to `out`, which
    /// the parser cleared first; `consumed` bytes of `input` were used.
    Packet {
        /// Bytes of `input` used.
        consumed: usize,
        /// The packet's timestamps and flags.
        info: PacketInfo,
    },
    /// No more packets.
    End,
}

/// A packet's metadata; its bytes are in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PacketInfo {
    /// Presentation timestamp in the track's time base; the packet index for raw streams.
    pub(crate) pts: i64,
    /// Whether the container marks this a sync sample (key frame); `false` when unknown.
    pub(crate) key: bool,
    /// The packet's position in decode order, 0-based, counting from the start of the
    /// stream (after a seek: the index of the sample sought, then on).
    pub(crate) index: u64,
}

/// A sans-I/O reader of one input format. See the module docs.
pub(crate) trait Demux: Send {
    /// Advances over `input`, the source's bytes from absolute offset `pos` on; `eof` says
    /// no bytes follow `input`. Packet bytes go to `out` (cleared first by the parser).
    ///
    /// # Errors
    /// Malformed input, as an input error naming the offset or packet at fault. After an
    /// error the parser is not called again.
    fn step(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step>;

    /// The codec, once known (after the header for containers and IVF; at once for raw
    /// elementary streams, whose codec the caller names).
    fn codec(&self) -> Option<Codec>;

    /// The container's track description, for MP4 and Matroska/WebM, once the header is read.
    fn track(&self) -> Option<&ContainerTrack>;

    /// The sample index, when it is complete: progressive MP4 after `moov`, fragmented MP4
    /// with `mfra`/`sidx` or after a full scan, Matroska with `Cues` (key frames only) or
    /// after a full scan; raw streams after a scan. `None` while unknown.
    fn index(&self) -> Option<&SampleIndex>;

    /// Prepares to continue so that the next packet handed out is sample `sample` of
    /// [`index`](Self::index) (decode order), and returns the absolute offset the driver
    /// must continue from.
    ///
    /// # Errors
    /// No index, or `sample` outside it.
    fn seek_to_sample(&mut self, sample: usize) -> Result<u64>;

    /// The most bytes this parser may ask for in one [`Step::NeedMore`]: the driver's window
    /// bound. A documented constant per format (largest box, element or frame accepted).
    fn max_window(&self) -> usize;

    /// Heap bytes this parser holds between steps (header state, index, tables), for
    /// [`ElementaryStream::memory_footprint`](super::ElementaryStream::memory_footprint).
    /// The default counts the index only; parsers that keep more override it.
    fn heap_bytes(&self) -> usize {
        self.index().map_or(0, SampleIndex::heap_bytes)
    }

    /// The input ended inside a unit (`tail`): if this parser has indexed every sample it
    /// handed out from the start of the input, it keeps that index of the complete samples
    /// as final, records `tail` in it and returns `true`; otherwise (no index kept, a seek
    /// broke the sequence, nothing indexed) `false`, and the error stands.
    fn seal_truncated(&mut self, tail: TruncatedTail) -> bool {
        let _ = tail;
        false
    }

    /// The source is `len` bytes long: drops from the index the samples (and every one after
    /// them in decode order) whose stored bytes run past it, recording the cut in the index.
    /// Only readers whose index comes from a table rather than from the bytes read
    /// (progressive MP4) can list such samples; the default does nothing.
    fn cut_index_at(&mut self, len: u64) {
        let _ = len;
    }

    /// What a transport-stream reader met (losses, repairs); `None` for other formats.
    fn ts_stats(&self) -> Option<crate::TsStats> {
        None
    }
}

/// What an index of an input cut short leaves out: the unit (frame, block, box, sample) the
/// input ends inside, and the samples the container declares past the cut.
///
/// Invariant: every sample of the [`SampleIndex`] holding it lies wholly before
/// [`input_len`](Self::input_len), and is complete; [`offset`](Self::offset) is where the
/// first unit that is not complete begins. It is present exactly when a whole pass over the
/// input ends in [`InputError::Truncated`] (after the samples indexed), or, for a progressive
/// MP4, when the sample table lists bytes past the end of the input.
///
/// Why a report rather than an error: a file cut inside its last packet (an interrupted
/// recording or upload) still holds every sample before the cut, and random access over them
/// is what a caller wants; the loss stays visible here instead of refusing the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedTail {
    offset: u64,
    input_len: u64,
    samples_dropped: Option<u64>,
    error: InputError,
}

impl TruncatedTail {
    /// A cut: the input is `input_len` bytes long and ends inside the unit `error` names.
    pub(crate) fn new(
        offset: u64,
        input_len: u64,
        samples_dropped: Option<u64>,
        error: InputError,
    ) -> Self {
        Self {
            offset,
            input_len,
            samples_dropped,
            error,
        }
    }

    /// Absolute byte offset where the cut unit (IVF frame header, Matroska element, MP4
    /// sample or box) begins.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The input's length in bytes.
    pub fn input_len(&self) -> u64 {
        self.input_len
    }

    /// Bytes of the input from [`offset`](Self::offset) to its end, present but unused (0
    /// when the cut unit begins at or past the end).
    pub fn bytes_unused(&self) -> u64 {
        self.input_len.saturating_sub(self.offset)
    }

    /// Samples the container declares at or past the cut and the index leaves out, where it
    /// declares them (a progressive MP4's sample table); `None` where the cut unit's sample
    /// count is not known (IVF, Matroska, fragmented MP4: at least the one cut).
    pub fn samples_dropped(&self) -> Option<u64> {
        self.samples_dropped
    }

    /// The error a pass over the input ends in at the cut (an [`InputError::Truncated`]
    /// naming the unit and the bytes missing).
    pub fn error(&self) -> &InputError {
        &self.error
    }
}

/// A compact table of a track's samples in decode order, for exact seeks and
/// frames-at-indices: [`SampleIndex::BYTES_PER_SAMPLE`] bytes a sample.
///
/// Invariant: all columns have the same length; `offset[i]..offset[i] + size[i]` is
/// where sample `i`'s stored bytes lie in the source (before any Annex-B conversion) —
/// except in MPEG-TS, whose samples are spread over transport packets: there `offset[i]` is
/// the first transport packet that carries sample `i` (where a seek resumes) and `size[i]`
/// its elementary-stream length (see the `ts` module); whether
/// a sample shows a frame is its own bit, never a pts value, so every pts a file can hold
/// stays a pts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleIndex {
    offset: Vec<u64>,
    size: Vec<u32>,
    pts: Vec<i64>,
    /// One bit a sample: sync sample (key frame).
    key: Vec<u64>,
    /// One bit a sample: no frame is output for it (see [`SampleIndex::is_shown`]).
    hidden: Vec<u64>,
    /// Where the input was cut short, if it was.
    truncated: Option<Box<TruncatedTail>>,
}

impl SampleIndex {
    /// Heap bytes per sample: offset (8) + size (4) + pts (8), plus two bits.
    pub const BYTES_PER_SAMPLE: usize = 20;

    /// The pts a raw Annex-B index gives an access unit the decoder outputs no frame for
    /// (raw streams have no timestamps; see
    /// [`annexb::NOT_SHOWN`](crate::annexb::NOT_SHOWN)). Only a placeholder: whether
    /// a sample is shown is [`is_shown`](Self::is_shown), a bit of its own, so a container or
    /// IVF timestamp equal to this value is an ordinary timestamp.
    pub const NOT_SHOWN: i64 = i64::MIN;

    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a sample that shows a frame.
    pub fn push(&mut self, offset: u64, size: u32, pts: i64, key: bool) {
        self.push_sample(offset, size, pts, key, true);
    }

    /// Appends a sample; `shown`: the decoder outputs a frame for it.
    pub fn push_sample(&mut self, offset: u64, size: u32, pts: i64, key: bool, shown: bool) {
        let i = self.offset.len();
        self.offset.push(offset);
        self.size.push(size);
        self.pts.push(pts);
        if i % 64 == 0 {
            self.key.push(0);
            self.hidden.push(0);
        }
        if key {
            if let Some(word) = self.key.last_mut() {
                *word |= 1 << (i % 64);
            }
        }
        if !shown {
            if let Some(word) = self.hidden.last_mut() {
                *word |= 1 << (i % 64);
            }
        }
    }

    /// Marks sample `i` shown (raw streams: once its display rank is known); nothing past the
    /// end.
    pub(crate) fn set_shown(&mut self, i: usize) {
        if i < self.len() {
            if let Some(word) = self.hidden.get_mut(i / 64) {
                *word &= !(1 << (i % 64));
            }
        }
    }

    /// Sets sample `i`'s pts (raw streams: its display rank, known once its coded video
    /// sequence has been scanned); nothing past the end.
    pub(crate) fn set_pts(&mut self, i: usize, pts: i64) {
        if let Some(slot) = self.pts.get_mut(i) {
            *slot = pts;
        }
    }

    /// Reserves room for `n` more samples; the caller has checked `n` against its bound.
    #[cfg_attr(not(feature = "containers"), allow(dead_code))]
    pub(crate) fn reserve(&mut self, n: usize) {
        self.offset.reserve(n);
        self.size.reserve(n);
        self.pts.reserve(n);
        self.key.reserve(n / 64 + 1);
        self.hidden.reserve(n / 64 + 1);
    }

    /// Keeps the first `n` samples (all when there are fewer).
    #[cfg_attr(not(feature = "containers"), allow(dead_code))]
    pub(crate) fn truncate(&mut self, n: usize) {
        if n >= self.len() {
            return;
        }
        self.offset.truncate(n);
        self.size.truncate(n);
        self.pts.truncate(n);
        for bits in [&mut self.key, &mut self.hidden] {
            bits.truncate(n.div_ceil(64));
            if let Some(word) = bits.last_mut().filter(|_| n % 64 != 0) {
                *word &= (1u64 << (n % 64)) - 1;
            }
        }
    }

    /// Records that the input was cut short at `tail`; a cut recorded before is kept (it is
    /// the earlier one).
    pub(crate) fn set_truncated(&mut self, tail: TruncatedTail) {
        if self.truncated.is_none() {
            self.truncated = Some(Box::new(tail));
        }
    }

    /// Where the input was cut short, when the index covers only the complete samples before
    /// a cut (see [`TruncatedTail`]); `None` for an input that ends where its last unit does.
    pub fn truncated(&self) -> Option<&TruncatedTail> {
        self.truncated.as_deref()
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.offset.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.offset.is_empty()
    }

    /// Sample `i`'s byte offset in the source.
    pub fn offset(&self, i: usize) -> Option<u64> {
        self.offset.get(i).copied()
    }

    /// Sample `i`'s stored size in bytes.
    pub fn size(&self, i: usize) -> Option<u32> {
        self.size.get(i).copied()
    }

    /// Sample `i`'s presentation timestamp in the track's time base; for raw Annex-B
    /// streams, the display rank of its picture, or
    /// [`NOT_SHOWN`](crate::annexb::NOT_SHOWN) when no frame is output for it. Any
    /// value is possible, repeats included: whether the sample is shown is
    /// [`is_shown`](Self::is_shown).
    pub fn pts(&self, i: usize) -> Option<i64> {
        self.pts.get(i).copied()
    }

    /// Whether the decoder outputs a frame for sample `i` (`false` for a packet of hidden
    /// VP8/VP9 frames only, a raw access unit a decoder drops or that is the second field of
    /// a frame; see [`annexb::index`](crate::annexb::index)); `false` past the end. A
    /// sample not shown is fed to the decoder but has no display index.
    pub fn is_shown(&self, i: usize) -> bool {
        i < self.len()
            && self
                .hidden
                .get(i / 64)
                .is_some_and(|w| w & (1 << (i % 64)) == 0)
    }

    /// Whether sample `i` is a sync sample (key frame); `false` past the end.
    pub fn is_key(&self, i: usize) -> bool {
        i < self.len()
            && self
                .key
                .get(i / 64)
                .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// The last sync sample at or before `i` (decode order), if any.
    pub fn key_at_or_before(&self, i: usize) -> Option<usize> {
        (0..=i.min(self.len().checked_sub(1)?))
            .rev()
            .find(|&j| self.is_key(j))
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.offset.capacity() * 8
            + self.size.capacity() * 4
            + self.pts.capacity() * 8
            + self.key.capacity() * 8
            + self.hidden.capacity() * 8
            + self.truncated.as_ref().map_or(0, |t| {
                let what = match &t.error {
                    InputError::Truncated { what, .. } => what.capacity(),
                    _ => 0,
                };
                size_of::<TruncatedTail>().saturating_add(what)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bits_and_the_preceding_key_sample_are_found() {
        let mut index = SampleIndex::new();
        for i in 0..130u64 {
            index.push(i * 10, 10, i as i64, i % 50 == 0);
        }
        assert_eq!(index.len(), 130);
        assert!(index.is_key(0) && index.is_key(50) && index.is_key(100));
        assert!(!index.is_key(1) && !index.is_key(130));
        assert_eq!(index.key_at_or_before(49), Some(0));
        assert_eq!(index.key_at_or_before(50), Some(50));
        assert_eq!(index.key_at_or_before(129), Some(100));
        assert_eq!(index.key_at_or_before(1000), Some(100));
        assert_eq!(SampleIndex::new().key_at_or_before(0), None);
    }

    #[test]
    fn shown_is_a_bit_of_its_own_whatever_the_pts() {
        let mut index = SampleIndex::new();
        index.push(0, 1, SampleIndex::NOT_SHOWN, true);
        index.push_sample(1, 1, 5, false, false);
        for i in 2..70u64 {
            index.push_sample(i, 1, SampleIndex::NOT_SHOWN, false, i % 2 == 0);
        }
        assert!(
            index.is_shown(0),
            "a shown sample whose pts is the placeholder"
        );
        assert!(!index.is_shown(1) && index.is_shown(2) && !index.is_shown(69));
        index.set_shown(69);
        assert!(index.is_shown(69) && !index.is_shown(70));
    }

    #[test]
    fn truncating_keeps_a_prefix_and_clears_the_key_bits_after_it() {
        let mut index = SampleIndex::new();
        for i in 0..130u64 {
            index.push(i * 10, 10, i as i64, i % 10 == 0);
        }
        index.truncate(75);
        let mut expected = SampleIndex::new();
        for i in 0..75u64 {
            expected.push(i * 10, 10, i as i64, i % 10 == 0);
        }
        assert_eq!(index, expected);
        index.truncate(64);
        assert_eq!(index.len(), 64);
        assert_eq!(index.key_at_or_before(100), Some(60));
        let mut hidden = SampleIndex::new();
        for i in 0..130u64 {
            hidden.push_sample(i, 1, i as i64, false, i % 3 != 0);
        }
        hidden.truncate(70);
        hidden.push_sample(70, 1, 70, false, true);
        assert!(hidden.is_shown(70), "no hidden bit survives past a cut");
        assert!(!hidden.is_shown(69));
        index.truncate(1000);
        assert_eq!(index.len(), 64);
    }
}
