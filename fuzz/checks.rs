//! What every input fuzz target checks, shared with the regression test that replays the
//! crashes found (`crates/input/tests/input_fuzz_regressions.rs` includes this file).
//!
//! Input layout: byte 0 picks the hint (and codec), byte 1 seeds the chunk sizes, the rest
//! is the stream. For any bytes:
//! - nothing panics (the fuzzer reports a panic as a crash), in the whole-file splitters, in
//!   `ElementaryStream` (from memory and from a `Read` trickling random chunk sizes) and in
//!   `LiveStream` fed random chunk sizes;
//! - all of these give the same packets and end in an error alike (differential check);
//! - for raw streams and IVF, those packets are the whole-file splitters' packets;
//! - the heap a stream holds (`memory_footprint`) stays within its documented bound;
//! - the packet bytes handed out stay within the documented output bound,
//!   [`MAX_EXPANSION`] × the input bytes + 2 × [`MAX_CONFIG_RECORD`] (parameter sets before
//!   key frames cannot multiply the output). The MP4 and Matroska targets assert it through
//!   [`check_output`].

#![allow(dead_code)]

use std::io::Read;

use nvcodec_input::Codec;
use nvcodec_input::container::{MAX_CONFIG_RECORD, MAX_EXPANSION};
use nvcodec_input::{
    AccessUnits, ElementaryStream, FormatHint, IvfReader, LiveStream, Mpeg2Pictures, TsSelect,
};

/// Which reader a target aims at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    AnnexB,
    Mpeg2,
    Ivf,
    /// Any format `ElementaryStream` detects, containers included.
    Any,
    /// MPEG-TS / M2TS (see [`check_ts`]).
    Ts,
}

type Outcome = (Vec<(Vec<u8>, i64)>, bool);

thread_local! {
    /// Whether the last drain ended in `InputError::NeedsSeek` (a layout that a source which
    /// cannot seek may refuse, e.g. an MP4 with `moov` after `mdat`).
    static NEEDED_SEEK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn note_error(e: &nvcodec_input::ReadError) {
    let seek = matches!(
        e,
        nvcodec_input::ReadError::Input(nvcodec_input::InputError::NeedsSeek { .. })
    );
    NEEDED_SEEK.with(|c| c.set(seek));
}

/// `got` must equal `whole`, unless it ended in `NeedsSeek`: then it is a prefix of it.
fn assert_same_or_needed_seek(got: &Outcome, whole: &Outcome, what: &str) {
    if NEEDED_SEEK.with(|c| c.replace(false)) {
        assert!(got.1, "{what}: NeedsSeek without an error");
        assert!(
            whole.0.starts_with(&got.0),
            "{what}: packets before NeedsSeek differ from memory"
        );
    } else {
        assert_eq!(got, whole, "{what} differs from memory");
    }
}

/// The heap a stream over `len` input bytes may hold: for raw streams and IVF, the window
/// (2 × the input, as no packet is longer) plus the packet buffer and a constant; for
/// MP4/Matroska (read whole for now), the input plus the packet table's bound.
fn bound(len: usize) -> usize {
    len.saturating_mul(8).saturating_add(2 << 20)
}

/// The packet bytes a read of `len` input bytes may hand out, from its start (no seek).
pub fn output_bound(len: usize) -> usize {
    len.saturating_mul(MAX_EXPANSION)
        .saturating_add(2 * MAX_CONFIG_RECORD)
}

/// Panics if the packets in `packets` hold more bytes than [`output_bound`] of `len`.
fn assert_output_bound(packets: &[(Vec<u8>, i64)], len: usize) {
    let out: usize = packets.iter().map(|(p, _)| p.len()).sum();
    assert!(
        out <= output_bound(len),
        "{out} packet bytes handed out for {len} bytes of input"
    );
}

/// Reads `file` whole as any format ([`FormatHint::Unknown`]) and checks the output bound
/// (and the heap bound) on its packets; for the container targets.
pub fn check_output(file: &[u8]) {
    let (packets, _) = drain(
        ElementaryStream::from_bytes(file.to_vec(), FormatHint::Unknown),
        file.len(),
    );
    assert_output_bound(&packets, file.len());
}

fn drain(stream: nvcodec_input::Result<ElementaryStream>, len: usize) -> Outcome {
    NEEDED_SEEK.with(|c| c.set(false));
    let mut stream = match stream {
        Ok(stream) => stream,
        Err(e) => {
            note_error(&e);
            return (Vec::new(), true);
        }
    };
    let mut packets = Vec::new();
    loop {
        assert!(
            stream.memory_footprint() <= bound(len),
            "{} bytes held for {len} bytes of input",
            stream.memory_footprint()
        );
        match stream.next_packet() {
            Ok(Some(p)) => packets.push((p.data.to_vec(), p.pts)),
            Ok(None) => return (packets, false),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                note_error(&e);
                return (packets, true);
            }
        }
        assert!(packets.len() <= len + 1, "more packets than bytes");
    }
}

