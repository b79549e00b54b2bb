//! Hostile MP4 files through the public API, with every heap byte counted: a 1.07 MB
//! fragmented file whose `trun` boxes declare 4,096 empty samples each (4 GB for a parser that
//! decodes whole boxes first), and sample tables declaring billions of entries. Each must be read
//! or refused within a small bound over the file's own bytes, in well under a second.
#![cfg(feature = "containers")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nvcodec_input::ReadError;
use nvcodec_input::{ElementaryStream, FormatHint, InputError};

/// Counts live heap bytes and their peak (all threads; the tests below run one at a time).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

// SAFETY: every call is forwarded to `System` with the caller's own arguments; the counters
// are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` above with this `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, passed on unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`, returning its result, the peak heap bytes above what was live before it, and
/// the time it took.
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize, Duration) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    (out, PEAK.load(Ordering::Relaxed) - before, took)
}

fn bx(kind: &[u8; 4], parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut b = u32::try_from(8 + len).unwrap().to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    for p in parts {
        b.extend_from_slice(p);
    }
    b
}

fn full(kind: &[u8; 4], version_flags: u32, fields: &[u32]) -> Vec<u8> {
    let mut body = version_flags.to_be_bytes().to_vec();
    for f in fields {
        body.extend_from_slice(&f.to_be_bytes());
    }
    bx(kind, &[&body])
}

/// `ftyp` and a `moov` with one VP9 track (id 1, timescale 1000) whose `stbl` holds `tables`.
fn header(tables: &[Vec<u8>], fragmented: bool) -> Vec<u8> {
    let mut entry = vec![0u8; 78];
    entry[7] = 1;
    entry[24..28].copy_from_slice(&[1, 64, 0, 240]); // 320 x 240
    let stsd = bx(
        b"stsd",
        &[
            &0u32.to_be_bytes(),
            &1u32.to_be_bytes(),
            &bx(b"vp09", &[&entry]),
        ],
    );
    let mut stbl: Vec<&[u8]> = vec![&stsd];
    stbl.extend(tables.iter().map(Vec::as_slice));
    let stbl = bx(b"stbl", &stbl);
    let mdia = bx(
        b"mdia",
        &[
            &full(b"mdhd", 0, &[0, 0, 1000, 0]),
            &full(b"hdlr", 0, &[0, u32::from_be_bytes(*b"vide"), 0, 0, 0]),
            &bx(b"minf", &[&stbl]),
        ],
    );
    let trak = bx(b"trak", &[&full(b"tkhd", 0, &[0, 0, 1]), &mdia]);
    let mvex = bx(b"mvex", &[&full(b"trex", 0, &[1, 1, 40, 0, 0])]);
    let mvhd = full(b"mvhd", 0, &[0, 0, 1000, 0]);
    let moov = if fragmented {
        bx(b"moov", &[&mvhd, &trak, &mvex])
    } else {
        bx(b"moov", &[&mvhd, &trak])
    };
    let mut file = bx(b"ftyp", &[b"isom", &[0, 0, 2, 0], b"isomiso6"]);
    file.extend(moov);
    file
}

fn empty_tables() -> Vec<Vec<u8>> {
    vec![
        full(b"stts", 0, &[0]),
        full(b"stsc", 0, &[0]),
        full(b"stsz", 0, &[0, 0]),
        full(b"stco", 0, &[0]),
    ]
}

fn input_error(e: &ReadError) -> &InputError {
    match e {
        ReadError::Input(e) => e,
        other => panic!("not an input error: {other}"),
    }
}

