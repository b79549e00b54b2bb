//! The Matroska reader as a specification: the same packets whole and in any chunking, the
//! relative timestamps of −32768, hostile sizes and laces within a measured memory bound, live
//! input, Cues and seeking.
//!
//! A tiny driver stands in for `source.rs`: it keeps a window of the file from `pos`, reads
//! chunks of random size when asked for more, and serves `SeekTo` by dropping bytes or
//! repositioning.

mod blocks_and_laces;
mod cues_and_seeking;
mod live_and_hostile;
mod packets_and_timestamps;
mod sizes_and_structure;

use super::*;
use crate::demux::Demux;

// ---- EBML writing -------------------------------------------------------------------------

fn id_bytes(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().position(|&x| x != 0).unwrap_or(3);
    b[skip..].to_vec()
}

/// An element with a 1-byte size when it fits, else an 8-byte size.
fn el(id: u32, data: &[u8]) -> Vec<u8> {
    let mut v = id_bytes(id);
    if data.len() < 127 {
        v.push(0x80 | data.len() as u8);
    } else {
        v.push(0x01);
        v.extend_from_slice(&(data.len() as u64).to_be_bytes()[1..]);
    }
    v.extend_from_slice(data);
    v
}

/// An element header declaring `size` bytes (8-byte size field), without the data.
fn el_header(id: u32, size: u64) -> Vec<u8> {
    let mut v = id_bytes(id);
    v.push(0x01);
    v.extend_from_slice(&size.to_be_bytes()[1..]);
    v
}

