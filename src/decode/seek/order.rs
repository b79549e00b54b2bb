//! [`DisplayOrder`]: which sample each display index of a track is — the order a whole decode
//! outputs frames — found from decode order, the bitstream's picture order or, failing both,
//! timestamps (see the type's docs for the rule and the random-access module docs for why).

use super::names_frames_by_order;
use crate::Codec;
use crate::error::{Error, Result};
use crate::input::{DisplayRanks, InputError, RandomAccessSource, SampleIndex};

/// Display order of a track: display index ↔ sample (decode index).
///
/// Invariant: `samples` lists each shown sample once, in the order a whole decode outputs
/// their frames; `rank` is its inverse (display index + 1 per sample, 0 for a sample not
/// shown).
///
/// The order [`Decoder::frames_at`](crate::decode::Decoder::frames_at) uses ([`of`](Self::of), [`for_codec`](Self::for_codec))
/// is found without trusting timestamps wherever the codec allows, since muxers write them
/// wrong (pts = dts for a stream with B-frames, repeated `ctts` offsets, saturating edit
/// lists, laced or clamped Matroska blocks):
/// - VP8, VP9, AV1 (no reordering): the shown samples in decode order;
/// - H.264, HEVC: the bitstream's order (coded video sequence, then picture order count),
///   where the source reports it ([`RandomAccessSource::display_ranks`]); timestamps only
///   label the frames;
/// - otherwise: the timestamps' order, refused when two shown samples share a pts.
///
/// Samples not shown ([`SampleIndex::is_shown`]) have no display index. 8 bytes a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayOrder {
    samples: Vec<u32>,
    rank: Vec<u32>,
    /// The shown samples' pts never decrease along display order.
    pts_follow_display: bool,
}

impl DisplayOrder {
    /// The display order `index`'s timestamps claim: shown samples sorted by pts, ties kept in
    /// decode order. Right for a file whose timestamps are right; [`of`](Self::of) is what
    /// random access uses.
    ///
    /// # Errors
    /// [`InputError::LimitExceeded`](crate::input::InputError::LimitExceeded) for an index of
    /// more than `u32::MAX` samples.
    pub fn new(index: &SampleIndex) -> Result<Self> {
        let mut samples = shown_samples(index)?;
        samples.sort_by_key(|&s| (index.pts(s as usize).unwrap_or(i64::MAX), s));
        Ok(Self::from_samples(index, samples))
    }

