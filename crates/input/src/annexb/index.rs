//! The sample index of a raw H.264 / HEVC Annex-B stream: one entry per access unit in decode
//! order, with its byte range, whether a decoder can start there, and its **display rank**.
//!
//! Invariant: once the whole stream is scanned, sample `i`'s pts is the position (0, 1, 2, ...) of
//! its picture in display order over the whole stream, or [`NOT_SHOWN`] for an access unit that
//! a decoder does not output (see below); the ranks of the shown samples are exactly
//! `0..shown` and each appears once. Parsing never panics and reads only the access unit it is
//! handed; any field that cannot be read makes its picture "not shown", never an error.
//!
//! Why display ranks: raw streams carry no timestamps, and random access
//! (`DisplayOrder` in the decoder's seek module) orders samples by pts, so the pts of a raw
//! sample must be its place in display order. Display order is, as the standards' output
//! process gives it: coded video sequence by coded video sequence (H.264: each IDR starts one;
//! HEVC: each IRAP with `NoRaslOutputFlag` = 1: IDR, BLA, a CRA first in the stream or after an
//! end-of-sequence NAL unit), then by picture order count (POC) within the sequence. POC is
//! derived as H.264 8.2.1 and HEVC 8.3.1 do, from just enough of the SPS, PPS and first slice
//! header.
//!
//! **Not shown** ([`SampleIndex::is_shown`] false, pts the placeholder [`NOT_SHOWN`]): such an
//! access unit must still be fed to the decoder (it may be a reference, or half of a frame),
//! but no frame comes out for it, so it takes no display rank and random access must leave it
//! out of display order:
//! - HEVC RASL pictures associated with an IRAP that has `NoRaslOutputFlag` = 1 (the leading
//!   pictures of an open GOP at the start of the stream, or after a BLA): decoders drop them,
//!   as ffmpeg does;
//! - HEVC pictures with `pic_output_flag` = 0;
//! - the second field of an H.264 field pair (a field pair is one frame: the first field's
//!   access unit carries the frame's rank);
//! - access units without a slice, or whose slice refers to a parameter set not seen (or not
//!   parseable) before it: decoders cannot decode them either;
//! - H.264 pictures before the stream's first random access point, and, when that is a
//!   recovery-point I picture rather than an IDR, the pictures displayed before it until the
//!   next IDR (its leading pictures reference pictures before the stream's start): ffmpeg
//!   outputs neither.
//!
//! Key (random access point): HEVC IRAP (NAL types 16–23); H.264 IDR, or an I/SI picture with a
//! recovery-point SEI whose `recovery_frame_cnt` is 0.
//!
//! Only the first slice (segment) of each picture is read: it carries every field POC needs,
//! and an HEVC first segment is never dependent and has no `slice_segment_address`, so
//! `PicSizeInCtbsY` (and most of the SPS) need not be parsed.
//!
//! Approximations (documented limits): H.264 `memory_management_control_operation` 5 is not
//! parsed (it would need the reference-list and weight-table syntax), so a non-IDR picture that
//! resets POC does not start a new sequence here; HEVC `no_output_of_prior_pics_flag` is
//! ignored (pictures it discards are ranked as if output); multi-layer streams are ranked by
//! their base layer (`nuh_layer_id` 0) only. Encoders rarely use either MMCO 5 or
//! `no_output_of_prior_pics_flag`; ffmpeg's own encoders never do.
//!
//! Memory: the parameter-set tables are bounded by the standards' id ranges (H.264: 32 SPS,
//! 256 PPS; HEVC: 16 SPS, 64 PPS), each a few integers (an H.264 SPS of POC type 1 adds at most
//! 255 offsets); the index is [`SampleIndex::BYTES_PER_SAMPLE`] bytes a sample; and while a
//! coded video sequence is being scanned, its shown pictures' POCs wait in a list of 16 bytes a
//! picture, emptied at the next sequence (so at most 16 bytes × the longest sequence). Work is
//! O(bytes): each access unit is scanned for start codes once more, and only headers are read.

mod h264;
mod hevc;
#[cfg(test)]
mod tests;

use self::h264::H264Order;
pub(crate) use self::h264::h264_sps_frames_only;
use self::hevc::HevcOrder;
pub(crate) use self::hevc::hevc_sps_top_temporal_id;
use super::super::demux::SampleIndex;
use super::super::start_code;
use super::Syntax;
use super::bitreader::BitReader;

/// The pts of a sample that a decoder does not output (see the [module docs](self)).
pub const NOT_SHOWN: i64 = SampleIndex::NOT_SHOWN;

