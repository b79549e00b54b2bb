//! [`TsDemux`]: the transport-stream reader as a sans-I/O [`Demux`]. See the
//! [module docs](super) for what it does with losses, timestamps and PMT changes.
//!
//! Invariant: the elementary-stream buffer `es[es_start..]` holds the bytes of the selected
//! PID not yet handed out, beginning at elementary-stream offset `es_base + es_start`; every
//! PES start inside it is in `starts`, in order; and the inner splitter has been handed
//! exactly those bytes. Offsets only grow, also across resets, so a stale entry can never
//! match a new access unit.

mod access_units;
mod payload;
mod pes;
mod select;

use self::payload::{av1_low_overhead, has_i_picture, starts_access_unit, timestamp};

use std::collections::VecDeque;

use super::psi::{self, Kind, Pmt, PmtStream, SectionBuffer};
use super::{MAX_ACCESS_UNIT, MAX_PES_STARTS, TsSelect, TsStats};
use crate::annexb::AnnexBDemux;
use crate::demux::{Demux, PacketInfo, SampleIndex, Step};
use crate::mpeg2::Mpeg2Demux;
use crate::start_code;
use crate::track::{ContainerKind, ContainerTrack};
use crate::{Codec, InputError, Rational, ReadError, Result};

/// The sync byte that begins every transport packet.
const SYNC: u8 = 0x47;
/// A transport packet without the M2TS prefix.
const TS_PACKET: usize = 188;
/// PTS values are 33 bits.
const PTS_MASK: u64 = (1 << 33) - 1;
/// A PTS step larger than this (10 s) at a discontinuity starts a new time base.
const REBASE_JUMP: i64 = 10 * 90_000;
/// The driver window bound: what a live feed may hold unread (the reader itself asks for
/// at most three packets).
const MAX_WINDOW: usize = 1 << 20;
/// Transport packets one access unit may span while an index is built.
const MAX_PACKETS_PER_AU: usize = 1 << 19;
/// Inner-splitter steps in a row without progress after which it is taken to be stuck.
const MAX_INNER_STALLS: u32 = 64;

/// The stream being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Selected {
    program: u16,
    pid: u16,
    pcr_pid: u16,
    stream_type: u8,
    codec: Codec,
}

/// A PES packet that began inside the elementary-stream buffer.
#[derive(Debug, Clone, Copy)]
struct PesStart {
    /// Elementary-stream offset of its first payload byte.
    at: u64,
    /// Its PTS, unwrapped.
    pts: Option<i64>,
    /// Its first packet had the `random_access_indicator`.
    random_access: bool,
    /// An access unit beginning in it took its PTS.
    used: bool,
}

/// The PES packet in progress on the video PID.
#[derive(Debug, Default)]
struct Pes {
    /// Payload bytes go to the elementary stream.
    active: bool,
    /// Header bytes gathered so far while `in_header`.
    header: Vec<u8>,
    in_header: bool,
    /// Payload bytes still to come, when the PES length is given.
    remaining: Option<usize>,
    /// Its first packet had the `random_access_indicator`.
    random_access: bool,
}

/// PTS unwrapping (see the module docs).
#[derive(Debug, Default)]
struct Clock {
    prev_raw: Option<u64>,
    prev: i64,
    max: i64,
    min_step: Option<i64>,
    /// A discontinuity indicator was seen: the next PTS may start a new time base.
    rebase: bool,
}

impl Clock {
    fn unwrap(&mut self, raw: u64) -> i64 {
        let value = match self.prev_raw {
            None => i64::try_from(raw & PTS_MASK).unwrap_or(0),
            Some(prev) => {
                let delta = i64::try_from(raw.wrapping_sub(prev) & PTS_MASK).unwrap_or(0);
                let delta = if delta >= 1 << 32 {
                    delta - (1 << 33)
                } else {
                    delta
                };
                if self.rebase && delta.abs() > REBASE_JUMP {
                    self.max.saturating_add(self.min_step.unwrap_or(1))
                } else {
                    self.prev.saturating_add(delta)
                }
            }
        };
        if self.prev_raw.is_some() {
            let step = value.saturating_sub(self.prev);
            if step > 0 {
                self.min_step = Some(self.min_step.map_or(step, |s| s.min(step)));
            }
            self.max = self.max.max(value);
        } else {
            self.max = value;
        }
        self.prev_raw = Some(raw);
        self.prev = value;
        self.rebase = false;
        value
    }
}

