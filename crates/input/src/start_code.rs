//! Start-code scanning shared by the Annex-B and MPEG-2 splitters.
//!
//! Invariant: every function here returns positions inside the slice it was given (or
//! `None`) and never indexes out of bounds, whatever the bytes are.

/// The three-byte prefix `00 00 01` that precedes every NAL unit (H.264/HEVC Annex-B) and
/// every MPEG-2 video start code.
pub(crate) const PREFIX: [u8; 3] = [0, 0, 1];

/// Position of the first `00 00 01` that begins at or after `from`, or `None`.
///
/// Skips three bytes whenever the third byte of the window is neither 0 nor 1, since no
/// start code can then begin at any of the three positions; this keeps the scan cheap on
/// large slices without `unsafe` or extra dependencies.
pub(crate) fn find(data: &[u8], from: usize) -> Option<usize> {
    let tail = data.get(from..)?;
    let mut i = 0usize;
    while let Some(&third) = tail.get(i.checked_add(2)?) {
        if third > 1 {
            i = i.checked_add(3)?;
        } else if third == 1 && tail.get(i..i.checked_add(2)?) == Some(&PREFIX[..2]) {
            return from.checked_add(i);
        } else {
            i = i.checked_add(1)?;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_start_code_at_the_very_beginning() {
        assert_eq!(find(&[0, 0, 1, 9], 0), Some(0));
    }

    #[test]
    fn finds_the_three_byte_suffix_of_a_four_byte_start_code() {
        assert_eq!(find(&[0, 0, 0, 1, 9], 0), Some(1));
    }

    #[test]
    fn finds_start_codes_after_skippable_bytes() {
        let data = [7, 7, 7, 7, 0, 7, 0, 0, 1, 5];
        assert_eq!(find(&data, 0), Some(6));
        assert_eq!(find(&data, 7), None);
    }

    #[test]
    fn does_not_find_a_start_code_cut_off_by_the_end() {
        assert_eq!(find(&[5, 0, 0], 0), None);
        assert_eq!(find(&[0, 0, 1], 1), None);
        assert_eq!(find(&[0, 0, 1], 10), None);
    }

    #[test]
    fn agrees_with_a_naive_scan_on_every_small_pattern() {
        // All 4^6 streams over the alphabet {0, 1, 2, 3} of length 6, every start offset.
        for n in 0u32..4096 {
            let data: Vec<u8> = (0..6).map(|k| ((n >> (2 * k)) & 3) as u8).collect();
            for from in 0..=data.len() {
                let naive =
                    (from..data.len().saturating_sub(2)).find(|&i| data[i..i + 3] == PREFIX);
                assert_eq!(find(&data, from), naive, "{data:?} from {from}");
            }
        }
    }
}
