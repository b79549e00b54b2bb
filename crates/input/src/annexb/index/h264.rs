//! H.264 picture order: the SPS, PPS and slice-header fields POC derivation needs, and the
//! three `pic_order_cnt_type` rules (ITU-T H.264 §8.2.1).
//!
//! Invariant: every field is read through a bounds-checked [`BitReader`]; a unit too short
//! or out of range is ignored (the picture keeps the POC state it had), never a panic.

use super::{BitReader, IndexedPicture, start_code};

/// The SPS fields POC derivation needs.
#[derive(Debug, Clone, Default)]
pub(super) struct H264Sps {
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
pub(super) struct H264Pps {
    sps_id: u8,
    bottom_field_pic_order_in_frame_present: bool,
}

/// The slice-header fields POC derivation needs.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct H264Slice {
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

pub(super) const H264_MAX_SPS: usize = 32;
pub(super) const H264_MAX_PPS: usize = 256;

/// H.264 POC state (8.2.1) across access units.
#[derive(Debug, Default)]
pub(super) struct H264Order {
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
pub(super) fn h264_high_profile(profile_idc: u64) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

pub(super) fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Option<()> {
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

pub(super) fn parse_h264_sps(r: &mut BitReader<'_>) -> Option<(usize, H264Sps)> {
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

pub(super) fn parse_h264_pps(r: &mut BitReader<'_>) -> Option<(usize, H264Pps)> {
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
pub(super) fn h264_recovery_point_zero(payload: &[u8]) -> bool {
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
    pub(super) fn heap_bytes(&self) -> usize {
        let sps: usize = self
            .sps
            .iter()
            .flatten()
            .map(|s| s.ref_frame_offset_sums.capacity() * 8)
            .sum();
        sps + self.sps.capacity() * std::mem::size_of::<Option<H264Sps>>()
            + self.pps.capacity() * std::mem::size_of::<Option<H264Pps>>()
    }

    pub(super) fn store_sps(&mut self, payload: &[u8]) {
        if let Some((id, sps)) = parse_h264_sps(&mut BitReader::new(payload)) {
            if self.sps.is_empty() {
                self.sps.resize(H264_MAX_SPS, None);
            }
            if let Some(slot) = self.sps.get_mut(id) {
                *slot = Some(sps);
            }
        }
    }

    pub(super) fn store_pps(&mut self, payload: &[u8]) {
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
    pub(super) fn parse_slice(
        &self,
        payload: &[u8],
        nal_ref_idc: u8,
        idr: bool,
    ) -> Option<(H264Slice, u8)> {
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

    pub(super) fn access_unit(&mut self, au: &[u8]) -> IndexedPicture {
        let mut recovery_zero = false;
        let mut slice = None;
        for nal in start_code::units(au) {
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
    pub(super) fn poc(&mut self, s: &H264Slice, sps: &H264Sps) -> i64 {
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