/// The index being built: samples, and where each access unit's bytes begin.
#[derive(Debug, Default)]
struct Indexing {
    index: SampleIndex,
    /// Per sample: PID << 8 | offset of its first byte in its packet's payload.
    seek: Vec<u32>,
    /// (elementary-stream offset of the first payload byte, packet offset, PID) of each
    /// video packet whose payload is in the buffer.
    packets: VecDeque<(u64, u64, u16)>,
}

/// The sans-I/O transport-stream reader.
pub(crate) struct TsDemux {
    select: TsSelect,
    /// 188 (TS) or 192 (M2TS), once sync was found.
    packet_size: Option<usize>,
    stats: TsStats,
    pat: SectionBuffer,
    /// PMT PIDs the PAT named: (PID, program, its section buffer, last version applied).
    pmts: Vec<(u16, u16, SectionBuffer, Option<u8>)>,
    pat_seen: bool,
    pmt_seen: bool,
    selected: Option<Selected>,
    track: Option<ContainerTrack>,
    /// A new PMT moved the stream: the buffer is flushed, then this is selected.
    switch_to: Option<Selected>,
    last_cc: Option<u8>,
    /// The payload of the last video packet, to tell a duplicate from a 16-packet loss.
    last_payload: Vec<u8>,
    /// A `discontinuity_indicator` on a packet without payload excuses the next jump.
    cc_excused: bool,
    /// Sync was lost and not found again yet.
    lost_sync: bool,
    pes: Pes,
    es: Vec<u8>,
    es_start: usize,
    es_base: u64,
    starts: VecDeque<PesStart>,
    /// The access-unit splitter (`None`: AV1, one PES a packet).
    splitter: Option<Box<dyn Demux>>,
    inner_need: usize,
    inner_ended: bool,
    /// The next access unit must begin like one (after a gap, a seek, the start).
    check_next: bool,
    clock: Clock,
    last_pts: Option<i64>,
    sample: u64,
    ts_eof: bool,
    ended: bool,
    indexing: Option<Box<Indexing>>,
    complete: Option<(SampleIndex, Vec<u32>)>,
    /// After a seek: the first video packet continues a PES, from this byte of its payload.
    seek_skip: Option<usize>,
}

impl std::fmt::Debug for TsDemux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsDemux")
            .field("packet_size", &self.packet_size)
            .field("selected", &self.selected)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn internal(what: impl Into<String>) -> ReadError {
    InputError::Internal {
        what: format!("MPEG-TS reader: {}", what.into()),
    }
    .into()
}

/// Whether a packet of `size` bytes (sync byte at `size - 188`) begins at `k`: sync bytes at
/// `k` and one and two packets on, those that `input` reaches; `None` when more bytes are
/// needed to tell.
fn sync_at(input: &[u8], k: usize, size: usize, eof: bool) -> Option<bool> {
    for j in 0..3 {
        let at = k + j * size + (size - TS_PACKET);
        match input.get(at) {
            Some(&SYNC) => {}
            Some(_) => return Some(false),
            None if eof => return Some(j > 0),
            None => return None,
        }
    }
    Some(true)
}

impl TsDemux {
    /// A reader of the stream `select` names.
    pub(crate) fn new(select: TsSelect) -> Self {
        Self {
            select,
            packet_size: None,
            stats: TsStats::default(),
            pat: SectionBuffer::default(),
            pmts: Vec::new(),
            pat_seen: false,
            pmt_seen: false,
            selected: None,
            track: None,
            switch_to: None,
            last_cc: None,
            last_payload: Vec::new(),
            cc_excused: false,
            lost_sync: false,
            pes: Pes::default(),
            es: Vec::new(),
            es_start: 0,
            es_base: 0,
            starts: VecDeque::new(),
            splitter: None,
            inner_need: 0,
            inner_ended: false,
            check_next: true,
            clock: Clock::default(),
            last_pts: None,
            sample: 0,
            ts_eof: false,
            ended: false,
            indexing: None,
            complete: None,
            seek_skip: None,
        }
    }

    /// A reader that also builds the index of every access unit; complete after the last.
    pub(crate) fn indexing(select: TsSelect) -> Self {
        let mut demux = Self::new(select);
        demux.indexing = Some(Box::default());
        demux
    }

    fn es_end(&self) -> u64 {
        self.es_base.saturating_add(self.es.len() as u64)
    }

    fn window(&self) -> &[u8] {
        self.es.get(self.es_start..).unwrap_or(&[])
    }

