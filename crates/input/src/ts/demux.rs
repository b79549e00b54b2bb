//! [`TsDemux`]: the transport-stream reader as a sans-I/O [`Demux`]. See the
//! [module docs](super) for what it does with losses, timestamps and PMT changes.
//!
//! Invariant: the elementary-stream buffer `es[es_start..]` holds the bytes of the selected
//! PID not yet handed out, beginning at elementary-stream offset `es_base + es_start`; every
//! PES start inside it is in `starts`, in order; and the inner splitter has been handed
//! exactly those bytes. Offsets only grow, also across resets, so a stale entry can never
//! match a new access unit.

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

/// Whether `au` begins as an access unit does (its first NAL unit or start code is one
/// that opens an access unit), so that it did not lose its head.
fn starts_access_unit(codec: Codec, au: &[u8]) -> bool {
    if !matches!(codec, Codec::H264 | Codec::Hevc | Codec::Mpeg2) {
        return true;
    }
    let Some(p) = start_code::find(au, 0) else {
        return false;
    };
    let byte = |i: usize| au.get(p + 3 + i).copied();
    match codec {
        Codec::H264 => match byte(0).map(|b| b & 0x1f) {
            Some(1 | 2 | 5) => byte(1).is_some_and(|b| b & 0x80 != 0),
            Some(6..=9 | 14..=18) => true,
            _ => false,
        },
        Codec::Hevc => match byte(0).map(|b| (b >> 1) & 0x3f) {
            Some(0..=31) => byte(2).is_some_and(|b| b & 0x80 != 0),
            Some(32..=35 | 39 | 41..=44 | 48..=55) => true,
            _ => false,
        },
        Codec::Mpeg2 => matches!(byte(0), Some(0xb3 | 0xb8 | 0x00)),
        _ => true,
    }
}

/// Whether an MPEG-2 picture packet holds an I picture (`picture_coding_type` 1).
fn has_i_picture(au: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = start_code::find(au, from) {
        if au.get(p + 3) == Some(&0x00) {
            return au.get(p + 5).is_some_and(|b| (b >> 3) & 7 == 1);
        }
        from = p + 3;
    }
    false
}