/// An element header with the unknown size.
fn unknown(id: u32) -> Vec<u8> {
    let mut v = id_bytes(id);
    v.extend_from_slice(&[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    v
}

fn uint(id: u32, value: u64) -> Vec<u8> {
    let b = value.to_be_bytes();
    let skip = b.iter().position(|&x| x != 0).unwrap_or(7);
    el(id, &b[skip..])
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn ebml_header(doc_type: &str) -> Vec<u8> {
    el(ids::EBML, &el(ids::DOC_TYPE, doc_type.as_bytes()))
}

fn tracks(entries: &[Vec<u8>]) -> Vec<u8> {
    el(ids::TRACKS, &cat(entries))
}

fn track_entry(number: u64, kind: u64, codec: &str) -> Vec<u8> {
    el(
        ids::TRACK_ENTRY,
        &cat(&[
            uint(ids::TRACK_NUMBER, number),
            uint(ids::TRACK_TYPE, kind),
            el(ids::CODEC_ID, codec.as_bytes()),
            el(
                ids::VIDEO,
                &cat(&[uint(ids::PIXEL_WIDTH, 320), uint(ids::PIXEL_HEIGHT, 240)]),
            ),
        ]),
    )
}

fn simple_block(track: u8, relative: i16, key: bool, data: &[u8]) -> Vec<u8> {
    let mut body = vec![0x80 | track];
    body.extend_from_slice(&relative.to_be_bytes());
    body.push(if key { 0x80 } else { 0 });
    body.extend_from_slice(data);
    el(ids::SIMPLE_BLOCK, &body)
}

fn cluster(timestamp: u64, blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut body = uint(ids::TIMESTAMP, timestamp);
    body.extend(blocks.concat());
    el(ids::CLUSTER, &body)
}

/// A VP8 WebM: EBML header, an unknown-size segment, Info, one video track 1 (plus an
/// audio track 2), then `body`.
fn webm(body: &[Vec<u8>]) -> Vec<u8> {
    let mut f = ebml_header("webm");
    f.extend(unknown(ids::SEGMENT));
    f.extend(el(ids::INFO, &uint(ids::TIMESTAMP_SCALE, 1_000_000)));
    f.extend(tracks(&[
        track_entry(2, 2, "A_OPUS"),
        track_entry(1, 1, "V_VP8"),
    ]));
    f.extend(body.concat());
    f
}

// ---- A driver --------------------------------------------------------------------------------

/// What a run gave: packets (bytes, info), the error that stopped it, and the measured
/// peaks: window bytes, packet buffer capacity and the parser's own heap.
#[derive(Debug, Default)]
struct Run {
    packets: Vec<(Vec<u8>, PacketInfo)>,
    error: Option<String>,
    peak_window: usize,
    peak_out: usize,
    peak_parser: usize,
    backward_seeks: usize,
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Runs `parser` over `file` from `start`, reading chunks of `chunk()` bytes when it asks
/// for more, until `End`, an error, or `max_packets` packets.
fn drive_from(
    parser: &mut MkvDemux,
    file: &[u8],
    start: u64,
    chunk: &mut dyn FnMut() -> usize,
    max_packets: usize,
) -> Run {
    let mut run = Run::default();
    let mut pos = start;
    let mut window: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut idle = 0;
    for _ in 0..10 * file.len() + 10_000 {
        let at = usize::try_from(pos).unwrap_or(usize::MAX).min(file.len());
        let eof = at + window.len() >= file.len();
        let step = match parser.step(&window, pos, eof, &mut out) {
            Ok(step) => step,
            Err(e) => {
                run.error = Some(e.to_string());
                return run;
            }
        };
        run.peak_out = run.peak_out.max(out.capacity());
        run.peak_parser = run.peak_parser.max(parser.heap_bytes());
        let before = (pos, window.len());
        match step {
            Step::Consumed(n) => {
                assert!(n <= window.len(), "consumed {n} of {}", window.len());
                window.drain(..n);
                pos += n as u64;
            }
            Step::Packet { consumed, info } => {
                assert!(consumed <= window.len());
                window.drain(..consumed);
                pos += consumed as u64;
                run.packets.push((out.clone(), info));
                idle = 0;
                if run.packets.len() >= max_packets {
                    return run;
                }
                continue;
            }
            Step::NeedMore(min) => {
                assert!(!eof, "NeedMore after eof");
                assert!(min > window.len(), "NeedMore({min}) with {}", window.len());
                assert!(
                    min <= parser.max_window(),
                    "NeedMore({min}) over the window bound"
                );
                while window.len() < min && at + window.len() < file.len() {
                    let from = at + window.len();
                    let n = chunk().clamp(1, file.len() - from);
                    window.extend_from_slice(&file[from..from + n]);
                }
            }
            Step::SeekTo(to) => {
                if to < pos {
                    run.backward_seeks += 1;
                    window.clear();
                } else if to - pos <= window.len() as u64 {
                    window.drain(..(to - pos) as usize);
                } else {
                    window.clear();
                }
                pos = to;
            }
            Step::End => return run,
        }
        run.peak_window = run.peak_window.max(window.len());
        if (pos, window.len()) == before {
            idle += 1;
            assert!(idle < 3, "no progress at {pos}: {step:?}");
        } else {
            idle = 0;
        }
    }
    panic!("the parser did not finish in O(bytes) steps");
}

fn drive(parser: &mut MkvDemux, file: &[u8], chunk: &mut dyn FnMut() -> usize) -> Run {
    drive_from(parser, file, 0, chunk, usize::MAX)
}

fn whole(file: &[u8]) -> Run {
    drive(&mut MkvDemux::new(), file, &mut || usize::MAX)
}

fn clip(name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/containers");
    std::fs::read(dir.join(name)).unwrap()
}

const CLIPS: &[&str] = &["h264.mkv", "hevc.mkv", "vp8.webm", "vp9.webm", "av1.webm"];

/// A parser that has read `webm(&[])` (headers, no cluster) as a live stream.
fn primed() -> MkvDemux {
    let header = webm(&[]);
    let mut parser = MkvDemux::live();
    let (mut pos, mut out) = (0usize, Vec::new());
    loop {
        match parser
            .step(&header[pos..], pos as u64, false, &mut out)
            .unwrap()
        {
            Step::Consumed(n) => pos += n,
            Step::NeedMore(_) if pos == header.len() => return parser,
            other => panic!("{other:?} at {pos}"),
        }
    }
}

/// A file with Cues after two clusters; a SeekHead names them.
fn file_with_cues() -> (Vec<u8>, u64, u64) {
    let c1 = cluster(
        0,
        &[
            simple_block(1, 0, true, &[1]),
            simple_block(1, 40, false, &[2]),
        ],
    );
    let c2 = cluster(
        80,
        &[
            simple_block(1, 0, false, &[3]), // a non-key frame before the cue's key frame
            simple_block(1, 40, true, &[4]),
            simple_block(1, 80, false, &[5]),
        ],
    );
    let info = el(ids::INFO, &uint(ids::TIMESTAMP_SCALE, 1_000_000));
    let tr = tracks(&[track_entry(1, 1, "V_VP9")]);
    // SeekHead of fixed length (its position value is 8 bytes).
    let seek_head_len = el(
        ids::SEEK_HEAD,
        &el(
            ids::SEEK,
            &cat(&[
                el(ids::SEEK_ID, &id_bytes(ids::CUES)),
                el(ids::SEEK_POSITION, &[0; 8]),
            ]),
        ),
    )
    .len();
    let c1_at = (seek_head_len + info.len() + tr.len()) as u64;
    let c2_at = c1_at + c1.len() as u64;
    let cues_at = c2_at + c2.len() as u64;
    let seek_head = el(
        ids::SEEK_HEAD,
        &el(
            ids::SEEK,
            &cat(&[
                el(ids::SEEK_ID, &id_bytes(ids::CUES)),
                el(ids::SEEK_POSITION, &cues_at.to_be_bytes()),
            ]),
        ),
    );
    let cue_point = |time: u64, at: u64| {
        el(
            ids::CUE_POINT,
            &cat(&[
                uint(ids::CUE_TIME, time),
                el(
                    ids::CUE_TRACK_POSITIONS,
                    &cat(&[uint(ids::CUE_TRACK, 1), uint(ids::CUE_CLUSTER_POSITION, at)]),
                ),
            ]),
        )
    };
    let cues = el(
        ids::CUES,
        &cat(&[cue_point(0, c1_at), cue_point(120, c2_at)]),
    );
    let segment = cat(&[seek_head, info, tr, c1, c2, cues]);
    let mut file = ebml_header("matroska");
    file.extend(el(ids::SEGMENT, &segment));
    let data = (file.len() - segment.len()) as u64;
    (file, data + c1_at, data + c2_at)
}
