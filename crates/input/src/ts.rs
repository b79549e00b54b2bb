//! MPEG transport streams (`.ts`, 188-byte packets) and BDAV M2TS (`.m2ts`, 192-byte packets with a
//! 4-byte arrival-time prefix): one video elementary stream read out of the multiplex as one packet
//! per access unit, with its PTS.
//!
//! Invariant: whatever the bytes, the reader never hands out an access unit that lost bytes (it is
//! dropped and counted in [`TsStats`]), never aborts for lost, duplicated or damaged transport
//! packets (it resynchronises and goes on), and holds bounded memory (below). The same bytes give
//! the same packets whatever the chunking, from a file, a `Read` or a
//! [`LiveStream`](crate::LiveStream).
//!
//! **Which stream.** The PAT lists the programs, each program's PMT its elementary streams. By
//! default the first PMT that lists a supported video stream decides, and its first such stream is
//! read; [`TsSelect`] (given as [`FormatHint::MpegTs`](crate::FormatHint)) names a program, a PID
//! or a codec instead, and a [`FormatHint::Codec`](crate::FormatHint) hint selects the first video
//! stream of that codec. Read: H.264 (`stream_type` 0x1B), HEVC (0x24), MPEG-2 video (0x02) and AV1
//! (private data 0x06 with the registration descriptor `AV01`). A selected program whose video is
//! another kind (VC-1, MPEG-4 Part 2, VVC, ...) or that has no video is
//! [`InputError::Unsupported`](crate::InputError::Unsupported), naming what it has. Scrambled
//! packets on the selected PID are `Unsupported` too.
//!
//! **PMT changes.** A new PMT version (or a PMT on a new PID after a PAT change) is parsed and the
//! selection made again; if the selected stream moves to another PID, the access unit in progress
//! is completed (as at the end of a stream) and reading goes on on the new PID. The codec cannot
//! change mid-stream: a new PMT whose selected stream has another codec is `Unsupported`.
//!
//! **Access units.** PES packets are reassembled (with or without `PES_packet_length`) into the
//! elementary stream, which is then cut by the same splitters as raw streams
//! ([`AccessUnits`](crate::AccessUnits) rules for H.264/HEVC,
//! [`Mpeg2Pictures`](crate::Mpeg2Pictures) rules for MPEG-2), not by PES boundaries. AV1 is carried
//! one temporal unit per PES, which is one packet, converted from the carriage's start-code format
//! (`00 00 01` before each OBU, emulation prevention) to the low-overhead format decoders take. A
//! packet's pts is the PTS of the PES in which its access unit begins, when that PES's PTS was not
//! already given to an earlier access unit (H.222.0 2.4.3.7); an access unit without one gets the
//! previous packet's pts plus one tick.
//!
//! **Timestamps.** Time base 1/90000
//! ([`ElementaryStream::time_base`](crate::ElementaryStream::time_base)). The 33-bit PTS is
//! unwrapped into an `i64` that keeps increasing past 2^33 ticks (26.5 h): each PTS is taken as the
//! nearest value, modulo 2^33, to the one before (so B-frame reordering, which steps back a little,
//! is not mistaken for a wrap). At a `discontinuity_indicator` on the video PID or its program's
//! PCR PID, a PTS more than 10 s away from the one before starts a new time base: it is mapped to
//! the largest pts so far plus the smallest step seen between PTS values, so the output does not
//! jump.
//!
//! **Losses.** Continuity counters are checked on the video PID: a repeated packet (same counter,
//! same bytes) is dropped as a duplicate; a `discontinuity_indicator` excuses a jump. A counter
//! gap, a packet with `transport_error_indicator`, a PES that ends short of its length or an
//! invalid PES header is a gap: the access unit in progress (begun before the gap, whether or not
//! it was already complete: its end is only known when the next begins) is dropped and counted, the
//! rest of that PES is skipped, and reading goes on at the next PES start, whose first access unit
//! is handed out only if it begins as one does (an access-unit delimiter, parameter set, SEI or
//! first slice; for MPEG-2 a sequence, GOP or picture header), else dropped and counted too. An
//! access unit whose first packet was lost never began and is not counted (the lost packets are).
//! Elementary-stream bytes the splitter refuses are handled the same way. Lost sync is found again
//! by scanning for three sync bytes a packet apart (fewer at the end of the input); until then no
//! packet is trusted, so any chunking finds the same packets. PSI sections with a CRC error or a
//! gap are dropped (counted) and wait for their next repetition. Counts: [`TsStats`], from
//! [`ElementaryStream::transport_stats`](crate::ElementaryStream::transport_stats) and
//! [`LiveStream::transport_stats`](crate::LiveStream::transport_stats).
//!
//! **Memory.** The reader asks the driver for one transport packet at a time (three while looking
//! for sync), so a file or `Read` is held one 64 KiB read at a time; a
//! [`LiveStream`](crate::LiveStream) may hold up to 1 MiB fed and not yet read (the reader's window
//! bound; `feed` refuses more). Its own state is: the elementary-stream buffer (the access unit in
//! progress: at most [`MAX_ACCESS_UNIT`] bytes, else
//! [`InputError::LimitExceeded`](crate::InputError::LimitExceeded), held in a `Vec` that may reach
//! twice that), one PSI section buffer of at most 1 KiB per PMT PID the PAT names (at most 8192
//! PIDs, in practice a few), a PES header of at most 264 bytes, the last video packet's payload
//! (184 bytes, to tell duplicates), and the start offsets and PTS of the PES packets inside the
//! buffer (at most [`MAX_PES_STARTS`], oldest forgotten first). With
//! [`build_index`](crate::ElementaryStream::build_index): the index,
//! [`SampleIndex::BYTES_PER_SAMPLE`](crate::SampleIndex::BYTES_PER_SAMPLE) + 4 bytes a sample, and
//! during the scan the transport-packet offsets of the access unit in progress (24 bytes a packet,
//! at most 2^19 packets an access unit, else `LimitExceeded`). Work is linear in the bytes: each
//! byte is copied once into the buffer and scanned once for start codes.
//!
//! **Index and seeks.** On a seekable source, `build_index` reads the file once and records each
//! access unit's transport packet (the index's offset: the access unit's bytes are spread over the
//! packets from there, its size is their elementary-stream length), its offset in that packet's
//! payload, its PID, pts and whether it is a key frame: an IDR (H.264) or IRAP (HEVC) picture, a
//! sequence header with an I picture (MPEG-2), or the `random_access_indicator` (AV1). Seeking to a
//! sample restarts the reader at that packet; the packets that follow carry the index's pts and key
//! flags.

