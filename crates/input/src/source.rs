//! The drivers that run a sans-I/O [`Demux`] over real input: bytes in memory, a `Read + Seek`
//! source, a plain `Read`, and bytes pushed in as they arrive (live input).
//!
//! Invariant: the driver holds at most one window of the source's bytes, and the window never
//! grows past what the parser asked for ([`Step::NeedMore`], itself never more than
//! [`Demux::max_window`]) plus one read of [`READ_CHUNK`] bytes; it grows only with bytes that
//! actually arrived, so a size field that lies costs nothing until the bytes exist. Bytes the
//! parser used are dropped before the next read. Hence, per reader:
//!
//! > peak heap ≤ 2 × (largest window the parser asked for) + [`READ_CHUNK`] + the last
//! > packet (`out`) + the parser's own state (its [`SampleIndex`], 20 bytes a sample, for
//! > containers) + a small constant,
//!
//! (2 × because the buffer's capacity grows by doubling, which keeps reading O(bytes)), and
//! the largest window is one packet (access unit, picture, frame) plus a few header bytes for
//! the raw and IVF readers. Bytes in memory are never copied into a window: the parser reads
//! them in place.
//!
//! Why a driver and not readers that own their I/O: one parser then serves every source, and
//! live input can hand bytes in without a thread blocking on a socket (see
//! [`demux`](super::demux)). Seeks: a forward [`Step::SeekTo`] on a source that cannot seek is
//! served by reading and discarding (live input: by dropping the next bytes fed); a backward
//! one there is [`InputError::NeedsSeek`].
//!
//! A parser that keeps answering `Consumed(0)` or `SeekTo` without using or asking for bytes
//! would spin; the driver stops it after [`MAX_STALLS`] such steps in a row with an internal
//! error.

use std::io::{Read, Seek, SeekFrom};

use super::InputError;
use super::demux::{Demux, PacketInfo, Step};
use crate::{ReadError, Result};

/// Bytes asked of a reader in one `read` call (64 KiB).
pub(crate) const READ_CHUNK: usize = 64 << 10;

/// `Consumed(0)` / `SeekTo` steps in a row after which a parser is taken to be stuck.
pub(crate) const MAX_STALLS: u32 = 64;

/// A `Read + Seek` source that can be sent to another thread.
pub(crate) trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// Where the bytes come from.
pub(crate) enum ByteSource {
    /// The whole input, in memory (read in place).
    Memory(Vec<u8>),
    /// A seekable source, read incrementally.
    Seekable(Box<dyn ReadSeek>),
    /// A source read front to back (pipe, socket).
    Stream(Box<dyn Read + Send>),
    /// Bytes pushed in by [`Input::feed`].
    Live,
}

impl std::fmt::Debug for ByteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ByteSource::Memory(_) => "Memory",
            ByteSource::Seekable(_) => "Seekable",
            ByteSource::Stream(_) => "Stream",
            ByteSource::Live => "Live",
        })
    }
}

/// What [`Input::fill`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// The window holds what was asked, or the source ended.
    Done,
    /// Live input: more bytes must be fed first.
    NeedInput,
}

/// A source and the window of its bytes the parser is looking at.
///
/// Invariant: the window is `buf[start..filled]` (or, for [`ByteSource::Memory`], the bytes from
/// `pos` on) and begins at absolute offset `pos`; `buf[filled..]` is spare room already
/// initialised, which `read` calls write into; `eof` is set once the source has no more bytes
/// after the window.
///
/// Why the spare room is kept initialised: `Read::read` takes an initialised `&mut [u8]`, and
/// zero-filling the spare capacity before every call made a reader that returns one byte a
/// call cost O(window) a byte, the square of the access unit. Room is now zeroed once, when
/// the buffer grows, so reading costs O(bytes) whatever sizes `read` returns.
#[derive(Debug)]
pub(crate) struct Input {
    source: ByteSource,
    buf: Vec<u8>,
    start: usize,
    /// End of the window's bytes in `buf`; `buf[filled..]` is initialised spare room.
    filled: usize,
    pos: u64,
    eof: bool,
    /// Bytes still to drop from the front of what arrives (a forward seek on a source that
    /// cannot seek).
    skip: u64,
}

