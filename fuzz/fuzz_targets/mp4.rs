//! The MP4 reader on arbitrary bytes: whole, in chunks and forward-only must agree, within
//! the documented heap bound, never panicking (`input::container::fuzz_mp4`), and the packet
//! bytes of a whole read within the output bound (`fuzz/checks.rs`). Crashes are kept in
//! `tests/data/fuzz-regressions/mp4/`, replayed by `cargo test`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nvcodec_input::container::fuzz_mp4(data);
    checks::check_output(data);
});
