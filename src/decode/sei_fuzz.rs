//! The SEI collection and its accessors run over arbitrary bytes, for the fuzzer (`--cfg
//! fuzzing`, as `cargo fuzz` builds; target `sei`) and the unit tests.
//!
//! Invariant: every check is an `assert!`, on purpose — this code turns a breach of
//! [`collect`]'s bounds or an accessor reading past its payload into a crash the fuzzer
//! reports. It is compiled only for tests and fuzzing builds.
//!
//! Input layout: byte 0 is the message count (mod [`MAX_SEI_MESSAGES`] + 8, so counts over
//! the bound occur), then 3 bytes a message (payload type; size as a little-endian `u16`,
//! where a high byte of 0xff stands for `u32::MAX - low`, so absurd sizes occur), then the
//! driver's payload buffer (possibly shorter than the sizes claim).

use super::sei::{
    MAX_SEI_BYTES, MAX_SEI_MESSAGES, SEI_CONTENT_LIGHT_LEVEL, SEI_MASTERING_DISPLAY,
    SEI_USER_DATA_REGISTERED, SEI_USER_DATA_UNREGISTERED, SeiMessage, collect,
};

/// Checks one message's accessors against its type and payload length.
fn check_accessors(message: &SeiMessage) {
    let (kind, len) = (message.payload_type(), message.payload().len());
    assert_eq!(
        message.mastering_display().is_some(),
        kind == SEI_MASTERING_DISPLAY && len >= 24
    );
    assert_eq!(
        message.content_light_level().is_some(),
        kind == SEI_CONTENT_LIGHT_LEVEL && len >= 4
    );
    match message.user_data_unregistered() {
        Some((_, data)) => {
            assert!(kind == SEI_USER_DATA_UNREGISTERED && data.len() + 16 == len);
        }
        None => assert!(kind != SEI_USER_DATA_UNREGISTERED || len < 16),
    }
    if let Some(cc) = message.closed_captions() {
        assert_eq!(kind, SEI_USER_DATA_REGISTERED);
        assert_eq!(cc.len() % 3, 0);
        assert!(cc.len() + 10 <= len);
    }
}

/// Runs [`collect`] and the accessors over `data` (layout in the module docs).
///
/// # Panics
/// When [`collect`] keeps messages past its bounds, reads more than the sizes claim, or
/// returns payloads other than the buffer's, or an accessor disagrees with its message.
#[doc(hidden)]
pub fn fuzz_sei(data: &[u8]) {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count) % (MAX_SEI_MESSAGES + 8);
    let (headers, buffer) = rest.split_at((3 * count).min(rest.len()));
    let headers: Vec<(u8, u32)> = headers
        .chunks(3)
        .map(|h| {
            let (low, high) = (
                h.get(1).copied().unwrap_or(0),
                h.get(2).copied().unwrap_or(0),
            );
            let size = if high == 0xff {
                u32::MAX - u32::from(low)
            } else {
                u32::from(u16::from_le_bytes([low, high]))
            };
            (h[0], size)
        })
        .collect();
    let mut asked = None;
    let collected = collect(&headers, |total| {
        asked = Some(total);
        buffer.get(..total).map(<[u8]>::to_vec)
    });
    let claimed: u64 = headers.iter().map(|&(_, size)| u64::from(size)).sum();
    let within = headers.len() <= MAX_SEI_MESSAGES && claimed <= MAX_SEI_BYTES as u64;
    if within {
        assert_eq!(
            asked,
            Some(claimed as usize),
            "the buffer read is not the sizes' sum"
        );
    } else {
        assert_eq!(asked, None, "the buffer was read although over the bounds");
    }
    match collected {
        Some(messages) => {
            assert!(within && claimed as usize <= buffer.len());
            assert_eq!(messages.len(), headers.len());
            let mut at = 0;
            for (message, &(kind, size)) in messages.iter().zip(&headers) {
                assert_eq!(message.payload_type(), kind);
                assert_eq!(message.payload(), &buffer[at..at + size as usize]);
                at += size as usize;
                check_accessors(message);
            }
        }
        None => assert!(!within || claimed as usize > buffer.len()),
    }
    for &(kind, _) in &headers {
        check_accessors(&SeiMessage::new(kind, buffer.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz target's counterpart under `cargo test`: its seeds and regressions
    /// (`tests/data/fuzz-regressions/sei/`), each with deterministic mutations (every byte
    /// flipped in turn, every prefix).
    #[test]
    fn the_sei_fuzz_checks_pass_on_the_seeds_and_their_mutations() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/fuzz-regressions/sei");
        let mut replayed = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            fuzz_sei(&data);
            for i in 0..data.len() {
                fuzz_sei(&data[..i]);
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut mutated = data.clone();
                    mutated[i] ^= flip;
                    fuzz_sei(&mutated);
                }
            }
            replayed += 1;
        }
        assert!(replayed >= 3);
    }
}
