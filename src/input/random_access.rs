//! Random access by sample: what a reader offers so that a decoder can fetch frames at any
//! display index ([`Decoder::frames_at`](crate::decode::Decoder::frames_at)).
//!
//! Invariant: an implementation's index lists every sample of the track in decode order
//! (20 bytes each, [`SampleIndex`]), and after `seek_to_sample(i)` the next `read_sample`
//! returns sample `i`. An input cut short lists the complete samples before the cut and
//! reports the loss ([`SampleIndex::truncated`]). It lives here, beside the readers, so that `decode` depends on
//! `input` and never the other way round.

use super::SampleIndex;
use crate::Result;

/// A source of packets with a sample index and random access by sample: what
/// [`Decoder::frames_at`](crate::decode::Decoder::frames_at) reads from.
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
}
