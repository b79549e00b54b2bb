//! What the transport-stream reader reads inside PES payloads: PES timestamps, whether an
//! access unit kept its head, whether an MPEG-2 picture is an I picture, and AV1 in the
//! start-code format of the AOM MPEG-2 TS carriage turned into low-overhead OBUs.
//!
//! Invariant: every function reads only inside the slice it is given and never panics.

use super::{Codec, start_code};

/// Whether `au` begins as an access unit does (its first NAL unit or start code is one
/// that opens an access unit), so that it did not lose its head.
pub(super) fn starts_access_unit(codec: Codec, au: &[u8]) -> bool {
    if !matches!(codec, Codec::H264 | Codec::Hevc | Codec::Mpeg2) {
        return true;
    }
    let Some(p) = start_code::find(au, 0) else {
        return false;
    };
    let byte = |i: usize| au.get(p + 3 + i).copied();
    match codec {
        Codec::H264 => match byte(0).map(|b| b & 0x1f) {
            Some(1 | 2 | 5) => byte(1).is_some_and(|b| b & 0x80 != 0),
            Some(6..=9 | 14..=18) => true,
            _ => false,
        },
        Codec::Hevc => match byte(0).map(|b| (b >> 1) & 0x3f) {
            Some(0..=31) => byte(2).is_some_and(|b| b & 0x80 != 0),
            Some(32..=35 | 39 | 41..=44 | 48..=55) => true,
            _ => false,
        },
        Codec::Mpeg2 => matches!(byte(0), Some(0xb3 | 0xb8 | 0x00)),
        _ => true,
    }
}

/// Whether an MPEG-2 picture packet holds an I picture (`picture_coding_type` 1).
pub(super) fn has_i_picture(au: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = start_code::find(au, from) {
        if au.get(p + 3) == Some(&0x00) {
            return au.get(p + 5).is_some_and(|b| (b >> 3) & 7 == 1);
        }
        from = p + 3;
    }
    false
}

/// Converts an AV1 temporal unit in the start-code format of the AOM "Carriage of AV1 in
/// MPEG-2 TS" specification (each OBU after `00 00 01`, with `00 00 03` emulation
/// prevention) into the low-overhead format decoders take (each OBU with its size field),
/// appending to `out`. A payload that does not begin with a start code is taken as already
/// low-overhead and copied.
pub(super) fn av1_low_overhead(pes: &[u8], out: &mut Vec<u8>) {
    let Some(first) = start_code::find(pes, 0).filter(|&p| {
        pes.get(..p)
            .is_some_and(|lead| lead.iter().all(|&b| b == 0))
    }) else {
        out.extend_from_slice(pes);
        return;
    };
    let mut at = first;
    let mut obu = Vec::new();
    while at < pes.len() {
        let body = at + 3;
        let next = start_code::find(pes, body).unwrap_or(pes.len());
        obu.clear();
        let mut zeros = 0;
        for &b in pes.get(body..next).unwrap_or(&[]) {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            obu.push(b);
        }
        let Some(&header) = obu.first() else {
            at = next;
            continue;
        };
        let head = if header & 0x04 != 0 { 2 } else { 1 };
        if header & 0x02 != 0 {
            // With a size field: exactly the OBU it declares (zero bytes after it, before
            // the next start code, are not its own).
            let (size, len) = leb128(obu.get(head..).unwrap_or(&[]));
            let end = head
                .saturating_add(len)
                .saturating_add(usize::try_from(size).unwrap_or(usize::MAX))
                .min(obu.len());
            out.extend_from_slice(obu.get(..end).unwrap_or(&[]));
        } else {
            // Without one: up to the next start code, less the zero bytes before it.
            if next < pes.len() {
                while obu.len() > head && obu.last() == Some(&0) {
                    obu.pop();
                }
            }
            out.push(header | 0x02);
            out.extend_from_slice(obu.get(1..head).unwrap_or(&[]));
            let payload = obu.get(head..).unwrap_or(&[]);
            let mut size = payload.len();
            loop {
                let byte = (size & 0x7f) as u8;
                size >>= 7;
                if size == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
            out.extend_from_slice(payload);
        }
        at = next;
    }
}

/// An unsigned LEB128 value at the start of `bytes` (at most 8 bytes) and its length.
fn leb128(bytes: &[u8]) -> (u64, usize) {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().take(8).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (value, bytes.len().min(8))
}

/// A PTS or DTS field's 33 bits.
pub(super) fn timestamp(b: &[u8]) -> Option<u64> {
    let &[a, b1, b2, b3, b4] = b.get(..5)? else {
        return None;
    };
    Some(
        (u64::from(a >> 1) & 0x07) << 30
            | u64::from(b1) << 22
            | u64::from(b2 >> 1) << 15
            | u64::from(b3) << 7
            | u64::from(b4 >> 1),
    )
}
