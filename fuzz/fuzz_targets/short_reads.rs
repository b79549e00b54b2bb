//! Fuzz target `short_reads`: readers whose `read` returns lengths the input picks (and
//! `Interrupted`) give the whole-slice packets: see `check_short_reads` in `fuzz/checks.rs`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_short_reads(data));
