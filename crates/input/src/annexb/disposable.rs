//! [`Disposable`]: which samples random access may leave out: pictures that no other picture references, and
//! that nobody asked for. Decoding them only to throw them away costs an NVDEC engine as much
//! as a wanted frame; a stream with two B-frames per reference frame (x264's default) has a
//! third of its pictures like that.
//!
//! Invariant: a sample is called disposable only when every picture in it is certainly a
//! non-reference picture that no later picture can use, by syntax the standard guarantees:
//! - **H.264**: every slice has `nal_ref_idc == 0`, and the stream's SPS, seen in this run,
//!   says `frame_mbs_only_flag` (a non-reference field could otherwise be the second half of
//!   a wanted frame);
//! - **HEVC**: every slice is a sub-layer non-reference picture (`TRAIL_N`, `TSA_N`,
//!   `STSA_N`, `RADL_N`, `RASL_N`) of the highest temporal sub-layer the SPS, seen in this run,
//!   allows (a lower one may be referenced by pictures of higher sub-layers).
//!
//! Anything else (other codecs, no SPS seen yet, unparsable bytes) is fed. Leaving out such
//! pictures changes nothing for the pictures that remain: H.264 `frame_num` only counts
//! reference pictures and HEVC derives picture order from the previous `TemporalId` 0
//! picture that is not a sub-layer non-reference one, as ffmpeg's `-skip_frame nonref` relies
//! on too.

use super::index::{h264_sps_frames_only, hevc_base_layer_nal_units, hevc_sps_top_temporal_id};
use crate::Codec;
use crate::start_code;

/// Tells, sample by sample, which H.264/HEVC samples no other picture references: the ones
/// a random-access decode may leave out when nobody asked for their frames.
///
/// One value follows one run of samples in decode order (from a key frame on), learning from
/// the parameter sets it sees. The rule and why it is safe are in the module's source docs:
/// a sample is disposable only when every picture in it is certainly a non-reference picture
/// (H.264 `nal_ref_idc == 0` in a frames-only stream; HEVC sub-layer non-reference pictures
/// of the highest temporal sub-layer). Anything else, other codecs included, is kept.
///
/// # Examples
/// ```
/// use nvcodec_input::{Codec, annexb::Disposable};
/// let mut run = Disposable::new(Codec::Vp9);
/// assert!(!run.check(&[0, 0, 1, 0x65]), "only H.264 and HEVC samples are ever left out");
/// ```
#[derive(Debug, Clone)]
pub struct Disposable {
    codec: Codec,
    /// H.264: every SPS seen in this run codes frames only. HEVC: unused.
    frames_only: Option<bool>,
    /// HEVC: the highest temporal id the last SPS allows.
    top_temporal_id: Option<u8>,
}

impl Disposable {
    /// The state at the start of a run of `codec`'s samples.
    pub fn new(codec: Codec) -> Self {
        Self {
            codec,
            frames_only: None,
            top_temporal_id: None,
        }
    }

    /// Looks at the next sample (Annex-B), learning from its parameter sets, and says whether
    /// it can be left out if nobody wants its frame.
    pub fn check(&mut self, sample: &[u8]) -> bool {
        match self.codec {
            Codec::H264 => self.check_h264(sample),
            Codec::Hevc => self.check_hevc(sample),
            _ => false,
        }
    }

    fn check_h264(&mut self, sample: &[u8]) -> bool {
        let (mut slices, mut all_non_ref) = (0usize, true);
        for nal in start_code::units(sample) {
            let Some(&header) = nal.first() else { continue };
            match header & 0x1f {
                7 => {
                    let frames_only = h264_sps_frames_only(nal.get(1..).unwrap_or(&[]));
                    self.frames_only = match (self.frames_only, frames_only) {
                        (Some(false), _) | (_, None | Some(false)) => Some(false),
                        _ => Some(true),
                    };
                }
                1 | 5 => {
                    slices += 1;
                    all_non_ref &= header & 0x60 == 0 && header & 0x1f == 1;
                }
                _ => {}
            }
        }
        slices > 0 && all_non_ref && self.frames_only == Some(true)
    }

