//! Whether an IVF frame is a random access point (a frame a decoder can start from), read from
//! the first bytes of its VP8, VP9 or AV1 frame header.
//!
//! Invariant: never panics and reads only the frame's bytes; anything that cannot be read is
//! "not key", so a damaged frame is never offered as a place to start.
//!
//! - **VP8**: bit 0 of the frame tag's first byte is 0 (RFC 6386 §9.1).
//! - **VP9**: the uncompressed header's `frame_type` is `KEY_FRAME` and `show_existing_frame`
//!   is 0 (the profile bits, and the reserved bit of profile 3, come first). A superframe (an
//!   IVF frame holding several VP9 frames, e.g. a hidden alt-ref then a shown frame, with an
//!   index at its end) is key when its **shown** frame, the last one with `show_frame` = 1, is a
//!   key frame: a key frame resets every reference, so a frame hidden before it in the same
//!   superframe cannot matter to what is shown from it on.
//! - **AV1**: the temporal unit holds a sequence header OBU and its first frame header (an
//!   `OBU_FRAME` or `OBU_FRAME_HEADER`) has `show_existing_frame` = 0 and `frame_type` =
//!   `KEY_FRAME` (or the sequence uses `reduced_still_picture_header`, whose frames are all
//!   key frames). A key frame without a sequence header before it in its temporal unit is not
//!   marked: a decoder starting there would not know the sequence parameters.

use crate::Codec;
use crate::annexb::bitreader::BitReader;

/// Whether `frame` (one IVF frame's bytes) of `codec` is a random access point.
pub(crate) fn is_key(codec: Codec, frame: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => frame.first().is_some_and(|b| b & 1 == 0),
        Codec::Vp9 => vp9_is_key(frame),
        Codec::Av1 => av1_is_key(frame),
        _ => false,
    }
}

/// `(shown, key)` of one VP9 frame from its uncompressed header.
fn vp9_frame(frame: &[u8]) -> Option<(bool, bool)> {
    let mut r = BitReader::plain(frame);
    if r.bits(2)? != 2 {
        return None; // frame_marker
    }
    let low = r.bits(1)?;
    let high = r.bits(1)?;
    if (high << 1 | low) == 3 {
        r.skip(1)?; // reserved_zero
    }
    if r.flag()? {
        return Some((true, false)); // show_existing_frame: shows an old frame, decodes nothing
    }
    let key = !r.flag()?; // frame_type: 0 = KEY_FRAME
    let shown = r.flag()?;
    Some((shown, key))
}

/// The sub-frames of a VP9 superframe (Annex B of the VP9 bitstream spec), or the frame itself.
fn vp9_frames(frame: &[u8]) -> Vec<&[u8]> {
    let single = vec![frame];
    let Some(&marker) = frame.last() else {
        return single;
    };
    if marker & 0xe0 != 0xc0 {
        return single;
    }
    let size_bytes = usize::from((marker >> 3) & 3) + 1;
    let count = usize::from(marker & 7) + 1;
    let index_len = 2 + size_bytes * count;
    let Some(index_start) = frame.len().checked_sub(index_len) else {
        return single;
    };
    if frame.get(index_start) != Some(&marker) {
        return single;
    }
    let mut frames = Vec::with_capacity(count);
    let mut at = 0usize;
    for i in 0..count {
        let field = index_start + 1 + i * size_bytes;
        let Some(bytes) = frame.get(field..field + size_bytes) else {
            return single;
        };
        let size = bytes
            .iter()
            .rev()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let Some(sub) = at.checked_add(size).and_then(|end| frame.get(at..end)) else {
            return single;
        };
        if end_within(at, size, index_start) {
            frames.push(sub);
        }
        at += size;
    }
    frames
}

fn end_within(at: usize, size: usize, limit: usize) -> bool {
    at.checked_add(size).is_some_and(|end| end <= limit)
}