struct Trickle {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    call: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.sizes[self.call % self.sizes.len()];
        self.call += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn live(data: &[u8], hint: FormatHint, sizes: &[usize]) -> Outcome {
    NEEDED_SEEK.with(|c| c.set(false));
    let mut stream = LiveStream::new(hint);
    let mut packets = Vec::new();
    let (mut rest, mut k) = (data, 0);
    loop {
        if rest.is_empty() {
            stream.finish();
        } else {
            let n = sizes[k % sizes.len()].min(rest.len());
            k += 1;
            if stream.feed(&rest[..n]).is_err() {
                return (packets, true);
            }
            rest = &rest[n..];
        }
        loop {
            assert!(stream.memory_footprint() <= bound(data.len()));
            match stream.next_packet() {
                Ok(Some(p)) => packets.push((p.data.to_vec(), p.pts)),
                Ok(None) => break,
                Err(e) => {
                    note_error(&e);
                    return (packets, true);
                }
            }
        }
        if stream.is_ended() {
            return (packets, false);
        }
        assert!(k <= data.len() + 2, "the live stream never ended");
    }
}

fn splitter(data: &[u8], hint: FormatHint) -> Outcome {
    let numbered = |items: Vec<nvcodec_input::Result<&[u8]>>| {
        let mut packets = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Ok(d) => packets.push((d.to_vec(), i as i64)),
                Err(_) => return (packets, true),
            }
        }
        (packets, false)
    };
    match hint {
        FormatHint::Codec(Codec::H264) => numbered(AccessUnits::h264(data).collect()),
        FormatHint::Codec(Codec::Hevc) => numbered(AccessUnits::hevc(data).collect()),
        FormatHint::Codec(Codec::Mpeg2) => numbered(Mpeg2Pictures::new(data).collect()),
        _ => match IvfReader::new(data) {
            Err(_) => (Vec::new(), true),
            Ok(reader) => {
                let mut packets = Vec::new();
                for frame in reader.frames() {
                    match frame {
                        Ok(p) => packets.push((p.data.to_vec(), p.pts)),
                        Err(_) => return (packets, true),
                    }
                }
                (packets, false)
            }
        },
    }
}

fn has_magic(data: &[u8]) -> bool {
    data.starts_with(b"DKIF")
        || data.get(4..8) == Some(b"ftyp")
        || data.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
}

/// Whether `data` begins as the readers recognise a transport stream (whatever the hint):
/// 0x47 one 188-byte packet apart from offset 0, or one 192-byte packet apart from offset 4,
/// at each of the first three packets that `data` reaches, and at least two.
fn has_ts_sync_bytes(data: &[u8]) -> bool {
    [(188usize, 0usize), (192, 4)].iter().any(|&(size, at)| {
        let places: Vec<usize> = (0..3)
            .map(|k| k * size + at)
            .filter(|&i| i < data.len())
            .collect();
        places.len() >= 2 && places.iter().all(|&i| data.get(i) == Some(&0x47))
    })
}

/// Chunk sizes 1..=64 from `seed` (xorshift), so a crash reproduces from its bytes.
fn chunk_sizes(seed: u8) -> Vec<usize> {
    let mut x = u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 64) as usize + 1
        })
        .collect()
}

