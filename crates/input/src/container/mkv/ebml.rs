//! EBML primitives: variable-length integers, element headers and values, read from slices.
//!
//! Invariant: every function here reads only inside the slice it is given and reports a
//! short slice as "more bytes needed" (`Ok(None)`) or as an error, never by indexing out of
//! bounds; sizes stay `u64` until checked against a bound by the caller.
//!
//! Why hand-written: EBML is small (RFC 8794), and owning it lets every size be checked
//! against this reader's limits before anything is allocated (see the parent module).

use std::fmt;

/// An element's ID (marker bits kept, as the Matroska spec writes IDs) and data size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ElementHeader {
    /// The ID, 1 to 4 bytes with the length marker kept (e.g. `0x1A45DFA3`).
    pub(crate) id: u32,
    /// The data size; `None` for the reserved "unknown size" (all value bits set).
    pub(crate) size: Option<u64>,
    /// Bytes of ID plus size field (2 to 12).
    pub(crate) len: usize,
}

/// The most bytes an element header can take: a 4-byte ID and an 8-byte size.
pub(crate) const MAX_HEADER_LEN: usize = 12;

/// Why bytes are not an element header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// The ID's first byte is 0 or its length marker says more than 4 bytes.
    BadId(u8),
    /// The size's first byte is 0 (a length over 8 bytes).
    BadSize,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::BadId(b) => write!(
                f,
                "invalid EBML element ID (first byte {b:#04x}: IDs are 1 to 4 bytes)"
            ),
            HeaderError::BadSize => {
                f.write_str("invalid EBML element size (first byte 0: sizes are 1 to 8 bytes)")
            }
        }
    }
}

/// How many bytes [`read_header`] needs from the start of `input` when it returned
/// `Ok(None)`: more than `input.len()`, at most [`MAX_HEADER_LEN`].
pub(crate) fn header_needs(input: &[u8]) -> usize {
    let Some(id_len) = input.first().and_then(|&b| vint_len(b)) else {
        return 1;
    };
    match input.get(id_len).and_then(|&b| vint_len(b)) {
        Some(size_len) => id_len + size_len,
        None => id_len + 1,
    }
}

/// Length in bytes of a VINT starting with `first` (1 to 8), or `None` for a 0 byte.
fn vint_len(first: u8) -> Option<usize> {
    // leading_zeros of a non-zero u8 is 0..=7.
    (first != 0).then(|| first.leading_zeros() as usize + 1)
}

/// Reads an element header from the start of `input`: `Ok(None)` if `input` is too short
/// to hold it (at most [`MAX_HEADER_LEN`] bytes are ever needed).
pub(crate) fn read_header(input: &[u8]) -> Result<Option<ElementHeader>, HeaderError> {
    let Some(&first) = input.first() else {
        return Ok(None);
    };
    let id_len = vint_len(first)
        .filter(|&n| n <= 4)
        .ok_or(HeaderError::BadId(first))?;
    let Some(id_bytes) = input.get(..id_len) else {
        return Ok(None);
    };
    let id = id_bytes
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    let Some(&size_first) = input.get(id_len) else {
        return Ok(None);
    };
    let size_len = vint_len(size_first).ok_or(HeaderError::BadSize)?;
    let Some(size_bytes) = input.get(id_len..id_len + size_len) else {
        return Ok(None);
    };
    let (value, all_ones) = vint_value(size_bytes);
    Ok(Some(ElementHeader {
        id,
        size: (!all_ones).then_some(value),
        len: id_len + size_len,
    }))
}

/// The value of a complete VINT (`bytes.len()` is its length, 1 to 8) without its marker,
/// and whether all its value bits are set (the reserved "unknown" value for sizes).
fn vint_value(bytes: &[u8]) -> (u64, bool) {
    let len = bytes.len();
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate() {
        // The first byte loses its marker bit (bit 8 - len); `len` is 1..=8 here.
        let b = if i == 0 {
            b & 0xffu8
                .checked_shr(u32::try_from(len).unwrap_or(8))
                .unwrap_or(0)
        } else {
            b
        };
        value = (value << 8) | u64::from(b);
    }
    // 7 value bits per byte: at most 56 bits, so the shift is < 64.
    let max = (1u64 << (7 * len.min(8))) - 1;
    (value, value == max)
}

/// Reads an unsigned VINT (e.g. a block's track number) from the start of `input`:
/// `(value, length)`, or `None` if `input` is too short or the first byte is 0.
pub(crate) fn read_vint(input: &[u8]) -> Option<(u64, usize)> {
    let len = vint_len(*input.first()?)?;
    let bytes = input.get(..len)?;
    Some((vint_value(bytes).0, len))
}

/// Reads a signed VINT (EBML lace size differences): the unsigned value minus
/// `2^(7·len − 1) − 1`.
pub(crate) fn read_signed_vint(input: &[u8]) -> Option<(i64, usize)> {
    let (raw, len) = read_vint(input)?;
    // len is 1..=8, so 7·len − 1 is 6..=55 and the bias fits an i64; raw < 2^56 likewise.
    let bias = (1i64 << (7 * len - 1)) - 1;
    let raw = i64::try_from(raw).ok()?;
    Some((raw - bias, len))
}

