//! Fuzz target `source_url`: `SourceUrl` / `UdpUrl` parsing; see `fuzz/url_checks.rs`.
#![no_main]

#[path = "../url_checks.rs"]
mod url_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| url_checks::check_source_url(data));
