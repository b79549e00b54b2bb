//! The progressive sample table (`stbl`): its tables read entry by entry as the bytes pass,
//! then resolved into the compact [`SampleIndex`].
//!
//! Invariant: a table holds only entries whose bytes were read (never a declared count
//! reserved up front), so the tables take at most twice their bytes on disk (`stco`'s 4-byte
//! offsets widen to 8); the index holds one [`SampleIndex`] record (20 bytes) per sample,
//! and the sample count is bounded before [`build_index`] walks it by a quarter of the
//! tables' bytes plus an allowance (a sample listed with its own size costs 4 bytes of
//! `stsz`), so the index is at most 5 bytes per byte of sample table (plus 20 × the
//! allowance) and the walk is O(samples + chunks + table entries) = O(bytes read).
//!
//! Samples must lie in the file in decode order without overlapping (every muxer writes
//! them so): this keeps the bytes handed out at most the file's bytes, and lets a file
//! with `moov` before `mdat` be read from a plain `Read`. A table that breaks this is
//! refused, naming the sample. Zero-size samples carry nothing and are left out of the
//! index (their durations still count).

use super::{limit_exceeded, malformed};
use crate::Result;
use crate::demux::SampleIndex;

/// A table box read entry by entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    /// `stts`: (sample count, sample delta).
    Stts,
    /// `ctts`: (sample count, composition offset).
    Ctts,
    /// `stss`: sync sample numbers (1-based).
    Stss,
    /// `stsc`: (first chunk, samples per chunk, description index).
    Stsc,
    /// `stsz` with per-sample sizes.
    Stsz,
    /// `stco`: 32-bit chunk offsets.
    Stco,
    /// `co64`: 64-bit chunk offsets.
    Co64,
}

impl Table {
    /// The table a box type is, if it is one read here.
    pub(super) fn of(kind: &[u8; 4]) -> Option<Self> {
        Some(match kind {
            b"stts" => Self::Stts,
            b"ctts" => Self::Ctts,
            b"stss" => Self::Stss,
            b"stsc" => Self::Stsc,
            b"stsz" => Self::Stsz,
            b"stco" => Self::Stco,
            b"co64" => Self::Co64,
            _ => return None,
        })
    }

    /// Bytes of one entry.
    pub(super) fn entry_size(self) -> usize {
        match self {
            Self::Stss | Self::Stsz | Self::Stco => 4,
            Self::Stts | Self::Ctts | Self::Co64 => 8,
            Self::Stsc => 12,
        }
    }

    /// Bytes of the fields before the entries, after the box header: version and flags,
    /// (`stsz`: the fixed sample size), the entry count.
    pub(super) fn fixed_fields(self) -> usize {
        if self == Self::Stsz { 12 } else { 8 }
    }
}

/// The sizes of a track's samples (`stsz`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum Sizes {
    /// No `stsz` read.
    #[default]
    Missing,
    /// All `count` samples have `size` bytes.
    Fixed { size: u32, count: u32 },
    /// One size a sample.
    PerSample(Vec<u32>),
}

/// The tables of one `stbl`, as read.
#[derive(Debug, Clone, Default)]
pub(super) struct Tables {
    pub(super) sizes: Sizes,
    pub(super) chunk_offsets: Option<Vec<u64>>,
    /// (first chunk, samples per chunk).
    pub(super) stsc: Vec<(u32, u32)>,
    pub(super) stts: Vec<(u32, u32)>,
    pub(super) ctts: Vec<(u32, i32)>,
    pub(super) stss: Option<Vec<u32>>,
    /// Entry bytes read into the tables (what bounds the sample count).
    pub(super) bytes_read: u64,
}

fn be32(e: &[u8], at: usize) -> u32 {
    e.get(at..at + 4)
        .and_then(|b| b.first_chunk::<4>())
        .map_or(0, |b| u32::from_be_bytes(*b))
}