impl Input {
    /// A window at the start of `source`.
    pub(crate) fn new(source: ByteSource) -> Self {
        let eof = matches!(source, ByteSource::Memory(_));
        Self {
            source,
            buf: Vec::new(),
            start: 0,
            filled: 0,
            pos: 0,
            eof,
            skip: 0,
        }
    }

    /// The bytes of the window and whether the source ends after them.
    pub(crate) fn window(&self) -> (&[u8], bool) {
        match &self.source {
            ByteSource::Memory(bytes) => {
                let at = usize::try_from(self.pos).unwrap_or(usize::MAX);
                (bytes.get(at..).unwrap_or(&[]), true)
            }
            _ => (
                self.buf.get(self.start..self.filled).unwrap_or(&[]),
                self.eof,
            ),
        }
    }

    /// Absolute offset of the window's first byte.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Drops the window's first `n` bytes (the caller checked `n <= window().0.len()`).
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n as u64);
        if !matches!(self.source, ByteSource::Memory(_)) {
            self.start = self.start.saturating_add(n).min(self.filled);
            if self.start == self.filled {
                self.empty();
            }
        }
    }

    /// Moves the bytes not yet used to the front of the buffer (O(bytes held)).
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
    }

    /// Drops the window's bytes, keeping the buffer and its spare room.
    fn empty(&mut self) {
        self.start = 0;
        self.filled = 0;
    }

    /// Reads until the window holds at least `min` bytes or the source ends.
    ///
    /// # Errors
    /// The source's I/O errors (`Interrupted` is retried).
    pub(crate) fn fill(&mut self, min: usize) -> Result<Fill> {
        if matches!(self.source, ByteSource::Seekable(_) | ByteSource::Stream(_)) {
            self.compact();
        }
        let reader: &mut dyn Read = match &mut self.source {
            ByteSource::Memory(_) => return Ok(Fill::Done),
            ByteSource::Live if self.eof => return Ok(Fill::Done),
            ByteSource::Live => {
                return Ok(if self.filled.saturating_sub(self.start) >= min {
                    Fill::Done
                } else {
                    Fill::NeedInput
                });
            }
            ByteSource::Seekable(r) => r,
            ByteSource::Stream(r) => r,
        };
        while self.skip > 0 && !self.eof {
            let mut scratch = [0u8; 4096];
            let want = usize::try_from(self.skip)
                .unwrap_or(usize::MAX)
                .min(scratch.len());
            match read_some(reader, scratch.get_mut(..want).unwrap_or(&mut []))? {
                0 => self.eof = true,
                n => self.skip = self.skip.saturating_sub(n as u64),
            }
        }
        while self.filled < min && !self.eof {
            let old = self.filled;
            if self.buf.capacity() - old < READ_CHUNK {
                // Doubling growth: amortised O(1) a byte, capacity at most twice the bytes
                // held plus one chunk.
                self.buf.truncate(old);
                self.buf.reserve(READ_CHUNK);
            }
            if self.buf.len() < self.buf.capacity() {
                // Zeroes only the room not initialised yet: each byte of capacity once.
                self.buf.resize(self.buf.capacity(), 0);
            }
            let n = read_some(reader, self.buf.get_mut(old..).unwrap_or(&mut []))?;
            self.filled = old.saturating_add(n).min(self.buf.len());
            if n == 0 {
                self.eof = true;
            }
        }
        Ok(Fill::Done)
    }

    /// Continues at absolute offset `target`.
    ///
    /// # Errors
    /// [`InputError::NeedsSeek`] for a backward seek on a source that cannot seek; the
    /// source's I/O errors.
    pub(crate) fn seek(&mut self, target: u64) -> Result<()> {
        let (window, _) = self.window();
        let buffered_end = self.pos.saturating_add(window.len() as u64);
        if target >= self.pos && target <= buffered_end {
            let n = usize::try_from(target - self.pos).unwrap_or(usize::MAX);
            self.consume(n);
            return Ok(());
        }
        match &mut self.source {
            // Past the end too: the window is then empty (and at its end), at the offset the
            // parser asked for, as a file sought past its end reads nothing.
            ByteSource::Memory(_) => self.pos = target,
            // Past any file a `Seek` can reach (`File` refuses such offsets with `EINVAL`):
            // at its end, as above, so the parser reports the size field that led here.
            ByteSource::Seekable(_) if target > i64::MAX as u64 => {
                self.empty();
                self.pos = target;
                self.eof = true;
            }
            ByteSource::Seekable(reader) => {
                reader.seek(SeekFrom::Start(target))?;
                self.empty();
                self.pos = target;
                self.eof = false;
            }
            ByteSource::Stream(_) | ByteSource::Live => {
                if target < self.pos {
                    return Err(InputError::NeedsSeek {
                        what: format!(
                            "the reader asked for byte offset {target}, behind offset {} already \
                             read",
                            self.pos
                        ),
                    }
                    .into());
                }
                self.skip = target - buffered_end;
                self.empty();
                self.pos = target;
            }
        }
        Ok(())
    }

    /// Live input: appends `bytes` (after dropping what a forward seek skips), refusing to
    /// hold more than `limit` bytes not yet used.
    ///
    /// # Errors
    /// [`InputError::LimitExceeded`] (nothing is taken), or [`InputError::Internal`] after
    /// [`finish`](Self::finish) or on a source that is not live.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], limit: usize) -> Result<()> {
        if !matches!(self.source, ByteSource::Live) || self.eof {
            return Err(InputError::Internal {
                what: "bytes fed after the end of a live stream".into(),
            }
            .into());
        }
        let drop = usize::try_from(self.skip)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let held = self.filled.saturating_sub(self.start);
        if held.saturating_add(bytes.len() - drop) > limit {
            return Err(InputError::limit(
                format!(
                    "live input: {held} bytes waiting plus {} fed (take packets before feeding \
                     more)",
                    bytes.len() - drop
                ),
                limit as u64,
            )
            .into());
        }
        self.skip -= drop as u64;
        bytes = bytes.get(drop..).unwrap_or(&[]);
        self.compact();
        self.buf.truncate(self.filled);
        self.buf.extend_from_slice(bytes);
        self.filled = self.buf.len();
        Ok(())
    }

    /// Live input: no more bytes will be fed.
    pub(crate) fn finish(&mut self) {
        self.eof = true;
    }

    /// Heap bytes held by the window (and, for bytes in memory, the bytes).
    pub(crate) fn heap_bytes(&self) -> usize {
        let own = match &self.source {
            ByteSource::Memory(bytes) => bytes.capacity(),
            _ => 0,
        };
        own.saturating_add(self.buf.capacity())
    }

    /// The source's length in bytes: for bytes in memory, their length; for a seekable
    /// source, where its end is (one seek to the end and one back, so the bytes already
    /// buffered stay valid); for others, known once their end has been reached.
    ///
    /// # Errors
    /// The source's I/O errors while seeking.
    pub(crate) fn len(&mut self) -> Result<Option<u64>> {
        let buffered_end = self
            .pos
            .saturating_add(self.buf.len().saturating_sub(self.start) as u64);
        match &mut self.source {
            ByteSource::Memory(bytes) => Ok(Some(bytes.len() as u64)),
            ByteSource::Seekable(reader) => {
                let here = reader.stream_position()?;
                let end = reader.seek(SeekFrom::End(0))?;
                reader.seek(SeekFrom::Start(here))?;
                Ok(Some(end))
            }
            ByteSource::Stream(_) | ByteSource::Live => Ok(self.eof.then_some(buffered_end)),
        }
    }

    /// Whether the source can go back to its start.
    pub(crate) fn can_rewind(&self) -> bool {
        matches!(self.source, ByteSource::Memory(_) | ByteSource::Seekable(_))
    }
}

