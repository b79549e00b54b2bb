//! Movie fragments (`moof` + `mdat`): the current fragment's runs, resolved to absolute
//! offsets and decode times when its `trun` boxes are read, then walked sample by sample.
//!
//! Invariant: a run is stored as a few numbers plus a copy of its per-sample records (the
//! bytes its `trun` holds), never expanded to one record per sample, so a fragment costs at
//! most its `trun` bytes plus [`RUN_BYTES`] per `trun` ([`MAX_FRAGMENT_STATE`] in all). A
//! run whose samples carry no bytes (no per-sample sizes and a default size of 0: the
//! "`trun` bomb" of 16 bytes declaring 4,096 empty samples) is not stored at all: its
//! decode time is advanced in O(1). Walking a run skips zero-size samples one record at a
//! time, O(the `trun`'s bytes); every sample handed out is at least one byte of the `mdat`,
//! and the runs must lie in that `mdat` in order without overlapping, so the work and the
//! packets are O(bytes read).

use super::boxes::{Fields, SampleDefaults};
use super::sample_table::Durations;
use super::{limit_exceeded, malformed};
use crate::Result;

/// The most bytes a fragment's run state may take (runs plus copied records).
pub(crate) const MAX_FRAGMENT_STATE: usize = 32 << 20;
/// Bytes a stored run takes besides its records.
pub(crate) const RUN_BYTES: usize = size_of::<Run>();

/// `trun` flags: which optional fields are present.
const DATA_OFFSET: u32 = 0x1;
const FIRST_SAMPLE_FLAGS: u32 = 0x4;
const SAMPLE_DURATION: u32 = 0x100;
const SAMPLE_SIZE: u32 = 0x200;
const SAMPLE_FLAGS: u32 = 0x400;
const SAMPLE_CTS: u32 = 0x800;
/// `sample_is_non_sync_sample` in sample flags.
const NON_SYNC: u32 = 0x1_0000;

/// One `trun` of the track read, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Run {
    /// Absolute offset of the first sample's bytes.
    pub(super) offset: u64,
    /// The sum of the samples' sizes.
    pub(super) bytes: u64,
    /// The first sample's decode time.
    pub(super) dts: i64,
    pub(super) count: u32,
    /// The `trun` flags (which per-sample fields each record has).
    pub(super) flags: u32,
    pub(super) first_sample_flags: Option<u32>,
    pub(super) defaults: SampleDefaults,
    /// Where this run's records start in [`Fragment::records`].
    pub(super) records: usize,
}

impl Run {
    fn record_size(&self) -> usize {
        record_size(self.flags)
    }
}

fn record_size(flags: u32) -> usize {
    4 * (flags & (SAMPLE_DURATION | SAMPLE_SIZE | SAMPLE_FLAGS | SAMPLE_CTS)).count_ones() as usize
}

/// The state of one `traf` of the track read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Traf {
    /// Where `data_offset`s count from.
    pub(super) base: u64,
    pub(super) defaults: SampleDefaults,
    /// Where a run without `data_offset` starts: after the previous run.
    pub(super) next_offset: u64,
}

/// One sample of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FragmentSample {
    pub(super) offset: u64,
    pub(super) size: u32,
    pub(super) dts: i64,
    pub(super) cts: i32,
    pub(super) duration: u32,
    pub(super) key: bool,
}

/// Where a walk over a fragment's samples is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Cursor {
    run: usize,
    sample: u32,
    offset: u64,
    dts: i64,
    record: usize,
}

/// A `moof` being read, or read and waiting for its `mdat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Fragment {
    /// Where the `moof` starts.
    pub(super) moof_start: u64,
    pub(super) runs: Vec<Run>,
    /// The runs' per-sample records, as stored.
    pub(super) records: Vec<u8>,
    /// Where the track's data ended in the previous `traf` (the base of a `traf` that
    /// names none).
    pub(super) data_end: u64,
}

impl Fragment {
    /// An empty fragment whose `moof` starts at `moof_start`.
    pub(super) fn new(moof_start: u64) -> Self {
        Self {
            moof_start,
            data_end: moof_start,
            ..Self::default()
        }
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.runs
            .capacity()
            .saturating_mul(RUN_BYTES)
            .saturating_add(self.records.capacity())
    }

