//! Matroska/WebM reader: any bytes after the EBML magic open or fail with an error, every
//! packet is read, and nothing panics, hangs or allocates past libFuzzer's limits (run with
//! `-malloc_limit_mb=64`: the reader's largest allocation for a small input is its packet
//! table, a few times the input). Crashes are kept in
//! `tests/data/fuzz-regressions/mkv/` and replayed by `tests/input_mkv.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nvcodec_guard::input::{ElementaryStream, FormatHint};

/// The EBML magic: inputs without it are read by other readers, not this one.
const EBML: [u8; 4] = [0x1a, 0x45, 0xdf, 0xa3];

fuzz_target!(|data: &[u8]| {
    let mut file = Vec::with_capacity(data.len() + 4);
    if !data.starts_with(&EBML) {
        file.extend_from_slice(&EBML);
    }
    file.extend_from_slice(data);
    if let Ok(stream) = ElementaryStream::from_bytes(file, FormatHint::Unknown) {
        for packet in stream.packets() {
            if let Ok(packet) = packet {
                std::hint::black_box(packet.data);
            }
        }
    }
});
