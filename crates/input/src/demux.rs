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
    /// or jump to a box/element/cluster elsewhere in the file).
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

    /// What a transport-stream reader met (losses, repairs); `None` for other formats.
    fn ts_stats(&self) -> Option<crate::TsStats> {
        None
    }
}

/// A compact table of a track's samples in decode order, for exact seeks and
/// frames-at-indices: [`SampleIndex::BYTES_PER_SAMPLE`] bytes a sample.
///
/// Invariant: all four columns have the same length; `offset[i]..offset[i] + size[i]` is
/// where sample `i`'s stored bytes lie in the source (before any Annex-B conversion).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleIndex {
    offset: Vec<u64>,
    size: Vec<u32>,
    pts: Vec<i64>,
    /// One bit a sample: sync sample (key frame).
    key: Vec<u64>,
}

impl SampleIndex {
    /// Heap bytes per sample: offset (8) + size (4) + pts (8), plus one bit.
    pub const BYTES_PER_SAMPLE: usize = 20;

    /// The pts of a sample the decoder outputs no frame for (raw streams: see
    /// [`annexb::NOT_SHOWN`](crate::annexb::NOT_SHOWN)); it is fed, but has no display
    /// index. No container timestamp is this value (container arithmetic saturates short of
    /// it only on hostile files, whose frames then count as not shown).
    pub const NOT_SHOWN: i64 = i64::MIN;

    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a sample.
    pub fn push(&mut self, offset: u64, size: u32, pts: i64, key: bool) {
        let i = self.offset.len();
        self.offset.push(offset);
        self.size.push(size);
        self.pts.push(pts);
        if i % 64 == 0 {
            self.key.push(0);
        }
        if key {
            if let Some(word) = self.key.last_mut() {
                *word |= 1 << (i % 64);
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
    pub(crate) fn reserve(&mut self, n: usize) {
        self.offset.reserve(n);
        self.size.reserve(n);
        self.pts.reserve(n);
        self.key.reserve(n / 64 + 1);
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
    /// [`NOT_SHOWN`](crate::annexb::NOT_SHOWN) when no frame is output for it.
    pub fn pts(&self, i: usize) -> Option<i64> {
        self.pts.get(i).copied()
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
}
