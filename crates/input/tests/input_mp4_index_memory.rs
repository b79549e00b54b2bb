//! A progressive MP4's index is bounded by what its sample tables can describe, measured
//! under a counting global allocator: a `moov`-first file whose `stsz` gives one fixed size
//! for millions of samples, described only by a large `stco`, either fits one sample per 4
//! bytes of table (index ≤ 5 bytes a byte, ≤ 9 while resolving) or is refused with
//! `LimitExceeded` before anything is sized from its count. Before that bound, each byte of
//! `stco` could declare a sample: 20–25 bytes of heap per byte of file.
//!
//! One test function, so no other test's allocations are counted.

mod common;

use nvcodec_input::ReadError;
use nvcodec_input::{ElementaryStream, FormatHint, InputError};

use common::counting::{peak_since, reset_peak};

#[global_allocator]
static ALLOCATOR: common::counting::Counting<true> = common::counting::Counting;

fn bx(kind: &[u8; 4], parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut b = ((8 + len) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    for p in parts {
        b.extend_from_slice(p);
    }
    b
}

fn full(kind: &[u8; 4], fields: &[u32]) -> Vec<u8> {
    let mut body = 0u32.to_be_bytes().to_vec();
    for f in fields {
        body.extend_from_slice(&f.to_be_bytes());
    }
    bx(kind, &[&body])
}

/// A `moov`-first VP9 MP4 declaring `samples` samples of 1 byte, 4 to a chunk, in `chunks`
/// chunks (an `stco` of 4 bytes a chunk), and a 64-byte `mdat`: the samples lie far past the
/// end of the file.
fn declared(samples: u32, chunks: u32) -> Vec<u8> {
    let mut entry = vec![0u8; 78];
    entry[7] = 1;
    entry[24..26].copy_from_slice(&320u16.to_be_bytes());
    entry[26..28].copy_from_slice(&240u16.to_be_bytes());
    let stsd = bx(
        b"stsd",
        &[
            &0u32.to_be_bytes(),
            &1u32.to_be_bytes(),
            &bx(b"vp09", &[&entry]),
        ],
    );
    let mut stco = 0u32.to_be_bytes().to_vec();
    stco.extend_from_slice(&chunks.to_be_bytes());
    for c in 0..chunks {
        stco.extend_from_slice(&(0x4000_0000 + c * 4).to_be_bytes());
    }
    let stbl = bx(
        b"stbl",
        &[
            &stsd,
            &full(b"stts", &[1, samples, 1]),
            &full(b"stsc", &[1, 1, 4, 1]),
            &full(b"stsz", &[1, samples]),
            &bx(b"stco", &[&stco]),
        ],
    );
    let minf = bx(b"minf", &[&stbl]);
    let mdhd = full(b"mdhd", &[0, 0, 1000, 0]);
    let hdlr = full(b"hdlr", &[0, u32::from_be_bytes(*b"vide"), 0, 0, 0]);
    let mdia = bx(b"mdia", &[&mdhd, &hdlr, &minf]);
    let trak = bx(b"trak", &[&full(b"tkhd", &[0, 0, 1]), &mdia]);
    let mut file = bx(b"ftyp", &[b"isom", &[0, 0, 2, 0], b"isomiso6"]);
    file.extend(bx(b"moov", &[&full(b"mvhd", &[0, 0, 1000, 0]), &trak]));
    file.extend(bx(b"mdat", &[&[0x55; 64]]));
    file
}

/// Opens `file` as a plain `Read` and takes one packet: the peak heap above the file's own
/// bytes, and the error, if any.
fn open(file: Vec<u8>) -> (usize, Option<ReadError>) {
    let reader = std::io::Cursor::new(file);
    let base = reset_peak();
    let result = ElementaryStream::from_stream(reader, FormatHint::Unknown)
        .and_then(|mut s| s.next_packet().map(|_| ()));
    let peak = peak_since(base);
    (peak, result.err())
}

#[test]
fn the_index_of_a_progressive_mp4_is_bounded_by_its_table_bytes() {
    const CHUNKS: u32 = 1 << 20; // 4 MiB of stco
    // Four times one sample per table byte: what 4 MiB of stco held before, 80 MiB of index.
    let file = declared(4 * CHUNKS, CHUNKS);
    let len = file.len();
    let (peak, err) = open(file);
    let err = err.expect("refused");
    assert!(
        matches!(err, ReadError::Input(InputError::LimitExceeded { .. })),
        "{err}"
    );
    assert!(
        peak <= 5 * len + (4 << 20),
        "{peak} bytes of heap to refuse a {len}-byte file"
    );

    // At the bound, one sample per 4 bytes of table: accepted, within 9 bytes a byte.
    let file = declared(CHUNKS, CHUNKS);
    let len = file.len();
    let (peak, err) = open(file);
    // The samples lie past the end of the file: the first read of one fails, after the
    // index was built.
    assert!(err.is_some());
    assert!(
        peak <= 9 * len + (4 << 20),
        "{peak} bytes of heap for a {len}-byte file ({:.1} a byte)",
        peak as f64 / len as f64
    );
}
