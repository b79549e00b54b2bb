//! Splitting H.264 / HEVC Annex-B elementary streams into access units.
//!
//! Invariant: [`AccessUnits`] yields zero-copy, non-empty, contiguous, non-overlapping
//! sub-slices of its input, in order, starting at the first start code; it never panics and
//! stops after the first error. One slice is one access unit (one coded picture plus the
//! parameter sets, SEI and delimiters that precede it), which is what NVDEC's cuvid parser
//! wants per `cuvidParseVideoData` packet.
//!
//! Where the slices are cut:
//!
//! * An access unit begins at the start code of its first NAL unit. A 4-byte start code
//!   (`00 00 00 01`) is kept whole; any further zero bytes before it are trailing zeros of the
//!   previous access unit, and trailing zeros at the end of the stream belong to the last one.
//! * Bytes before the first start code (Annex B `leading_zero_8bits`, or garbage) are
//!   **skipped**: the first slice starts at the first start code, as ffmpeg's parser does.
//!   A non-empty input with no start code at all is an error (it is not Annex-B); an empty
//!   input yields no access units.
//! * Only the bits needed to find boundaries are read: the NAL header and, for slices, the
//!   first bit of the slice header (`first_mb_in_slice == 0` for H.264, whose `ue(v)` code is
//!   a single `1` bit; `first_slice_segment_in_pic_flag` for HEVC). Everything else is left
//!   to the decoder.
//! * A NAL unit too short to hold its header (or, for a slice, its first slice-header byte)
//!   is an error naming its byte offset. The access unit before it is still yielded first.
//!
//! Limits of the first-slice rule (the standards' full rule compares slice-header fields
//! such as `frame_num` and `pic_parameter_set_id`): H.264 arbitrary slice order (a picture
//! whose first transmitted slice has `first_mb_in_slice != 0`) is not split from the
//! previous picture, and in multi-layer streams (SVC/MVC, MV-HEVC/SHVC) each layer's first
//! slice, and an MVC subset SPS, starts a packet of its own.

use std::iter::FusedIterator;

pub(crate) mod bitreader;
mod demux;
mod disposable;
pub mod index;

pub(crate) use demux::AnnexBDemux;
pub use disposable::Disposable;
pub use index::NOT_SHOWN;

use super::InputError;
use crate::slice_cuts::SliceCuts;
use crate::{Codec, ReadError, Result};

/// NAL-header syntax of the stream being split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    H264,
    Hevc,
}

/// How one NAL unit relates to access-unit boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NalClass {
    /// Carries coded picture data (a slice or slice data partition).
    vcl: bool,
    /// Begins a new access unit if the current one already holds VCL data.
    starts_au: bool,
}

impl Syntax {
    pub(crate) fn codec(self) -> Codec {
        match self {
            Syntax::H264 => Codec::H264,
            Syntax::Hevc => Codec::Hevc,
        }
    }

    /// Classifies the NAL unit `nal` (header first, start code and trailing zeros removed)
    /// that starts at byte `offset` of the stream; errors if it is too short to classify.
    fn classify(self, nal: &[u8], offset: u64) -> Result<NalClass> {
        let too_short = |need: usize, what: &str| {
            ReadError::from(InputError::malformed_at(
                offset,
                format!(
                    "{} NAL unit is {} byte(s) long, too short to hold its {what} ({need} bytes \
                     needed)",
                    self.codec(),
                    nal.len()
                ),
            ))
        };
        let class = |vcl, starts_au| NalClass { vcl, starts_au };
        match self {
            Syntax::H264 => {
                let header = *nal.first().ok_or_else(|| too_short(1, "NAL header"))?;
                match header & 0x1f {
                    // Non-IDR slice, slice data partition A, IDR slice: these carry
                    // first_mb_in_slice, ue(v)-coded, so 0 is a leading '1' bit.
                    1 | 2 | 5 => {
                        let first = *nal
                            .get(1)
                            .ok_or_else(|| too_short(2, "first slice-header byte"))?;
                        Ok(class(true, first & 0x80 != 0))
                    }
                    // Slice data partitions B and C continue the picture of partition A.
                    3 | 4 => Ok(class(true, false)),
                    // SEI, SPS, PPS, AUD, prefix NAL, subset SPS, DPS, reserved 17-18.
                    6..=9 | 14..=18 => Ok(class(false, true)),
                    // End of sequence/stream, filler, SPS extension, auxiliary and extension
                    // slices, unspecified: part of the current access unit.
                    _ => Ok(class(false, false)),
                }
            }
            Syntax::Hevc => {
                let header = nal
                    .get(..2)
                    .ok_or_else(|| too_short(2, "2-byte NAL header"))?;
                let nal_type = header.first().map_or(0, |b| (b >> 1) & 0x3f);
                match nal_type {
                    0..=31 => {
                        let first = *nal
                            .get(2)
                            .ok_or_else(|| too_short(3, "first slice-segment-header byte"))?;
                        Ok(class(true, first & 0x80 != 0))
                    }
                    // VPS, SPS, PPS, AUD, prefix SEI, reserved 41-44, unspecified 48-55.
                    32..=35 | 39 | 41..=44 | 48..=55 => Ok(class(false, true)),
                    // EOS, EOB, filler, suffix SEI, reserved, unspecified 56-63.
                    _ => Ok(class(false, false)),
                }
            }
        }
    }
}

