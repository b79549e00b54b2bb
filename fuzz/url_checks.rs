//! What the `source_url` fuzz target checks, shared with its `cargo test` replay
//! (`crates/input/tests/input_fuzz_regressions.rs`): `SourceUrl::parse` never panics on any
//! text, takes time linear in it, and a `udp://` URL it accepts passes `UdpUrl::check` and
//! prints (`Display`) as a URL that parses back to the same value.

use nvcodec_input::net::{SourceUrl, UdpUrl};

/// Runs the checks on `data` read as UTF-8 (lossily, so every input reaches the parser).
pub fn check_source_url(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for candidate in [
        text.to_string(),
        format!("udp://{text}"),
        format!("udp://@{text}"),
    ] {
        if let Ok(SourceUrl::Udp(url)) = SourceUrl::parse(&candidate) {
            assert!(
                url.check().is_ok(),
                "{candidate:?}: accepted but fails check: {url:?}"
            );
            let printed = url.to_string();
            assert_eq!(
                UdpUrl::parse(&printed).ok().as_ref(),
                Some(&url),
                "{candidate:?} printed as {printed:?}, which does not parse back"
            );
        }
    }
}