/// Runs every check on `data` (see the module docs); panics on a violation.
pub fn check(target: Target, data: &[u8]) {
    let (select, seed, payload) = match data {
        [a, b, rest @ ..] => (*a, *b, rest),
        _ => return,
    };
    if target == Target::Ts {
        return check_ts(select, seed, payload);
    }
    let hint = match target {
        Target::AnnexB if select & 1 == 0 => FormatHint::Codec(Codec::H264),
        Target::AnnexB => FormatHint::Codec(Codec::Hevc),
        Target::Mpeg2 => FormatHint::Codec(Codec::Mpeg2),
        Target::Ivf => FormatHint::Ivf,
        Target::Any => match select % 6 {
            0 => FormatHint::Unknown,
            1 => FormatHint::Ivf,
            2 => FormatHint::Codec(Codec::H264),
            3 => FormatHint::Codec(Codec::Hevc),
            4 => FormatHint::Codec(Codec::Mpeg2),
            _ => FormatHint::Codec(Codec::Vp9),
        },
        Target::Ts => FormatHint::Unknown,
    };
    let sizes = chunk_sizes(seed);
    let whole = drain(
        ElementaryStream::from_bytes(payload.to_vec(), hint),
        payload.len(),
    );
    // Sync bytes a transport packet apart make any hint read as MPEG-TS: no splitter then.
    if target != Target::Any
        && !has_ts_sync_bytes(payload)
        && (target == Target::Ivf || !has_magic(payload))
    {
        assert_eq!(
            whole,
            splitter(payload, hint),
            "whole-file splitter differs"
        );
    }
    let reader = Trickle {
        data: payload.to_vec(),
        at: 0,
        sizes: sizes.clone(),
        call: 0,
    };
    let trickled = drain(ElementaryStream::from_stream(reader, hint), payload.len());
    assert_same_or_needed_seek(&trickled, &whole, "a trickling Read");
    let live = live(payload, hint, &sizes);
    assert_same_or_needed_seek(&live, &whole, "live feeding");
    assert_output_bound(&whole.0, payload.len());
}

// Random access, short reads and cut inputs: the targets `random_access`, `mp4_seek`,
// `short_reads` and `truncated`, replayed by `crates/input/tests/input_fuzz_regressions.rs`.

use std::io::{Seek, SeekFrom};

use nvcodec_input::{InputError, RandomAccessSource, SampleIndex};

/// A `Read + Seek` over bytes whose `read` returns at most the lengths `sizes` names, in
/// turn: 0 stands for an `Interrupted` error (which readers must retry; never twice in a
/// row, so a reader always progresses), `usize::MAX` for as much as asked.
pub struct ShortReads {
    data: Vec<u8>,
    at: u64,
    sizes: Vec<usize>,
    call: usize,
    interrupted: bool,
}

impl ShortReads {
    pub fn new(data: &[u8], sizes: &[usize]) -> Self {
        Self {
            data: data.to_vec(),
            at: 0,
            sizes: if sizes.is_empty() {
                vec![usize::MAX]
            } else {
                sizes.to_vec()
            },
            call: 0,
            interrupted: false,
        }
    }
}

impl Read for ShortReads {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.sizes[self.call % self.sizes.len()];
        self.call = self.call.wrapping_add(1);
        if size == 0 && !self.interrupted {
            self.interrupted = true;
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        self.interrupted = false;
        let at = usize::try_from(self.at)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let n = size.max(1).min(buf.len()).min(self.data.len() - at);
        buf[..n].copy_from_slice(&self.data[at..at + n]);
        self.at += n as u64;
        Ok(n)
    }
}

impl Seek for ShortReads {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let to = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => (self.data.len() as u64).checked_add_signed(d),
            SeekFrom::Current(d) => self.at.checked_add_signed(d),
        };
        self.at = to.ok_or(std::io::ErrorKind::InvalidInput)?;
        Ok(self.at)
    }
}

/// Read sizes from fuzz bytes: 0 an `Interrupted` error, 255 as much as asked, 1..=127 a
/// few bytes (1..=8), others that many bytes.
pub fn read_sizes(bytes: &[u8]) -> Vec<usize> {
    bytes
        .iter()
        .map(|&b| match b {
            0 => 0,
            255 => usize::MAX,
            1..=127 => usize::from(b % 8) + 1,
            b => usize::from(b),
        })
        .collect()
}

/// The packets of a whole pass and the error it ended in.
pub type Pass = (Vec<(Vec<u8>, i64)>, Option<nvcodec_input::ReadError>);