    /// Drops the first `n` bytes of the buffer's window.
    fn drop_es(&mut self, n: usize) {
        self.es_start = self.es_start.saturating_add(n).min(self.es.len());
        if self.es_start == self.es.len() || self.es_start > (64 << 10).max(self.es.len() / 2) {
            self.es.drain(..self.es_start);
            self.es_base = self.es_base.saturating_add(self.es_start as u64);
            self.es_start = 0;
        }
    }

    /// A fresh splitter over an empty buffer (offsets keep growing).
    fn reset_es(&mut self) {
        self.es_base = self.es_end();
        self.es.clear();
        self.es_start = 0;
        self.starts.clear();
        self.inner_need = 0;
        self.inner_ended = false;
        if let Some(indexing) = &mut self.indexing {
            indexing.packets.clear();
        }
        self.splitter = match self.selected.map(|s| s.codec) {
            Some(codec @ (Codec::H264 | Codec::Hevc)) => AnnexBDemux::new(codec)
                .ok()
                .map(|d| Box::new(d) as Box<dyn Demux>),
            Some(Codec::Mpeg2) => Some(Box::new(Mpeg2Demux::new())),
            _ => None,
        };
    }

    /// Bytes were lost on the video PID: drop what was begun, wait for the next PES.
    fn gap(&mut self, lost: u64) {
        self.stats.gaps = self.stats.gaps.saturating_add(1);
        self.stats.lost_packets = self.stats.lost_packets.saturating_add(lost);
        self.drop_partial();
    }

    /// Drops the access unit in progress (counted if it had begun) and the PES in progress.
    fn drop_partial(&mut self) {
        if !self.window().is_empty() {
            self.stats.dropped_access_units = self.stats.dropped_access_units.saturating_add(1);
        }
        self.reset_es();
        self.pes = Pes::default();
        self.check_next = true;
    }

    /// The error for an input that ended before a stream was selected.
    fn nothing_selected(&self) -> ReadError {
        let what = if !self.pat_seen {
            format!(
                "MPEG-TS: no program association table (PAT) in {} packets",
                self.stats.packets
            )
        } else if !self.pmt_seen {
            "MPEG-TS: no program map table (PMT) of the programs the PAT lists".to_owned()
        } else {
            return InputError::unsupported(format!(
                "MPEG-TS: no program has a video stream to read ({:?})",
                self.select
            ))
            .into();
        };
        InputError::malformed(what).into()
    }

    /// Finds where packets begin, before the first packet or after sync was lost: the
    /// bytes to skip, or `None` when more bytes are needed to tell.
    fn find_sync(&self, input: &[u8], eof: bool) -> (usize, Option<usize>) {
        let sizes: &[usize] = match self.packet_size {
            Some(size) => &[size][..],
            None => &[188, 192][..],
        };
        for k in 0..input.len() {
            for &size in sizes {
                match sync_at(input, k, size, eof) {
                    Some(true) => return (k, Some(size)),
                    Some(false) => {}
                    None => return (k, None),
                }
            }
        }
        (input.len(), None)
    }
}