mod demux;
mod psi;

pub(crate) use demux::TsDemux;

use crate::Codec;

/// The largest access unit (and PES, for AV1) accepted: 64 MiB, as for raw streams.
pub const MAX_ACCESS_UNIT: usize = 64 << 20;

/// PES starts remembered inside the elementary-stream buffer; more (a hostile stream of tiny
/// PES packets) forgets the oldest, whose access units then have no PTS of their own.
pub const MAX_PES_STARTS: usize = 4096;

/// Bytes looked at to recognise a transport stream: three sync bytes of 192-byte packets.
pub(crate) const DETECT_LEN: usize = 2 * 192 + 4 + 1;

/// Which elementary stream of a transport stream to read.
///
/// The default reads the first supported video stream of the first program whose PMT lists
/// one. Given as [`FormatHint::MpegTs`](crate::FormatHint::MpegTs).
///
/// # Examples
/// ```
/// use nvcodec_input::{FormatHint, TsSelect};
/// // The video of program 2; or the stream on PID 0x101, whatever program it is in.
/// let program = FormatHint::MpegTs(TsSelect::default().program(2));
/// let pid = FormatHint::MpegTs(TsSelect::default().pid(0x101));
/// # let _ = (program, pid);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TsSelect {
    program: Option<u16>,
    pid: Option<u16>,
    codec: Option<Codec>,
}

impl TsSelect {
    /// Only the program with this `program_number` (the video stream in it).
    #[must_use]
    pub fn program(mut self, program: u16) -> Self {
        self.program = Some(program);
        self
    }

    /// Only the elementary stream on this PID; it must be a supported video stream.
    #[must_use]
    pub fn pid(mut self, pid: u16) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Only a video stream of this codec.
    #[must_use]
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = Some(codec);
        self
    }

    /// The program asked for, if any.
    pub fn selected_program(&self) -> Option<u16> {
        self.program
    }

    /// The PID asked for, if any.
    pub fn selected_pid(&self) -> Option<u16> {
        self.pid
    }

    /// The codec asked for, if any.
    pub fn selected_codec(&self) -> Option<Codec> {
        self.codec
    }
}

/// What a transport-stream reader met on its way: losses, repairs and changes. All counts
/// start at 0 and only grow (a seek does not reset them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TsStats {
    /// Transport packets read (all PIDs).
    pub packets: u64,
    /// Continuity-counter gaps on the video PID not excused by a `discontinuity_indicator`,
    /// packets flagged with `transport_error_indicator`, and PES packets that ended short.
    pub gaps: u64,
    /// Video packets lost, as the continuity counters tell (a gap of `n` counts `n`, modulo
    /// 16: a loss of a multiple of 16 packets shows only as a gap or a short PES).
    pub lost_packets: u64,
    /// Repeated video packets (same continuity counter), dropped.
    pub duplicate_packets: u64,
    /// Access units dropped because a gap tore them (or they could not be told apart from
    /// torn ones, see the module docs).
    pub dropped_access_units: u64,
    /// Times the sync byte was not where the packet before said, and bytes skipped to find it.
    pub sync_losses: u64,
    /// Bytes skipped while looking for sync (including a partial packet at the end).
    pub skipped_bytes: u64,
    /// `discontinuity_indicator`s seen on the video or PCR PID.
    pub discontinuities: u64,
    /// PMT changes applied (a new version, or a new PMT PID) after the first PMT.
    pub pmt_changes: u64,
    /// PSI sections dropped for a CRC error, a gap or a bad length.
    pub psi_errors: u64,
    /// PES headers that were not valid, each handled as a gap.
    pub pes_errors: u64,
}

/// Whether `head` begins like a transport stream: sync bytes (0x47) one 188-byte packet
/// apart from offset 0, or one 192-byte packet apart from offset 4 (M2TS), at every place
/// `head` reaches among the first three packets, and at least two of them.
pub(crate) fn has_sync_bytes(head: &[u8]) -> bool {
    [(188usize, 0usize), (192, 4)].iter().any(|&(size, at)| {
        let places: Vec<usize> = (0..3)
            .map(|k| k * size + at)
            .filter(|&i| i < head.len())
            .collect();
        places.len() >= 2 && places.iter().all(|&i| head.get(i) == Some(&0x47))
    })
}

#[cfg(test)]
mod tests;
