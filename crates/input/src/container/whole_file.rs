//! TEMPORARY BRIDGE: the whole-file container path behind the streaming [`Demux`] shape, until
//! the own MP4 and Matroska/WebM parsers (which read incrementally) replace it.
//!
//! Invariant: it asks the driver for the whole file (so its window is the file, as before
//! streaming input existed), builds today's [`Demuxed`] packet table once at the end of the
//! input, then hands the table's packets out one by one. Its memory is the file plus the
//! table ([`MAX_EXPANSION`](super::MAX_EXPANSION) × the file plus
//! [`EXPANSION_SLACK`](super::EXPANSION_SLACK)), not a streaming bound; it works on bytes in
//! memory and on any source read to its end, and refuses nothing that the old path read.

use super::super::demux::{Demux, PacketInfo, SampleIndex, Step};
use super::{ContainerTrack, Demuxed};
use crate::{Codec, ReadError, Result};

/// The whole-file container reader as a [`Demux`]. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct WholeFileDemux {
    table: Option<Demuxed>,
    next: usize,
    ended: bool,
}

impl WholeFileDemux {
    /// A reader for MP4 or Matroska/WebM input.
    pub(crate) fn new() -> Self {
        Self {
            table: None,
            next: 0,
            ended: false,
        }
    }
}

impl Demux for WholeFileDemux {
    fn step(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step> {
        if self.ended {
            return Ok(Step::End);
        }
        let Some(table) = &self.table else {
            if !eof {
                return Ok(Step::NeedMore(input.len().saturating_add(1)));
            }
            if pos != 0 {
                self.ended = true;
                return Err(crate::InputError::Internal {
                    what: format!("the whole-file container reader was moved to offset {pos}"),
                }
                .into());
            }
            let table = super::demux_table(input).inspect_err(|_| self.ended = true)?;
            self.table = Some(table);
            return Ok(Step::Consumed(0));
        };
        match table.entries.get(self.next) {
            Some(entry) => {
                out.clear();
                out.extend_from_slice(table.bytes(input, entry));
                let info = PacketInfo {
                    pts: entry.pts,
                    key: false,
                    index: self.next as u64,
                };
                self.next = self.next.saturating_add(1);
                Ok(Step::Packet { consumed: 0, info })
            }
            None => {
                self.ended = true;
                match &table.error {
                    Some(e) => Err(ReadError::Input(e.clone())),
                    None => Ok(Step::End),
                }
            }
        }
    }

    fn codec(&self) -> Option<Codec> {
        self.table.as_ref().map(|t| t.codec)
    }

    fn track(&self) -> Option<&ContainerTrack> {
        self.table.as_ref().map(|t| &t.track)
    }

    fn index(&self) -> Option<&SampleIndex> {
        None
    }

    fn seek_to_sample(&mut self, sample: usize) -> Result<u64> {
        Err(crate::InputError::unsupported(format!(
            "seeking to sample {sample}: the whole-file container reader keeps no index"
        ))
        .into())
    }

    fn max_window(&self) -> usize {
        isize::MAX as usize
    }

    fn heap_bytes(&self) -> usize {
        self.table
            .as_ref()
            .map_or(0, |t| t.heap_bytes().saturating_add(size_of::<Demuxed>()))
    }
}