/// Iterator over the access units of an H.264 or HEVC Annex-B stream, as sub-slices of it.
///
/// Invariant: the slices are non-empty, in stream order, and each one ends exactly where the
/// next begins; the first begins at the first start code and, unless an error ends the
/// iteration early, the last ends at the end of the input. See the [module docs](self) for
/// the boundary rules. After an `Err` the iterator is exhausted.
#[derive(Debug)]
pub struct AccessUnits<'a> {
    cuts: SliceCuts<'a, AnnexBDemux>,
}

impl<'a> AccessUnits<'a> {
    /// Splits `data` as an Annex-B stream of `codec`, which must be H.264 or HEVC.
    ///
    /// # Errors
    /// [`InputError::Unsupported`] for any other codec, since only those two use Annex-B NAL
    /// framing.
    pub fn new(data: &'a [u8], codec: Codec) -> Result<Self> {
        Ok(Self {
            cuts: SliceCuts::new(data, AnnexBDemux::new(codec)?),
        })
    }

    /// Splits `data` as an H.264 Annex-B stream (1-byte NAL headers).
    pub fn h264(data: &'a [u8]) -> Self {
        Self::with_syntax(data, Syntax::H264)
    }

    /// Splits `data` as an HEVC Annex-B stream (2-byte NAL headers).
    pub fn hevc(data: &'a [u8]) -> Self {
        Self::with_syntax(data, Syntax::Hevc)
    }

    fn with_syntax(data: &'a [u8], syntax: Syntax) -> Self {
        Self {
            cuts: SliceCuts::new(data, AnnexBDemux::with_syntax(syntax)),
        }
    }

    /// The codec whose NAL syntax this iterator reads.
    pub fn codec(&self) -> Codec {
        self.cuts.cutter().syntax().codec()
    }
}

impl<'a> Iterator for AccessUnits<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        self.cuts.next()
    }
}

