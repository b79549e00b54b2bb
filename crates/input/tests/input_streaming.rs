//! Specifications of streaming input: whatever way the bytes arrive — whole in memory, from a
//! file, from a `Read` that returns a few bytes at a time, or pushed into a `LiveStream` in
//! random chunk sizes — the packets are the same, byte for byte, and so is whether the input
//! ends in an error; and for raw streams they are exactly the packets of the whole-file
//! splitters (`AccessUnits`, `Mpeg2Pictures`, `IvfReader`).

mod common;

use std::io::Read;
use std::path::PathBuf;

use nvcodec_input::{
    AccessUnits, ElementaryStream, FormatHint, InputError, IvfReader, LiveStream, Mpeg2Pictures,
};
use nvcodec_input::{Codec, Result};
use proptest::prelude::*;

/// Packets (bytes, pts) and whether the input ended in an error.
type Outcome = (Vec<(Vec<u8>, i64)>, bool);

fn drain(stream: Result<ElementaryStream>) -> Outcome {
    let Ok(mut stream) = stream else {
        return (Vec::new(), true);
    };
    let mut packets = Vec::new();
    loop {
        match stream.next_packet() {
            Ok(Some(p)) => packets.push((p.data.to_vec(), p.pts)),
            Ok(None) => return (packets, false),
            Err(_) => return (packets, true),
        }
    }
}

/// A `Read` that returns at most the next of `sizes` (cycled) bytes per call.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    call: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.sizes[self.call % self.sizes.len()].max(1);
        self.call += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn trickled(data: &[u8], hint: FormatHint, sizes: &[usize]) -> Outcome {
    let reader = Trickle {
        data: data.to_vec(),
        at: 0,
        sizes: sizes.to_vec(),
        call: 0,
    };
    drain(ElementaryStream::from_stream(reader, hint))
}

/// Pushes `data` into a live stream in chunks of `sizes` (cycled), taking every packet that
/// is complete after each chunk.
fn live(data: &[u8], hint: FormatHint, sizes: &[usize]) -> Outcome {
    let mut stream = LiveStream::new(hint);
    let mut packets = Vec::new();
    let mut rest = data;
    let mut k = 0;
    loop {
        if rest.is_empty() {
            stream.finish();
        } else {
            let n = sizes[k % sizes.len()].clamp(1, rest.len());
            k += 1;
            if stream.feed(&rest[..n]).is_err() {
                return (packets, true);
            }
            rest = &rest[n..];
        }
        loop {
            match stream.next_packet() {
                Ok(Some(p)) => packets.push((p.data.to_vec(), p.pts)),
                Ok(None) => break,
                Err(_) => return (packets, true),
            }
        }
        if stream.is_ended() {
            return (packets, false);
        }
        assert!(
            !(rest.is_empty() && k > data.len() + 2),
            "live stream never ended"
        );
    }
}

/// The whole-file splitters' outcome for a raw stream or IVF file.
fn whole_file(data: &[u8], hint: FormatHint) -> Outcome {
    let numbered = |items: Vec<Result<&[u8]>>| {
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

/// Bytes rich in start codes, zero runs and NAL/start-code type bytes.
fn stream_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        3 => Just(vec![0, 0, 1]),
        2 => Just(vec![0, 0, 0, 1]),
        2 => Just(vec![0]),
        1 => prop::sample::select(vec![0x65u8, 0x41, 0x67, 0x68, 0x06, 0x09, 0x40, 0x42, 0x26,
            0x02, 0xb3, 0xb8, 0x00, 0xb5, 0x01, 0xba, 0x80, 0x88, 0x9a, 0xff]).prop_map(|b| vec![b]),
        2 => any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(token, 0..max).prop_map(|t| t.concat())
}

fn ivf_file(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut f = b"DKIF\0\0\x20\0VP90\x80\x02\x68\x01\x1e\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    for (i, frame) in frames.iter().enumerate() {
        f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        f.extend_from_slice(&(i as u64 * 3).to_le_bytes());
        f.extend_from_slice(frame);
    }
    f
}

fn hint() -> impl Strategy<Value = FormatHint> {
    prop_oneof![
        Just(FormatHint::Codec(Codec::H264)),
        Just(FormatHint::Codec(Codec::Hevc)),
        Just(FormatHint::Codec(Codec::Mpeg2)),
        Just(FormatHint::Ivf),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_in_any_chunks_give_the_whole_file_packets(
        data in stream_bytes(160),
        hint in hint(),
        sizes in prop::collection::vec(1usize..40, 1..8),
    ) {
        let whole = drain(ElementaryStream::from_bytes(data.clone(), hint));
        if !has_magic(&data) && hint != FormatHint::Ivf {
            prop_assert_eq!(&whole, &whole_file(&data, hint));
        }
        prop_assert_eq!(&trickled(&data, hint, &sizes), &whole);
        prop_assert_eq!(&live(&data, hint, &sizes), &whole);
    }

    #[test]
    fn ivf_files_in_any_chunks_give_the_whole_file_frames(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..50), 0..6),
        cut in any::<prop::sample::Index>(),
        sizes in prop::collection::vec(1usize..40, 1..8),
    ) {
        let file = ivf_file(&frames);
        // Whole, and cut anywhere (a truncated header or frame must error the same way).
        for data in [&file[..], &file[..cut.index(file.len() + 1)]] {
            let whole = drain(ElementaryStream::from_bytes(data.to_vec(), FormatHint::Ivf));
            prop_assert_eq!(&whole, &whole_file(data, FormatHint::Ivf));
            prop_assert_eq!(&trickled(data, FormatHint::Ivf, &sizes), &whole);
            prop_assert_eq!(&live(data, FormatHint::Ivf, &sizes), &whole);
        }
    }
}

