//! A Matroska `Block` / `SimpleBlock` body: track number, relative timestamp, flags and the
//! frame sizes of its lace.
//!
//! Invariant: the sizes returned sum to exactly the bytes after the block header, each fits
//! the body, and there are at most [`MAX_LACED_FRAMES`] of them (the 8-bit lace count
//! allows no more), so the caller's size list is a small constant.

use super::ebml::{read_signed_vint, read_vint};

/// A lace holds at most 256 frames (an 8-bit "count − 1").
pub(crate) const MAX_LACED_FRAMES: usize = 256;

/// A parsed block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockHeader {
    /// The track the block belongs to.
    pub(crate) track: u64,
    /// Timestamp relative to the cluster's, in `TimestampScale` units.
    pub(crate) relative_timestamp: i16,
    /// The flags byte (`SimpleBlock`: bit 7 key frame; all: bits 1-2 lacing).
    pub(crate) flags: u8,
    /// Offset of the first frame's bytes inside the body (after any lace header).
    pub(crate) data_start: usize,
}

impl BlockHeader {
    /// `SimpleBlock` key-frame flag.
    pub(crate) fn simple_key(&self) -> bool {
        self.flags & 0x80 != 0
    }
}

/// Reads only the track number of a block body, if enough bytes are present.
pub(crate) fn peek_track(body: &[u8]) -> Option<u64> {
    read_vint(body).map(|(track, _)| track)
}

/// Parses `body` (a block's data) into its header and its frame sizes (pushed to `sizes`,
/// cleared first). Errors name the fault; offsets are relative to the body.
pub(crate) fn parse(body: &[u8], sizes: &mut Vec<u32>) -> Result<BlockHeader, String> {
    sizes.clear();
    let (track, n) = read_vint(body).ok_or("block track number is truncated or invalid")?;
    let ts: [u8; 2] = body
        .get(n..n + 2)
        .and_then(|ts| ts.try_into().ok())
        .ok_or("block header is truncated before its timestamp")?;
    let relative_timestamp = i16::from_be_bytes(ts);
    let flags = *body
        .get(n + 2)
        .ok_or("block header is truncated before its flags")?;
    let mut at = n + 3;
    let total = |at: usize| body.len().checked_sub(at);
    let lacing = (flags >> 1) & 3;
    if lacing == 0 {
        let size = total(at).ok_or("block header runs past the block")?;
        sizes.push(frame_size(size)?);
        return Ok(BlockHeader {
            track,
            relative_timestamp,
            flags,
            data_start: at,
        });
    }
    let count = usize::from(*body.get(at).ok_or("lace count is truncated")?) + 1;
    at += 1;
    match lacing {
        // Xiph: each size but the last as a run of 255s ended by a byte < 255.
        1 => {
            let mut sum = 0usize;
            for k in 0..count - 1 {
                let mut size = 0usize;
                loop {
                    let b = *body
                        .get(at)
                        .ok_or_else(|| format!("Xiph lace size {k} runs past the block"))?;
                    at += 1;
                    size += usize::from(b); // at most 255 × body.len(): no overflow
                    if b != 255 {
                        break;
                    }
                }
                sum = sum.saturating_add(size);
                sizes.push(frame_size(size)?);
            }
            last_size(body.len(), at, sum, count, sizes)?;
        }
        // EBML: the first size as a VINT, then signed differences to the previous size.
        3 => {
            let rest = body.get(at..).unwrap_or(&[]);
            let (first, n) = read_vint(rest).ok_or("EBML lace size 0 is truncated or invalid")?;
            at += n;
            let mut size = i64::try_from(first).map_err(|_| "EBML lace size 0 is too large")?;
            let mut sum = 0usize;
            for k in 0..count - 1 {
                if k > 0 {
                    let rest = body.get(at..).unwrap_or(&[]);
                    let (diff, n) = read_signed_vint(rest)
                        .ok_or_else(|| format!("EBML lace size {k} is truncated or invalid"))?;
                    at += n;
                    size = size
                        .checked_add(diff)
                        .filter(|s| *s >= 0)
                        .ok_or_else(|| format!("EBML lace size {k} is negative"))?;
                }
                let s = usize::try_from(size)
                    .map_err(|_| format!("EBML lace size {k} is too large"))?;
                sum = sum.saturating_add(s);
                sizes.push(frame_size(s)?);
            }
            last_size(body.len(), at, sum, count, sizes)?;
        }
        // Fixed: equal sizes that must divide the data.
        _ => {
            let data = total(at).ok_or("lace header runs past the block")?;
            if data % count != 0 {
                return Err(format!(
                    "fixed-size lacing of {count} frames does not divide the {data} data bytes"
                ));
            }
            let each = frame_size(data / count)?;
            sizes.resize(count, each);
        }
    }
    Ok(BlockHeader {
        track,
        relative_timestamp,
        flags,
        data_start: at,
    })
}

