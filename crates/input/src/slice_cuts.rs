//! [`SliceCuts`]: a start-code splitter's sans-I/O parser run over a slice already in memory,
//! yielding its packets as zero-copy sub-slices.
//!
//! Invariant: the slices yielded are exactly the packets the parser hands out when fed the
//! whole slice with `eof` set, in order, followed by its error if it stops with one, and
//! then nothing. So the whole-slice splitters ([`AccessUnits`](crate::AccessUnits),
//! [`Mpeg2Pictures`](crate::Mpeg2Pictures)) and the streaming readers share one boundary
//! rule: each format's boundaries are decided in one place, its `demux.rs`.
//!
//! Why a separate [`SliceCutter::cut`] rather than [`Demux::step`](crate::demux::Demux::step):
//! `step` copies each packet into the driver's buffer; over a slice the packet is already
//! in memory, so `cut` only says where it ends.

use crate::demux::Step;
use crate::{InputError, ReadError, Result};

/// A start-code parser that can say where a packet ends without copying it.
pub(crate) trait SliceCutter {
    /// As [`Demux::step`](crate::demux::Demux::step), except that a [`Step::Packet`] names
    /// the packet `input[..consumed]` instead of writing it anywhere.
    ///
    /// # Errors
    /// As `step`: malformed input, naming its byte offset.
    fn cut(&mut self, input: &[u8], pos: u64, eof: bool) -> Result<Step>;
}

/// One [`Demux::step`](crate::demux::Demux::step) of `cutter`: its
/// [`cut`](SliceCutter::cut), with a packet copied into `out` (cleared first).
///
/// # Errors
/// The cutter's, or an internal error if it names bytes outside `input`.
pub(crate) fn step_copying<C: SliceCutter>(
    cutter: &mut C,
    input: &[u8],
    pos: u64,
    eof: bool,
    out: &mut Vec<u8>,
) -> Result<Step> {
    let step = cutter.cut(input, pos, eof)?;
    if let Step::Packet { consumed, .. } = step {
        let data = input.get(..consumed).ok_or_else(|| {
            ReadError::from(InputError::Internal {
                what: format!(
                    "splitter packet of {consumed} bytes at offset {pos} outside a {}-byte window",
                    input.len()
                ),
            })
        })?;
        out.clear();
        out.extend_from_slice(data);
    }
    Ok(step)
}

/// Runs `C` over `data` with `eof` set; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct SliceCuts<'a, C> {
    data: &'a [u8],
    /// Offset in `data` of the first byte the parser has not used.
    pos: usize,
    cutter: C,
    done: bool,
}

impl<'a, C: SliceCutter> SliceCuts<'a, C> {
    /// Splits `data` with `cutter`, which must be at the start of a stream.
    pub(crate) fn new(data: &'a [u8], cutter: C) -> Self {
        Self {
            data,
            pos: 0,
            cutter,
            done: false,
        }
    }

    /// The parser, for what it knows of the stream (its codec).
    pub(crate) fn cutter(&self) -> &C {
        &self.cutter
    }

    fn internal(&self, what: String) -> ReadError {
        InputError::Internal {
            what: format!(
                "{what} at offset {} of a {}-byte slice",
                self.pos,
                self.data.len()
            ),
        }
        .into()
    }

    fn advance(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.saturating_add(n);
        let taken = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| self.internal(format!("splitter used {n} bytes")))?;
        self.pos = end;
        Ok(taken)
    }

    fn next_cut(&mut self) -> Option<Result<&'a [u8]>> {
        // Each `Consumed` either uses bytes or changes the parser's state (it begins the
        // stream); two in a row without progress are a parser bug, reported, not looped on.
        let mut idle = 0u8;
        loop {
            let input = self.data.get(self.pos..).unwrap_or(&[]);
            let step = self.cutter.cut(input, self.pos as u64, true);
            match step {
                Ok(Step::Consumed(n)) => {
                    if let Err(e) = self.advance(n) {
                        return Some(Err(e));
                    }
                    idle = if n == 0 { idle.saturating_add(1) } else { 0 };
                    if idle > 1 {
                        return Some(Err(self.internal("splitter made no progress".into())));
                    }
                }
                Ok(Step::Packet { consumed, .. }) => return Some(self.advance(consumed)),
                Ok(Step::End) => return None,
                Ok(other) => {
                    return Some(Err(self.internal(format!(
                        "splitter asked {other:?} at the end of the slice"
                    ))));
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<'a, C: SliceCutter> Iterator for SliceCuts<'a, C> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_cut();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}