impl FusedIterator for AccessUnits<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    const SC4: [u8; 4] = [0, 0, 0, 1];
    const SC3: [u8; 3] = [0, 0, 1];

    /// Concatenates NAL units, each behind a 4-byte start code, and returns the stream
    /// plus the offset of each start code.
    fn stream(nals: &[&[u8]]) -> (Vec<u8>, Vec<usize>) {
        let mut out = Vec::new();
        let mut offsets = Vec::new();
        for nal in nals {
            offsets.push(out.len());
            out.extend_from_slice(&SC4);
            out.extend_from_slice(nal);
        }
        (out, offsets)
    }

    fn split(units: AccessUnits<'_>) -> Vec<&[u8]> {
        units.map(|au| au.unwrap()).collect()
    }

    // H.264 NAL units: header byte, then one payload byte whose top bit is the
    // first_mb_in_slice == 0 flag for slices.
    const H264_AUD: &[u8] = &[0x09, 0xf0];
    const H264_SPS: &[u8] = &[0x67, 0x42, 0x00, 0x1e];
    const H264_PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
    const H264_SEI: &[u8] = &[0x06, 0x05, 0x01, 0x80];
    const H264_IDR_FIRST: &[u8] = &[0x65, 0x88, 0x84];
    const H264_IDR_SECOND: &[u8] = &[0x65, 0x41, 0x9a]; // first_mb_in_slice != 0
    const H264_P_FIRST: &[u8] = &[0x41, 0x9a, 0x02];
    const H264_P_SECOND: &[u8] = &[0x41, 0x5a, 0x02];

    #[test]
    fn h264_parameter_sets_and_sei_before_an_idr_slice_form_one_access_unit() {
        let (data, at) = stream(&[H264_SPS, H264_PPS, H264_SEI, H264_IDR_FIRST, H264_P_FIRST]);
        let aus = split(AccessUnits::h264(&data));
        assert_eq!(aus, vec![&data[..at[4]], &data[at[4]..]]);
    }

    #[test]
    fn h264_slices_with_nonzero_first_mb_continue_the_picture() {
        let (data, at) = stream(&[
            H264_SPS,
            H264_PPS,
            H264_IDR_FIRST,
            H264_IDR_SECOND,
            H264_P_FIRST,
            H264_P_SECOND,
            H264_P_SECOND,
        ]);
        let aus = split(AccessUnits::h264(&data));
        assert_eq!(aus, vec![&data[..at[4]], &data[at[4]..]]);
    }

    #[test]
    fn h264_access_unit_delimiters_start_each_access_unit() {
        let (data, at) = stream(&[
            H264_AUD,
            H264_SPS,
            H264_PPS,
            H264_IDR_FIRST,
            H264_AUD,
            H264_P_FIRST,
            H264_AUD,
            H264_P_FIRST,
        ]);
        let aus = split(AccessUnits::h264(&data));
        assert_eq!(
            aus,
            vec![&data[..at[4]], &data[at[4]..at[6]], &data[at[6]..]]
        );
    }

    #[test]
    fn h264_sei_after_a_slice_starts_the_next_access_unit() {
        let (data, at) = stream(&[H264_IDR_FIRST, H264_SEI, H264_P_FIRST]);
        let aus = split(AccessUnits::h264(&data));
        assert_eq!(aus, vec![&data[..at[1]], &data[at[1]..]]);
    }

    #[test]
    fn h264_end_of_sequence_and_filler_stay_with_the_current_access_unit() {
        let (data, _) = stream(&[H264_IDR_FIRST, &[0x0c, 0xff, 0x80], &[0x0a]]);
        assert_eq!(split(AccessUnits::h264(&data)), vec![&data[..]]);
    }

    #[test]
    fn three_and_four_byte_start_codes_are_both_recognised_and_kept_whole() {
        let mut data = Vec::new();
        data.extend_from_slice(&SC4);
        data.extend_from_slice(H264_SPS);
        data.extend_from_slice(&SC3);
        data.extend_from_slice(H264_PPS);
        data.extend_from_slice(&SC3);
        data.extend_from_slice(H264_IDR_FIRST);
        let second = data.len();
        data.extend_from_slice(&SC3);
        data.extend_from_slice(H264_P_FIRST);
        let third = data.len();
        data.extend_from_slice(&SC4);
        data.extend_from_slice(H264_P_FIRST);
        let aus = split(AccessUnits::h264(&data));
        assert_eq!(
            aus,
            vec![&data[..second], &data[second..third], &data[third..]]
        );
        assert!(aus[0].starts_with(&SC4));
        assert!(aus[1].starts_with(&SC3) && !aus[1].starts_with(&SC4));
        assert!(aus[2].starts_with(&SC4));
    }

    #[test]
    fn leading_bytes_before_the_first_start_code_are_skipped() {
        let (body, _) = stream(&[H264_IDR_FIRST, H264_P_FIRST]);
        let mut data = vec![0xde, 0xad, 0x00, 0x00];
        data.extend_from_slice(&body);
        let aus = split(AccessUnits::h264(&data));
        assert_eq!(aus.len(), 2);
        // The 4-byte start code keeps one zero byte; the other leading zeros are skipped.
        assert_eq!(aus[0].as_ptr(), data[4..].as_ptr());
    }

    #[test]
    fn trailing_zero_bytes_belong_to_the_preceding_access_unit() {
        let mut data = Vec::new();
        data.extend_from_slice(&SC4);
        data.extend_from_slice(H264_IDR_FIRST);
        data.extend_from_slice(&[0, 0, 0]);
        let second = data.len();
        data.extend_from_slice(&SC4);
        data.extend_from_slice(H264_P_FIRST);
        data.extend_from_slice(&[0, 0]);
        let aus = split(AccessUnits::h264(&data));
        assert_eq!(aus, vec![&data[..second], &data[second..]]);
    }

    #[test]
    fn empty_input_has_no_access_units() {
        assert_eq!(AccessUnits::h264(&[]).count(), 0);
        assert_eq!(AccessUnits::hevc(&[]).count(), 0);
    }

    #[test]
    fn input_without_a_start_code_is_an_error() {
        let mut units = AccessUnits::h264(&[0, 0, 2, 0x65, 0x88]);
        let err = units.next().unwrap().unwrap_err();
        assert!(err.to_string().contains("no Annex-B start code"), "{err}");
        assert!(units.next().is_none());
    }

    #[test]
    fn a_start_code_with_no_nal_header_is_an_error_after_the_preceding_access_unit() {
        let (mut data, _) = stream(&[H264_IDR_FIRST]);
        let au_len = data.len();
        data.extend_from_slice(&[0, 0, 1, 0, 0]);
        let mut units = AccessUnits::h264(&data);
        assert_eq!(units.next().unwrap().unwrap(), &data[..au_len]);
        let err = units.next().unwrap().unwrap_err().to_string();
        assert!(err.contains(&format!("offset {}", au_len + 3)), "{err}");
        assert!(err.contains("too short"), "{err}");
        assert!(units.next().is_none());
    }

    #[test]
    fn a_slice_without_its_first_header_byte_is_an_error() {
        let (data, _) = stream(&[&[0x65]]);
        let err = AccessUnits::h264(&data).next().unwrap().unwrap_err();
        assert!(err.to_string().contains("first slice-header byte"), "{err}");
    }

    // HEVC NAL units: 2-byte header (type << 1, layer 0 / tid 1), then one payload byte
    // whose top bit is first_slice_segment_in_pic_flag for slices.
    const HEVC_VPS: &[u8] = &[0x40, 0x01, 0x0c];
    const HEVC_SPS: &[u8] = &[0x42, 0x01, 0x01];
    const HEVC_PPS: &[u8] = &[0x44, 0x01, 0xc1];
    const HEVC_AUD: &[u8] = &[0x46, 0x01, 0x50];
    const HEVC_PREFIX_SEI: &[u8] = &[0x4e, 0x01, 0x05];
    const HEVC_SUFFIX_SEI: &[u8] = &[0x50, 0x01, 0x84];
    const HEVC_IDR_FIRST: &[u8] = &[0x26, 0x01, 0xaf]; // IDR_W_RADL (19)
    const HEVC_IDR_SECOND: &[u8] = &[0x26, 0x01, 0x20];
    const HEVC_TRAIL_FIRST: &[u8] = &[0x02, 0x01, 0xd0]; // TRAIL_R (1)
    const HEVC_TRAIL_SECOND: &[u8] = &[0x02, 0x01, 0x10];

    #[test]
    fn hevc_parameter_sets_and_sei_before_an_idr_slice_form_one_access_unit() {
        let (data, at) = stream(&[
            HEVC_VPS,
            HEVC_SPS,
            HEVC_PPS,
            HEVC_PREFIX_SEI,
            HEVC_IDR_FIRST,
            HEVC_TRAIL_FIRST,
        ]);
        let aus = split(AccessUnits::hevc(&data));
        assert_eq!(aus, vec![&data[..at[5]], &data[at[5]..]]);
    }

    #[test]
    fn hevc_dependent_slice_segments_and_suffix_sei_continue_the_picture() {
        let (data, at) = stream(&[
            HEVC_IDR_FIRST,
            HEVC_IDR_SECOND,
            HEVC_SUFFIX_SEI,
            HEVC_TRAIL_FIRST,
            HEVC_TRAIL_SECOND,
            HEVC_SUFFIX_SEI,
        ]);
        let aus = split(AccessUnits::hevc(&data));
        assert_eq!(aus, vec![&data[..at[3]], &data[at[3]..]]);
    }

    #[test]
    fn hevc_access_unit_delimiters_start_each_access_unit() {
        let (data, at) = stream(&[
            HEVC_AUD,
            HEVC_VPS,
            HEVC_IDR_FIRST,
            HEVC_AUD,
            HEVC_TRAIL_FIRST,
            HEVC_TRAIL_SECOND,
            HEVC_AUD,
            HEVC_TRAIL_FIRST,
        ]);
        let aus = split(AccessUnits::hevc(&data));
        assert_eq!(
            aus,
            vec![&data[..at[3]], &data[at[3]..at[6]], &data[at[6]..]]
        );
    }

    #[test]
    fn hevc_nal_with_a_one_byte_header_is_an_error() {
        let (data, _) = stream(&[&[0x40]]);
        let err = AccessUnits::hevc(&data).next().unwrap().unwrap_err();
        assert!(err.to_string().contains("2-byte NAL header"), "{err}");
    }

    #[test]
    fn hevc_is_not_split_with_h264_rules() {
        // 0x26 read as H.264 is type 6 (SEI): a different split would result.
        let (data, _) = stream(&[HEVC_IDR_FIRST, HEVC_IDR_SECOND]);
        assert_eq!(split(AccessUnits::hevc(&data)), vec![&data[..]]);
    }

    #[test]
    fn codecs_without_annex_b_framing_are_rejected() {
        assert!(AccessUnits::new(&[], Codec::Vp9).is_err());
        assert_eq!(
            AccessUnits::new(&[], Codec::Hevc).unwrap().codec(),
            Codec::Hevc
        );
    }
}