impl Demux for TsDemux {
    fn step(&mut self, input: &[u8], pos: u64, eof: bool, out: &mut Vec<u8>) -> Result<Step> {
        if self.ended {
            return Ok(Step::End);
        }
        let mut used = 0usize;
        loop {
            if let Some(info) = self.pump(out)? {
                return Ok(Step::Packet {
                    consumed: used,
                    info,
                });
            }
            if let Some(next) = self.switch_to {
                if self.inner_ended || self.splitter.is_none() {
                    self.switch_to = None;
                    self.select_stream(next);
                    continue;
                }
            }
            if self.ts_eof {
                self.ended = true;
                if self.selected.is_none() {
                    return Err(self.nothing_selected());
                }
                if let Some(indexing) = self.indexing.take() {
                    let Indexing { index, seek, .. } = *indexing;
                    self.complete = Some((index, seek));
                }
                return Ok(Step::End);
            }
            let rest = input.get(used..).unwrap_or(&[]);
            let size = match self.packet_size {
                // In sync: a packet begins here (an unconfirmed sync byte is trusted only
                // while in sync, so any chunking finds the same packets).
                Some(size)
                    if !self.lost_sync
                        && (rest.get(size - TS_PACKET) == Some(&SYNC) || rest.len() < size) =>
                {
                    size
                }
                _ => {
                    let (skip, found) = self.find_sync(rest, eof);
                    if self.packet_size.is_some() && !self.lost_sync {
                        self.lost_sync = true;
                        self.stats.sync_losses = self.stats.sync_losses.saturating_add(1);
                    }
                    if skip > 0 || found.is_none() {
                        let skip = match found {
                            Some(_) => skip,
                            // Keep what may begin a packet, unless nothing more comes.
                            None if eof => rest.len(),
                            None => skip.min(rest.len().saturating_sub(3 * 192)),
                        };
                        self.stats.skipped_bytes =
                            self.stats.skipped_bytes.saturating_add(skip as u64);
                        used += skip;
                        if found.is_none() {
                            if eof {
                                self.ts_eof = true;
                                continue;
                            }
                            if used > 0 {
                                return Ok(Step::Consumed(used));
                            }
                            return Ok(Step::NeedMore(rest.len().max(3 * 192 + 4) + 1));
                        }
                    }
                    let Some(size) = found else {
                        return Err(internal("sync search ended without a packet size"));
                    };
                    self.packet_size = Some(size);
                    self.lost_sync = false;
                    continue;
                }
            };
            let rest = input.get(used..).unwrap_or(&[]);
            if rest.len() < size {
                if eof {
                    self.stats.skipped_bytes =
                        self.stats.skipped_bytes.saturating_add(rest.len() as u64);
                    used = input.len();
                    self.ts_eof = true;
                    continue;
                }
                if used > 0 {
                    return Ok(Step::Consumed(used));
                }
                return Ok(Step::NeedMore(size));
            }
            let packet = rest.get(size - TS_PACKET..size).unwrap_or(&[]);
            self.on_packet(packet, pos.saturating_add(used as u64))?;
            used += size;
        }
    }

    fn codec(&self) -> Option<Codec> {
        self.selected.map(|s| s.codec)
    }

    fn track(&self) -> Option<&ContainerTrack> {
        self.track.as_ref()
    }

    fn index(&self) -> Option<&SampleIndex> {
        self.complete.as_ref().map(|(index, _)| index)
    }

    fn seek_to_sample(&mut self, sample: usize) -> Result<u64> {
        let (index, seek) = self.complete.as_ref().ok_or_else(|| {
            ReadError::from(InputError::unsupported(format!(
                "seeking to sample {sample}: this MPEG-TS stream has not been indexed \
                 (ElementaryStream::build_index scans it once)"
            )))
        })?;
        let (Some(offset), Some(&place)) = (index.offset(sample), seek.get(sample)) else {
            return Err(InputError::malformed(format!(
                "seeking to sample {sample}: the MPEG-TS stream has {} samples",
                index.len()
            ))
            .into());
        };
        let pid = u16::try_from(place >> 8).unwrap_or(0);
        if let Some(selected) = &mut self.selected {
            selected.pid = pid;
            if let Some(track) = &mut self.track {
                track.track_id = u64::from(pid);
            }
        }
        self.switch_to = None;
        self.last_cc = None;
        self.pes = Pes::default();
        self.reset_es();
        self.check_next = true;
        self.seek_skip = Some(usize::try_from(place & 0xff).unwrap_or(0));
        self.sample = sample as u64;
        self.ts_eof = false;
        self.ended = false;
        // The index says a packet begins at `offset`: read on in sync from there.
        self.lost_sync = false;
        self.pat = SectionBuffer::default();
        for (_, _, buffer, _) in &mut self.pmts {
            *buffer = SectionBuffer::default();
        }
        Ok(offset)
    }

    fn max_window(&self) -> usize {
        MAX_WINDOW
    }

    fn heap_bytes(&self) -> usize {
        let index = match (&self.complete, &self.indexing) {
            (Some((index, seek)), _) => index.heap_bytes() + seek.capacity() * 4,
            (None, Some(indexing)) => {
                indexing.index.heap_bytes()
                    + indexing.seek.capacity() * 4
                    + indexing.packets.capacity() * 24
            }
            (None, None) => 0,
        };
        let psi: usize = self.pat.heap_bytes()
            + self
                .pmts
                .iter()
                .map(|(_, _, b, _)| b.heap_bytes() + 24)
                .sum::<usize>();
        index
            + psi
            + self.es.capacity()
            + self.pes.header.capacity()
            + self.last_payload.capacity()
            + self.starts.capacity() * std::mem::size_of::<PesStart>()
            + self.splitter.as_ref().map_or(0, |s| s.heap_bytes())
    }

    fn ts_stats(&self) -> Option<TsStats> {
        Some(self.stats)
    }
}