/// One `read`, retried on `Interrupted`.
fn read_some(reader: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n.min(buf.len())),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

/// What [`DemuxDriver::advance`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pulled {
    /// A packet; its bytes are [`DemuxDriver::packet`].
    Packet(PacketInfo),
    /// Live input: feed more bytes.
    NeedInput,
    /// No more packets.
    End,
}

/// A parser run over an [`Input`]. See the [module docs](self).
pub(crate) struct DemuxDriver {
    pub(crate) input: Input,
    pub(crate) demux: Box<dyn Demux>,
    out: Vec<u8>,
    stalls: u32,
    /// An error or the end was reached: nothing more comes.
    stopped: bool,
}

impl std::fmt::Debug for DemuxDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemuxDriver")
            .field("input", &self.input)
            .field("codec", &self.demux.codec())
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl DemuxDriver {
    /// `demux` over `input`.
    pub(crate) fn new(input: Input, demux: Box<dyn Demux>) -> Self {
        Self {
            input,
            demux,
            out: Vec::new(),
            stalls: 0,
            stopped: false,
        }
    }

    /// Lets a driver that ended or failed run again (after a seek).
    pub(crate) fn restart(&mut self) {
        self.stopped = false;
        self.stalls = 0;
    }

    /// The bytes of the last packet handed out.
    pub(crate) fn packet(&self) -> &[u8] {
        &self.out
    }

    /// Runs the parser until it hands out a packet, ends, or (live input) needs bytes.
    ///
    /// # Errors
    /// The parser's input errors, the source's I/O errors, [`InputError::LimitExceeded`] for a
    /// window larger than the parser's bound, [`InputError::NeedsSeek`]. After an error,
    /// later calls return [`Pulled::End`].
    pub(crate) fn advance(&mut self) -> Result<Pulled> {
        loop {
            if let Some(pulled) = self.step_once()? {
                return Ok(pulled);
            }
        }
    }

    /// One parser step: what it produced, or `None` when it only moved on (used bytes, was
    /// given more, sought), as [`advance`](Self::advance) does in a loop.
    ///
    /// # Errors
    /// As [`advance`](Self::advance).
    pub(crate) fn step_once(&mut self) -> Result<Option<Pulled>> {
        if self.stopped {
            return Ok(Some(Pulled::End));
        }
        let pulled = self.run_step();
        match &pulled {
            Ok(Some(Pulled::End)) | Err(_) => self.stopped = true,
            _ => {}
        }
        pulled
    }

    fn run_step(&mut self) -> Result<Option<Pulled>> {
        {
            let (window, eof) = self.input.window();
            let len = window.len();
            let pos = self.input.pos();
            let step = self.demux.step(window, pos, eof, &mut self.out)?;
            match step {
                Step::Consumed(n) => {
                    check_within(n, len, "Consumed")?;
                    if n == 0 {
                        self.stalls = self.stalls.saturating_add(1);
                        if self.stalls > MAX_STALLS {
                            return Err(internal(format!(
                                "the reader made no progress at byte offset {pos} in \
                                 {MAX_STALLS} steps"
                            )));
                        }
                    } else {
                        self.stalls = 0;
                    }
                    self.input.consume(n);
                }
                Step::NeedMore(min) => {
                    self.stalls = 0;
                    if eof {
                        return Err(internal(format!(
                            "the reader asked for {min} bytes at byte offset {pos} after the end"
                        )));
                    }
                    let limit = self.demux.max_window();
                    if min > limit {
                        return Err(InputError::limit(
                            format!("a unit of {min} bytes at byte offset {pos}"),
                            limit as u64,
                        )
                        .into());
                    }
                    if min <= len {
                        return Err(internal(format!(
                            "the reader asked for {min} bytes at byte offset {pos} and had {len}"
                        )));
                    }
                    if self.input.fill(min)? == Fill::NeedInput {
                        return Ok(Some(Pulled::NeedInput));
                    }
                }
                Step::SeekTo(target) => {
                    // Seeks alone are no progress: a parser that only seeks would spin.
                    self.stalls = self.stalls.saturating_add(1);
                    if self.stalls > MAX_STALLS {
                        return Err(internal(format!(
                            "the reader made no progress at byte offset {pos} in {MAX_STALLS} \
                             steps (last: a seek to {target})"
                        )));
                    }
                    self.input.seek(target)?;
                }
                Step::Packet { consumed, info } => {
                    check_within(consumed, len, "Packet")?;
                    self.stalls = 0;
                    self.input.consume(consumed);
                    return Ok(Some(Pulled::Packet(info)));
                }
                Step::End => return Ok(Some(Pulled::End)),
            }
        }
        Ok(None)
    }

    /// Heap bytes held: the window, the packet buffer and the parser's state.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.input
            .heap_bytes()
            .saturating_add(self.out.capacity())
            .saturating_add(self.demux.heap_bytes())
    }
}

fn check_within(n: usize, len: usize, what: &str) -> Result<()> {
    if n > len {
        return Err(internal(format!(
            "the reader's {what} step used {n} bytes of a {len}-byte window"
        )));
    }
    Ok(())
}

fn internal(what: String) -> ReadError {
    InputError::Internal { what }.into()
}