/// An unsigned integer element's value (0 to 8 bytes, big-endian; empty is 0).
pub(crate) fn uint(data: &[u8]) -> Option<u64> {
    (data.len() <= 8).then(|| data.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// A float element's value (0, 4 or 8 bytes; empty is 0.0).
pub(crate) fn float(data: &[u8]) -> Option<f64> {
    match data.len() {
        0 => Some(0.0),
        4 => {
            let b: [u8; 4] = data.try_into().ok()?;
            Some(f64::from(f32::from_be_bytes(b)))
        }
        8 => Some(f64::from_be_bytes(data.try_into().ok()?)),
        _ => None,
    }
}

/// A string element's value: its bytes up to the first NUL (padding), lossily UTF-8.
pub(crate) fn string(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(data.get(..end).unwrap_or(data)).into_owned()
}

/// One child element of a fully buffered master element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Child<'a> {
    pub(crate) id: u32,
    pub(crate) data: &'a [u8],
    /// Absolute offset of the child's header in the source.
    pub(crate) offset: u64,
    /// Offset of the child's data inside its parent's data.
    pub(crate) data_at: usize,
}

/// The children of a master element whose data is fully in memory.
///
/// Yields an error (then stops) for a malformed header, an unknown size (not allowed inside
/// a buffered element) or a child running past its parent.
#[derive(Debug, Clone)]
pub(crate) struct Children<'a> {
    data: &'a [u8],
    at: usize,
    base: u64,
    failed: bool,
}

impl<'a> Children<'a> {
    /// The children of `data`, the master element's data starting at absolute offset `base`.
    pub(crate) fn new(data: &'a [u8], base: u64) -> Self {
        Self {
            data,
            at: 0,
            base,
            failed: false,
        }
    }
}

/// Why a buffered master element's children cannot be read: what, at which offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChildError {
    pub(crate) offset: u64,
    pub(crate) what: String,
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<Child<'a>, ChildError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.data.get(self.at..).filter(|r| !r.is_empty())?;
        let offset = self.base.saturating_add(self.at as u64);
        let fail = |what: String| Some(Err(ChildError { offset, what }));
        self.failed = true;
        let header = match read_header(rest) {
            Ok(Some(h)) => h,
            Ok(None) => return fail("element header runs past its parent".into()),
            Err(e) => return fail(e.to_string()),
        };
        let Some(size) = header.size else {
            return fail(format!(
                "element {:#x} has an unknown size inside a sized parent",
                header.id
            ));
        };
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| header.len.checked_add(s));
        let Some(data) = end.and_then(|end| rest.get(header.len..end)) else {
            return fail(format!(
                "element {:#x} declares {size} bytes, only {} remain in its parent",
                header.id,
                rest.len().saturating_sub(header.len)
            ));
        };
        let data_at = self.at.saturating_add(header.len);
        self.at = data_at.saturating_add(data.len());
        self.failed = false;
        Some(Ok(Child {
            id: header.id,
            data,
            offset,
            data_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_keep_the_id_marker_and_strip_the_size_marker() {
        let h = read_header(&[0x1a, 0x45, 0xdf, 0xa3, 0x9f])
            .unwrap()
            .unwrap();
        assert_eq!((h.id, h.size, h.len), (0x1a45_dfa3, Some(0x1f), 5));
        let h = read_header(&[0xa3, 0x40, 0x02]).unwrap().unwrap();
        assert_eq!((h.id, h.size, h.len), (0xa3, Some(2), 3));
    }

    #[test]
    fn all_ones_sizes_are_unknown_and_short_input_asks_for_more() {
        let h = read_header(&[
            0x1f, 0x43, 0xb6, 0x75, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ])
        .unwrap()
        .unwrap();
        assert_eq!((h.size, h.len), (None, 12));
        assert_eq!(read_header(&[0x81, 0xff]).unwrap().unwrap().size, None);
        assert_eq!(read_header(&[0x1f, 0x43]), Ok(None));
        assert_eq!(read_header(&[0xa3, 0x01, 0]), Ok(None));
        assert_eq!(read_header(&[]), Ok(None));
        assert_eq!(header_needs(&[]), 1);
        assert_eq!(header_needs(&[0x1f, 0x43]), 5);
        assert_eq!(header_needs(&[0x1f, 0x43, 0xb6, 0x75, 0x01]), 12);
        assert_eq!(header_needs(&[0xa3, 0x40]), 3);
    }

    #[test]
    fn bad_ids_and_sizes_are_errors() {
        assert_eq!(read_header(&[0x00, 0x81]), Err(HeaderError::BadId(0)));
        assert_eq!(
            read_header(&[0x08, 0, 0, 0, 0x81]),
            Err(HeaderError::BadId(8))
        );
        assert_eq!(read_header(&[0xa3, 0x00]), Err(HeaderError::BadSize));
    }

    #[test]
    fn values_decode() {
        assert_eq!(uint(&[]), Some(0));
        assert_eq!(uint(&[1, 0]), Some(256));
        assert_eq!(uint(&[0; 9]), None);
        assert_eq!(float(&1.5f32.to_be_bytes()), Some(1.5));
        assert_eq!(float(&[0; 3]), None);
        assert_eq!(string(b"webm\0\0"), "webm");
        assert_eq!(read_signed_vint(&[0xbf]), Some((0, 1)));
        assert_eq!(read_signed_vint(&[0x80]), Some((-63, 1)));
        assert_eq!(read_signed_vint(&[0x5e, 0xd3]), Some((-300, 2)));
        assert_eq!(read_vint(&[0x43, 0x20]), Some((0x320, 2)));
    }

    #[test]
    fn children_stop_at_the_first_overrun() {
        let data = [0x83, 0x81, 0x01, 0x86, 0x85, b'V'];
        let mut c = Children::new(&data, 100);
        let first = c.next().unwrap().unwrap();
        assert_eq!(
            (first.id, first.data, first.offset, first.data_at),
            (0x83, &[1u8][..], 100, 2)
        );
        let err = c.next().unwrap().unwrap_err();
        assert_eq!(err.offset, 103);
        assert!(c.next().is_none());
    }
}