    /// Reads the `trun` body at absolute `at` into a run of `traf`; `dts` is the next
    /// sample's decode time (advanced past the run), `durations` counts the run's samples.
    ///
    /// # Errors
    /// A truncated box, a declared count larger than its records, offsets past 2^64, or
    /// the fragment's state passing [`MAX_FRAGMENT_STATE`].
    pub(super) fn add_trun(
        &mut self,
        body: &[u8],
        at: u64,
        traf: &mut Traf,
        dts: &mut i64,
        durations: &mut Durations,
    ) -> Result<()> {
        let mut f = Fields::new(body, "trun", at);
        let (_, flags) = f.version_flags()?;
        let count = f.u32()?;
        let offset = if flags & DATA_OFFSET != 0 {
            let relative = f.i32()?;
            traf.base
                .checked_add_signed(i64::from(relative))
                .ok_or_else(|| {
                    malformed(
                        at,
                        format!(
                            "'trun' data offset {relative} from base {} leaves 0..2^64",
                            traf.base
                        ),
                    )
                })?
        } else {
            traf.next_offset
        };
        let first_sample_flags = if flags & FIRST_SAMPLE_FLAGS != 0 {
            Some(f.u32()?)
        } else {
            None
        };
        let record_size = record_size(flags);
        let records = f.rest();
        let records_len = usize::try_from(count)
            .ok()
            .and_then(|n| n.checked_mul(record_size))
            .filter(|&n| n <= records.len())
            .ok_or_else(|| {
                malformed(
                    at,
                    format!(
                        "'trun' declares {count} samples of {record_size} bytes each, but \
                         holds {} bytes of them",
                        records.len()
                    ),
                )
            })?;
        let records = records.get(..records_len).unwrap_or(&[]);
        let defaults = traf.defaults;
        let run = Run {
            offset,
            bytes: 0,
            dts: *dts,
            count,
            flags,
            first_sample_flags,
            defaults,
            records: self.records.len(),
        };
        // Sizes and durations: from the records (O(their bytes)) or the defaults (O(1)).
        let (bytes, ticks) = if record_size == 0 {
            let duration = u64::from(defaults.duration);
            durations.add(duration, u64::from(count));
            (
                u64::from(defaults.size) * u64::from(count),
                duration.saturating_mul(u64::from(count)),
            )
        } else {
            let mut bytes = 0u64;
            let mut ticks = 0u64;
            for record in records.chunks_exact(record_size) {
                let s = fields(record, flags, &defaults);
                bytes = bytes.saturating_add(u64::from(s.0));
                ticks = ticks.saturating_add(u64::from(s.1));
                durations.add(u64::from(s.1), 1);
            }
            (bytes, ticks)
        };
        *dts = dts.saturating_add_unsigned(ticks);
        let end = offset.checked_add(bytes).ok_or_else(|| {
            malformed(
                at,
                format!("'trun' samples from byte {offset} end past 2^64"),
            )
        })?;
        traf.next_offset = end;
        if bytes == 0 {
            return Ok(()); // nothing to hand out: not stored
        }
        let state = self
            .heap_bytes()
            .saturating_add(RUN_BYTES)
            .saturating_add(records.len());
        if state > MAX_FRAGMENT_STATE {
            return Err(limit_exceeded(
                format!(
                    "the runs of the 'moof' at byte offset {} take {state} bytes, which",
                    self.moof_start
                ),
                MAX_FRAGMENT_STATE as u64,
            ));
        }
        self.records.extend_from_slice(records);
        self.runs.push(Run { bytes, ..run });
        Ok(())
    }

    /// Checks that the runs lie, in order and without overlapping, in the `mdat` body
    /// `body_start..body_end` (`None`: to the end of the file) that follows the `moof`.
    ///
    /// # Errors
    /// A run outside the `mdat`, or before the end of the previous run.
    pub(super) fn check_in(&self, body_start: u64, body_end: Option<u64>) -> Result<()> {
        let mut previous_end = body_start;
        for (i, run) in self.runs.iter().enumerate() {
            let end = run.offset.saturating_add(run.bytes);
            if run.offset < previous_end || body_end.is_some_and(|e| end > e) {
                return Err(malformed(
                    run.offset,
                    format!(
                        "MP4 fragment at byte {}: run {i} ({} bytes at byte {}) is not inside \
                         the 'mdat' after it (bytes {body_start}..{}) after the run before it; \
                         samples outside their fragment's mdat, out of order or overlapping \
                         are not supported",
                        self.moof_start,
                        run.bytes,
                        run.offset,
                        body_end.map_or("end of file".to_string(), |e| e.to_string())
                    ),
                ));
            }
            previous_end = end;
        }
        Ok(())
    }

    /// A cursor at the first sample.
    pub(super) fn start(&self) -> Cursor {
        let mut c = Cursor::default();
        if let Some(run) = self.runs.first() {
            c.offset = run.offset;
            c.dts = run.dts;
            c.record = run.records;
        }
        c
    }

    /// Moves `c` to the next sample with bytes (skipping empty ones) and returns it;
    /// `None` after the last.
    pub(super) fn settle(&self, c: &mut Cursor) -> Option<FragmentSample> {
        loop {
            let run = self.runs.get(c.run)?;
            if c.sample >= run.count {
                c.run += 1;
                c.sample = 0;
                if let Some(next) = self.runs.get(c.run) {
                    c.offset = next.offset;
                    c.dts = next.dts;
                    c.record = next.records;
                }
                continue;
            }
            let record = self
                .records
                .get(c.record..c.record.saturating_add(run.record_size()))
                .unwrap_or(&[]);
            let (size, duration, flags, cts) = fields(record, run.flags, &run.defaults);
            let flags = match (c.sample, run.first_sample_flags) {
                (0, Some(first)) => first,
                _ => flags,
            };
            let sample = FragmentSample {
                offset: c.offset,
                size,
                dts: c.dts,
                cts,
                duration,
                key: flags & NON_SYNC == 0,
            };
            if size > 0 {
                return Some(sample);
            }
            self.advance(c, &sample);
        }
    }