    fn check_hevc(&mut self, sample: &[u8]) -> bool {
        let (mut slices, mut all_droppable) = (0usize, true);
        for (nal_type, tid_plus1, payload) in hevc_base_layer_nal_units(sample) {
            match nal_type {
                33 => self.top_temporal_id = hevc_sps_top_temporal_id(payload),
                0..=31 => {
                    slices += 1;
                    let non_ref = matches!(nal_type, 0 | 2 | 4 | 6 | 8);
                    let top = self
                        .top_temporal_id
                        .is_some_and(|t| tid_plus1.checked_sub(1) == Some(t));
                    all_droppable &= non_ref && top;
                }
                _ => {}
            }
        }
        slices > 0 && all_droppable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An H.264 baseline SPS (profile 66, level 30, id 0, log2_max_frame_num 4, POC type 2,
    /// 1 ref frame, 320x240) with `frame_mbs_only_flag` as given.
    fn h264_sps(frames_only: bool) -> Vec<u8> {
        // Bits after profile/constraints/level: ue(0)=1, ue(0)=1 (log2_max_frame_num-4),
        // ue(2)=011 (poc type 2), ue(1)=010 (refs), 0 (gaps), ue(19)=000010100 (width-1 in
        // MBs), ue(14)=0001111 (height-1 in map units), frame_mbs_only, then stop bit.
        let bits = format!(
            "1 1 011 010 0 000010100 0001111 {} 1",
            if frames_only { 1 } else { 0 }
        );
        let bits: String = bits.split_whitespace().collect();
        let mut bytes = vec![0x67, 66, 0, 30];
        let padded = format!("{bits:0<width$}", width = bits.len().div_ceil(8) * 8);
        for chunk in padded.as_bytes().chunks(8) {
            bytes.push(u8::from_str_radix(std::str::from_utf8(chunk).unwrap(), 2).unwrap());
        }
        bytes
    }

    fn annexb(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter()
            .flat_map(|n| [&[0, 0, 0, 1][..], n].concat())
            .collect()
    }

    #[test]
    fn an_h264_non_reference_frame_is_disposable_once_the_sps_rules_out_fields() {
        let mut d = Disposable::new(Codec::H264);
        let non_ref_slice: &[u8] = &[0x01, 0x9a, 0x00];
        // No SPS seen yet: fed.
        assert!(!d.check(&annexb(&[non_ref_slice])));
        assert!(
            !d.check(&annexb(&[&h264_sps(true), &[0x65, 0x88]])),
            "an IDR is kept"
        );
        assert!(d.check(&annexb(&[non_ref_slice, non_ref_slice])));
        assert!(!d.check(&annexb(&[&[0x41, 0x9a]])), "nal_ref_idc 2 is kept");
        assert!(
            !d.check(&annexb(&[non_ref_slice, &[0x21, 0x9a]])),
            "one reference slice keeps it"
        );
        assert!(!d.check(&annexb(&[&[0x09, 0xf0]])), "no slice: kept");
    }

    #[test]
    fn h264_that_may_code_fields_is_never_left_out() {
        let mut d = Disposable::new(Codec::H264);
        assert!(!d.check(&annexb(&[&h264_sps(false), &[0x01, 0x9a]])));
        assert!(!d.check(&annexb(&[&[0x01, 0x9a]])));
    }

    /// An HEVC SPS NAL whose first payload byte gives `max_sub_layers_minus1`.
    fn hevc_sps(max_sub_layers_minus1: u8) -> Vec<u8> {
        vec![33 << 1, 1, ((max_sub_layers_minus1 & 7) << 1) | 1, 0xff]
    }

    fn hevc_slice(nal_type: u8, tid: u8) -> Vec<u8> {
        vec![nal_type << 1, tid + 1, 0xaf]
    }

    #[test]
    fn an_hevc_sub_layer_non_reference_picture_of_the_top_layer_is_disposable() {
        let mut d = Disposable::new(Codec::Hevc);
        assert!(!d.check(&annexb(&[&hevc_slice(0, 0)])), "no SPS seen yet");
        assert!(
            !d.check(&annexb(&[&hevc_sps(0), &hevc_slice(19, 0)])),
            "IDR kept"
        );
        assert!(d.check(&annexb(&[&hevc_slice(0, 0)])), "TRAIL_N");
        assert!(!d.check(&annexb(&[&hevc_slice(1, 0)])), "TRAIL_R kept");
        assert!(d.check(&annexb(&[&hevc_slice(8, 0)])), "RASL_N");
    }

    #[test]
    fn an_hevc_non_reference_picture_below_the_top_sub_layer_is_kept() {
        let mut d = Disposable::new(Codec::Hevc);
        assert!(!d.check(&annexb(&[&hevc_sps(2), &hevc_slice(19, 0)])));
        assert!(
            !d.check(&annexb(&[&hevc_slice(0, 1)])),
            "sub-layer 1 of 0..=2"
        );
        assert!(d.check(&annexb(&[&hevc_slice(0, 2)])));
    }

    #[test]
    fn other_codecs_and_garbage_are_always_fed() {
        assert!(!Disposable::new(Codec::Vp9).check(&[0x86, 0, 0]));
        let mut d = Disposable::new(Codec::H264);
        for n in 0u32..4096 {
            let b = n.to_le_bytes();
            let _ = d.check(&[0, 0, 1, b[0], b[1]]);
        }
    }
}
