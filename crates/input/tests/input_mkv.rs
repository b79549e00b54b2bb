//! Matroska/WebM input under hostile bytes, through the public whole-file path, with every
//! allocation counted: a WebM with a relative timestamp of −32768, absurd element sizes,
//! deeply nested unknown sizes and huge lace counts each stay within the documented bound
//! (the file, plus the packet table's `MAX_EXPANSION` × file + `EXPANSION_SLACK`, plus a
//! small constant), and each fails — if it fails — with a typed `InputError`. The fuzzer's
//! finds in `tests/data/fuzz-regressions/mkv/` are replayed here too.
#![cfg(feature = "containers")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use nvcodec_input::container::{EXPANSION_SLACK, MAX_EXPANSION};
use nvcodec_input::{Codec, ReadError};
use nvcodec_input::{ElementaryStream, FormatHint, InputError};

/// Counts the bytes allocated by the current thread: now and at the peak.
struct Counting;

thread_local! {
    static NOW: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn add(n: usize) {
    let now = NOW.with(|c| {
        let v = c.get().saturating_add(n);
        c.set(v);
        v
    });
    PEAK.with(|p| p.set(p.get().max(now)));
}

fn sub(n: usize) {
    NOW.with(|c| c.set(c.get().saturating_sub(n)));
}

// SAFETY: every method forwards to `System` with the caller's layout and pointer
// unchanged; the counters are thread-local `Cell`s that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        // SAFETY: forwarded with the caller's (non-zero-size) layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        // SAFETY: `ptr` was allocated by `System` with `layout` (through `alloc`/`realloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size);
        sub(layout.size());
        // SAFETY: `ptr`/`layout` come from this allocator; `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Opens `file` and reads all its packets; returns (packets, the error if any, peak heap
/// bytes above what was allocated before).
fn open_and_read(file: &[u8]) -> (usize, Option<ReadError>, usize) {
    let base = NOW.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let outcome = match ElementaryStream::from_bytes(file, FormatHint::Unknown) {
        Ok(mut es) => {
            let mut n = 0;
            let mut error = None;
            for p in es.packets() {
                match p {
                    Ok(_) => n += 1,
                    Err(e) => error = Some(e),
                }
            }
            (n, error)
        }
        Err(e) => (0, Some(e)),
    };
    let peak = PEAK.with(Cell::get).saturating_sub(base);
    (outcome.0, outcome.1, peak)
}

/// The documented bound of the whole-file path: the file, its packet table (at most
/// `MAX_EXPANSION` × the file + `EXPANSION_SLACK`), one packet being built (≤ the file), and
/// 64 KiB for the parser's header state.
fn bound(len: usize) -> usize {
    len * (MAX_EXPANSION + 2) + EXPANSION_SLACK + (64 << 10)
}

// ---- EBML writing (as in the unit tests; duplicated, since those are crate-private) ----

fn id_bytes(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().position(|&x| x != 0).unwrap_or(3);
    b[skip..].to_vec()
}

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

fn el_header(id: u32, size: u64) -> Vec<u8> {
    let mut v = id_bytes(id);
    v.push(0x01);
    v.extend_from_slice(&size.to_be_bytes()[1..]);
    v
}

fn unknown(id: u32) -> Vec<u8> {
    let mut v = id_bytes(id);
    v.extend_from_slice(&[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    v
}

const SEGMENT: u32 = 0x1853_8067;
const CLUSTER: u32 = 0x1F43_B675;
const TIMESTAMP: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;
const VOID: u32 = 0xEC;

/// EBML header (webm), unknown-size segment, Info, Tracks with VP9 track 1.
fn webm_header() -> Vec<u8> {
    let mut f = el(0x1A45_DFA3, &el(0x4282, b"webm"));
    f.extend(unknown(SEGMENT));
    f.extend(el(0x1549_A966, &el(0x2A_D7B1, &[0x0f, 0x42, 0x40])));
    let entry = [
        el(0xD7, &[1]),
        el(0x83, &[1]),
        el(0x86, b"V_VP9"),
        el(0xE0, &[el(0xB0, &[1, 64]), el(0xBA, &[0xf0])].concat()),
    ]
    .concat();
    f.extend(el(0x1654_AE6B, &el(0xAE, &entry)));
    f
}

fn simple_block(relative: i16, key: bool, data: &[u8]) -> Vec<u8> {
    let mut body = vec![0x81];
    body.extend_from_slice(&relative.to_be_bytes());
    body.push(if key { 0x80 } else { 0 });
    body.extend_from_slice(data);
    el(SIMPLE_BLOCK, &body)
}

fn cluster(timestamp: u64, blocks: &[Vec<u8>]) -> Vec<u8> {
    let b = timestamp.to_be_bytes();
    let skip = b.iter().position(|&x| x != 0).unwrap_or(7);
    let mut body = el(TIMESTAMP, &b[skip..]);
    body.extend(blocks.concat());
    el(CLUSTER, &body)
}

// ---- Specifications ----

#[test]
fn a_webm_at_minus_32768_gives_its_packets_without_panic_within_its_bound() {
    let mut file = webm_header();
    file.extend(cluster(
        0,
        &[simple_block(i16::MIN, true, &[0x82, 0x49, 0x83])],
    ));
    file.extend(cluster(
        50_000,
        &[simple_block(i16::MIN, false, &[0x86, 0, 0])],
    ));
    let rest = 308 - file.len();
    let pad = if rest - 2 < 127 { rest - 2 } else { rest - 9 };
    file.extend(el(VOID, &vec![0; pad]));
    assert_eq!(file.len(), 308);

    let mut es = ElementaryStream::from_bytes(file.clone(), FormatHint::Unknown).unwrap();
    assert_eq!(es.codec(), Codec::Vp9);
    let pts: Vec<i64> = es.packets().map(|p| p.unwrap().pts).collect();
    assert_eq!(pts, [0, 50_000 - 32_768]);
    let (n, error, peak) = open_and_read(&file);
    assert_eq!((n, error.map(|e| e.to_string())), (2, None));
    assert!(
        peak <= bound(file.len()),
        "{peak} bytes for a 308-byte file"
    );
}

#[test]
fn absurd_element_sizes_allocate_nothing_for_what_they_declare() {
    // A Void declaring 2^56 − 2 bytes, then nothing: one packet before it, then the end.
    let mut file = webm_header();
    file.extend(cluster(0, &[simple_block(0, true, &[1, 2, 3])]));
    file.extend(el_header(VOID, (1 << 56) - 2));
    let (n, error, peak) = open_and_read(&file);
    assert_eq!((n, error.map(|e| e.to_string())), (1, None));
    assert!(peak <= bound(file.len()), "{peak}");

    // A SimpleBlock of the video track declaring 1 TiB: refused by the window limit.
    let mut file = webm_header();
    file.extend(cluster(0, &[simple_block(0, true, &[1, 2, 3])]));
    file.extend(unknown(CLUSTER));
    file.extend(el_header(SIMPLE_BLOCK, 1 << 40));
    file.extend([0x81, 0, 0, 0x80, 1, 2, 3]);
    let (n, error, peak) = open_and_read(&file);
    assert_eq!(n, 1);
    match error {
        Some(ReadError::Input(InputError::LimitExceeded { limit, what, .. })) => {
            assert_eq!(limit, 32 << 20);
            assert!(
                what.contains("SimpleBlock") && what.contains("1099511627776"),
                "{what}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(peak <= bound(file.len()), "{peak}");
}

#[test]
fn a_hundred_thousand_nested_unknown_size_clusters_cost_no_memory() {
    let mut file = webm_header();
    for _ in 0..100_000 {
        file.extend(unknown(CLUSTER));
    }
    file.extend(el(TIMESTAMP, &[9]));
    file.extend(simple_block(1, true, &[5; 10]));
    let (n, error, peak) = open_and_read(&file);
    assert_eq!((n, error.map(|e| e.to_string())), (1, None));
    // The file is 1.2 MB; the parser holds no state per cluster.
    assert!(peak <= file.len() + (1 << 20), "{peak} for {}", file.len());
}

#[test]
fn huge_lace_counts_stay_within_the_table_budget() {
    // 20,000 blocks, each a fixed-size lace of 256 one-byte frames: 5.1 M packets declared
    // in 5.3 MB. The whole-file table refuses to pass its budget; memory stays bounded.
    let mut body = vec![0x81, 0, 0, 0x84, 255];
    body.extend([7u8; 256]);
    let block = el(SIMPLE_BLOCK, &body);
    let mut file = webm_header();
    file.extend(unknown(CLUSTER));
    file.extend(el(TIMESTAMP, &[0]));
    for _ in 0..20_000 {
        file.extend(&block);
    }
    let (n, error, peak) = open_and_read(&file);
    assert!(n > 0);
    match error {
        None => assert_eq!(n, 20_000 * 256),
        Some(ReadError::Input(_)) => {}
        Some(other) => panic!("{other}"),
    }
    // Streaming (ElementaryStream over MkvDemux): no packet table, but the sample index keeps
    // 20 bytes a packet handed out (twice that while its vectors grow by doubling).
    let index = 2 * 20 * n;
    assert!(
        peak <= bound(file.len()) + index,
        "{peak} for {} ({n} packets)",
        file.len()
    );
}

#[test]
fn truncation_and_unsupported_codecs_are_typed() {
    let mut file = webm_header();
    file.extend(cluster(0, &[simple_block(0, true, &[1; 40])]));
    let (n, error, _) = open_and_read(&file[..file.len() - 5]);
    assert_eq!(n, 0);
    assert!(
        matches!(error, Some(ReadError::Input(InputError::Truncated { .. }))),
        "{error:?}"
    );
    let at = file.windows(5).position(|w| w == b"V_VP9").unwrap();
    file[at..at + 5].copy_from_slice(b"V_ABC");
    let (_, error, _) = open_and_read(&file);
    assert!(
        matches!(
            error,
            Some(ReadError::Input(InputError::Unsupported { .. }))
        ),
        "{error:?}"
    );
}

#[test]
fn every_fuzz_regression_file_opens_or_fails_cleanly_within_its_bound() {
    let dir = common::data("fuzz-regressions/mkv");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let file = std::fs::read(&path).unwrap();
        let (_, error, peak) = open_and_read(&file);
        if let Some(e) = error {
            assert!(!e.to_string().is_empty());
        }
        assert!(peak <= bound(file.len()), "{}: {peak}", path.display());
        count += 1;
    }
    assert!(count > 0, "no regression files in {}", dir.display());
}