impl Tables {
    /// Starts table `table` (called once its fixed fields are read): a fixed-size `stsz`
    /// is complete here.
    pub(super) fn begin(&mut self, table: Table, fixed_size: u32, count: u32) {
        match table {
            Table::Stsz if fixed_size != 0 => {
                self.sizes = Sizes::Fixed {
                    size: fixed_size,
                    count,
                }
            }
            Table::Stsz => self.sizes = Sizes::PerSample(Vec::new()),
            Table::Stco | Table::Co64 => self.chunk_offsets = Some(Vec::new()),
            Table::Stss => self.stss = Some(Vec::new()),
            Table::Stts => self.stts.clear(),
            Table::Ctts => self.ctts.clear(),
            Table::Stsc => self.stsc.clear(),
        }
    }

    /// Appends the whole entries in `bytes` (a multiple of the entry size).
    pub(super) fn extend(&mut self, table: Table, bytes: &[u8]) {
        self.bytes_read = self.bytes_read.saturating_add(bytes.len() as u64);
        let chunks = bytes.chunks_exact(table.entry_size());
        match table {
            Table::Stts => self.stts.extend(chunks.map(|e| (be32(e, 0), be32(e, 4)))),
            Table::Ctts => self
                .ctts
                .extend(chunks.map(|e| (be32(e, 0), i32::from_be_bytes(be32(e, 4).to_be_bytes())))),
            Table::Stsc => self.stsc.extend(chunks.map(|e| (be32(e, 0), be32(e, 4)))),
            Table::Stss => self
                .stss
                .get_or_insert_with(Vec::new)
                .extend(chunks.map(|e| be32(e, 0))),
            Table::Stsz => {
                if let Sizes::PerSample(v) = &mut self.sizes {
                    v.extend(chunks.map(|e| be32(e, 0)));
                }
            }
            Table::Stco => self
                .chunk_offsets
                .get_or_insert_with(Vec::new)
                .extend(chunks.map(|e| u64::from(be32(e, 0)))),
            Table::Co64 => self
                .chunk_offsets
                .get_or_insert_with(Vec::new)
                .extend(chunks.map(|e| (u64::from(be32(e, 0)) << 32) | u64::from(be32(e, 4)))),
        }
    }

    /// The number of samples the track declares.
    pub(super) fn sample_count(&self) -> u64 {
        match &self.sizes {
            Sizes::Missing => 0,
            Sizes::Fixed { count, .. } => u64::from(*count),
            Sizes::PerSample(v) => v.len() as u64,
        }
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        let sizes = match &self.sizes {
            Sizes::PerSample(v) => v.capacity() * 4,
            _ => 0,
        };
        sizes
            + self.chunk_offsets.as_ref().map_or(0, |v| v.capacity() * 8)
            + self.stsc.capacity() * 8
            + self.stts.capacity() * 8
            + self.ctts.capacity() * 8
            + self.stss.as_ref().map_or(0, |v| v.capacity() * 4)
    }
}

/// Sample durations seen: whether all are equal (a constant frame rate) and their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Durations {
    /// `Some(d)` while every duration seen was `d`; `None` before any or once they differ.
    pub(super) constant: Option<u64>,
    pub(super) mixed: bool,
    pub(super) sum: u64,
}

impl Durations {
    /// Counts `count` samples of `duration` ticks.
    pub(super) fn add(&mut self, duration: u64, count: u64) {
        if count == 0 {
            return;
        }
        match self.constant {
            None if !self.mixed => self.constant = Some(duration),
            Some(d) if d != duration => {
                self.constant = None;
                self.mixed = true;
            }
            _ => {}
        }
        self.sum = self.sum.saturating_add(duration.saturating_mul(count));
    }

    /// The common duration, when every sample had the same non-zero one.
    pub(super) fn constant(&self) -> Option<u64> {
        self.constant.filter(|&d| d > 0 && !self.mixed)
    }
}

/// A run-length table (`stts`, `ctts`) walked sample by sample.
struct Runs<'a, T: Copy> {
    entries: std::slice::Iter<'a, (u32, T)>,
    left: u32,
    value: T,
}

impl<'a, T: Copy> Runs<'a, T> {
    fn new(entries: &'a [(u32, T)], none: T) -> Self {
        Self {
            entries: entries.iter(),
            left: 0,
            value: none,
        }
    }