pub fn whole_pass(stream: nvcodec_input::Result<ElementaryStream>) -> Pass {
    let mut stream = match stream {
        Ok(stream) => stream,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut packets = Vec::new();
    loop {
        match stream.next_packet() {
            Ok(Some(p)) => packets.push((p.data.to_vec(), p.pts)),
            Ok(None) => return (packets, None),
            Err(e) => return (packets, Some(e)),
        }
    }
}

/// Whether two errors are the same kind (the same `InputError` variant, or both not input
/// errors).
fn same_kind(a: &nvcodec_input::ReadError, b: &nvcodec_input::ReadError) -> bool {
    match (a, b) {
        (nvcodec_input::ReadError::Input(a), nvcodec_input::ReadError::Input(b)) => {
            std::mem::discriminant(a) == std::mem::discriminant(b)
        }
        (nvcodec_input::ReadError::Input(_), _) | (_, nvcodec_input::ReadError::Input(_)) => false,
        _ => true,
    }
}

fn hint_for(select: u8) -> FormatHint {
    match select % 6 {
        0 => FormatHint::Unknown,
        1 => FormatHint::Ivf,
        2 => FormatHint::Codec(Codec::H264),
        3 => FormatHint::Codec(Codec::Hevc),
        4 => FormatHint::Codec(Codec::Mpeg2),
        _ => FormatHint::Codec(Codec::Vp9),
    }
}

/// Target `short_reads`. Layout: byte 0 picks the hint, byte 1 counts the read-size bytes
/// that follow ([`read_sizes`]), the rest is the input. The same bytes through a `Read +
/// Seek` and a plain `Read` whose `read` returns those lengths (and `Interrupted`) give the
/// packets of the whole-slice path and end alike (a plain `Read` may stop early with
/// `NeedsSeek`, after a prefix of them).
pub fn check_short_reads(data: &[u8]) {
    let Some((&select, rest)) = data.split_first() else {
        return;
    };
    let Some((&count, rest)) = rest.split_first() else {
        return;
    };
    let (sizes, payload) = rest.split_at(usize::from(count).min(rest.len()));
    let sizes = read_sizes(sizes);
    let hint = hint_for(select);
    let whole = whole_pass(ElementaryStream::from_bytes(payload.to_vec(), hint));
    let seekable = whole_pass(ElementaryStream::from_reader(
        ShortReads::new(payload, &sizes),
        hint,
    ));
    assert_eq!(
        seekable.0, whole.0,
        "short reads (Read + Seek) gave other packets"
    );
    match (&seekable.1, &whole.1) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!(same_kind(a, b), "short reads: {a} / whole: {b}"),
        (a, b) => panic!("short reads (Read + Seek) ended in {a:?}, the whole slice in {b:?}"),
    }
    let plain = whole_pass(ElementaryStream::from_stream(
        ShortReads::new(payload, &sizes),
        hint,
    ));
    let needs_seek = matches!(
        plain.1,
        Some(nvcodec_input::ReadError::Input(
            InputError::NeedsSeek { .. }
        ))
    );
    if needs_seek {
        assert!(
            whole.0.starts_with(&plain.0),
            "short reads (Read) before NeedsSeek"
        );
    } else {
        assert_eq!(plain.0, whole.0, "short reads (Read) gave other packets");
        match (&plain.1, &whole.1) {
            (None, None) => {}
            (Some(a), Some(b)) => assert!(same_kind(a, b), "short reads: {a} / whole: {b}"),
            (a, b) => panic!("short reads (Read) ended in {a:?}, the whole slice in {b:?}"),
        }
    }
}

/// Whether `got` (read after a seek) is the packet `whole` of a whole pass: the same bytes,
/// or for H.264/HEVC the same NAL units after the parameter sets a reader puts before the
/// first packet after a seek (its first start code may then be 3 bytes rather than 4).
pub fn same_picture(codec: Codec, got: &[u8], whole: &[u8]) -> bool {
    if got == whole {
        return true;
    }
    if !matches!(codec, Codec::H264 | Codec::Hevc) {
        return false;
    }
    let body = whole
        .iter()
        .position(|&b| b != 0)
        .filter(|&i| i >= 2 && whole[i] == 1)
        .map_or(whole, |i| &whole[i + 1..]);
    got.len() > body.len() && got.ends_with(body)
}

fn entries(index: &SampleIndex) -> Vec<(u64, u32, i64, bool)> {
    (0..index.len())
        .map(|i| {
            (
                index.offset(i).unwrap_or(u64::MAX),
                index.size(i).unwrap_or(0),
                index.pts(i).unwrap_or(0),
                index.is_key(i),
            )
        })
        .collect()
}

/// xorshift64, seeded so that a crash reproduces from its bytes.
struct Rng(u64);