    /// The display order of a codec without frame reordering (VP8, VP9, AV1): the shown
    /// samples in decode order, whatever their timestamps.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn in_decode_order(index: &SampleIndex) -> Result<Self> {
        let samples = shown_samples(index)?;
        Ok(Self::from_samples(index, samples))
    }

    /// The display order `ranks` give (the bitstream's), for `index`'s samples; the index
    /// supplies the timestamps only.
    ///
    /// # Errors
    /// [`Error::FramesNotAddressable`] when `ranks` and `index` list different numbers of
    /// samples; as [`new`](Self::new).
    pub fn from_ranks(index: &SampleIndex, ranks: &DisplayRanks) -> Result<Self> {
        let n = sample_count(index)?;
        if ranks.len() != index.len() {
            return Err(Error::FramesNotAddressable {
                reason: format!(
                    "the source's display ranks list {} samples, its index {}",
                    ranks.len(),
                    index.len()
                ),
            });
        }
        let mut samples = vec![0u32; ranks.shown()];
        for s in 0..n {
            if let Some(slot) = ranks.rank(s as usize).and_then(|r| samples.get_mut(r)) {
                *slot = s;
            }
        }
        Ok(Self::from_samples(index, samples))
    }

    /// The display order random access uses for a stream of `codec` (see
    /// [`DisplayOrder`]): decode order for VP8/VP9/AV1; for other codecs the bitstream's
    /// order where `ranks` gives it, else the timestamps' order.
    ///
    /// # Errors
    /// [`Error::FramesNotAddressable`] when the timestamps' order is needed and two shown
    /// samples share a pts (which comes first is not known), or `ranks` does not fit `index`;
    /// as [`new`](Self::new).
    pub fn for_codec(
        index: &SampleIndex,
        codec: Codec,
        ranks: Option<&DisplayRanks>,
    ) -> Result<Self> {
        if names_frames_by_order(codec) {
            return Self::in_decode_order(index);
        }
        if let Some(ranks) = ranks {
            return Self::from_ranks(index, ranks);
        }
        let order = Self::new(index)?;
        let pts = |d: usize| order.sample(d).and_then(|s| index.pts(s));
        if let Some(d) = (1..order.len()).find(|&d| pts(d) == pts(d - 1)) {
            return Err(Error::FramesNotAddressable {
                reason: format!(
                    "samples {} and {} (decode order) share the pts {}, and the source gives no \
                     bitstream order to tell which is shown first",
                    order.sample(d - 1).unwrap_or(0),
                    order.sample(d).unwrap_or(0),
                    pts(d).unwrap_or(0)
                ),
            });
        }
        Ok(order)
    }

    /// The display order [`Decoder::frames_at`](crate::decode::Decoder::frames_at) uses for `source`, decoded as `codec` (see
    /// [`for_codec`](Self::for_codec)): display index `d` of `frames_at` is
    /// `sample(d)` here.
    ///
    /// # Errors
    /// As [`for_codec`](Self::for_codec); the source's errors.
    pub fn of(source: &mut impl RandomAccessSource, codec: Codec) -> Result<Self> {
        source.sample_index()?;
        let ranks = if names_frames_by_order(codec) {
            None
        } else {
            source.display_ranks()?.cloned()
        };
        Self::for_codec(source.sample_index()?, codec, ranks.as_ref())
    }

    fn from_samples(index: &SampleIndex, samples: Vec<u32>) -> Self {
        let mut rank = vec![0u32; index.len()];
        for (d, &s) in samples.iter().enumerate() {
            if let Some(slot) = rank.get_mut(s as usize) {
                // At most u32::MAX samples, so a display index + 1 fits.
                *slot = u32::try_from(d).map_or(u32::MAX, |d| d.saturating_add(1));
            }
        }
        let pts = |&s: &u32| index.pts(s as usize).unwrap_or(i64::MAX);
        let pts_follow_display = samples.windows(2).all(|w| pts(&w[0]) <= pts(&w[1]));
        Self {
            samples,
            rank,
            pts_follow_display,
        }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The sample shown at display index `display`.
    pub fn sample(&self, display: usize) -> Option<usize> {
        self.samples.get(display).map(|&s| s as usize)
    }

    /// The display index of sample `sample`; `None` for a sample not shown.
    pub fn display_index(&self, sample: usize) -> Option<usize> {
        let r = *self.rank.get(sample)?;
        r.checked_sub(1).map(|r| r as usize)
    }

    /// Whether the shown samples' pts never decrease along display order, so that a time
    /// names one frame ([`at_or_after`](Self::at_or_after)).
    pub fn pts_follow_display(&self) -> bool {
        self.pts_follow_display
    }

    /// The display index of the first frame, in display order, whose pts is at or after
    /// `pts`, if any. With [`pts_follow_display`](Self::pts_follow_display), that is the first
    /// frame presented at or after `pts`.
    pub fn at_or_after(&self, index: &SampleIndex, pts: i64) -> Option<usize> {
        let pts_of = |&s: &u32| index.pts(s as usize).unwrap_or(i64::MAX);
        if self.pts_follow_display {
            let first = self.samples.partition_point(|s| pts_of(s) < pts);
            (first < self.samples.len()).then_some(first)
        } else {
            self.samples.iter().position(|s| pts_of(s) >= pts)
        }
    }
}

/// The number of samples of `index`, as the `u32` display orders hold.
fn sample_count(index: &SampleIndex) -> Result<u32> {
    u32::try_from(index.len()).map_err(|_| {
        InputError::LimitExceeded {
            what: "samples for random access".into(),
            limit: u64::from(u32::MAX),
        }
        .into()
    })
}

/// The shown samples of `index`, in decode order.
fn shown_samples(index: &SampleIndex) -> Result<Vec<u32>> {
    let n = sample_count(index)?;
    Ok((0..n).filter(|&s| index.is_shown(s as usize)).collect())
}