/// Converts an AV1 temporal unit in the start-code format of the AOM "Carriage of AV1 in
/// MPEG-2 TS" specification (each OBU after `00 00 01`, with `00 00 03` emulation
/// prevention) into the low-overhead format decoders take (each OBU with its size field),
/// appending to `out`. A payload that does not begin with a start code is taken as already
/// low-overhead and copied.
fn av1_low_overhead(pes: &[u8], out: &mut Vec<u8>) {
    let Some(first) = start_code::find(pes, 0).filter(|&p| {
        pes.get(..p)
            .is_some_and(|lead| lead.iter().all(|&b| b == 0))
    }) else {
        out.extend_from_slice(pes);
        return;
    };
    let mut at = first;
    let mut obu = Vec::new();
    while at < pes.len() {
        let body = at + 3;
        let next = start_code::find(pes, body).unwrap_or(pes.len());
        obu.clear();
        let mut zeros = 0;
        for &b in pes.get(body..next).unwrap_or(&[]) {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            obu.push(b);
        }
        let Some(&header) = obu.first() else {
            at = next;
            continue;
        };
        let head = if header & 0x04 != 0 { 2 } else { 1 };
        if header & 0x02 != 0 {
            // With a size field: exactly the OBU it declares (zero bytes after it, before
            // the next start code, are not its own).
            let (size, len) = leb128(obu.get(head..).unwrap_or(&[]));
            let end = head
                .saturating_add(len)
                .saturating_add(usize::try_from(size).unwrap_or(usize::MAX))
                .min(obu.len());
            out.extend_from_slice(obu.get(..end).unwrap_or(&[]));
        } else {
            // Without one: up to the next start code, less the zero bytes before it.
            if next < pes.len() {
                while obu.len() > head && obu.last() == Some(&0) {
                    obu.pop();
                }
            }
            out.push(header | 0x02);
            out.extend_from_slice(obu.get(1..head).unwrap_or(&[]));
            let payload = obu.get(head..).unwrap_or(&[]);
            let mut size = payload.len();
            loop {
                let byte = (size & 0x7f) as u8;
                size >>= 7;
                if size == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
            out.extend_from_slice(payload);
        }
        at = next;
    }
}

/// An unsigned LEB128 value at the start of `bytes` (at most 8 bytes) and its length.
fn leb128(bytes: &[u8]) -> (u64, usize) {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().take(8).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (value, bytes.len().min(8))
}

/// A PTS or DTS field's 33 bits.
fn timestamp(b: &[u8]) -> Option<u64> {
    let &[a, b1, b2, b3, b4] = b.get(..5)? else {
        return None;
    };
    Some(
        (u64::from(a >> 1) & 0x07) << 30
            | u64::from(b1) << 22
            | u64::from(b2 >> 1) << 15
            | u64::from(b3) << 7
            | u64::from(b4 >> 1),
    )
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

    fn select_stream(&mut self, selected: Selected) {
        self.selected = Some(selected);
        self.track = Some(ContainerTrack {
            kind: ContainerKind::MpegTs,
            track_id: u64::from(selected.pid),
            codec_tag: format!("stream_type 0x{:02X}", selected.stream_type),
            time_base: Rational {
                num: 1,
                den: 90_000,
            },
            frame_rate: None,
            duration: None,
            dimensions: None,
            packet_count: 0,
        });
        self.last_cc = None;
        self.pes = Pes::default();
        self.check_next = true;
        self.reset_es();
    }

    /// The stream of `pmt` the selection names; `Ok(None)` when this program has none and
    /// another may.
    fn choose(&self, pmt: &Pmt) -> Result<Option<Selected>> {
        let select = self.select;
        let mut other = None;
        let mut listed = Vec::new();
        for stream in &pmt.streams {
            listed.push(format!(
                "0x{:02X} on PID {}",
                stream.stream_type, stream.pid
            ));
            if select.selected_pid().is_some_and(|p| p != stream.pid) {
                continue;
            }
            match psi::kind(stream) {
                Kind::Video(codec) if select.selected_codec().is_none_or(|c| c == codec) => {
                    return Ok(Some(self.selection(pmt, stream, codec)));
                }
                Kind::OtherVideo(name) => other = other.or(Some((name, stream.pid))),
                Kind::Video(_) | Kind::NotVideo => {}
            }
        }
        let named = select.selected_program() == Some(pmt.program)
            || select
                .selected_pid()
                .is_some_and(|p| pmt.streams.iter().any(|s| s.pid == p));
        let only = named || self.pmts.len() <= 1;
        if let (Some((name, pid)), None, true) = (other, select.selected_codec(), only) {
            return Err(InputError::unsupported(format!(
                "MPEG-TS program {}: its video is {name} on PID {pid}; read are H.264 (0x1B), \
                 HEVC (0x24), MPEG-2 (0x02) and AV1 (0x06 registered 'AV01')",
                pmt.program
            ))
            .into());
        }
        if named {
            return Err(InputError::unsupported(format!(
                "MPEG-TS program {}: no {} stream to read (stream types: {})",
                pmt.program,
                match (select.selected_pid(), select.selected_codec()) {
                    (Some(pid), _) => format!("video on PID {pid}"),
                    (None, Some(codec)) => format!("{codec} video"),
                    (None, None) => "video".to_owned(),
                },
                if listed.is_empty() {
                    "none".to_owned()
                } else {
                    listed.join(", ")
                }
            ))
            .into());
        }
        Ok(None)
    }

    fn selection(&self, pmt: &Pmt, stream: &PmtStream, codec: Codec) -> Selected {
        Selected {
            program: pmt.program,
            pid: stream.pid,
            pcr_pid: pmt.pcr_pid,
            stream_type: stream.stream_type,
            codec,
        }
    }

    fn on_pmt(&mut self, pmt: Pmt) -> Result<()> {
        self.pmt_seen = true;
        if self
            .select
            .selected_program()
            .is_some_and(|p| p != pmt.program)
        {
            return Ok(());
        }
        if let Some(current) = self.selected {
            if current.program != pmt.program {
                return Ok(());
            }
            self.stats.pmt_changes = self.stats.pmt_changes.saturating_add(1);
            let Some(next) = self.choose(&pmt)? else {
                return Ok(());
            };
            if next.codec != current.codec {
                return Err(InputError::unsupported(format!(
                    "MPEG-TS program {}: the PMT changes the video from {} to {} mid-stream",
                    pmt.program, current.codec, next.codec
                ))
                .into());
            }
            if next.pid == current.pid {
                self.selected = Some(next);
            } else {
                self.switch_to = Some(next);
            }
            return Ok(());
        }
        if let Some(next) = self.choose(&pmt)? {
            self.select_stream(next);
        }
        Ok(())
    }

    fn on_psi(&mut self, pid: u16, payload: &[u8], start: bool, cc: u8) -> Result<()> {
        let sections = if pid == 0 {
            self.pat.push(payload, start, cc)
        } else {
            match self.pmts.iter_mut().find(|(p, ..)| *p == pid) {
                Some((_, _, buffer, _)) => buffer.push(payload, start, cc),
                None => return Ok(()),
            }
        };
        if sections.dropped {
            self.stats.psi_errors = self.stats.psi_errors.saturating_add(1);
        }
        for bytes in sections.complete {
            let Some(section) = psi::parse_section(&bytes) else {
                self.stats.psi_errors = self.stats.psi_errors.saturating_add(1);
                continue;
            };
            if !section.current {
                continue;
            }
            match (pid, section.table_id) {
                (0, 0x00) => {
                    self.pat_seen = true;
                    for (program, pmt_pid) in psi::pat_programs(section.body) {
                        if pmt_pid == 0 || self.pmts.iter().any(|(p, ..)| *p == pmt_pid) {
                            continue;
                        }
                        // A PAT names at most (1021 - 9) / 4 programs a section; a PID
                        // table is bounded by the 13-bit PID space.
                        if self.pmts.len() < 8192 {
                            self.pmts
                                .push((pmt_pid, program, SectionBuffer::default(), None));
                        }
                    }
                }
                (0, _) => {}
                (_, 0x02) => {
                    let Some(pmt) = psi::parse_pmt(&section) else {
                        self.stats.psi_errors = self.stats.psi_errors.saturating_add(1);
                        continue;
                    };
                    let known = self.pmts.iter_mut().find(|(p, ..)| *p == pid);
                    let Some((_, program, _, version)) = known else {
                        continue;
                    };
                    if *program != pmt.program || *version == Some(pmt.version) {
                        continue;
                    }
                    *version = Some(pmt.version);
                    self.on_pmt(pmt)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// One transport packet (188 bytes from its sync byte) at absolute offset `offset` (of
    /// its M2TS prefix, for M2TS).
    fn on_packet(&mut self, packet: &[u8], offset: u64) -> Result<()> {
        self.stats.packets = self.stats.packets.saturating_add(1);
        let &[_, b1, b2, b3] = packet.get(..4).unwrap_or(&[0; 4]) else {
            return Ok(());
        };
        let error = b1 & 0x80 != 0;
        let start = b1 & 0x40 != 0;
        let pid = u16::from(b1 & 0x1f) << 8 | u16::from(b2);
        let scrambled = b3 >> 6 != 0;
        let control = (b3 >> 4) & 3;
        let cc = b3 & 0x0f;
        let mut at = 4usize;
        let (mut discontinuity, mut random_access) = (false, false);
        let mut broken = false;
        if control & 2 != 0 {
            let len = usize::from(packet.get(4).copied().unwrap_or(0));
            if len > 0 {
                let flags = packet.get(5).copied().unwrap_or(0);
                discontinuity = flags & 0x80 != 0;
                random_access = flags & 0x40 != 0;
            }
            at = 5 + len;
            broken = at > TS_PACKET;
        }
        let has_payload = control & 1 != 0 && !broken;
        let payload = if has_payload {
            packet.get(at..).unwrap_or(&[])
        } else {
            &[]
        };
        let video = self.selected.map(|s| (s.pid, s.pcr_pid));
        if discontinuity && video.is_some_and(|(v, pcr)| pid == v || pid == pcr) {
            self.stats.discontinuities = self.stats.discontinuities.saturating_add(1);
            self.clock.rebase = true;
        }
        if video.is_some_and(|(v, _)| v == pid) {
            if error || broken {
                self.gap(1);
                return Ok(());
            }
            if scrambled {
                return Err(InputError::unsupported(format!(
                    "MPEG-TS packet at byte offset {offset}: the video PID {pid} is scrambled"
                ))
                .into());
            }
            return self.on_video(
                payload,
                has_payload,
                start,
                cc,
                discontinuity,
                random_access,
                offset,
            );
        }
        if error || broken || !has_payload || scrambled {
            return Ok(());
        }
        if pid == 0 || self.pmts.iter().any(|(p, ..)| *p == pid) {
            self.on_psi(pid, payload, start, cc)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn on_video(
        &mut self,
        payload: &[u8],
        has_payload: bool,
        start: bool,
        cc: u8,
        discontinuity: bool,
        random_access: bool,
        offset: u64,
    ) -> Result<()> {
        if !has_payload {
            self.cc_excused |= discontinuity;
            return Ok(());
        }
        let excused = discontinuity || std::mem::take(&mut self.cc_excused);
        match self.last_cc {
            Some(last) if last == cc && !excused => {
                if self.last_payload == payload {
                    self.stats.duplicate_packets = self.stats.duplicate_packets.saturating_add(1);
                    return Ok(());
                }
                // The same counter on other bytes: 16 packets (or a multiple) went missing.
                self.gap(16);
            }
            Some(last) if (last + 1) & 0x0f != cc && !excused => {
                self.gap(u64::from(cc.wrapping_sub(last + 1) & 0x0f));
            }
            _ => {}
        }
        self.last_cc = Some(cc);
        self.last_payload.clear();
        self.last_payload.extend_from_slice(payload);
        if let Some(skip) = self.seek_skip.take() {
            if !start {
                // The packet a seek resumes at continues a PES: its payload is elementary
                // stream from `skip` on.
                self.pes = Pes {
                    active: true,
                    ..Pes::default()
                };
                return self.append(payload.get(skip..).unwrap_or(&[]), offset, skip);
            }
            self.seek_skip = Some(skip);
        }
        if start {
            if self.pes.in_header || self.pes.remaining.is_some_and(|r| r > 0) {
                // The PES before ended short: bytes were lost without a counter gap.
                self.gap(0);
            }
            self.pes = Pes {
                in_header: true,
                random_access,
                ..Pes::default()
            };
        }
        if self.pes.in_header {
            return self.header_bytes(payload, offset);
        }
        if self.pes.active {
            return self.append(payload, offset, 0);
        }
        Ok(())
    }

    /// Gathers PES header bytes; the payload after the header goes to the buffer.
    fn header_bytes(&mut self, data: &[u8], offset: u64) -> Result<()> {
        let mut rest = data;
        for _ in 0..2 {
            let have = self.pes.header.len();
            let need = if have < 9 {
                9
            } else {
                9 + usize::from(self.pes.header.get(8).copied().unwrap_or(0))
            };
            let take = need.saturating_sub(have).min(rest.len());
            self.pes
                .header
                .extend_from_slice(rest.get(..take).unwrap_or(&[]));
            rest = rest.get(take..).unwrap_or(&[]);
        }
        let header = &self.pes.header;
        if header.len() >= 6 && header.get(..3) != Some(&[0, 0, 1][..]) {
            return self.bad_pes();
        }
        let stream_id = header.get(3).copied().unwrap_or(0);
        let short = matches!(
            stream_id,
            0xbc | 0xbe | 0xbf | 0xf0 | 0xf1 | 0xf2 | 0xf8 | 0xff
        );
        if short || header.len() < 9 {
            if short && header.len() >= 6 {
                // No optional header: never video.
                return self.bad_pes();
            }
            return Ok(());
        }
        if header.get(6).is_some_and(|b| b & 0xc0 != 0x80) {
            return self.bad_pes();
        }
        if header.get(6).is_some_and(|b| b & 0x30 != 0) {
            return Err(InputError::unsupported(format!(
                "MPEG-TS packet at byte offset {offset}: the video PES is scrambled"
            ))
            .into());
        }
        let total = 9 + usize::from(header.get(8).copied().unwrap_or(0));
        if header.len() < total {
            return Ok(());
        }
        let length = usize::from(u16::from_be_bytes([
            header.get(4).copied().unwrap_or(0),
            header.get(5).copied().unwrap_or(0),
        ]));
        let flags = header.get(7).copied().unwrap_or(0);
        let pts = if flags & 0x80 != 0 {
            header.get(9..).and_then(timestamp)
        } else {
            None
        };
        let remaining = match length {
            0 => None,
            n => match n.checked_sub(total - 6) {
                Some(r) => Some(r),
                None => return self.bad_pes(),
            },
        };
        let pts = pts.map(|raw| self.clock.unwrap(raw));
        self.pes.in_header = false;
        self.pes.active = true;
        self.pes.remaining = remaining;
        self.pes.header = Vec::new();
        let at = self.es_end();
        let entry = PesStart {
            at,
            pts,
            random_access: self.pes.random_access,
            used: false,
        };
        match self.starts.back_mut() {
            Some(last) if last.at == at => *last = entry,
            _ => self.starts.push_back(entry),
        }
        if self.starts.len() > MAX_PES_STARTS {
            self.starts.pop_front();
        }
        let skip = self.seek_skip.take().unwrap_or(0);
        self.append(rest.get(skip..).unwrap_or(&[]), offset, skip)
    }

    fn bad_pes(&mut self) -> Result<()> {
        self.stats.pes_errors = self.stats.pes_errors.saturating_add(1);
        self.drop_partial();
        Ok(())
    }

    /// Appends PES payload bytes; `skip` bytes of this packet's payload were left out before.
    fn append(&mut self, data: &[u8], offset: u64, skip: usize) -> Result<()> {
        let data = match &mut self.pes.remaining {
            Some(left) => {
                let take = (*left).min(data.len());
                *left -= take;
                data.get(..take).unwrap_or(&[])
            }
            None => data,
        };
        if data.is_empty() {
            return Ok(());
        }
        let held = self.window().len();
        if held.saturating_add(data.len()) > MAX_ACCESS_UNIT {
            return Err(InputError::limit(
                format!(
                    "MPEG-TS video access unit (or PES) of more than {held} bytes, at the packet \
                     at byte offset {offset}"
                ),
                MAX_ACCESS_UNIT as u64,
            )
            .into());
        }
        let at = self.es_end();
        if let (Some(indexing), Some(selected)) = (&mut self.indexing, self.selected) {
            if indexing.packets.len() >= MAX_PACKETS_PER_AU {
                return Err(InputError::limit(
                    format!(
                        "MPEG-TS video access unit spread over more transport packets, at byte \
                         offset {offset}"
                    ),
                    MAX_PACKETS_PER_AU as u64,
                )
                .into());
            }
            let first = at.saturating_sub(skip as u64);
            indexing.packets.push_back((first, offset, selected.pid));
        }
        self.es.extend_from_slice(data);
        Ok(())
    }

    /// The PES start an access unit beginning at `start` begins in, if its PTS is unused.
    fn take_start(&mut self, start: u64) -> Option<PesStart> {
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
    fn packet_ref(&mut self, start: u64) -> Option<(u64, u32)> {
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
    fn accept(&mut self, start: u64, key: bool, out: &[u8]) -> Result<Option<PacketInfo>> {
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
    fn pump(&mut self, out: &mut Vec<u8>) -> Result<Option<PacketInfo>> {
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
    fn pump_whole(&mut self, eof: bool, out: &mut Vec<u8>) -> Result<Option<PacketInfo>> {
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