impl Rng {
    fn new(seed: u8) -> Self {
        Self(u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

fn is_mp4(data: &[u8]) -> bool {
    data.get(4..8) == Some(b"ftyp")
}

/// Seeks `stream` (whose index is `index`) to samples the rng picks, reading a few samples
/// after each, and checks each against the whole pass `whole`; the index stays known and
/// the same after every seek.
fn seek_around(
    stream: &mut ElementaryStream,
    index: &SampleIndex,
    whole: &Pass,
    rng: &mut Rng,
    rounds: usize,
) {
    let n = index.len();
    let codec = stream.codec();
    let mut out = Vec::new();
    let clean_end = whole.1.is_none() || index.truncated().is_some();
    for _ in 0..if n == 0 { 0 } else { rounds } {
        let k = rng.below(n);
        stream
            .seek_to_sample(k)
            .unwrap_or_else(|e| panic!("seek to sample {k} of {n}: {e}"));
        assert_eq!(
            stream.index(),
            Some(index),
            "the index changed after a seek"
        );
        for j in k..(k + 1 + rng.below(3)).min(n + 1) {
            let read = stream.read_sample(&mut out);
            if let Some((packet, _)) = whole.0.get(j) {
                let got = read.unwrap_or_else(|e| panic!("sample {j} after a seek to {k}: {e}"));
                assert_eq!(got, Some(j), "the sample after a seek to {k}");
                assert!(
                    same_picture(codec, &out, packet),
                    "sample {j} after a seek to {k} differs from the whole pass"
                );
            } else if j == n && clean_end {
                assert_eq!(
                    read.ok(),
                    Some(None),
                    "reading past the last sample {}",
                    n - 1
                );
            } else {
                break;
            }
        }
    }
    assert!(stream.seek_to_sample(n).is_err(), "a seek past the index");
}

/// Targets `random_access` (any format) and `mp4_seek` (`mp4_only`: MP4 input only, more
/// seeks). Layout: byte 0 picks the hint where the input has no container magic, byte 1
/// seeds the seeks and the read sizes, the rest is the input. `RandomAccessSource` over it:
/// no panic; the index is at most one sample a byte, the same from a second call, from a
/// `Read + Seek` with short reads, and after every seek; a seek to any sample reads the
/// whole pass's packet there (revisiting samples and MP4 fragments in any order); reading
/// past the last sample ends quietly where the whole pass ended cleanly or was cut.
pub fn check_random_access(data: &[u8], mp4_only: bool) {
    let (select, seed, payload) = match data {
        [a, b, rest @ ..] => (*a, *b, rest),
        _ => return,
    };
    if mp4_only && !is_mp4(payload) {
        return;
    }
    let hint = if has_magic(payload) {
        FormatHint::Unknown
    } else {
        [
            FormatHint::Codec(Codec::H264),
            FormatHint::Codec(Codec::Hevc),
            FormatHint::Ivf,
        ][usize::from(select % 3)]
    };
    let whole = whole_pass(ElementaryStream::from_bytes(payload.to_vec(), hint));
    let Ok(mut stream) = ElementaryStream::from_bytes(payload.to_vec(), hint) else {
        return;
    };
    let Ok(index) = stream.sample_index().cloned() else {
        return;
    };
    let n = index.len();
    assert!(
        n <= payload.len(),
        "{n} samples from {} bytes",
        payload.len()
    );
    assert_eq!(stream.sample_index().ok(), Some(&index), "a second call");
    if let Some(tail) = index.truncated() {
        assert_eq!(tail.input_len(), payload.len() as u64);
        for (offset, size, _, _) in entries(&index) {
            assert!(offset.saturating_add(u64::from(size)) <= tail.input_len());
        }
    }
    let mut rng = Rng::new(seed);
    let rounds = if mp4_only { 24 } else { 8 };
    seek_around(&mut stream, &index, &whole, &mut rng, rounds);
    let sizes: Vec<usize> = (0..8).map(|_| 1 + rng.below(64)).collect();
    let reader = ElementaryStream::from_reader(ShortReads::new(payload, &sizes), hint);
    let Ok(mut reader) = reader else {
        panic!("the bytes opened from memory but not from a reader");
    };
    let from_reader = reader
        .sample_index()
        .unwrap_or_else(|e| panic!("indexed from memory, not from a reader: {e}"))
        .clone();
    assert_eq!(from_reader, index, "the index from a reader differs");
    seek_around(&mut reader, &index, &whole, &mut rng, rounds / 2);
}

/// Target `truncated`. Layout: bytes 0 and 1 place the cut (a fraction of the input), the
/// rest is a container or IVF file. Cut there, it gives random access over its complete
/// samples: the index is the whole input's index up to them, the cut is reported exactly
/// when a plain pass ends in `InputError::Truncated` (there), and each sample reads back as
/// the plain pass read it; a cut before any complete sample is an error.
pub fn check_truncated(data: &[u8]) {
    let (fraction, payload) = match data {
        [a, b, rest @ ..] => (u64::from(u16::from_le_bytes([*a, *b])), rest),
        _ => return,
    };
    if !has_magic(payload) {
        return;
    }
    let cut = usize::try_from((fraction * (payload.len() as u64 + 1)) >> 16).unwrap_or(0);
    let bytes = &payload[..cut.min(payload.len())];
    let full = ElementaryStream::from_bytes(payload.to_vec(), FormatHint::Unknown)
        .ok()
        .and_then(|mut s| s.sample_index().ok().cloned());
    let plain = whole_pass(ElementaryStream::from_bytes(
        bytes.to_vec(),
        FormatHint::Unknown,
    ));
    let Ok(mut stream) = ElementaryStream::from_bytes(bytes.to_vec(), FormatHint::Unknown) else {
        assert!(plain.0.is_empty(), "opening failed after packets");
        return;
    };
    let mp4 = is_mp4(bytes);
    let index = match stream.sample_index() {
        Ok(index) => index.clone(),
        Err(e) => {
            let cut_short = matches!(
                e,
                nvcodec_input::ReadError::Input(InputError::Truncated { .. })
            );
            assert!(
                !cut_short || mp4 || plain.0.is_empty(),
                "no random access over {} complete packets: {e}",
                plain.0.len()
            );
            return;
        }
    };
    let n = index.len();
    if let Some(full) = &full {
        let (cut_entries, full_entries) = (entries(&index), entries(full));
        assert!(
            full_entries.starts_with(&cut_entries),
            "the cut file's index is not a prefix of the whole file's"
        );
    }
    match (index.truncated(), &plain.1) {
        (Some(tail), _) if mp4 && tail.samples_dropped().is_some() => {
            assert_eq!(plain.0.len(), n.min(plain.0.len()));
        }
        (Some(tail), Some(nvcodec_input::ReadError::Input(e @ InputError::Truncated { .. }))) => {
            assert_eq!(plain.0.len(), n, "the index and a plain pass differ");
            assert_eq!(Some(tail.offset()), e.offset());
        }
        (Some(tail), other) => panic!("reported {tail:?}; a plain pass ended in {other:?}"),
        (None, None) => assert_eq!(plain.0.len(), n, "the index and a plain pass differ"),
        (None, Some(_)) => assert!(mp4, "an index although a plain pass failed"),
    }
    if let Some(tail) = index.truncated() {
        assert_eq!(tail.input_len(), bytes.len() as u64);
        assert_eq!(
            tail.bytes_unused(),
            tail.input_len().saturating_sub(tail.offset())
        );
    }
    let mut rng = Rng::new(data[0] ^ data[1]);
    seek_around(&mut stream, &index, &plain, &mut rng, 6);
}

/// The checks for transport streams: byte 0 picks the selection (first video stream, a TS
/// hint, an H.264 hint, program 1), byte 1 the chunk sizes. The same packets (and the same
/// end, error or not) from memory, a trickling `Read` and live feeding; the heap within its
/// bound; and, where a transport stream reads without error, the packets after
/// `build_index` are the same, with the same pts.
pub fn check_ts(select: u8, seed: u8, payload: &[u8]) {
    let hint = match select % 4 {
        0 => FormatHint::Unknown,
        1 => FormatHint::MpegTs(TsSelect::default()),
        2 => FormatHint::Codec(Codec::H264),
        _ => FormatHint::MpegTs(TsSelect::default().program(1)),
    };
    let sizes = chunk_sizes(seed);
    let whole = drain(
        ElementaryStream::from_bytes(payload.to_vec(), hint),
        payload.len(),
    );
    let reader = Trickle {
        data: payload.to_vec(),
        at: 0,
        sizes: sizes.clone(),
        call: 0,
    };
    let trickled = drain(ElementaryStream::from_stream(reader, hint), payload.len());
    assert_same_or_needed_seek(&trickled, &whole, "a trickling Read");
    let live = live(payload, hint, &sizes);
    assert_same_or_needed_seek(&live, &whole, "live feeding");
    if whole.1 {
        return;
    }
    let Ok(mut stream) = ElementaryStream::from_bytes(payload.to_vec(), hint) else {
        panic!("opening failed the second time");
    };
    // Raw streams (a codec hint on bytes without sync) number packets by display rank
    // once indexed; transport streams keep their pts.
    if stream.format() == nvcodec_input::StreamFormat::MpegTs && stream.build_index().is_ok() {
        let indexed = drain(Ok(stream), payload.len());
        assert_eq!(indexed, whole, "packets after build_index differ");
    }
}
