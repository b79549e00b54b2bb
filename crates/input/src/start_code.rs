//! Start-code scanning and window bookkeeping shared by the Annex-B and MPEG-2 splitters.
//!
//! Invariant: every function here returns positions inside the slice it was given (or
//! `None`, or an error) and never indexes out of bounds, whatever the bytes are.

use std::fmt::Display;

use crate::demux::Step;
use crate::{InputError, ReadError, Result};

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

/// The units of `data` after each start code (for Annex-B: the NAL units, header included,
/// start code excluded; trailing zero bytes stay with the unit before the next start code).
/// Bytes before the first start code are not a unit.
pub(crate) fn units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = find(data, 0);
    std::iter::from_fn(move || {
        let prefix = at?;
        let body = prefix.checked_add(PREFIX.len())?;
        let next = find(data, body);
        at = next;
        data.get(body..next.unwrap_or(data.len()))
    })
}

/// The error for a splitter position `at` outside its `len`-byte window: a bug in the
/// splitter named `splitter`, reported rather than crashed on.
pub(crate) fn outside_window(splitter: &str, at: impl Display, len: usize) -> ReadError {
    InputError::Internal {
        what: format!("{splitter} splitter position {at} outside a {len}-byte window"),
    }
    .into()
}

/// Where absolute offset `abs` lies in `window`, whose first byte is at absolute offset
/// `pos` (`window.len()` for its end).
///
/// # Errors
/// [`outside_window`] when `abs` is not in `pos..=pos + window.len()`.
pub(crate) fn in_window(splitter: &str, abs: u64, pos: u64, window: &[u8]) -> Result<usize> {
    abs.checked_sub(pos)
        .and_then(|r| usize::try_from(r).ok())
        .filter(|&r| r <= window.len())
        .ok_or_else(|| outside_window(splitter, abs, window.len()))
}

/// Asks for one byte more than the `have` bytes of the packet `what` begun at absolute
/// offset `pos`.
///
/// # Errors
/// [`InputError::LimitExceeded`] once `have` reaches `limit`, the splitter's window bound.
pub(crate) fn need_more(have: usize, limit: usize, what: impl Display, pos: u64) -> Result<Step> {
    if have >= limit {
        return Err(InputError::limit(
            format!("{what} at byte offset {pos} of more than {have} bytes"),
            limit as u64,
        )
        .into());
    }
    Ok(Step::NeedMore(have.saturating_add(1)))
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