/// Every clip under `tests/data` (raw streams, IVF, MP4, Matroska/WebM) that opens.
fn clips() -> Vec<PathBuf> {
    let root = common::data_dir();
    let mut paths = Vec::new();
    for dir in [root.clone(), root.join("containers")] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !["framemd5", "nv12", "md", "txt"].contains(&ext) && path.is_file() {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
fn chunk_sizes(seed: u64, n: usize, max: usize) -> Vec<usize> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % max + 1
        })
        .collect()
}

#[test]
fn every_clip_gives_the_same_packets_from_every_source_and_chunking() {
    let mut checked = 0;
    for path in clips() {
        let name = path.display().to_string();
        let data = std::fs::read(&path).unwrap();
        let hint = FormatHint::from_path(&path);
        let whole = drain(ElementaryStream::from_bytes(data.clone(), hint));
        if whole.0.is_empty() {
            continue; // not an input format (a reference file)
        }
        assert!(!whole.1, "{name}: ends in an error");
        assert_eq!(drain(ElementaryStream::open(&path)), whole, "{name}: open");
        if !has_magic(&data) || hint == FormatHint::Ivf {
            assert_eq!(
                whole_file(&data, hint),
                whole,
                "{name}: whole-file splitter"
            );
        }
        // A progressive MP4 with its `moov` after `mdat` needs a seekable source; a pipe or a
        // live feed is refused up front with `NeedsSeek`, never half read.
        let piped = ElementaryStream::from_stream(std::io::Cursor::new(data.clone()), hint);
        if let Err(e) = piped {
            assert!(
                matches!(
                    e,
                    nvcodec_input::ReadError::Input(InputError::NeedsSeek { .. })
                ) && data.get(4..8) == Some(b"ftyp"),
                "{name}: {e}"
            );
            checked += 1;
            continue;
        }
        for seed in 1..=3u64 {
            let sizes = chunk_sizes(seed * 7919 + checked, 64, 1 << (6 + 3 * seed));
            assert_eq!(
                trickled(&data, hint, &sizes),
                whole,
                "{name}: Read, seed {seed}"
            );
            assert_eq!(
                live(&data, hint, &sizes),
                whole,
                "{name}: live, seed {seed}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} clips found");
}

#[test]
fn a_live_h264_packet_comes_out_when_the_next_access_unit_begins() {
    let mut live = LiveStream::new(FormatHint::Codec(Codec::H264));
    // SPS, PPS, IDR slice; then a P slice's start code and header byte only.
    let first = [
        0, 0, 0, 1, 0x67, 0x42, 0, 0x1e, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65,
        0x88, 0x84,
    ];
    live.feed(&first).unwrap();
    assert!(
        live.next_packet().unwrap().is_none(),
        "the IDR slice may go on"
    );
    live.feed(&[0, 0, 0, 1, 0x41]).unwrap();
    assert!(
        live.next_packet().unwrap().is_none(),
        "one header byte does not decide"
    );
    live.feed(&[0x9a]).unwrap();
    let packet = live
        .next_packet()
        .unwrap()
        .expect("the IDR access unit is complete");
    assert_eq!((packet.data, packet.pts), (&first[..], 0));
    assert!(live.next_packet().unwrap().is_none());
}

#[test]
fn a_live_feed_that_outruns_its_consumer_is_refused_not_buffered() {
    let mut live = LiveStream::new(FormatHint::Codec(Codec::H264));
    let mut big = vec![0u8; 1 << 20];
    big[..5].copy_from_slice(&[0, 0, 1, 0x65, 0x88]);
    big[5..].fill(0x55);
    live.feed(&big).unwrap();
    assert!(live.next_packet().unwrap().is_none());
    let mut refused = None;
    for round in 0..100 {
        if let Err(e) = live.feed(&big[5..]) {
            refused = Some((round, e));
            break;
        }
        assert!(live.next_packet().is_ok_and(|p| p.is_none()) || round > 0);
    }
    let (round, err) = refused.expect("an access unit growing without end is refused");
    assert!(err.to_string().contains("exceeds the limit"), "{err}");
    assert!(round <= 64, "refused after {round} MiB");
    assert!(
        live.memory_footprint() <= 3 * (64 << 20),
        "{}",
        live.memory_footprint()
    );
}

#[test]
fn a_plain_reader_cannot_seek_back_and_says_so() {
    // Raw streams never seek; this checks that the driver's backward-seek refusal is typed,
    // through the only public path that seeks: rewinding a piped stream.
    let data = vec![0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x41, 0x9a];
    let mut piped =
        ElementaryStream::from_stream(std::io::Cursor::new(data), FormatHint::Codec(Codec::H264))
            .unwrap();
    assert!(piped.next_packet().unwrap().is_some());
    let err = piped.rewind().unwrap_err();
    assert!(
        matches!(
            err,
            nvcodec_input::ReadError::Input(nvcodec_input::InputError::NeedsSeek { .. })
        ),
        "{err}"
    );
}
