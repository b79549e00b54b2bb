//! The Matroska reader as a specification: the same packets whole and in any chunking, the
//! relative timestamps of −32768, hostile sizes and laces within a measured memory bound, live
//! input, Cues and seeking.
//!
//! A tiny driver stands in for `source.rs`: it keeps a window of the file from `pos`, reads
//! chunks of random size when asked for more, and serves `SeekTo` by dropping bytes or
//! repositioning.

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

// ---- Specifications --------------------------------------------------------------------------

#[test]
fn the_clips_give_the_packet_table_s_packets_whole_and_in_random_chunks() {
    for (k, name) in CLIPS.iter().enumerate() {
        let file = clip(name);
        // The packet table (checked against ffmpeg by crates/input/tests/input_containers.rs).
        let table = demux(&file).unwrap();
        assert!(table.error.is_none(), "{name}: {:?}", table.error);
        let reference: Vec<(&[u8], i64)> = table
            .entries
            .iter()
            .map(|e| (table.bytes(&file, e), e.pts))
            .collect();
        assert_eq!(reference.len(), 12, "{name}");

        let mut rng = Rng(0x51_7cc1_b727_220a ^ k as u64);
        for max_chunk in [1u64, 7, 100, 4096, u64::MAX] {
            let run = drive(&mut MkvDemux::new(), &file, &mut || {
                (rng.next() % max_chunk.min(1 << 20)) as usize + 1
            });
            assert_eq!(run.error, None, "{name} chunks ≤ {max_chunk}");
            let got: Vec<(&[u8], i64)> = run
                .packets
                .iter()
                .map(|(d, i)| (d.as_slice(), i.pts))
                .collect();
            assert_eq!(got, reference, "{name} chunks ≤ {max_chunk}");
            let indices: Vec<u64> = run.packets.iter().map(|(_, i)| i.index).collect();
            assert_eq!(indices, (0..12).collect::<Vec<_>>(), "{name}");
            assert!(
                run.packets[0].1.key,
                "{name}: the first frame is a key frame"
            );
            // The window never holds more than the largest block plus a chunk.
            let largest = reference.iter().map(|(d, _)| d.len()).max().unwrap();
            if max_chunk <= 4096 {
                assert!(
                    run.peak_window <= largest + 64 + max_chunk as usize,
                    "{name}: window {} for frames ≤ {largest}",
                    run.peak_window
                );
            }
        }
    }
}

#[test]
fn a_webm_with_relative_timestamp_minus_32768_does_not_panic_or_wrap() {
    // Cluster at 0 with a SimpleBlock at −32768 (negating it overflows: "attempt to negate
    // with overflow"), then a cluster at 40,000 with the same relative timestamp.
    let mut file = webm(&[
        cluster(0, &[simple_block(1, i16::MIN, true, &[0x10, 0x02, 0x00])]),
        cluster(
            40_000,
            &[simple_block(1, i16::MIN, false, &[0x31, 0x02, 0x00])],
        ),
    ]);
    // Padded with a Void element to 308 bytes.
    let rest = 308 - file.len();
    let pad = if rest - 2 < 127 { rest - 2 } else { rest - 9 };
    file.extend(el(0xEC, &vec![0; pad]));
    assert_eq!(file.len(), 308);

    let run = whole(&file);
    assert_eq!(run.error, None);
    let pts: Vec<i64> = run.packets.iter().map(|(_, i)| i.pts).collect();
    // Below 0 is clamped to 0, as matroska-demuxer's saturating subtraction did.
    assert_eq!(pts, [0, 40_000 - 32_768]);
    assert_eq!(run.packets[1].0, [0x31, 0x02, 0x00]);
    // Through the public whole-file path too.
    let mut es = crate::ElementaryStream::from_bytes(file, crate::FormatHint::Unknown).unwrap();
    let pts: Vec<i64> = es.packets().map(|p| p.unwrap().pts).collect();
    assert_eq!(pts, [0, 7232]);
}

#[test]
fn a_timestamp_past_i64_is_an_error_naming_it_not_a_wrap() {
    let file = webm(&[cluster(u64::MAX, &[simple_block(1, 1, true, &[1])])]);
    let run = whole(&file);
    let err = run.error.unwrap();
    assert!(
        err.contains("does not fit") && err.contains("18446744073709551615"),
        "{err}"
    );
    assert!(run.packets.is_empty());
    // i64::MAX itself is fine; one more is not.
    let file = webm(&[cluster(i64::MAX as u64, &[simple_block(1, 0, true, &[1])])]);
    assert_eq!(whole(&file).packets[0].1.pts, i64::MAX);
    let file = webm(&[cluster(i64::MAX as u64, &[simple_block(1, 1, true, &[1])])]);
    assert!(whole(&file).error.is_some());
}

