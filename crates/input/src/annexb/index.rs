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

/// The NAL unit payloads (header included, start code excluded) of an access unit.
pub(crate) fn nal_units(au: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = start_code::find(au, 0);
    std::iter::from_fn(move || {
        let prefix = at?;
        let body = prefix.checked_add(start_code::PREFIX.len())?;
        let next = start_code::find(au, body);
        at = next;
        au.get(body..next.unwrap_or(au.len()))
    })
}

/// The base-layer NAL units of an HEVC access unit: (`nal_unit_type`,
/// `nuh_temporal_id_plus1`, payload after the two header bytes); units of other layers and
/// units too short for a header are skipped.
pub(crate) fn hevc_base_layer_nal_units(au: &[u8]) -> impl Iterator<Item = (u8, u8, &[u8])> {
    nal_units(au).filter_map(|nal| {
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

// ---------------------------------------------------------------------------------------------
// H.264
// ---------------------------------------------------------------------------------------------

/// The SPS fields POC derivation needs.
#[derive(Debug, Clone, Default)]
struct H264Sps {
    separate_colour_plane: bool,
    log2_max_frame_num: u32,
    poc_type: u8,
    log2_max_poc_lsb: u32,
    delta_pic_order_always_zero: bool,
    offset_for_non_ref_pic: i64,
    offset_for_top_to_bottom_field: i64,
    /// Running sums of `offset_for_ref_frame[0..=i]` (at most 255).
    ref_frame_offset_sums: Vec<i64>,
    frame_mbs_only: bool,
}

/// The PPS fields POC derivation needs.
#[derive(Debug, Clone, Copy, Default)]
struct H264Pps {
    sps_id: u8,
    bottom_field_pic_order_in_frame_present: bool,
}

/// The slice-header fields POC derivation needs.
#[derive(Debug, Clone, Copy, Default)]
struct H264Slice {
    nal_ref_idc: u8,
    idr: bool,
    slice_type: u64,
    frame_num: i64,
    field_pic: bool,
    bottom_field: bool,
    poc_lsb: i64,
    delta_poc_bottom: i64,
    delta_poc: [i64; 2],
}

const H264_MAX_SPS: usize = 32;
const H264_MAX_PPS: usize = 256;

/// H.264 POC state (8.2.1) across access units.
#[derive(Debug, Default)]
struct H264Order {
    sps: Vec<Option<H264Sps>>,
    pps: Vec<Option<H264Pps>>,
    seen_picture: bool,
    prev_poc_msb: i64,
    prev_poc_lsb: i64,
    prev_frame_num_offset: i64,
    prev_frame_num: i64,
    /// A first field waiting for its second: (frame_num, bottom).
    open_field: Option<(i64, bool)>,
    /// A random access point has been met: pictures are output from here on.
    recovered: bool,
    /// The stream began at a recovery-point I picture of this POC, not at an IDR: until the
    /// next IDR, pictures displayed before it (its leading pictures, which reference pictures
    /// before the stream's start) are not output.
    recovery_floor: Option<i64>,
}

/// Profiles whose SPS carries chroma format, bit depths and scaling matrices (7.3.2.1.1).
fn h264_high_profile(profile_idc: u64) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            next = (last + delta).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

/// Whether an H.264 SPS (`payload`: the NAL unit after its header byte) codes frames only
/// (`frame_mbs_only_flag`: no field pictures); `None` when it cannot be parsed.
pub(crate) fn h264_sps_frames_only(payload: &[u8]) -> Option<bool> {
    parse_h264_sps(&mut BitReader::new(payload)).map(|(_, sps)| sps.frame_mbs_only)
}

/// The highest temporal id an HEVC SPS allows (`sps_max_sub_layers_minus1`; `payload`: the
/// NAL unit after its two header bytes); `None` when it cannot be parsed.
pub(crate) fn hevc_sps_top_temporal_id(payload: &[u8]) -> Option<u8> {
    let mut r = BitReader::new(payload);
    r.skip(4)?; // sps_video_parameter_set_id
    u8::try_from(r.bits(3)?).ok().filter(|&t| t <= 6)
}

fn parse_h264_sps(r: &mut BitReader<'_>) -> Option<(usize, H264Sps)> {
    let profile_idc = r.bits(8)?;
    r.skip(16)?;
    let id = usize::try_from(r.ue_max(H264_MAX_SPS as u64 - 1)?).ok()?;
    let mut sps = H264Sps::default();
    if h264_high_profile(profile_idc) {
        let chroma_format_idc = r.ue_max(3)?;
        if chroma_format_idc == 3 {
            sps.separate_colour_plane = r.flag()?;
        }
        r.ue_max(14)?;
        r.ue_max(14)?;
        r.skip(1)?;
        if r.flag()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    skip_scaling_list(r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    sps.log2_max_frame_num = u32::try_from(r.ue_max(12)?).ok()? + 4;
    sps.poc_type = u8::try_from(r.ue_max(2)?).ok()?;
    match sps.poc_type {
        0 => sps.log2_max_poc_lsb = u32::try_from(r.ue_max(12)?).ok()? + 4,
        1 => {
            sps.delta_pic_order_always_zero = r.flag()?;
            sps.offset_for_non_ref_pic = r.se()?;
            sps.offset_for_top_to_bottom_field = r.se()?;
            let cycle = r.ue_max(255)?;
            let mut sum = 0i64;
            for _ in 0..cycle {
                sum = sum.saturating_add(r.se()?);
                sps.ref_frame_offset_sums.push(sum);
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.skip(1)?; // gaps_in_frame_num_value_allowed_flag
    r.ue()?;
    r.ue()?;
    sps.frame_mbs_only = r.flag()?;
    Some((id, sps))
}

fn parse_h264_pps(r: &mut BitReader<'_>) -> Option<(usize, H264Pps)> {
    let id = usize::try_from(r.ue_max(H264_MAX_PPS as u64 - 1)?).ok()?;
    let sps_id = u8::try_from(r.ue_max(H264_MAX_SPS as u64 - 1)?).ok()?;
    r.skip(1)?; // entropy_coding_mode_flag
    let bottom_field_pic_order_in_frame_present = r.flag()?;
    Some((
        id,
        H264Pps {
            sps_id,
            bottom_field_pic_order_in_frame_present,
        },
    ))
}

/// Whether an SEI NAL unit's payload holds a recovery point with `recovery_frame_cnt` 0.
fn h264_recovery_point_zero(payload: &[u8]) -> bool {
    let mut r = BitReader::new(payload);
    let read_number = |r: &mut BitReader<'_>| -> Option<u64> {
        let mut value = 0u64;
        loop {
            let byte = r.bits(8)?;
            value = value.saturating_add(byte);
            if byte != 0xff {
                return Some(value);
            }
        }
    };
    // Each message takes at least two bytes, so this ends within the payload.
    while let (Some(kind), Some(size)) = (read_number(&mut r), read_number(&mut r)) {
        if kind == 6 {
            return r.ue() == Some(0);
        }
        let Some(bits) = size.checked_mul(8).and_then(|b| u32::try_from(b).ok()) else {
            return false;
        };
        if r.skip(bits).is_none() {
            return false;
        }
    }
    false
}

impl H264Order {
    fn heap_bytes(&self) -> usize {
        let sps: usize = self
            .sps
            .iter()
            .flatten()
            .map(|s| s.ref_frame_offset_sums.capacity() * 8)
            .sum();
        sps + self.sps.capacity() * std::mem::size_of::<Option<H264Sps>>()
            + self.pps.capacity() * std::mem::size_of::<Option<H264Pps>>()
    }

    fn store_sps(&mut self, payload: &[u8]) {
        if let Some((id, sps)) = parse_h264_sps(&mut BitReader::new(payload)) {
            if self.sps.is_empty() {
                self.sps.resize(H264_MAX_SPS, None);
            }
            if let Some(slot) = self.sps.get_mut(id) {
                *slot = Some(sps);
            }
        }
    }

    fn store_pps(&mut self, payload: &[u8]) {
        if let Some((id, pps)) = parse_h264_pps(&mut BitReader::new(payload)) {
            if self.pps.is_empty() {
                self.pps.resize(H264_MAX_PPS, None);
            }
            if let Some(slot) = self.pps.get_mut(id) {
                *slot = Some(pps);
            }
        }
    }

    /// The slice header of `payload` (after the NAL header byte) up to `delta_pic_order_cnt`.
    fn parse_slice(&self, payload: &[u8], nal_ref_idc: u8, idr: bool) -> Option<(H264Slice, u8)> {
        let mut r = BitReader::new(payload);
        r.ue()?; // first_mb_in_slice
        let slice_type = r.ue_max(9)?;
        let pps_id = usize::try_from(r.ue_max(H264_MAX_PPS as u64 - 1)?).ok()?;
        let pps = (*self.pps.get(pps_id)?)?;
        let sps = self.sps.get(usize::from(pps.sps_id))?.as_ref()?;
        if sps.separate_colour_plane {
            r.skip(2)?;
        }
        let mut slice = H264Slice {
            nal_ref_idc,
            idr,
            slice_type,
            frame_num: i64::try_from(r.bits(sps.log2_max_frame_num)?).ok()?,
            ..H264Slice::default()
        };
        if !sps.frame_mbs_only {
            slice.field_pic = r.flag()?;
            if slice.field_pic {
                slice.bottom_field = r.flag()?;
            }
        }
        if idr {
            r.ue()?;
        }
        let bottom_present = pps.bottom_field_pic_order_in_frame_present && !slice.field_pic;
        match sps.poc_type {
            0 => {
                slice.poc_lsb = i64::try_from(r.bits(sps.log2_max_poc_lsb)?).ok()?;
                if bottom_present {
                    slice.delta_poc_bottom = r.se()?;
                }
            }
            1 if !sps.delta_pic_order_always_zero => {
                slice.delta_poc[0] = r.se()?;
                if bottom_present {
                    slice.delta_poc[1] = r.se()?;
                }
            }
            _ => {}
        }
        Some((slice, pps.sps_id))
    }

    fn access_unit(&mut self, au: &[u8]) -> IndexedPicture {
        let mut recovery_zero = false;
        let mut slice = None;
        for nal in nal_units(au) {
            let Some((&header, payload)) = nal.split_first() else {
                continue;
            };
            match header & 0x1f {
                7 => self.store_sps(payload),
                8 => self.store_pps(payload),
                6 => recovery_zero |= h264_recovery_point_zero(payload),
                kind @ (1 | 2 | 5) if slice.is_none() => {
                    slice = Some(self.parse_slice(payload, (header >> 5) & 3, kind == 5));
                }
                _ => {}
            }
        }
        let Some(Some((slice, sps_id))) = slice else {
            return IndexedPicture::default();
        };
        // Taken out for the derivation and put back: no copy of its offset table.
        let Some(sps) = self.sps.get_mut(usize::from(sps_id)).and_then(Option::take) else {
            return IndexedPicture::default();
        };
        let second_field = slice.field_pic
            && self.open_field.is_some_and(|(num, bottom)| {
                num == slice.frame_num && bottom != slice.bottom_field
            });
        self.open_field =
            (slice.field_pic && !second_field).then_some((slice.frame_num, slice.bottom_field));
        let poc = self.poc(&slice, &sps);
        if let Some(slot) = self.sps.get_mut(usize::from(sps_id)) {
            *slot = Some(sps);
        }
        let new_sequence = (slice.idr || !self.seen_picture) && !second_field;
        self.seen_picture = true;
        let intra = matches!(slice.slice_type % 5, 2 | 4);
        let key = (slice.idr || (recovery_zero && intra)) && !second_field;
        if slice.idr {
            self.recovery_floor = None;
        }
        if key && !self.recovered {
            self.recovered = true;
            self.recovery_floor = (!slice.idr).then_some(poc);
        }
        let leading = self.recovery_floor.is_some_and(|floor| poc < floor);
        IndexedPicture {
            poc,
            new_sequence,
            shown: !second_field && self.recovered && !leading,
            key,
        }
    }

    /// 8.2.1: the picture's order count (the smaller of its fields' for a frame).
    fn poc(&mut self, s: &H264Slice, sps: &H264Sps) -> i64 {
        let max_frame_num = 1i64 << sps.log2_max_frame_num.min(16);
        let frame_num_offset = if s.idr {
            0
        } else if self.prev_frame_num > s.frame_num {
            self.prev_frame_num_offset.wrapping_add(max_frame_num)
        } else {
            self.prev_frame_num_offset
        };
        let (top, bottom) = match sps.poc_type {
            0 => {
                if s.idr {
                    self.prev_poc_msb = 0;
                    self.prev_poc_lsb = 0;
                }
                let max_lsb = 1i64 << sps.log2_max_poc_lsb.min(16);
                let (prev_msb, prev_lsb) = (self.prev_poc_msb, self.prev_poc_lsb);
                let msb = if s.poc_lsb < prev_lsb && prev_lsb - s.poc_lsb >= max_lsb / 2 {
                    prev_msb.wrapping_add(max_lsb)
                } else if s.poc_lsb > prev_lsb && s.poc_lsb - prev_lsb > max_lsb / 2 {
                    prev_msb.wrapping_sub(max_lsb)
                } else {
                    prev_msb
                };
                if s.nal_ref_idc != 0 {
                    self.prev_poc_msb = msb;
                    self.prev_poc_lsb = s.poc_lsb;
                }
                let top = msb.wrapping_add(s.poc_lsb);
                if s.field_pic {
                    (top, top)
                } else {
                    (top, top.wrapping_add(s.delta_poc_bottom))
                }
            }
            1 => {
                let cycle = i64::try_from(sps.ref_frame_offset_sums.len()).unwrap_or(0);
                let mut abs_frame_num = if cycle != 0 {
                    frame_num_offset.wrapping_add(s.frame_num)
                } else {
                    0
                };
                if s.nal_ref_idc == 0 && abs_frame_num > 0 {
                    abs_frame_num -= 1;
                }
                let mut expected = 0i64;
                if abs_frame_num > 0 && cycle > 0 {
                    let cycles = (abs_frame_num - 1) / cycle;
                    let in_cycle = usize::try_from((abs_frame_num - 1) % cycle).unwrap_or(0);
                    let per_cycle = sps.ref_frame_offset_sums.last().copied().unwrap_or(0);
                    let partial = sps
                        .ref_frame_offset_sums
                        .get(in_cycle)
                        .copied()
                        .unwrap_or(0);
                    expected = cycles.wrapping_mul(per_cycle).wrapping_add(partial);
                }
                if s.nal_ref_idc == 0 {
                    expected = expected.wrapping_add(sps.offset_for_non_ref_pic);
                }
                let top = expected.wrapping_add(s.delta_poc[0]);
                if !s.field_pic {
                    let bottom = top
                        .wrapping_add(sps.offset_for_top_to_bottom_field)
                        .wrapping_add(s.delta_poc[1]);
                    (top, bottom)
                } else if s.bottom_field {
                    let bottom = expected
                        .wrapping_add(sps.offset_for_top_to_bottom_field)
                        .wrapping_add(s.delta_poc[0]);
                    (bottom, bottom)
                } else {
                    (top, top)
                }
            }
            _ => {
                let count = if s.idr {
                    0
                } else {
                    let twice = frame_num_offset.wrapping_add(s.frame_num).wrapping_mul(2);
                    if s.nal_ref_idc == 0 {
                        twice.wrapping_sub(1)
                    } else {
                        twice
                    }
                };
                (count, count)
            }
        };
        self.prev_frame_num_offset = frame_num_offset;
        self.prev_frame_num = s.frame_num;
        top.min(bottom)
    }
}

// ---------------------------------------------------------------------------------------------
// HEVC
// ---------------------------------------------------------------------------------------------

/// The SPS fields POC derivation needs.
#[derive(Debug, Clone, Copy, Default)]
struct HevcSps {
    separate_colour_plane: bool,
    log2_max_poc_lsb: u32,
}

/// The PPS fields the slice header's first fields need.
#[derive(Debug, Clone, Copy, Default)]
struct HevcPps {
    sps_id: u8,
    output_flag_present: bool,
    num_extra_slice_header_bits: u32,
}

const HEVC_MAX_SPS: usize = 16;
const HEVC_MAX_PPS: usize = 64;

/// HEVC POC state (8.3.1) across access units.
#[derive(Debug)]
struct HevcOrder {
    sps: [Option<HevcSps>; HEVC_MAX_SPS],
    pps: Vec<Option<HevcPps>>,
    /// The next picture is the first of the stream or follows an end of sequence.
    sequence_start: bool,
    /// The last IRAP had `NoRaslOutputFlag` = 1: its RASL pictures are not output.
    skip_rasl: bool,
    /// POC of the previous TemporalId-0 picture that is not RASL, RADL or SLNR.
    prev_tid0_poc: i64,
}

impl Default for HevcOrder {
    fn default() -> Self {
        Self {
            sps: [None; HEVC_MAX_SPS],
            pps: Vec::new(),
            sequence_start: true,
            skip_rasl: false,
            prev_tid0_poc: 0,
        }
    }
}

/// Skips `profile_tier_level(1, max_sub_layers_minus1)` (7.3.3).
fn skip_profile_tier_level(r: &mut BitReader<'_>, max_sub_layers_minus1: u64) -> Option<()> {
    // general profile space..general_inbld/reserved (88 bits) + general_level_idc (8).
    r.skip(96)?;
    let mut present = [(false, false); 8];
    for flags in present
        .iter_mut()
        .take(usize::try_from(max_sub_layers_minus1).ok()?)
    {
        *flags = (r.flag()?, r.flag()?);
    }
    if max_sub_layers_minus1 > 0 {
        for _ in max_sub_layers_minus1..8 {
            r.skip(2)?;
        }
    }
    for &(profile, level) in present
        .iter()
        .take(usize::try_from(max_sub_layers_minus1).ok()?)
    {
        if profile {
            r.skip(88)?;
        }
        if level {
            r.skip(8)?;
        }
    }
    Some(())
}

fn parse_hevc_sps(r: &mut BitReader<'_>) -> Option<(usize, HevcSps)> {
    r.skip(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)?;
    if max_sub_layers_minus1 > 6 {
        return None;
    }
    r.skip(1)?; // sps_temporal_id_nesting_flag
    skip_profile_tier_level(r, max_sub_layers_minus1)?;
    let id = usize::try_from(r.ue_max(HEVC_MAX_SPS as u64 - 1)?).ok()?;
    let mut sps = HevcSps::default();
    let chroma_format_idc = r.ue_max(3)?;
    if chroma_format_idc == 3 {
        sps.separate_colour_plane = r.flag()?;
    }
    r.ue()?; // pic_width_in_luma_samples
    r.ue()?; // pic_height_in_luma_samples
    if r.flag()? {
        for _ in 0..4 {
            r.ue()?; // conformance window offsets
        }
    }
    r.ue_max(8)?; // bit_depth_luma_minus8
    r.ue_max(8)?; // bit_depth_chroma_minus8
    sps.log2_max_poc_lsb = u32::try_from(r.ue_max(12)?).ok()? + 4;
    Some((id, sps))
}

fn parse_hevc_pps(r: &mut BitReader<'_>) -> Option<(usize, HevcPps)> {
    let id = usize::try_from(r.ue_max(HEVC_MAX_PPS as u64 - 1)?).ok()?;
    let sps_id = u8::try_from(r.ue_max(HEVC_MAX_SPS as u64 - 1)?).ok()?;
    r.skip(1)?; // dependent_slice_segments_enabled_flag (only after a first segment)
    let output_flag_present = r.flag()?;
    let num_extra_slice_header_bits = u32::try_from(r.bits(3)?).ok()?;
    Some((
        id,
        HevcPps {
            sps_id,
            output_flag_present,
            num_extra_slice_header_bits,
        },
    ))
}

/// The first slice segment's `(pic_output_flag, slice_pic_order_cnt_lsb, log2 max lsb)`;
/// `None` when it is not a first segment or cannot be read.
fn parse_hevc_first_slice(
    order: &HevcOrder,
    payload: &[u8],
    nal_type: u8,
) -> Option<(bool, i64, u32)> {
    let mut r = BitReader::new(payload);
    if !r.flag()? {
        return None; // not first_slice_segment_in_pic_flag
    }
    if (16..=23).contains(&nal_type) {
        r.skip(1)?; // no_output_of_prior_pics_flag
    }
    let pps_id = usize::try_from(r.ue_max(HEVC_MAX_PPS as u64 - 1)?).ok()?;
    let pps = (*order.pps.get(pps_id)?)?;
    let sps = (*order.sps.get(usize::from(pps.sps_id))?)?;
    // A first segment is never dependent and has no address.
    r.skip(pps.num_extra_slice_header_bits)?;
    r.ue_max(2)?; // slice_type
    let output = if pps.output_flag_present {
        r.flag()?
    } else {
        true
    };
    if sps.separate_colour_plane {
        r.skip(2)?;
    }
    let lsb = if matches!(nal_type, 19 | 20) {
        0
    } else {
        i64::try_from(r.bits(sps.log2_max_poc_lsb)?).ok()?
    };
    Some((output, lsb, sps.log2_max_poc_lsb))
}

impl HevcOrder {
    fn heap_bytes(&self) -> usize {
        self.pps.capacity() * std::mem::size_of::<Option<HevcPps>>()
    }

    fn access_unit(&mut self, au: &[u8]) -> IndexedPicture {
        let mut first = None;
        // An end of sequence ends this access unit: it concerns the next picture.
        let mut end_of_sequence = false;
        for (nal_type, tid_plus1, payload) in hevc_base_layer_nal_units(au) {
            match nal_type {
                33 => {
                    if let Some((id, sps)) = parse_hevc_sps(&mut BitReader::new(payload)) {
                        if let Some(slot) = self.sps.get_mut(id) {
                            *slot = Some(sps);
                        }
                    }
                }
                34 => {
                    if let Some((id, pps)) = parse_hevc_pps(&mut BitReader::new(payload)) {
                        if self.pps.is_empty() {
                            self.pps.resize(HEVC_MAX_PPS, None);
                        }
                        if let Some(slot) = self.pps.get_mut(id) {
                            *slot = Some(pps);
                        }
                    }
                }
                // End of sequence, end of bitstream: the next picture starts afresh.
                36 | 37 => end_of_sequence = true,
                0..=9 | 16..=21 if first.is_none() => {
                    first = Some((
                        nal_type,
                        tid_plus1,
                        parse_hevc_first_slice(self, payload, nal_type),
                    ));
                }
                _ => {}
            }
        }
        let Some((nal_type, tid_plus1, Some((output, lsb, log2_max_lsb)))) = first else {
            self.sequence_start |= end_of_sequence;
            return IndexedPicture::default();
        };
        let irap = (16..=23).contains(&nal_type);
        let rasl = matches!(nal_type, 8 | 9);
        // IDR and BLA always; CRA (and reserved IRAP types) first in the stream or after an
        // end of sequence.
        let no_rasl_output = irap && (matches!(nal_type, 16..=20) || self.sequence_start);
        if irap {
            self.skip_rasl = no_rasl_output;
        }
        let poc = if no_rasl_output {
            lsb
        } else {
            let max_lsb = 1i64 << log2_max_lsb.min(16);
            let prev_lsb = self.prev_tid0_poc.rem_euclid(max_lsb);
            let prev_msb = self.prev_tid0_poc.wrapping_sub(prev_lsb);
            let msb = if lsb < prev_lsb && prev_lsb - lsb >= max_lsb / 2 {
                prev_msb.wrapping_add(max_lsb)
            } else if lsb > prev_lsb && lsb - prev_lsb > max_lsb / 2 {
                prev_msb.wrapping_sub(max_lsb)
            } else {
                prev_msb
            };
            msb.wrapping_add(lsb)
        };
        let sub_layer_non_reference = nal_type <= 14 && nal_type % 2 == 0;
        let leading = matches!(nal_type, 6..=9);
        if tid_plus1 == 1 && !leading && !sub_layer_non_reference {
            self.prev_tid0_poc = poc;
        }
        self.sequence_start = end_of_sequence;
        IndexedPicture {
            poc,
            new_sequence: no_rasl_output,
            shown: output && !(rasl && self.skip_rasl),
            key: irap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes RBSP bits and turns them into a NAL unit with start code and emulation
    /// prevention, as an encoder does.
    #[derive(Default)]
    struct Bits(Vec<bool>);

    impl Bits {
        fn u(mut self, n: u32, value: u64) -> Self {
            for i in (0..n).rev() {
                self.0.push(i < 64 && (value >> i) & 1 == 1);
            }
            self
        }
        fn ue(self, value: u64) -> Self {
            let code = value + 1;
            let len = 64 - code.leading_zeros();
            self.u(len - 1, 0).u(len, code)
        }
        fn se(self, value: i64) -> Self {
            let code = if value > 0 { 2 * value - 1 } else { -2 * value };
            self.ue(code as u64)
        }
        /// `00 00 01`, the header bytes, the RBSP with its stop bit, escaped.
        fn nal(self, header: &[u8]) -> Vec<u8> {
            let mut bits = self.0;
            bits.push(true);
            while bits.len() % 8 != 0 {
                bits.push(false);
            }
            let mut out = vec![0, 0, 1];
            out.extend_from_slice(header);
            let mut zeros = 0;
            for byte in bits.chunks(8) {
                let byte = byte.iter().fold(0u8, |b, &bit| (b << 1) | u8::from(bit));
                if zeros >= 2 && byte <= 3 {
                    out.push(3);
                    zeros = 0;
                }
                out.push(byte);
                zeros = if byte == 0 { zeros + 1 } else { 0 };
            }
            out
        }
    }

    /// Indexes access units given one by one (as the splitter cuts them).
    fn index_of(syntax: Syntax, units: &[Vec<u8>]) -> SampleIndex {
        let mut indexer = RawIndexer::new(syntax);
        let mut offset = 0;
        for au in units {
            indexer.push(au, offset);
            offset += au.len() as u64;
        }
        indexer.finish()
    }

    fn pts_and_keys(index: &SampleIndex) -> (Vec<i64>, Vec<bool>) {
        (
            (0..index.len()).map(|i| index.pts(i).unwrap()).collect(),
            (0..index.len()).map(|i| index.is_key(i)).collect(),
        )
    }

    /// Baseline SPS 0, POC type 1 (one offset of 2 a reference frame, -1 for non-reference
    /// pictures, +1 top to bottom), 4-bit frame_num, fields allowed; and PPS 0.
    fn h264_parameter_sets() -> Vec<u8> {
        let sps = Bits::default()
            .u(8, 66)
            .u(8, 0)
            .u(8, 30)
            .ue(0)
            .ue(0)
            .ue(1)
            .u(1, 0)
            .se(-1)
            .se(1)
            .ue(1)
            .se(2)
            .ue(1)
            .u(1, 0)
            .ue(0)
            .ue(0)
            .u(1, 0)
            .nal(&[0x67]);
        let pps = Bits::default().ue(0).ue(0).u(1, 0).u(1, 0).nal(&[0x68]);
        [sps, pps].concat()
    }

    /// A slice NAL unit: `field` is None for a frame, Some(bottom) for a field.
    fn h264_slice(idr: bool, reference: bool, frame_num: u64, field: Option<bool>) -> Vec<u8> {
        let mut bits = Bits::default()
            .ue(0)
            .ue(if idr { 7 } else { 5 })
            .ue(0)
            .u(4, frame_num)
            .u(1, u64::from(field.is_some()));
        if let Some(bottom) = field {
            bits = bits.u(1, u64::from(bottom));
        }
        if idr {
            bits = bits.ue(0);
        }
        let header = match (idr, reference) {
            (true, _) => 0x65,
            (false, true) => 0x41,
            (false, false) => 0x01,
        };
        bits.se(0).nal(&[header])
    }

    #[test]
    fn h264_poc_type_1_frames_are_ranked_by_their_expected_order_count() {
        // I (POC 0), P (POC 2), non-reference B (POC 2 - 1 = 1): shown I, B, P.
        let units = [
            [h264_parameter_sets(), h264_slice(true, true, 0, None)].concat(),
            h264_slice(false, true, 1, None),
            h264_slice(false, false, 2, None),
        ];
        let (pts, keys) = pts_and_keys(&index_of(Syntax::H264, &units));
        assert_eq!(pts, [0, 2, 1]);
        assert_eq!(keys, [true, false, false]);
    }

    #[test]
    fn h264_field_pairs_are_one_frame_ranked_at_their_first_field() {
        let units = [
            [
                h264_parameter_sets(),
                h264_slice(true, true, 0, Some(false)),
            ]
            .concat(),
            h264_slice(true, true, 0, Some(true)),
            h264_slice(false, true, 1, Some(false)),
            h264_slice(false, true, 1, Some(true)),
            h264_slice(false, false, 2, Some(false)),
            h264_slice(false, false, 2, Some(true)),
        ];
        let (pts, keys) = pts_and_keys(&index_of(Syntax::H264, &units));
        assert_eq!(pts, [0, NOT_SHOWN, 2, NOT_SHOWN, 1, NOT_SHOWN]);
        assert_eq!(keys, [true, false, false, false, false, false]);
    }

    #[test]
    fn h264_slices_without_their_parameter_sets_are_not_shown() {
        let units = [
            h264_slice(false, true, 1, None),
            [h264_parameter_sets(), h264_slice(true, true, 0, None)].concat(),
        ];
        let (pts, keys) = pts_and_keys(&index_of(Syntax::H264, &units));
        assert_eq!(pts, [NOT_SHOWN, 0]);
        assert_eq!(keys, [false, true]);
    }

    fn hevc_parameter_sets() -> Vec<u8> {
        let sps = Bits::default()
            .u(4, 0)
            .u(3, 0)
            .u(1, 1)
            .u(96, 0)
            .ue(0)
            .ue(1)
            .ue(64)
            .ue(64)
            .u(1, 0)
            .ue(0)
            .ue(0)
            .ue(4)
            .nal(&[33 << 1, 1]);
        // pic_output_flag present.
        let pps = Bits::default()
            .ue(0)
            .ue(0)
            .u(1, 0)
            .u(1, 1)
            .u(3, 0)
            .nal(&[34 << 1, 1]);
        [sps, pps].concat()
    }

    fn hevc_slice(nal_type: u8, output: bool, poc_lsb: u64) -> Vec<u8> {
        let irap = (16..=23).contains(&nal_type);
        let mut bits = Bits::default().u(1, 1);
        if irap {
            bits = bits.u(1, 0);
        }
        bits = bits
            .ue(0)
            .ue(if irap { 2 } else { 1 })
            .u(1, u64::from(output));
        if !matches!(nal_type, 19 | 20) {
            bits = bits.u(8, poc_lsb);
        }
        bits.nal(&[nal_type << 1, 1])
    }

    #[test]
    fn hevc_output_flag_end_of_sequence_and_rasl_after_a_starting_cra() {
        let eos = vec![0, 0, 1, 36 << 1, 1];
        let units = [
            [hevc_parameter_sets(), hevc_slice(19, true, 0)].concat(),
            hevc_slice(1, false, 2), // pic_output_flag 0
            [hevc_slice(1, true, 1), eos].concat(),
            hevc_slice(21, true, 5), // CRA after EOS: NoRaslOutputFlag 1
            hevc_slice(8, true, 3),  // its RASL picture: not output
            hevc_slice(1, true, 6),
            hevc_slice(21, true, 12), // CRA mid-sequence: its RASL pictures are output
            hevc_slice(8, true, 10),
        ];
        let (pts, keys) = pts_and_keys(&index_of(Syntax::Hevc, &units));
        assert_eq!(pts, [0, NOT_SHOWN, 1, 2, NOT_SHOWN, 3, 5, 4]);
        assert_eq!(keys, [true, false, false, true, false, false, true, false]);
    }

    #[test]
    fn hevc_poc_msb_follows_lsb_wrapping() {
        // 8-bit lsb: 0, 100, 200, 44 (= 300), 250 (= 250, before 300).
        let units = [
            [hevc_parameter_sets(), hevc_slice(19, true, 0)].concat(),
            hevc_slice(1, true, 100),
            hevc_slice(1, true, 200),
            hevc_slice(1, true, 44),
            hevc_slice(1, true, 250),
        ];
        let (pts, _) = pts_and_keys(&index_of(Syntax::Hevc, &units));
        assert_eq!(pts, [0, 1, 2, 4, 3]);
    }
}
