//! Whether a VP8/VP9 packet makes a decoder output a frame: the one thing random access needs
//! to know of these bitstreams, since their hidden frames (VP9 alt-ref frames inside a
//! superframe, VP8 alt-ref frames stored as packets of their own) are decoded but never shown.
//!
//! Invariant: reads only the frame headers' first bits and, for VP9, the superframe index at
//! the packet's end; never indexes out of bounds, whatever the bytes; a packet it cannot parse
//! counts as shown (what a reader assumed before it looked).

use crate::Codec;

/// Whether decoding `packet` (one container sample of `codec`) outputs a frame. Always true
/// for codecs other than VP8 and VP9 (an AV1 temporal unit shows a frame by definition; H.264,
/// HEVC and MPEG-2 samples are indexed by their own readers).
pub(crate) fn shows_frame(codec: Codec, packet: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => vp8_shows_frame(packet),
        Codec::Vp9 => vp9_frames(packet).any(vp9_frame_shown),
        _ => true,
    }
}

/// VP8's frame tag: bit 4 of the first byte is `show_frame` (RFC 6386, 9.1).
fn vp8_shows_frame(packet: &[u8]) -> bool {
    packet.first().is_none_or(|&tag| tag & 0x10 != 0)
}

/// The frames of a VP9 packet: those its superframe index lists (VP9 bitstream spec, Annex
/// B), or the whole packet when it has no valid index.
fn vp9_frames(packet: &[u8]) -> impl Iterator<Item = &[u8]> {
    let sizes = vp9_superframe_sizes(packet);
    let whole = sizes.is_none().then_some(packet);
    let mut at = 0usize;
    let listed = sizes.into_iter().flatten().filter_map(move |size| {
        let frame = packet.get(at..at.checked_add(size)?)?;
        at += size;
        Some(frame)
    });
    whole.into_iter().chain(listed)
}

/// The frame sizes of a VP9 superframe index, if `packet` ends with a valid one.
fn vp9_superframe_sizes(packet: &[u8]) -> Option<Vec<usize>> {
    let &marker = packet.last()?;
    if marker & 0xe0 != 0xc0 {
        return None;
    }
    let frames = usize::from(marker & 7) + 1;
    let bytes_per_size = usize::from((marker >> 3) & 3) + 1;
    let index_len = 2 + frames * bytes_per_size;
    let index_start = packet.len().checked_sub(index_len)?;
    if packet.get(index_start) != Some(&marker) {
        return None;
    }
    let sizes = packet.get(index_start + 1..packet.len() - 1)?;
    let sizes: Vec<usize> = sizes
        .chunks_exact(bytes_per_size)
        .map(|le| {
            le.iter()
                .rev()
                .fold(0usize, |v, &b| (v << 8) | usize::from(b))
        })
        .collect();
    let total = sizes.iter().try_fold(0usize, |t, &s| t.checked_add(s))?;
    (total <= index_start).then_some(sizes)
}

/// Whether a VP9 frame (its uncompressed header, spec 6.2) is shown: `show_existing_frame`
/// or `show_frame`. A header that is not VP9's (bad frame marker, too short) counts as shown.
fn vp9_frame_shown(frame: &[u8]) -> bool {
    let Some(&b0) = frame.first() else {
        return true;
    };
    if b0 >> 6 != 0b10 {
        return true; // not a frame marker: not ours to judge
    }
    let profile = (((b0 >> 4) & 1) << 1) | ((b0 >> 5) & 1);
    // Bits after the marker (2) and profile (2), plus a reserved zero bit in profile 3.
    let mut bit = 4 + usize::from(profile == 3);
    let mut read = || {
        let byte = frame.get(bit / 8)?;
        let value = (byte >> (7 - bit % 8)) & 1;
        bit += 1;
        Some(value == 1)
    };
    let Some(show_existing) = read() else {
        return true;
    };
    if show_existing {
        return true;
    }
    let _frame_type = read();
    read().unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP9 uncompressed-header start: marker 0b10, profile 0, then the given bits.
    fn vp9_frame(show_existing: bool, show_frame: bool, len: usize) -> Vec<u8> {
        let mut b0 = 0b1000_0000u8;
        if show_existing {
            b0 |= 0b0000_1000;
        } else if show_frame {
            // frame_type at bit 5 (0: key), show_frame at bit 6.
            b0 |= 0b0000_0010;
        }
        let mut f = vec![b0];
        f.resize(len.max(1), 0x55);
        f
    }

    fn superframe(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut packet: Vec<u8> = frames.concat();
        let marker = 0xc0 | (1 << 3) | (frames.len() as u8 - 1); // 2 bytes per size
        packet.push(marker);
        for f in frames {
            packet.extend_from_slice(&(f.len() as u16).to_le_bytes());
        }
        packet.push(marker);
        packet
    }

    #[test]
    fn a_vp9_frame_is_shown_by_show_frame_or_show_existing_frame() {
        assert!(shows_frame(Codec::Vp9, &vp9_frame(false, true, 10)));
        assert!(!shows_frame(Codec::Vp9, &vp9_frame(false, false, 10)));
        assert!(shows_frame(Codec::Vp9, &vp9_frame(true, false, 1)));
    }

    #[test]
    fn a_vp9_superframe_is_shown_when_any_of_its_frames_is() {
        let hidden = vp9_frame(false, false, 300);
        let shown = vp9_frame(false, true, 20);
        assert!(shows_frame(
            Codec::Vp9,
            &superframe(&[hidden.clone(), shown])
        ));
        assert!(!shows_frame(
            Codec::Vp9,
            &superframe(&[hidden.clone(), hidden])
        ));
    }

    #[test]
    fn a_vp8_frame_tag_says_whether_it_is_shown() {
        assert!(shows_frame(Codec::Vp8, &[0x10, 0, 0]));
        assert!(!shows_frame(Codec::Vp8, &[0x00, 0, 0]));
    }

    #[test]
    fn what_cannot_be_parsed_counts_as_shown_and_nothing_panics() {
        assert!(shows_frame(Codec::Vp9, &[]));
        assert!(shows_frame(Codec::Vp9, &[0x00]));
        assert!(shows_frame(Codec::Vp8, &[]));
        // A superframe index whose sizes overrun the packet is no index: the packet is judged
        // as one frame.
        assert!(shows_frame(Codec::Vp9, &[0x82, 0xc8, 0xff, 0xff, 0xc8]));
        assert!(!shows_frame(Codec::Vp9, &[0x80, 0xc8, 0xff, 0xff, 0xc8]));
        for n in 0u32..1 << 16 {
            let bytes = n.to_le_bytes();
            for len in 0..=3 {
                let _ = shows_frame(Codec::Vp9, &bytes[..len]);
                let _ = shows_frame(Codec::Vp8, &bytes[..len]);
            }
        }
    }
}
