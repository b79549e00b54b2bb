//! [`BitReader`]: an MSB-first bit reader over a NAL unit's payload, for the few header fields
//! the raw-stream index needs.
//!
//! Invariant: reading never panics and never reads outside the slice it was given; reading
//! past the end, an Exp-Golomb code longer than 32 bits, or a value above the caller's cap is
//! `None`. Emulation prevention bytes (`00 00 03` → `00 00`) are removed on the fly, so the
//! reader sees the RBSP without a copy.
//!
//! Why on the fly rather than an unescaped copy: the index scan reads a few dozen bits of each
//! slice header and parameter set; copying whole NAL units would cost O(bytes) allocations for
//! nothing, and a bounded reader over the original bytes keeps the scan's memory constant.

/// Reads bits from a NAL unit payload (after the NAL header), skipping emulation prevention
/// bytes. See the [module docs](self).
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Index of the next byte to load.
    next: usize,
    /// The byte being read and how many of its bits remain (MSB first).
    current: u8,
    left: u8,
    /// Zero bytes seen in a row just before `next` (for emulation prevention).
    zeros: u8,
    /// Whether `00 00 03` sequences hold emulation prevention bytes (NAL units).
    escaped: bool,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            next: 0,
            current: 0,
            left: 0,
            zeros: 0,
            escaped: true,
        }
    }

    /// A reader of plain bytes, with no emulation prevention (VP9 and AV1 headers).
    pub(crate) fn plain(data: &'a [u8]) -> Self {
        Self {
            escaped: false,
            ..Self::new(data)
        }
    }

    /// Loads the next RBSP byte, dropping an emulation prevention byte.
    fn load(&mut self) -> Option<()> {
        let mut byte = *self.data.get(self.next)?;
        self.next = self.next.checked_add(1)?;
        if self.escaped && self.zeros >= 2 && byte == 3 {
            byte = *self.data.get(self.next)?;
            self.next = self.next.checked_add(1)?;
            self.zeros = 0;
        }
        self.zeros = if byte == 0 {
            self.zeros.saturating_add(1)
        } else {
            0
        };
        self.current = byte;
        self.left = 8;
        Some(())
    }

    /// One bit.
    pub(crate) fn bit(&mut self) -> Option<bool> {
        if self.left == 0 {
            self.load()?;
        }
        self.left -= 1;
        Some((self.current >> self.left) & 1 == 1)
    }

    /// A flag (`u(1)`).
    pub(crate) fn flag(&mut self) -> Option<bool> {
        self.bit()
    }

    /// `n` bits (`u(n)`, `n` ≤ 64) as an unsigned number.
    pub(crate) fn bits(&mut self, n: u32) -> Option<u64> {
        if n > 64 {
            return None;
        }
        let mut value = 0u64;
        for _ in 0..n {
            value = (value << 1) | u64::from(self.bit()?);
        }
        Some(value)
    }

    /// Skips `n` bits.
    pub(crate) fn skip(&mut self, n: u32) -> Option<()> {
        for _ in 0..n {
            self.bit()?;
        }
        Some(())
    }

    /// An unsigned Exp-Golomb code (`ue(v)`), at most 32 leading zeros (values < 2^32 - 1).
    pub(crate) fn ue(&mut self) -> Option<u64> {
        let mut zeros = 0u32;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.bits(zeros)?;
        Some(((1u64 << zeros) - 1) + rest)
    }

    /// `ue(v)` no larger than `max`.
    pub(crate) fn ue_max(&mut self, max: u64) -> Option<u64> {
        self.ue().filter(|&v| v <= max)
    }

    /// A signed Exp-Golomb code (`se(v)`).
    pub(crate) fn se(&mut self) -> Option<i64> {
        let k = i64::try_from(self.ue()?).ok()?;
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_codes_decode_as_the_standard_tabulates() {
        // 1 | 010 | 011 | 00100 | 00101 -> ue 0, 1, 2, 3, 4
        let mut r = BitReader::new(&[0b1010_0110, 0b0100_0010, 0b1000_0000]);
        let got: Vec<u64> = (0..5).map(|_| r.ue().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        // se: codeNum 1 -> 1, 2 -> -1, 3 -> 2, 4 -> -2
        let mut r = BitReader::new(&[0b0100_1100, 0b1000_0101, 0]);
        let got: Vec<i64> = (0..4).map(|_| r.se().unwrap()).collect();
        assert_eq!(got, [1, -1, 2, -2]);
    }

    #[test]
    fn emulation_prevention_bytes_are_skipped() {
        let mut r = BitReader::new(&[0, 0, 3, 1, 0xff]);
        assert_eq!(r.bits(24), Some(1));
        assert_eq!(r.bits(8), Some(0xff));
        assert_eq!(r.bit(), None);
    }

    #[test]
    fn reading_past_the_end_or_an_overlong_code_is_none() {
        assert_eq!(BitReader::new(&[]).bit(), None);
        assert_eq!(BitReader::new(&[0, 0, 0, 0, 0, 1]).ue(), None);
        assert_eq!(BitReader::new(&[0xff]).bits(9), None);
        assert_eq!(BitReader::new(&[0b0100_0000]).ue_max(0), None);
    }
}