/// What the index needs to know of one access unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct IndexedPicture {
    /// Picture order count within its coded video sequence.
    pub(crate) poc: i64,
    /// This picture starts a new coded video sequence (display order restarts after it).
    pub(crate) new_sequence: bool,
    /// A decoder outputs a frame for it.
    pub(crate) shown: bool,
    /// A decoder can start decoding here.
    pub(crate) key: bool,
}

/// The base-layer NAL units of an HEVC access unit: (`nal_unit_type`,
/// `nuh_temporal_id_plus1`, payload after the two header bytes); units of other layers and
/// units too short for a header are skipped.
pub(crate) fn hevc_base_layer_nal_units(au: &[u8]) -> impl Iterator<Item = (u8, u8, &[u8])> {
    start_code::units(au).filter_map(|nal| {
        let (&b0, &b1) = (nal.first()?, nal.get(1)?);
        let layer = ((b0 & 1) << 5) | (b1 >> 3);
        (layer == 0).then(|| ((b0 >> 1) & 0x3f, b1 & 7, nal.get(2..).unwrap_or(&[])))
    })
}

/// Builds the [`SampleIndex`] of an Annex-B stream as its access units go by.
#[derive(Debug)]
pub(crate) struct RawIndexer {
    order: PictureOrder,
    index: SampleIndex,
    /// The shown pictures of the current coded video sequence: (POC, sample).
    sequence: Vec<(i64, usize)>,
    /// The display rank the next sequence's first picture gets.
    next_rank: i64,
}

impl RawIndexer {
    /// An indexer for `syntax`'s stream, at its start.
    pub(super) fn new(syntax: Syntax) -> Self {
        Self {
            order: match syntax {
                Syntax::H264 => PictureOrder::H264(Box::default()),
                Syntax::Hevc => PictureOrder::Hevc(Box::default()),
            },
            index: SampleIndex::new(),
            sequence: Vec::new(),
            next_rank: 0,
        }
    }

    /// An indexer for an H.264 or HEVC stream at its start; `None` for other codecs.
    pub(crate) fn for_codec(codec: crate::Codec) -> Option<Self> {
        match codec {
            crate::Codec::H264 => Some(Self::new(Syntax::H264)),
            crate::Codec::Hevc => Some(Self::new(Syntax::Hevc)),
            _ => None,
        }
    }

    /// Takes the access unit `au`, found at byte `offset`, as the next sample.
    pub(crate) fn push(&mut self, au: &[u8], offset: u64) {
        let picture = match &mut self.order {
            PictureOrder::H264(order) => order.access_unit(au),
            PictureOrder::Hevc(order) => order.access_unit(au),
        };
        if picture.new_sequence {
            self.close_sequence();
        }
        let sample = self.index.len();
        if picture.shown {
            self.sequence.push((picture.poc, sample));
        }
        // MAX_ACCESS_UNIT (64 MiB) keeps every access unit's size within u32.
        let size = u32::try_from(au.len()).unwrap_or(u32::MAX);
        self.index
            .push_sample(offset, size, NOT_SHOWN, picture.key, false);
    }

    /// Gives the waiting sequence's pictures their display ranks.
    fn close_sequence(&mut self) {
        self.sequence.sort_unstable();
        for (rank, &(_, sample)) in self.sequence.iter().enumerate() {
            let rank = i64::try_from(rank).unwrap_or(i64::MAX);
            self.index
                .set_pts(sample, self.next_rank.saturating_add(rank));
            self.index.set_shown(sample);
        }
        let shown = i64::try_from(self.sequence.len()).unwrap_or(i64::MAX);
        self.next_rank = self.next_rank.saturating_add(shown);
        self.sequence.clear();
    }

    /// The complete index, after the last access unit.
    pub(crate) fn finish(mut self) -> SampleIndex {
        self.close_sequence();
        self.index
    }

    /// Heap bytes held (index, waiting sequence, parameter sets).
    pub(crate) fn heap_bytes(&self) -> usize {
        let order = match &self.order {
            PictureOrder::H264(order) => order.heap_bytes(),
            PictureOrder::Hevc(order) => order.heap_bytes(),
        };
        self.index
            .heap_bytes()
            .saturating_add(self.sequence.capacity().saturating_mul(16))
            .saturating_add(order)
    }
}

/// The POC state of one codec.
#[derive(Debug)]
enum PictureOrder {
    H264(Box<H264Order>),
    Hevc(Box<HevcOrder>),
}
