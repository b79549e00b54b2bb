//! Random access by sample: what a reader offers so that a decoder can fetch frames at any
//! display index (`nvcodec_guard::decode::Decoder::frames_at`).
//!
//! Invariant: an implementation's index lists every sample of the track in decode order
//! (20 bytes each, [`SampleIndex`]), and after `seek_to_sample(i)` the next `read_sample`
//! returns sample `i`. An input cut short lists the complete samples before the cut and
//! reports the loss ([`SampleIndex::truncated`]). It lives here, beside the readers, so that `decode` depends on
//! `input` and never the other way round.

use super::SampleIndex;
use crate::Result;

/// The display order a video bitstream itself gives its samples: for each sample of a track
/// (decode order), the place of its picture in the output of a whole decode, or none when the
/// decoder outputs no frame for it.
///
/// Invariant: the ranks present are exactly `0..shown()`, each once. For H.264/HEVC they come
/// from the pictures' coded video sequences and picture order counts (see
/// [`annexb::index`](super::annexb::index)), independent of any container timestamp.
/// 4 bytes a sample.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisplayRanks {
    /// Rank + 1 per sample; 0 for a sample not shown (a computed value, never a file's).
    rank: Vec<u32>,
    shown: u32,
}

impl DisplayRanks {
    /// The ranks of an index whose pts are display ranks and whose shown bits say which
    /// samples have one (a raw Annex-B index); `None` when they are not exactly `0..shown`.
    pub fn from_rank_index(index: &SampleIndex) -> Option<Self> {
        let n = u32::try_from(index.len()).ok()?;
        let shown = (0..index.len()).filter(|&i| index.is_shown(i)).count();
        let shown = u32::try_from(shown).ok()?;
        let mut seen = vec![false; shown as usize];
        let mut rank = Vec::with_capacity(n as usize);
        for i in 0..index.len() {
            if !index.is_shown(i) {
                rank.push(0);
                continue;
            }
            let r = u32::try_from(index.pts(i)?).ok().filter(|&r| r < shown)?;
            let slot = seen.get_mut(r as usize)?;
            if std::mem::replace(slot, true) {
                return None;
            }
            rank.push(r + 1);
        }
        Some(Self { rank, shown })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.rank.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.rank.is_empty()
    }

    /// Number of frames a whole decode outputs.
    pub fn shown(&self) -> usize {
        self.shown as usize
    }

    /// The display rank of sample `sample`'s picture; `None` when it shows no frame or is
    /// past the end.
    pub fn rank(&self, sample: usize) -> Option<usize> {
        let r = *self.rank.get(sample)?;
        r.checked_sub(1).map(|r| r as usize)
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.rank.capacity() * 4
    }
}

/// A source of packets with a sample index and random access by sample: what
/// `nvcodec_guard::decode::Decoder::frames_at` reads from.
///
/// Implemented by [`ElementaryStream`](super::ElementaryStream) for inputs with an index
/// (MP4, Matroska/WebM, and raw streams once scanned); implement it for a demuxer of your own.
pub trait RandomAccessSource {
    /// The index of every sample of the track, in decode order; for an input cut short, of
    /// every complete sample before the cut, with the cut in [`SampleIndex::truncated`].
    ///
    /// # Errors
    /// When the source has no index and cannot build one (e.g. a live feed).
    fn sample_index(&mut self) -> Result<&SampleIndex>;

    /// Positions the source so the next [`read_sample`](Self::read_sample) returns sample
    /// `sample` (decode order).
    ///
    /// # Errors
    /// `sample` outside the index, or an I/O error while seeking.
    fn seek_to_sample(&mut self, sample: usize) -> Result<()>;

    /// Reads the next sample's packet bytes (as the decoder wants them: Annex-B for
    /// H.264/HEVC) into `out`, returning its decode index, or `None` after the last sample of
    /// the index.
    ///
    /// # Errors
    /// Malformed input or I/O errors.
    fn read_sample(&mut self, out: &mut Vec<u8>) -> Result<Option<usize>>;

    /// The display order the bitstream gives the samples of
    /// [`sample_index`](Self::sample_index), where the source knows it (H.264/HEVC: by
    /// picture order count); `Ok(None)` where it does not (the default). Random access then
    /// orders H.264/HEVC frames by it rather than by the index's timestamps, which a muxer
    /// may have written wrong (see `nvcodec_guard::decode::DisplayOrder`).
    ///
    /// # Errors
    /// The source's errors while finding it (reading every sample once, for instance).
    fn display_ranks(&mut self) -> Result<Option<&DisplayRanks>> {
        Ok(None)
    }
}
