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
//! - the heap a stream holds (`memory_footprint`) stays within its documented bound.

#![allow(dead_code)]

use std::io::Read;

use nvcodec_input::Codec;
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
    if target != Target::Any && (target == Target::Ivf || !has_magic(payload)) {
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
