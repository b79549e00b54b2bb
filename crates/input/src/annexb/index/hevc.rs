//! HEVC picture order: the SPS, PPS and first-slice-segment fields POC derivation needs
//! (ITU-T H.265 §8.3.1).
//!
//! Invariant: every field is read through a bounds-checked [`BitReader`]; a unit too short
//! or out of range is ignored, never a panic.

use super::{BitReader, IndexedPicture, hevc_base_layer_nal_units};

/// The SPS fields POC derivation needs.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct HevcSps {
    separate_colour_plane: bool,
    log2_max_poc_lsb: u32,
}

/// The PPS fields the slice header's first fields need.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct HevcPps {
    sps_id: u8,
    output_flag_present: bool,
    num_extra_slice_header_bits: u32,
}

pub(super) const HEVC_MAX_SPS: usize = 16;
pub(super) const HEVC_MAX_PPS: usize = 64;

/// HEVC POC state (8.3.1) across access units.
#[derive(Debug)]
pub(super) struct HevcOrder {
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
pub(super) fn skip_profile_tier_level(
    r: &mut BitReader<'_>,
    max_sub_layers_minus1: u64,
) -> Option<()> {
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

pub(super) fn parse_hevc_sps(r: &mut BitReader<'_>) -> Option<(usize, HevcSps)> {
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

pub(super) fn parse_hevc_pps(r: &mut BitReader<'_>) -> Option<(usize, HevcPps)> {
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
pub(super) fn parse_hevc_first_slice(
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
    pub(super) fn heap_bytes(&self) -> usize {
        self.pps.capacity() * std::mem::size_of::<Option<HevcPps>>()
    }

    pub(super) fn access_unit(&mut self, au: &[u8]) -> IndexedPicture {
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

/// The highest temporal id an HEVC SPS allows (`sps_max_sub_layers_minus1`; `payload`: the
/// NAL unit after its two header bytes); `None` when it cannot be parsed.
pub(crate) fn hevc_sps_top_temporal_id(payload: &[u8]) -> Option<u8> {
    let mut r = BitReader::new(payload);
    r.skip(4)?; // sps_video_parameter_set_id
    u8::try_from(r.bits(3)?).ok().filter(|&t| t <= 6)
}