fn vp9_is_key(frame: &[u8]) -> bool {
    vp9_frames(frame)
        .iter()
        .rev()
        .filter_map(|f| vp9_frame(f))
        .find(|&(shown, _)| shown)
        .is_some_and(|(_, key)| key)
}

/// A LEB128 number (AV1 4.10.5), at most 8 bytes.
fn leb128(data: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..8 {
        let byte = *data.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << (i * 7);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn av1_is_key(tu: &[u8]) -> bool {
    let mut at = 0usize;
    let mut reduced_still_picture = None;
    while at < tu.len() {
        let Some(&header) = tu.get(at) else {
            return false;
        };
        at += 1;
        let obu_type = (header >> 3) & 0xf;
        if header & 0x04 != 0 {
            at += 1; // extension header
        }
        let size = if header & 0x02 != 0 {
            match leb128(tu, &mut at).and_then(|s| usize::try_from(s).ok()) {
                Some(size) => size,
                None => return false,
            }
        } else {
            tu.len().saturating_sub(at)
        };
        let Some(payload) = at.checked_add(size).and_then(|end| tu.get(at..end)) else {
            return false;
        };
        at += size;
        match obu_type {
            // OBU_SEQUENCE_HEADER: seq_profile (3), still_picture (1),
            // reduced_still_picture_header (1).
            1 => reduced_still_picture = payload.first().map(|b| b & 0x08 != 0),
            // OBU_FRAME_HEADER, OBU_FRAME: the first frame of the temporal unit decides.
            3 | 6 => {
                let Some(reduced) = reduced_still_picture else {
                    return false;
                };
                if reduced {
                    return true;
                }
                let mut r = BitReader::plain(payload);
                return matches!((r.flag(), r.bits(2)), (Some(false), Some(0)));
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_key_frames_have_bit_zero_clear() {
        assert!(is_key(Codec::Vp8, &[0x50, 0, 0]));
        assert!(!is_key(Codec::Vp8, &[0x51, 0, 0]));
        assert!(!is_key(Codec::Vp8, &[]));
    }

    #[test]
    fn a_vp9_superframe_is_key_when_its_shown_frame_is() {
        // marker 10, profile 0, show_existing 0, frame_type 0 (key), show_frame 1.
        let key_shown = [0b1000_0010u8, 0];
        // frame_type 1 (inter), show_frame 0: a hidden alt-ref.
        let hidden = [0b1000_0100u8, 0];
        let inter_shown = [0b1000_0110u8, 0];
        assert!(is_key(Codec::Vp9, &key_shown));
        assert!(!is_key(Codec::Vp9, &inter_shown));
        let superframe = |a: &[u8], b: &[u8]| {
            let marker = 0b1100_0001u8; // 1 byte sizes, 2 frames
            let mut f = [a, b].concat();
            f.extend_from_slice(&[marker, a.len() as u8, b.len() as u8, marker]);
            f
        };
        assert!(is_key(Codec::Vp9, &superframe(&hidden, &key_shown)));
        assert!(!is_key(Codec::Vp9, &superframe(&key_shown, &inter_shown)));
        // show_existing_frame = 1: not a key frame.
        assert!(!is_key(Codec::Vp9, &[0b1000_1000]));
    }

    #[test]
    fn an_av1_key_frame_needs_a_sequence_header_before_it() {
        let seq = [0x0a, 0x01, 0x00]; // OBU_SEQUENCE_HEADER, size 1, profile 0, not reduced
        let key = [0x32, 0x01, 0x10]; // OBU_FRAME, size 1: show_existing 0, frame_type 0
        let inter = [0x32, 0x01, 0x20]; // frame_type 1
        assert!(is_key(Codec::Av1, &[&seq[..], &key[..]].concat()));
        assert!(!is_key(Codec::Av1, &key));
        assert!(!is_key(Codec::Av1, &[&seq[..], &inter[..]].concat()));
        assert!(!is_key(Codec::Av1, &[0x0a, 0x80]));
    }
}
