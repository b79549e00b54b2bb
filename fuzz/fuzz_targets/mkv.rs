//! Matroska/WebM reader: any bytes after the EBML magic open or fail with an error, every
//! packet is read, and nothing panics, hangs or allocates past libFuzzer's limits (run with
//! `-malloc_limit_mb=64`: the reader's largest allocation for a small input is its packet
//! table, a few times the input). The same bytes are then read as a stream, in chunks whose
//! size the first byte picks, with the reader's step contract asserted, and a seek through
//! the index it built (`fuzz_mkv_streaming`, compiled with `--cfg fuzzing`), and the packet
//! bytes of a whole read are held to the output bound (`fuzz/checks.rs`). Crashes are kept in
//! `tests/data/fuzz-regressions/mkv/` and replayed by `crates/input/tests/input_mkv.rs`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;
use nvcodec_input::container::fuzz_mkv_streaming;
use nvcodec_input::{ElementaryStream, FormatHint};

/// The EBML magic: inputs without it are read by other readers, not this one.
const EBML: [u8; 4] = [0x1a, 0x45, 0xdf, 0xa3];

fuzz_target!(|data: &[u8]| {
    let mut file = Vec::with_capacity(data.len() + 4);
    if !data.starts_with(&EBML) {
        file.extend_from_slice(&EBML);
    }
    file.extend_from_slice(data);
    // The streaming run: the first input byte picks the chunk size, the rest is the file.
    let mode = data.first().copied().unwrap_or(0);
    let mut streamed = Vec::with_capacity(file.len() + 1);
    streamed.push(mode);
    streamed.extend_from_slice(&file);
    checks::check_output(&file);
    if let Ok(mut stream) = ElementaryStream::from_bytes(file, FormatHint::Unknown) {
        for packet in stream.packets().flatten() {
            std::hint::black_box(packet.data);
        }
    }
    fuzz_mkv_streaming(&streamed);
});