    /// The next sample's value; past the table, the last value (`stts`: ISO/IEC 14496-12
    /// leaves it undefined; ffmpeg and this reader repeat the last delta) or `none`.
    fn next(&mut self, past_end: Option<T>) -> T {
        while self.left == 0 {
            match self.entries.next() {
                Some(&(count, value)) => {
                    self.left = count;
                    self.value = value;
                }
                None => return past_end.unwrap_or(self.value),
            }
        }
        self.left -= 1;
        self.value
    }
}

/// Bytes of sample table that a sample beyond the allowance must be described by: one
/// `stsz` entry.
const BYTES_PER_DECLARED_SAMPLE: u64 = 4;

/// What resolving a sample table gives.
#[derive(Debug, Default)]
pub(super) struct Resolved {
    pub(super) index: SampleIndex,
    /// The decode time after the last sample (where fragments continue).
    pub(super) next_dts: i64,
    pub(super) durations: Durations,
}

/// Resolves `tables` into an index, `pts = dts + ctts + shift` (saturating). At most
/// `tables.bytes_read / 4 + allowance` samples are accepted: a table with a size per sample
/// (4 bytes of `stsz` each) always fits; a fixed sample size (`stsz` of 20 bytes declaring
/// up to 2^32 - 1 samples) must be described by 4 bytes of `stts`/`stsc`/`stco`/`stss` a
/// sample, or stay within the allowance. So the index (20 bytes a sample) is at most 5 bytes
/// per byte of table read, plus 20 × `allowance`, whatever the counts declare.
///
/// # Errors
/// More samples declared than `max_samples`; samples without chunk offsets; chunks
/// (`stsc`/`stco`) holding fewer samples than `stsz` lists; a sample ending past 2^64, or
/// starting before the previous one ends.
pub(super) fn build_index(tables: &Tables, shift: i64, allowance: u64) -> Result<Resolved> {
    let count = tables.sample_count();
    let max_samples = (tables.bytes_read / BYTES_PER_DECLARED_SAMPLE).saturating_add(allowance);
    if count > max_samples {
        return Err(limit_exceeded(
            format!(
                "the sample table (stsz) declares {count} samples, more than its {} bytes of \
                 tables describe ({BYTES_PER_DECLARED_SAMPLE} bytes a sample); that count",
                tables.bytes_read
            ),
            max_samples,
        ));
    }
    let mut out = Resolved::default();
    if count == 0 {
        return Ok(out);
    }
    let Some(chunks) = &tables.chunk_offsets else {
        return Err(malformed(
            0,
            "MP4 sample table has no chunk offsets (stco/co64)",
        ));
    };
    // Bounded by `max_samples`: the bytes read plus the allowance.
    out.index
        .reserve(usize::try_from(count).unwrap_or(usize::MAX));
    let size_of = |i: u64| -> u32 {
        match &tables.sizes {
            Sizes::Fixed { size, .. } => *size,
            Sizes::PerSample(v) => usize::try_from(i)
                .ok()
                .and_then(|i| v.get(i).copied())
                .unwrap_or(0),
            Sizes::Missing => 0,
        }
    };
    let mut deltas = Runs::new(&tables.stts, 0u32);
    let mut offsets = Runs::new(&tables.ctts, 0i32);
    let mut sync = tables.stss.as_ref().map(|s| s.iter().peekable());
    let mut stsc_at = 0usize;
    let mut done = 0u64;
    let mut dts = 0i64;
    let mut previous_end = 0u64;
    'chunks: for (chunk_index, &chunk_offset) in chunks.iter().enumerate() {
        let chunk_number = chunk_index as u64 + 1;
        while tables
            .stsc
            .get(stsc_at + 1)
            .is_some_and(|&(first, _)| u64::from(first) <= chunk_number)
        {
            stsc_at += 1;
        }
        let per_chunk = tables.stsc.get(stsc_at).map_or(0, |&(_, n)| n);
        let mut offset = chunk_offset;
        for _ in 0..per_chunk {
            if done == count {
                break 'chunks;
            }
            let size = size_of(done);
            let delta = deltas.next(None);
            let cts = offsets.next(Some(0));
            let number = done + 1;
            let key = match &mut sync {
                None => true,
                Some(s) => {
                    while s.next_if(|&&n| u64::from(n) < number).is_some() {}
                    s.peek().is_some_and(|&&n| u64::from(n) == number)
                }
            };
            if size > 0 {
                if offset < previous_end {
                    return Err(malformed(
                        offset,
                        format!(
                            "MP4 sample {done} starts before the previous sample ends (byte \
                             {previous_end}); overlapping or out-of-order samples are not \
                             supported"
                        ),
                    ));
                }
                let end = offset.checked_add(u64::from(size)).ok_or_else(|| {
                    malformed(offset, format!("MP4 sample {done} ends past 2^64 bytes"))
                })?;
                let pts = dts.saturating_add(i64::from(cts)).saturating_add(shift);
                out.index.push(offset, size, pts, key);
                previous_end = end;
                offset = end;
            }
            out.durations.add(u64::from(delta), 1);
            dts = dts.saturating_add(i64::from(delta));
            done += 1;
        }
    }
    if done < count {
        return Err(malformed(
            0,
            format!(
                "MP4 sample table lists {count} samples, but its chunks (stsc/stco) hold only \
                 {done}"
            ),
        ));
    }
    out.next_dts = dts;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(sizes: Vec<u32>, chunks: Vec<u64>, per_chunk: u32) -> Tables {
        Tables {
            sizes: Sizes::PerSample(sizes),
            chunk_offsets: Some(chunks),
            stsc: vec![(1, per_chunk)],
            stts: vec![(2, 10), (1, 20)],
            ctts: vec![(1, 5)],
            stss: Some(vec![1, 3]),
            bytes_read: 0,
        }
    }

    #[test]
    fn samples_resolve_to_offsets_times_and_key_flags() {
        let t = tables(vec![3, 4, 5, 6], vec![100, 200], 2);
        let r = build_index(&t, -5, 100).unwrap();
        let i = &r.index;
        assert_eq!(i.len(), 4);
        let got: Vec<_> = (0..4)
            .map(|k| {
                (
                    i.offset(k).unwrap(),
                    i.size(k).unwrap(),
                    i.pts(k).unwrap(),
                    i.is_key(k),
                )
            })
            .collect();
        // stts runs out after 3 samples: the last delta (20) repeats.
        assert_eq!(
            got,
            [
                (100, 3, 0, true),
                (103, 4, 5, false),
                (200, 5, 15, true),
                (205, 6, 35, false)
            ]
        );
        assert_eq!(r.next_dts, 60);
        assert_eq!(r.durations.constant(), None);
        assert_eq!(r.durations.sum, 60);
    }

    #[test]
    fn declared_counts_beyond_the_bound_are_refused_before_any_work() {
        let t = Tables {
            sizes: Sizes::Fixed {
                size: 1,
                count: u32::MAX,
            },
            chunk_offsets: Some(vec![0]),
            stsc: vec![(1, u32::MAX)],
            ..Tables::default()
        };
        let err = build_index(&t, 0, 1000).unwrap_err().to_string();
        assert!(err.contains("4294967295"), "{err}");
    }

    #[test]
    fn zero_size_samples_are_left_out_and_overlaps_refused() {
        let t = tables(vec![3, 0, 5], vec![100], 3);
        let r = build_index(&t, 0, 100).unwrap();
        assert_eq!(r.index.len(), 2);
        assert_eq!(r.index.offset(1), Some(103));
        assert_eq!(
            r.index.pts(1),
            Some(20),
            "the empty sample's duration counts"
        );
        let t = tables(vec![3, 4], vec![100, 101], 1);
        let err = build_index(&t, 0, 100).unwrap_err().to_string();
        assert!(err.contains("overlapping"), "{err}");
        let t = tables(vec![3, 4, 5], vec![100], 2);
        let err = build_index(&t, 0, 100).unwrap_err().to_string();
        assert!(err.contains("hold only 2"), "{err}");
    }
}