#[test]
fn absurd_sizes_are_skipped_by_seeking_or_refused_before_allocating() {
    // A Void of 2^56 − 2 bytes: skipped with one SeekTo, not read.
    let mut file = webm(&[cluster(0, &[simple_block(1, 0, true, &[1, 2])])]);
    file.extend(el_header(0xEC, (1 << 56) - 2));
    file.extend([0u8; 64]);
    let run = whole(&file);
    assert_eq!((run.error, run.packets.len()), (None, 1));
    assert!(run.peak_window <= file.len());

    // A 1 TiB Tracks: refused by the header limit, nothing allocated for it.
    let mut file = ebml_header("webm");
    file.extend(unknown(ids::SEGMENT));
    file.extend(el_header(ids::TRACKS, 1 << 40));
    file.extend([0u8; 100]);
    let run = drive(&mut MkvDemux::new(), &file, &mut || 16);
    let err = run.error.unwrap();
    assert!(err.contains("Tracks") && err.contains("limit"), "{err}");
    assert!(run.peak_window < 200, "{}", run.peak_window);

    // A 1 GiB SimpleBlock of the video track: refused; of another track: skipped.
    for (track, refused) in [(1u8, true), (2, false)] {
        let mut file = webm(&[]);
        file.extend(unknown(ids::CLUSTER));
        file.extend(el_header(ids::SIMPLE_BLOCK, 1 << 30));
        file.extend([0x80 | track, 0, 0, 0x80, 1, 2, 3]);
        let run = drive(&mut MkvDemux::new(), &file, &mut || 16);
        assert_eq!(
            run.error.is_some(),
            refused,
            "track {track}: {:?}",
            run.error
        );
        if let Some(err) = run.error {
            assert!(
                err.contains("SimpleBlock") && err.contains("limit"),
                "{err}"
            );
        }
        assert!(run.peak_window < 64, "{}", run.peak_window);
        assert!(run.peak_parser < 4096, "{}", run.peak_parser);
    }

    // Sizes whose end passes 2^64 are errors, not wraps.
    let mut parser = primed();
    let err = parser
        .step(
            &el_header(0xEC, (1 << 56) - 2),
            u64::MAX - 20,
            false,
            &mut Vec::new(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("2^64"), "{err}");
}

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

#[test]
fn only_segment_and_cluster_may_have_an_unknown_size() {
    // 10,000 nested unknown-size clusters: each new Cluster closes the last; no growth.
    let mut file = webm(&[]);
    for _ in 0..10_000 {
        file.extend(unknown(ids::CLUSTER));
        file.extend(uint(ids::TIMESTAMP, 5));
    }
    file.extend(simple_block(1, 0, true, &[9]));
    let run = drive(&mut MkvDemux::new(), &file, &mut || 37);
    assert_eq!(run.error, None);
    assert_eq!(run.packets.len(), 1);
    // The largest element read whole is Tracks (< 100 bytes), plus one chunk.
    assert!(run.peak_window < 100 + 37, "{}", run.peak_window);
    assert!(run.peak_parser < 4096, "{}", run.peak_parser);

    // Unknown sizes anywhere else are refused with the element named.
    for (inner, what) in [
        (unknown(ids::BLOCK_GROUP), "BlockGroup"),
        (unknown(ids::TAGS), "0x1254c367"),
        (unknown(0xEC), "0xec"),
    ] {
        let mut file = webm(&[]);
        file.extend(unknown(ids::CLUSTER));
        file.extend(inner);
        file.extend([0u8; 16]);
        let err = whole(&file).error.unwrap();
        assert!(err.contains(what) && err.contains("unknown size"), "{err}");
    }
    // Inside an element read whole, too.
    let mut file = ebml_header("webm");
    file.extend(unknown(ids::SEGMENT));
    let mut entry = unknown(ids::TRACK_ENTRY);
    entry.extend(uint(ids::TRACK_NUMBER, 1));
    file.extend(tracks(&[entry]));
    let err = whole(&file).error.unwrap();
    assert!(err.contains("unknown size inside a sized parent"), "{err}");
}

#[test]
fn laced_frames_come_out_one_packet_each_and_empty_ones_not_at_all() {
    // Xiph lace: 3 frames of 2, 0 and 3 bytes.
    let mut xiph = vec![0x81, 0, 5, 0x82, 2, 2, 0];
    xiph.extend([1, 1, 3, 3, 3]);
    // Fixed lace of 256 empty frames: nothing to hand out.
    let empty = vec![0x81, 0, 6, 0x84, 255];
    // EBML lace: 2, 3 (+1), rest 1.
    let mut ebml_lace = vec![0x81, 0, 7, 0x86, 2, 0x82, 0xc0];
    ebml_lace.extend([4, 4, 5, 5, 5, 6]);
    let file = webm(&[cluster(
        100,
        &[
            el(ids::SIMPLE_BLOCK, &xiph),
            el(ids::SIMPLE_BLOCK, &empty),
            el(ids::SIMPLE_BLOCK, &ebml_lace),
        ],
    )]);
    for max in [1usize, 3, usize::MAX] {
        let mut parser = MkvDemux::new();
        let run = drive(&mut parser, &file, &mut || max);
        assert_eq!(run.error, None);
        let got: Vec<(Vec<u8>, i64, bool)> = run
            .packets
            .iter()
            .map(|(d, i)| (d.clone(), i.pts, i.key))
            .collect();
        assert_eq!(
            got,
            [
                (vec![1, 1], 105, true),
                (vec![3, 3, 3], 105, true),
                (vec![4, 4], 107, true),
                (vec![5, 5, 5], 107, true),
                (vec![6], 107, true),
            ]
        );
        let index = parser.index().unwrap();
        assert_eq!(index.len(), 5);
        assert_eq!(index.size(1), Some(3));
        assert_eq!(&file[index.offset(4).unwrap() as usize..][..1], [6]);
        assert!(run.peak_parser < 4096, "{}", run.peak_parser);
    }
}

#[test]
fn a_thousand_blocks_of_256_empty_laced_frames_cost_no_index_and_no_time() {
    let block = el(ids::SIMPLE_BLOCK, &[0x81, 0, 0, 0x84, 255]);
    let file = webm(&[cluster(0, &vec![block; 1000])]);
    let mut parser = MkvDemux::new();
    let run = drive(&mut parser, &file, &mut || 1000);
    assert_eq!((run.error, run.packets.len()), (None, 0));
    assert_eq!(parser.index().map(SampleIndex::len), Some(0));
    assert!(run.peak_parser < 4096);
}

#[test]
fn bad_laces_are_errors_naming_the_block() {
    // Xiph sizes that exceed the block.
    let file = webm(&[cluster(
        0,
        &[el(ids::SIMPLE_BLOCK, &[0x81, 0, 0, 0x82, 1, 200, 1])],
    )]);
    let err = whole(&file).error.unwrap();
    assert!(
        err.contains("SimpleBlock") && err.contains("exceed"),
        "{err}"
    );
}

#[test]
fn block_groups_are_key_frames_unless_they_reference_another_block() {
    let group = |data: u8, reference: bool| {
        let mut body = el(ids::BLOCK, &[0x81, 0, data, 0, data]);
        if reference {
            body.extend(el(ids::REFERENCE_BLOCK, &[0xff]));
        }
        el(ids::BLOCK_GROUP, &body)
    };
    let file = webm(&[cluster(0, &[group(1, false), group(2, true)])]);
    let run = whole(&file);
    assert_eq!(run.error, None);
    let got: Vec<(Vec<u8>, i64, bool)> = run
        .packets
        .iter()
        .map(|(d, i)| (d.clone(), i.pts, i.key))
        .collect();
    assert_eq!(got, [(vec![1], 1, true), (vec![2], 2, false)]);
}

#[test]
fn live_input_gives_each_packet_as_soon_as_its_block_is_complete() {
    let blocks: Vec<Vec<u8>> = (0..5u8)
        .map(|i| simple_block(1, i16::from(i) * 40, i == 0, &[i; 50]))
        .collect();
    let mut file = webm(&[]);
    file.extend(unknown(ids::CLUSTER));
    file.extend(uint(ids::TIMESTAMP, 0));
    let mut block_ends = Vec::new();
    for b in &blocks {
        file.extend(b);
        block_ends.push(file.len());
    }
    // Bytes pushed one at a time, as from a socket; the parser never sees eof.
    let mut parser = MkvDemux::live();
    let (mut window, mut pos, mut out) = (Vec::new(), 0u64, Vec::new());
    let mut emitted_at = Vec::new();
    for (fed, &byte) in file.iter().enumerate() {
        window.push(byte);
        loop {
            match parser.step(&window, pos, false, &mut out).unwrap() {
                Step::Consumed(n) => {
                    window.drain(..n);
                    pos += n as u64;
                }
                Step::Packet { consumed, info } => {
                    window.drain(..consumed);
                    pos += consumed as u64;
                    assert_eq!(out, [info.index as u8; 50]);
                    emitted_at.push(fed + 1);
                }
                Step::NeedMore(_) => break,
                other => panic!("{other:?}"),
            }
        }
        assert!(
            window.len() <= 64,
            "the live window grows: {}",
            window.len()
        );
    }
    assert_eq!(emitted_at, block_ends);
    assert_eq!(parser.index(), None, "a live reader keeps no frame index");
    assert_eq!(parser.heap_bytes(), parser.lace_sizes.capacity() * 4 + 5);
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

#[test]
fn cues_read_first_give_a_key_frame_index_before_the_first_packet() {
    let (file, c1, c2) = file_with_cues();
    let mut parser = MkvDemux::new().with_cues_first();
    let run = drive_from(&mut parser, &file, 0, &mut || 5, 1);
    assert_eq!(run.error, None);
    assert_eq!(run.backward_seeks, 1, "jumped to the Cues and back");
    assert_eq!(run.packets[0].0, [1]);
    let index = parser.index().expect("the Cues index");
    assert_eq!(index.len(), 2);
    assert_eq!(
        (index.offset(0), index.pts(0), index.is_key(0)),
        (Some(c1), Some(0), true)
    );
    assert_eq!((index.offset(1), index.pts(1)), (Some(c2), Some(120)));

    // Seek to cue 1: the cluster at c2, its frames before the key frame skipped.
    let at = parser.seek_to_sample(1).unwrap();
    assert_eq!(at, c2);
    let run = drive_from(&mut parser, &file, at, &mut || 5, usize::MAX);
    assert_eq!(run.error, None);
    let got: Vec<(Vec<u8>, i64, bool)> = run
        .packets
        .iter()
        .map(|(d, i)| (d.clone(), i.pts, i.key))
        .collect();
    assert_eq!(got, [(vec![4], 120, true), (vec![5], 160, false)]);
    assert!(parser.seek_to_sample(2).is_err());
}

#[test]
fn without_cues_first_the_cues_are_read_in_file_order_and_a_full_scan_wins() {
    let (file, ..) = file_with_cues();
    let mut parser = MkvDemux::new();
    assert!(parser.seek_to_sample(0).is_err(), "no index yet");
    let run = drive(&mut parser, &file, &mut || 3);
    assert_eq!(
        (run.error, run.backward_seeks, run.packets.len()),
        (None, 0, 5)
    );
    // The full scan's index: every frame, offsets of its stored bytes.
    let index = parser.index().unwrap();
    assert_eq!(index.len(), 5);
    for (i, (data, info)) in run.packets.iter().enumerate() {
        let (at, size) = (
            index.offset(i).unwrap() as usize,
            index.size(i).unwrap() as usize,
        );
        assert_eq!(&file[at..at + size], data.as_slice());
        assert_eq!((index.pts(i), index.is_key(i)), (Some(info.pts), info.key));
    }
}

#[test]
fn after_a_full_scan_seeking_to_any_frame_gives_exactly_that_frame() {
    for name in CLIPS {
        let file = clip(name);
        let mut parser = MkvDemux::new();
        let all = whole(&file).packets;
        let run = drive(&mut parser, &file, &mut || 1000);
        assert_eq!(run.packets.len(), all.len());
        let n = parser.index().unwrap().len();
        assert_eq!(n, all.len(), "{name}");
        for target in [n - 1, 0, 5, 3] {
            let key = parser.index().unwrap().key_at_or_before(target).unwrap();
            let at = parser.seek_to_sample(key).unwrap();
            let run = drive_from(&mut parser, &file, at, &mut || 1000, target - key + 1);
            assert_eq!(run.error, None, "{name}");
            let (data, info) = run.packets.last().unwrap();
            assert_eq!(info.index, target as u64, "{name}");
            assert_eq!(info.pts, all[target].1.pts, "{name} {target}");
            // H.264/HEVC included: after a seek the parameter sets go before the key frame
            // again, so the packets are those of the sequential run.
            assert_eq!(data, &all[target].0, "{name} {target}");
        }
    }
}

#[test]
fn a_second_segment_ends_the_stream_and_other_doc_types_are_refused() {
    let one = webm(&[cluster(0, &[simple_block(1, 0, true, &[1])])]);
    let mut two = one.clone();
    two.extend(&one);
    let run = whole(&two);
    assert_eq!((run.error, run.packets.len()), (None, 1));

    let mut file = ebml_header("mkvx");
    file.extend(&one[ebml_header("webm").len()..]);
    let err = whole(&file).error.unwrap();
    assert!(err.contains("DocType 'mkvx'"), "{err}");
    let err = whole(b"RIFF\0\0\0\0WAVE").error.unwrap();
    assert!(err.contains("not an EBML file"), "{err}");
    let err = whole(&one[..3]).error.unwrap();
    assert!(err.contains("ends inside"), "{err}");
}

#[test]
fn clusters_before_tracks_and_files_without_video_are_refused() {
    let mut file = ebml_header("webm");
    file.extend(unknown(ids::SEGMENT));
    file.extend(cluster(0, &[simple_block(1, 0, true, &[1])]));
    let err = whole(&file).error.unwrap();
    assert!(err.contains("before the Tracks"), "{err}");

    let mut file = ebml_header("webm");
    file.extend(unknown(ids::SEGMENT));
    file.extend(tracks(&[track_entry(1, 2, "A_OPUS")]));
    let err = whole(&file).error.unwrap();
    assert!(
        err.contains("no video track") && err.contains("Audio A_OPUS"),
        "{err}"
    );
}

#[test]
fn truncation_inside_a_block_is_an_error_after_the_complete_packets() {
    let file = webm(&[cluster(
        0,
        &[
            simple_block(1, 0, true, &[1; 10]),
            simple_block(1, 40, false, &[2; 10]),
        ],
    )]);
    let run = whole(&file[..file.len() - 3]);
    assert_eq!(run.packets.len(), 1);
    let err = run.error.unwrap();
    assert!(err.contains("ends inside SimpleBlock"), "{err}");
}

#[test]
fn random_bytes_and_mutations_never_panic_spin_or_grow() {
    let originals: Vec<Vec<u8>> = CLIPS.iter().map(|n| clip(n)).collect();
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for round in 0..3000 {
        let mut data = originals[round % originals.len()].clone();
        for _ in 0..1 + rng.next() % 6 {
            let at = (rng.next() as usize) % data.len();
            match rng.next() % 3 {
                0 => data[at] ^= 1 << (rng.next() % 8),
                1 => data[at] = rng.next() as u8,
                _ => data.truncate(at.max(1)),
            }
        }
        let chunk = 1 + (rng.next() % 300) as usize;
        let mut parser = MkvDemux::new();
        let run = drive(&mut parser, &data, &mut || chunk);
        assert!(run.peak_window <= data.len() + chunk, "round {round}");
        assert!(run.peak_parser <= 4096 + 40 * data.len(), "round {round}");
        assert!(run.peak_out <= 4 * data.len() + (1 << 20), "round {round}");
    }
}

#[test]
fn the_worst_case_index_stays_within_40_bytes_per_byte_read() {
    // Fixed-size laces of 256 one-byte frames: one indexed frame per byte of the file,
    // the densest a file can pack them.
    let mut body = vec![0x81, 0, 0, 0x84, 255];
    body.extend([7u8; 256]);
    let block = el(ids::SIMPLE_BLOCK, &body);
    let file = webm(&[cluster(0, &vec![block; 400])]);
    let mut parser = MkvDemux::new();
    let run = drive(&mut parser, &file, &mut || 4096);
    assert_eq!((run.error, run.packets.len()), (None, 400 * 256));
    assert_eq!(parser.index().unwrap().len(), 400 * 256);
    assert!(
        run.peak_parser <= 40 * file.len() + 4096,
        "{} heap bytes for {} file bytes",
        run.peak_parser,
        file.len()
    );
}

#[test]
fn broken_cues_are_dropped_and_the_frames_still_read() {
    let (file, ..) = file_with_cues();
    let cues_at = file
        .windows(4)
        .rposition(|w| w == id_bytes(ids::CUES).as_slice())
        .unwrap();
    // A CuePoint of unknown size, read in file order and read first.
    let mut broken = file.clone();
    assert_eq!(broken[cues_at + 5], 0xbb);
    broken[cues_at + 6] = 0xff; // the first CuePoint's size: unknown
    for first in [false, true] {
        let mut parser = if first {
            MkvDemux::new().with_cues_first()
        } else {
            MkvDemux::new()
        };
        let run = drive(&mut parser, &broken, &mut || 9);
        assert_eq!(
            (run.error, run.packets.len()),
            (None, 5),
            "cues first: {first}"
        );
        // The full scan's index is there; the Cues one is not.
        assert_eq!(parser.index().map(SampleIndex::len), Some(5));
    }
    // SeekHead pointing into the middle of a cluster: jump, find no Cues, jump back.
    let mut wrong = file.clone();
    let position = wrong.windows(2).position(|w| w == [0x53, 0xac]).unwrap();
    wrong[position + 10] ^= 0x04; // the low byte of the 8-byte SeekPosition
    let mut parser = MkvDemux::new().with_cues_first();
    let run = drive(&mut parser, &wrong, &mut || 9);
    assert_eq!((run.error, run.packets.len()), (None, 5));
    assert_eq!(run.backward_seeks, 1);
}

#[test]
fn a_256_mib_live_stream_is_read_with_a_window_of_one_block() {
    // 4,096 blocks of 64 KiB in unknown-size clusters of 64 blocks, made as they are fed:
    // the window holds at most one block (plus what one feed brings), the frame index
    // grows by its 20 bytes a frame, the live reader keeps none.
    const BLOCK: usize = 64 << 10;
    let frame = vec![0x5au8; BLOCK];
    for live in [true, false] {
        let mut parser = if live {
            MkvDemux::live()
        } else {
            MkvDemux::new()
        };
        let (mut window, mut pos, mut out) = (webm(&[]), 0u64, Vec::new());
        let (mut packets, mut peak_window, mut peak_heap) = (0u64, 0, 0);
        for i in 0..4096u64 {
            if i % 64 == 0 {
                window.extend(unknown(ids::CLUSTER));
                window.extend(uint(ids::TIMESTAMP, i * 40));
            }
            window.extend(simple_block(1, 0, i % 64 == 0, &frame));
            peak_window = peak_window.max(window.len());
            loop {
                match parser.step(&window, pos, false, &mut out).unwrap() {
                    Step::Consumed(n) => {
                        window.drain(..n);
                        pos += n as u64;
                    }
                    Step::Packet { consumed, info } => {
                        window.drain(..consumed);
                        pos += consumed as u64;
                        assert_eq!(
                            (info.index, info.pts),
                            (packets, (packets / 64 * 64 * 40) as i64)
                        );
                        assert_eq!(out.len(), BLOCK);
                        packets += 1;
                    }
                    Step::NeedMore(_) => break,
                    other => panic!("{other:?}"),
                }
            }
            peak_heap = peak_heap.max(parser.heap_bytes());
        }
        assert_eq!(packets, 4096);
        assert!(pos > 256 << 20);
        assert!(peak_window <= BLOCK + 200, "window {peak_window}");
        let index_bound = if live { 0 } else { 2 * 4096 * 20 + 2 * 64 * 16 };
        assert!(peak_heap <= 4096 + index_bound, "{live}: heap {peak_heap}");
    }
}

#[test]
fn laced_and_clamped_blocks_index_shown_frames_with_repeated_pts() {
    use crate::{ElementaryStream, FormatHint, RandomAccessSource};
    // A fixed lace of four shown VP8 frames (a key frame, then inter frames) at pts 0, then two
    // blocks whose timestamps fall below 0 and are clamped to it, then one at 40.
    let mut laced = vec![0x81, 0, 0, 0x84, 3];
    laced.extend([
        0x10, 0x02, 0x00, 0x31, 0x02, 0x01, 0x31, 0x02, 0x02, 0x31, 0x02, 0x03,
    ]);
    let file = webm(&[
        cluster(0, &[el(ids::SIMPLE_BLOCK, &laced)]),
        cluster(
            10,
            &[
                simple_block(1, -20, false, &[0x31, 0x02, 0x04]),
                simple_block(1, -15, false, &[0x31, 0x02, 0x05]),
                simple_block(1, 30, false, &[0x31, 0x02, 0x06]),
            ],
        ),
    ]);
    let mut stream = ElementaryStream::from_bytes(file, FormatHint::Unknown).unwrap();
    let index = stream.sample_index().unwrap().clone();
    let pts: Vec<_> = (0..index.len()).map(|i| index.pts(i).unwrap()).collect();
    assert_eq!(pts, [0, 0, 0, 0, 0, 0, 40]);
    assert!((0..index.len()).all(|i| index.is_shown(i)));
    // Random access tells them apart by decode order (VP8/VP9/AV1) or by the bitstream's
    // picture order, never by these timestamps.
}