    /// Moves `c` past `sample`, the one [`settle`](Self::settle) returned.
    pub(super) fn advance(&self, c: &mut Cursor, sample: &FragmentSample) {
        let record_size = self.runs.get(c.run).map_or(0, Run::record_size);
        c.sample = c.sample.saturating_add(1);
        c.record = c.record.saturating_add(record_size);
        c.offset = c.offset.saturating_add(u64::from(sample.size));
        c.dts = c.dts.saturating_add(i64::from(sample.duration));
    }
}

/// (size, duration, flags, composition offset) of one record, defaults filling what the
/// `trun` flags leave out.
fn fields(record: &[u8], flags: u32, defaults: &SampleDefaults) -> (u32, u32, u32, i32) {
    let mut at = 0usize;
    let mut next = |bit: u32| -> Option<u32> {
        if flags & bit == 0 {
            return None;
        }
        let v = record
            .get(at..at + 4)
            .and_then(|b| b.first_chunk::<4>())
            .map_or(0, |b| u32::from_be_bytes(*b));
        at += 4;
        Some(v)
    };
    let duration = next(SAMPLE_DURATION).unwrap_or(defaults.duration);
    let size = next(SAMPLE_SIZE).unwrap_or(defaults.size);
    let sample_flags = next(SAMPLE_FLAGS).unwrap_or(defaults.flags);
    // Composition offsets are read as signed in both versions, as ffmpeg reads them.
    let cts = next(SAMPLE_CTS).map_or(0, |v| i32::from_be_bytes(v.to_be_bytes()));
    (size, duration, sample_flags, cts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trun(flags: u32, count: u32, data_offset: Option<i32>, records: &[u32]) -> Vec<u8> {
        let mut b = flags.to_be_bytes().to_vec();
        b.extend_from_slice(&count.to_be_bytes());
        if let Some(d) = data_offset {
            b.extend_from_slice(&d.to_be_bytes());
        }
        for r in records {
            b.extend_from_slice(&r.to_be_bytes());
        }
        b
    }

    fn traf(size: u32) -> Traf {
        Traf {
            base: 1000,
            defaults: SampleDefaults {
                duration: 10,
                size,
                flags: NON_SYNC,
            },
            next_offset: 1000,
        }
    }

    #[test]
    fn a_trun_bomb_of_empty_samples_costs_nothing_but_its_time() {
        let mut f = Fragment::new(0);
        let mut t = traf(0);
        let (mut dts, mut d) = (0i64, Durations::default());
        for _ in 0..1000 {
            f.add_trun(&trun(0, 4096, None, &[]), 8, &mut t, &mut dts, &mut d)
                .unwrap();
        }
        assert!(f.runs.is_empty() && f.records.is_empty());
        assert_eq!(dts, 1000 * 4096 * 10);
        assert_eq!(f.settle(&mut f.start()), None);
    }

    #[test]
    fn runs_resolve_offsets_and_skip_empty_samples() {
        let mut f = Fragment::new(0);
        let mut t = traf(5);
        let (mut dts, mut d) = (100i64, Durations::default());
        // Sizes 3, 0, 4 with composition offsets; first sample flags say sync.
        let first_flags_then_records = [0, 3, 7, 0, 0, 4, u32::MAX];
        f.add_trun(
            &trun(
                0x1 | 0x4 | 0x200 | 0x800,
                3,
                Some(8),
                &first_flags_then_records,
            ),
            8,
            &mut t,
            &mut dts,
            &mut d,
        )
        .unwrap();
        // A default-size run continues after it.
        f.add_trun(&trun(0, 2, None, &[]), 40, &mut t, &mut dts, &mut d)
            .unwrap();
        assert_eq!(dts, 150);
        let mut c = f.start();
        let mut got = Vec::new();
        while let Some(s) = f.settle(&mut c) {
            got.push((s.offset, s.size, s.dts, s.cts, s.key));
            f.advance(&mut c, &s);
        }
        assert_eq!(
            got,
            [
                (1008, 3, 100, 7, true),
                (1011, 4, 120, -1, false),
                (1015, 5, 130, 0, false),
                (1020, 5, 140, 0, false)
            ]
        );
        f.check_in(1008, Some(1025)).unwrap();
        assert!(f.check_in(1008, Some(1024)).is_err());
        assert!(f.check_in(1009, None).is_err());
    }

    #[test]
    fn a_count_beyond_the_records_is_refused() {
        let mut f = Fragment::new(0);
        let err = f
            .add_trun(
                &trun(0x200, 3, None, &[1, 2]),
                77,
                &mut traf(0),
                &mut 0,
                &mut Durations::default(),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("77") && err.contains("3 samples"), "{err}");
    }
}