/// The lace's last size: what the earlier sizes leave of the body.
fn last_size(
    body_len: usize,
    at: usize,
    sum: usize,
    count: usize,
    sizes: &mut Vec<u32>,
) -> Result<(), String> {
    let last = body_len
        .checked_sub(at)
        .and_then(|data| data.checked_sub(sum))
        .ok_or_else(|| {
            format!(
                "the {count} laced frame sizes ({sum} bytes before the last) exceed the block's \
                 {} data bytes",
                body_len.saturating_sub(at)
            )
        })?;
    sizes.push(frame_size(last)?);
    Ok(())
}

fn frame_size(size: usize) -> Result<u32, String> {
    u32::try_from(size).map_err(|_| format!("frame of {size} bytes is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes_of(body: &[u8]) -> Result<(BlockHeader, Vec<u32>), String> {
        let mut sizes = Vec::new();
        parse(body, &mut sizes).map(|h| (h, sizes))
    }

    #[test]
    fn an_unlaced_block_is_one_frame() {
        let (h, s) = sizes_of(&[0x81, 0x80, 0x00, 0x80, 1, 2, 3]).unwrap();
        assert_eq!(
            (h.track, h.relative_timestamp, h.simple_key(), h.data_start),
            (1, i16::MIN, true, 4)
        );
        assert_eq!(s, [3]);
    }

    #[test]
    fn xiph_ebml_and_fixed_laces_split_exactly() {
        // Xiph: 3 frames of 256, 1 and (rest) 2 bytes.
        let mut body = vec![0x81, 0, 0, 0x02, 2, 255, 1, 1];
        body.extend(std::iter::repeat_n(7u8, 259));
        assert_eq!(sizes_of(&body).unwrap().1, [256, 1, 2]);
        // EBML: 800, 500 (−300), then the rest (10).
        let mut body = vec![0x81, 0, 0, 0x06, 2, 0x43, 0x20, 0x5e, 0xd3];
        body.extend(std::iter::repeat_n(0u8, 1310));
        assert_eq!(sizes_of(&body).unwrap().1, [800, 500, 10]);
        // Fixed: 3 × 2.
        assert_eq!(
            sizes_of(&[0x81, 0, 0, 0x04, 2, 1, 1, 2, 2, 3, 3])
                .unwrap()
                .1,
            [2, 2, 2]
        );
    }

    #[test]
    fn laces_that_do_not_fit_are_errors() {
        assert!(sizes_of(&[0x81, 0, 0, 0x02, 1, 200, 1]).is_err());
        assert!(sizes_of(&[0x81, 0, 0, 0x06, 1, 0x90]).is_err());
        assert!(sizes_of(&[0x81, 0, 0, 0x04, 1, 1, 2, 3]).is_err());
        assert!(sizes_of(&[0x81, 0]).is_err());
        // A negative EBML size difference below 0.
        assert!(sizes_of(&[0x81, 0, 0, 0x06, 2, 0x81, 0x80, 0]).is_err());
    }

    #[test]
    fn the_largest_lace_count_is_256_frames() {
        let mut body = vec![0x81, 0, 0, 0x02, 255];
        body.extend(std::iter::repeat_n(0u8, 255)); // 255 empty sizes, last gets the rest
        body.push(9);
        let (_, s) = sizes_of(&body).unwrap();
        assert_eq!(s.len(), MAX_LACED_FRAMES);
        assert_eq!(s.last(), Some(&1));
    }
}