#[test]
fn a_trun_bomb_is_read_in_a_bounded_heap() {
    // One moof whose traf holds 66,000 16-byte truns, each declaring 4,096 samples of the
    // default size 0: 270 million samples in a 1.07 MB file.
    let mut file = header(&empty_tables(), true);
    let mut traf = full(b"tfhd", 0x2_0000, &[1]);
    let trun = full(b"trun", 0, &[4096]);
    for _ in 0..66_000 {
        traf.extend_from_slice(&trun);
    }
    file.extend(bx(
        b"moof",
        &[&full(b"mfhd", 0, &[1]), &bx(b"traf", &[&traf])],
    ));
    file.extend(bx(b"mdat", &[&[0u8; 64]]));
    assert!(file.len() > 1_050_000);
    let len = file.len();

    let (packets, peak, took) = measured(move || {
        #[allow(unused_mut)] // `packets` takes `&mut self` once the streaming drivers land
        let mut es = ElementaryStream::from_bytes(file, FormatHint::Unknown).unwrap();
        let mut n = 0;
        for p in es.packets() {
            p.unwrap();
            n += 1;
        }
        n
    });
    assert_eq!(packets, 0, "empty samples are not handed out");
    // The file moved in plus a few MiB at most (it was 4 GB and an abort).
    assert!(
        peak < len + (4 << 20),
        "peak heap {peak} for a {len}-byte file"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn sample_tables_declaring_billions_are_refused_in_a_bounded_heap() {
    // A fixed sample size with 2^32-1 samples in one chunk: 20 bytes of stsz.
    let tables = vec![
        full(b"stts", 0, &[1, u32::MAX, 1]),
        full(b"stsc", 0, &[1, 1, u32::MAX, 1]),
        full(b"stsz", 0, &[1, u32::MAX]),
        full(b"stco", 0, &[1, 1000]),
    ];
    let mut file = header(&tables, false);
    file.extend(bx(b"mdat", &[&[0u8; 4096]]));
    let (result, peak, took) =
        measured(move || ElementaryStream::from_bytes(file, FormatHint::Unknown).map(|_| ()));
    let err = result.unwrap_err();
    assert!(
        matches!(input_error(&err), InputError::LimitExceeded { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("4294967295"), "{err}");
    assert!(peak < 1 << 20, "peak heap {peak}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Per-sample sizes and chunk offsets declaring 2^32-1 entries in boxes of 20 and 16
    // bytes: refused by the box sizes before anything is read.
    for (slot, table) in [
        (2, full(b"stsz", 0, &[0, u32::MAX])),
        (3, full(b"stco", 0, &[u32::MAX])),
        (0, full(b"stts", 0, &[u32::MAX])),
    ] {
        let mut tables = empty_tables();
        tables[slot] = table;
        let mut file = header(&tables, false);
        file.extend(bx(b"mdat", &[&[0u8; 64]]));
        let (result, peak, _) =
            measured(move || ElementaryStream::from_bytes(file, FormatHint::Unknown).map(|_| ()));
        let err = result.unwrap_err();
        assert!(
            matches!(input_error(&err), InputError::Malformed { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("4294967295 entries"), "{err}");
        assert!(peak < 1 << 20, "peak heap {peak}");
    }
}

#[test]
fn a_run_that_cannot_fit_its_mdat_is_refused_in_a_bounded_heap() {
    // 60,000 truns of 4,096 samples of 1 byte (tfhd default size) before a 64-byte mdat.
    let mut file = header(&empty_tables(), true);
    let mut traf = full(b"tfhd", 0x2_0010, &[1, 1]);
    let trun = full(b"trun", 0, &[4096]);
    for _ in 0..60_000 {
        traf.extend_from_slice(&trun);
    }
    file.extend(bx(b"moof", &[&bx(b"traf", &[&traf])]));
    file.extend(bx(b"mdat", &[&[0u8; 64]]));
    let len = file.len();
    let (result, peak, took) = measured(move || {
        #[allow(unused_mut)] // `packets` takes `&mut self` once the streaming drivers land
        let mut es = ElementaryStream::from_bytes(file, FormatHint::Unknown)?;
        es.packets().try_for_each(|p| p.map(|_| ()))
    });
    let err = result.unwrap_err();
    assert!(
        matches!(input_error(&err), InputError::Malformed { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("not inside"), "{err}");
    // The runs are kept as runs (under 100 bytes each), not as 245 million samples.
    assert!(
        peak < 2 * len + (8 << 20),
        "peak heap {peak} for a {len}-byte file"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}
