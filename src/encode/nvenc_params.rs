//! [`EncoderConfig`] as NVENC parameters: the codec, preset and profile GUIDs, the tuning
//! and buffer-format enums, the overrides applied to the preset's `NV_ENC_CONFIG`,
//! `NV_ENC_INITIALIZE_PARAMS`, and the buffer-pool size. A pure translation: it reads the
//! config module (the profile rule included), which never imports this one.
//!
//! Invariant: nothing here calls the driver, so every rule of the translation is tested on
//! machines without a GPU. The session code only gathers what the GPU reports and applies
//! what these functions computed.

use nvcodec_media::InputFormat;
use nvidia_video_codec_sdk::sys::nvEncodeAPI::{
    GUID, NV_ENC_AV1_PROFILE_MAIN_GUID, NV_ENC_BFRAME_REF_MODE, NV_ENC_BUFFER_FORMAT,
    NV_ENC_CODEC_AV1_GUID, NV_ENC_CODEC_H264_GUID, NV_ENC_CODEC_HEVC_GUID,
    NV_ENC_H264_PROFILE_HIGH_444_GUID, NV_ENC_H264_PROFILE_HIGH_GUID,
    NV_ENC_HEVC_PROFILE_FREXT_GUID, NV_ENC_HEVC_PROFILE_MAIN_GUID, NV_ENC_HEVC_PROFILE_MAIN10_GUID,
    NV_ENC_INITIALIZE_PARAMS, NV_ENC_INITIALIZE_PARAMS_VER, NV_ENC_PARAMS_RC_MODE,
    NV_ENC_PRESET_P1_GUID, NV_ENC_PRESET_P2_GUID, NV_ENC_PRESET_P3_GUID, NV_ENC_PRESET_P4_GUID,
    NV_ENC_PRESET_P5_GUID, NV_ENC_PRESET_P6_GUID, NV_ENC_PRESET_P7_GUID, NV_ENC_QP,
    NV_ENC_TUNING_INFO, NVENC_INFINITE_GOPLENGTH,
};

use super::config::{EncoderConfig, INFINITE_GOP, Preset, Profile, RateControl, Tuning};
use crate::Codec;
use crate::error::{Error, Result};
use crate::ffi::nvenc::{CodecConfigMut, EncodeCodec, EncodeConfig};

/// The NVENC codec for a crate codec; decode-only codecs are an error.
pub(crate) fn encode_codec(codec: Codec) -> Result<EncodeCodec> {
    match codec {
        Codec::H264 => Ok(EncodeCodec::H264),
        Codec::Hevc => Ok(EncodeCodec::Hevc),
        Codec::Av1 => Ok(EncodeCodec::Av1),
        other => Err(Error::InvalidConfig {
            parameter: "codec",
            reason: format!("NVENC encodes H.264, HEVC and AV1; {other} is decode-only"),
        }),
    }
}

/// `NV_ENC_CODEC_*_GUID`.
pub(crate) fn codec_guid(codec: EncodeCodec) -> GUID {
    match codec {
        EncodeCodec::H264 => NV_ENC_CODEC_H264_GUID,
        EncodeCodec::Hevc => NV_ENC_CODEC_HEVC_GUID,
        EncodeCodec::Av1 => NV_ENC_CODEC_AV1_GUID,
    }
}

/// `NV_ENC_PRESET_P*_GUID`.
pub(crate) fn preset_guid(preset: Preset) -> GUID {
    match preset {
        Preset::P1 => NV_ENC_PRESET_P1_GUID,
        Preset::P2 => NV_ENC_PRESET_P2_GUID,
        Preset::P3 => NV_ENC_PRESET_P3_GUID,
        Preset::P4 => NV_ENC_PRESET_P4_GUID,
        Preset::P5 => NV_ENC_PRESET_P5_GUID,
        Preset::P6 => NV_ENC_PRESET_P6_GUID,
        Preset::P7 => NV_ENC_PRESET_P7_GUID,
    }
}

/// `NV_ENC_TUNING_INFO_*`.
pub(crate) fn tuning_info(tuning: Tuning) -> NV_ENC_TUNING_INFO {
    match tuning {
        Tuning::HighQuality => NV_ENC_TUNING_INFO::NV_ENC_TUNING_INFO_HIGH_QUALITY,
        Tuning::LowLatency => NV_ENC_TUNING_INFO::NV_ENC_TUNING_INFO_LOW_LATENCY,
        Tuning::UltraLowLatency => NV_ENC_TUNING_INFO::NV_ENC_TUNING_INFO_ULTRA_LOW_LATENCY,
        Tuning::Lossless => NV_ENC_TUNING_INFO::NV_ENC_TUNING_INFO_LOSSLESS,
    }
}

/// `NV_ENC_BUFFER_FORMAT_*` of an input layout.
pub(crate) fn buffer_format(format: InputFormat) -> NV_ENC_BUFFER_FORMAT {
    match format {
        InputFormat::Nv12 => NV_ENC_BUFFER_FORMAT::NV_ENC_BUFFER_FORMAT_NV12,
        InputFormat::P010 => NV_ENC_BUFFER_FORMAT::NV_ENC_BUFFER_FORMAT_YUV420_10BIT,
        InputFormat::Yuv444 => NV_ENC_BUFFER_FORMAT::NV_ENC_BUFFER_FORMAT_YUV444,
        InputFormat::Yuv444P10 => NV_ENC_BUFFER_FORMAT::NV_ENC_BUFFER_FORMAT_YUV444_10BIT,
        InputFormat::Argb => NV_ENC_BUFFER_FORMAT::NV_ENC_BUFFER_FORMAT_ARGB,
        // A layout this crate does not encode yet: `EncoderConfig::validate` refuses it before
        // any driver call, so this value never reaches NVENC.
        _ => NV_ENC_BUFFER_FORMAT::NV_ENC_BUFFER_FORMAT_UNDEFINED,
    }
}

/// The profile GUID for a config (see [`EncoderConfig::profile`]); `None` where NVENC API
/// 12.1 has no such profile or for decode-only codecs.
pub(crate) fn profile_guid(config: &EncoderConfig) -> Option<GUID> {
    Some(match config.profile()? {
        Profile::H264High => NV_ENC_H264_PROFILE_HIGH_GUID,
        Profile::H264High444 => NV_ENC_H264_PROFILE_HIGH_444_GUID,
        Profile::HevcMain => NV_ENC_HEVC_PROFILE_MAIN_GUID,
        Profile::HevcMain10 => NV_ENC_HEVC_PROFILE_MAIN10_GUID,
        Profile::HevcRext => NV_ENC_HEVC_PROFILE_FREXT_GUID,
        Profile::Av1Main => NV_ENC_AV1_PROFILE_MAIN_GUID,
    })
}

/// A readable name for a codec, preset or profile GUID (for error messages).
pub(crate) fn guid_name(guid: &GUID) -> String {
    const NAMES: [(GUID, &str); 16] = [
        (NV_ENC_CODEC_H264_GUID, "H.264"),
        (NV_ENC_CODEC_HEVC_GUID, "HEVC"),
        (NV_ENC_CODEC_AV1_GUID, "AV1"),
        (NV_ENC_PRESET_P1_GUID, "P1"),
        (NV_ENC_PRESET_P2_GUID, "P2"),
        (NV_ENC_PRESET_P3_GUID, "P3"),
        (NV_ENC_PRESET_P4_GUID, "P4"),
        (NV_ENC_PRESET_P5_GUID, "P5"),
        (NV_ENC_PRESET_P6_GUID, "P6"),
        (NV_ENC_PRESET_P7_GUID, "P7"),
        (NV_ENC_H264_PROFILE_HIGH_GUID, "H.264 High"),
        (NV_ENC_H264_PROFILE_HIGH_444_GUID, "H.264 High 4:4:4"),
        (NV_ENC_HEVC_PROFILE_MAIN_GUID, "HEVC Main"),
        (NV_ENC_HEVC_PROFILE_MAIN10_GUID, "HEVC Main 10"),
        (NV_ENC_HEVC_PROFILE_FREXT_GUID, "HEVC RExt"),
        (NV_ENC_AV1_PROFILE_MAIN_GUID, "AV1 Main"),
    ];
    NAMES
        .iter()
        .find(|(g, _)| g == guid)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| {
            let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02X}")).collect::<String>();
            format!(
                "{{{:08X}-{:04X}-{:04X}-{}-{}}}",
                guid.Data1,
                guid.Data2,
                guid.Data3,
                hex(&guid.Data4[..2]),
                hex(&guid.Data4[2..])
            )
        })
}

/// A readable name for a raw `NV_ENC_BUFFER_FORMAT` value.
pub(crate) fn buffer_format_name(raw: u32) -> String {
    use NV_ENC_BUFFER_FORMAT as F;
    let known = [
        (F::NV_ENC_BUFFER_FORMAT_NV12, "NV12"),
        (F::NV_ENC_BUFFER_FORMAT_YV12, "YV12"),
        (F::NV_ENC_BUFFER_FORMAT_IYUV, "IYUV"),
        (F::NV_ENC_BUFFER_FORMAT_YUV444, "YUV444"),
        (F::NV_ENC_BUFFER_FORMAT_YUV420_10BIT, "P010"),
        (F::NV_ENC_BUFFER_FORMAT_YUV444_10BIT, "YUV444 10-bit"),
        (F::NV_ENC_BUFFER_FORMAT_ARGB, "ARGB"),
        (F::NV_ENC_BUFFER_FORMAT_ARGB10, "ARGB10"),
        (F::NV_ENC_BUFFER_FORMAT_AYUV, "AYUV"),
        (F::NV_ENC_BUFFER_FORMAT_ABGR, "ABGR"),
        (F::NV_ENC_BUFFER_FORMAT_ABGR10, "ABGR10"),
        (F::NV_ENC_BUFFER_FORMAT_U8, "U8"),
    ];
    known
        .iter()
        .find(|(f, _)| *f as u32 == raw)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| format!("{raw:#x}"))
}

/// `(gopLength, frameIntervalP)` for a GOP length and B-frame count: intra-only is
/// `(1, 0)`; otherwise `frameIntervalP` is the distance between reference frames.
pub(crate) fn gop_structure(gop_length: u32, b_frames: u32) -> (u32, i32) {
    if gop_length == 1 {
        return (1, 0);
    }
    let gop = if gop_length == INFINITE_GOP {
        NVENC_INFINITE_GOPLENGTH
    } else {
        gop_length
    };
    // b_frames <= MAX_B_FRAMES (validated), so the cast cannot truncate.
    (gop, b_frames.min(16) as i32 + 1)
}

/// Applies `config` (validated) over the preset's configuration: profile, GOP and B-frame
/// structure, IDR period, rate control, chroma format and bit depth, and in-band stream
/// headers at every IDR (so every IDR starts a decodable stream).
pub(crate) fn apply_overrides(config: &EncoderConfig, nv: &mut EncodeConfig) {
    if let Some(profile) = profile_guid(config) {
        nv.set_profile(profile);
    }
    let (gop, interval_p) = gop_structure(config.gop_length, config.b_frames);
    nv.set_gop(gop, interval_p);

    let rc = nv.rc_mut();
    match config.rate_control {
        RateControl::Cqp { qp_i, qp_p, qp_b } => {
            rc.rateControlMode = NV_ENC_PARAMS_RC_MODE::NV_ENC_PARAMS_RC_CONSTQP;
            rc.constQP = NV_ENC_QP {
                qpInterP: qp_p.into(),
                qpInterB: qp_b.into(),
                qpIntra: qp_i.into(),
            };
            rc.averageBitRate = 0;
            rc.maxBitRate = 0;
        }
        RateControl::Vbr {
            bitrate,
            max_bitrate,
        } => {
            rc.rateControlMode = NV_ENC_PARAMS_RC_MODE::NV_ENC_PARAMS_RC_VBR;
            rc.averageBitRate = bitrate;
            rc.maxBitRate = max_bitrate;
        }
        RateControl::Cbr { bitrate } => {
            rc.rateControlMode = NV_ENC_PARAMS_RC_MODE::NV_ENC_PARAMS_RC_CBR;
            rc.averageBitRate = bitrate;
            rc.maxBitRate = bitrate;
        }
    }

    // B-frames as references in "middle" mode need at least two of them.
    let b_ref = if config.b_frames < 2 {
        Some(NV_ENC_BFRAME_REF_MODE::NV_ENC_BFRAME_REF_MODE_DISABLED)
    } else {
        None
    };
    let chroma_idc = if matches!(
        config.input_format,
        InputFormat::Yuv444 | InputFormat::Yuv444P10
    ) {
        3
    } else {
        1
    };
    let depth_minus8 = u32::from(config.input_format.bit_depth() - 8);
    let lossless = config.tuning == Tuning::Lossless;
    match nv.codec_config_mut() {
        CodecConfigMut::H264(h) => {
            h.idrPeriod = gop;
            h.set_repeatSPSPPS(1);
            h.chromaFormatIDC = chroma_idc;
            if lossless {
                h.set_qpPrimeYZeroTransformBypassFlag(1);
            }
            if let Some(mode) = b_ref {
                h.useBFramesAsRef = mode;
            }
        }
        CodecConfigMut::Hevc(h) => {
            h.idrPeriod = gop;
            h.set_repeatSPSPPS(1);
            h.set_chromaFormatIDC(chroma_idc);
            h.set_pixelBitDepthMinus8(depth_minus8);
            if let Some(mode) = b_ref {
                h.useBFramesAsRef = mode;
            }
        }
        CodecConfigMut::Av1(a) => {
            a.idrPeriod = gop;
            a.set_repeatSeqHdr(1);
            a.set_chromaFormatIDC(chroma_idc);
            a.set_inputPixelBitDepthMinus8(depth_minus8);
            a.set_pixelBitDepthMinus8(depth_minus8);
            if let Some(mode) = b_ref {
                a.useBFramesAsRef = mode;
            }
        }
    }
}

/// `NV_ENC_INITIALIZE_PARAMS` for `config` (validated); `encodeConfig` is filled in by the
/// FFI call. Synchronous mode (`enableEncodeAsync = 0`, the only mode on Linux) with
/// picture-type decision by the encoder (`enablePTD = 1`).
pub(crate) fn init_params(config: &EncoderConfig, codec: EncodeCodec) -> NV_ENC_INITIALIZE_PARAMS {
    NV_ENC_INITIALIZE_PARAMS {
        version: NV_ENC_INITIALIZE_PARAMS_VER,
        encodeGUID: codec_guid(codec),
        presetGUID: preset_guid(config.preset),
        encodeWidth: config.width,
        encodeHeight: config.height,
        darWidth: config.width,
        darHeight: config.height,
        // `EncoderConfig::validate` ensures both terms fit; saturating keeps this total.
        frameRateNum: u32::try_from(config.frame_rate.num).unwrap_or(u32::MAX),
        frameRateDen: u32::try_from(config.frame_rate.den).unwrap_or(u32::MAX),
        enableEncodeAsync: 0,
        enablePTD: 1,
        maxEncodeWidth: config.width,
        maxEncodeHeight: config.height,
        tuningInfo: tuning_info(config.tuning),
        bufferFormat: buffer_format(config.input_format),
        ..Default::default()
    }
}

/// Input/bitstream buffer pairs to allocate: every frame NVENC may hold back before
/// returning output (B-frames + the reference, plus lookahead) and one spare.
pub(crate) fn pool_size(b_frames: u32, lookahead_depth: u16) -> usize {
    (b_frames as usize + 1) + usize::from(lookahead_depth) + 1
}

/// The lookahead NVENC will use: none when disabled; the header's maximum (32) when a
/// preset enables it without a depth (the driver then picks one).
pub(crate) fn effective_lookahead(enabled: bool, depth: u16) -> u16 {
    match (enabled, depth) {
        (false, _) => 0,
        (true, 0) => 32,
        (true, depth) => depth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::nvenc::CodecConfig;
    use nvidia_video_codec_sdk::sys::nvEncodeAPI::{
        NV_ENC_CODEC_PROFILE_AUTOSELECT_GUID, NV_ENC_CONFIG_VER,
    };

    fn cfg(codec: Codec) -> EncoderConfig {
        EncoderConfig::new(codec, 1280, 720)
    }

    #[test]
    fn encode_codec_and_preset_guids_are_distinct_and_from_the_header() {
        assert_eq!(codec_guid(EncodeCodec::H264).Data1, 0x6bc8_2762);
        assert_eq!(codec_guid(EncodeCodec::Hevc).Data1, 0x790c_dc88);
        assert_eq!(codec_guid(EncodeCodec::Av1).Data1, 0x0a35_2289);
        let presets = [
            Preset::P1,
            Preset::P2,
            Preset::P3,
            Preset::P4,
            Preset::P5,
            Preset::P6,
            Preset::P7,
        ];
        let guids: Vec<GUID> = presets.iter().map(|&p| preset_guid(p)).collect();
        for (i, a) in guids.iter().enumerate() {
            assert_eq!(guid_name(a), format!("P{}", i + 1));
            for b in &guids[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(preset_guid(Preset::P1).Data1, 0xfc0a_8d3e);
        assert_eq!(preset_guid(Preset::P7).Data1, 0x8484_8c12);
        assert!(matches!(
            encode_codec(Codec::Vp9),
            Err(Error::InvalidConfig { .. })
        ));
        assert_eq!(encode_codec(Codec::Hevc).unwrap(), EncodeCodec::Hevc);
    }

    #[test]
    fn encode_tuning_and_buffer_formats_map_to_the_header_values() {
        assert_eq!(tuning_info(Tuning::HighQuality) as u32, 1);
        assert_eq!(tuning_info(Tuning::LowLatency) as u32, 2);
        assert_eq!(tuning_info(Tuning::UltraLowLatency) as u32, 3);
        assert_eq!(tuning_info(Tuning::Lossless) as u32, 4);
        assert_eq!(buffer_format(InputFormat::Nv12) as u32, 0x1);
        assert_eq!(buffer_format(InputFormat::Yuv444) as u32, 0x1000);
        assert_eq!(buffer_format(InputFormat::P010) as u32, 0x10000);
        assert_eq!(buffer_format(InputFormat::Argb) as u32, 0x0100_0000);
        assert_eq!(buffer_format_name(0x10000), "P010");
        assert_eq!(buffer_format_name(0x4000_0001), "0x40000001");
    }

    #[test]
    fn encode_profiles_follow_codec_depth_chroma_and_tuning() {
        let p = |codec, format, tuning| {
            profile_guid(&cfg(codec).with_input_format(format).with_tuning(tuning))
        };
        use InputFormat::*;
        use Tuning::*;
        assert_eq!(
            p(Codec::H264, Nv12, HighQuality),
            Some(NV_ENC_H264_PROFILE_HIGH_GUID)
        );
        assert_eq!(
            p(Codec::H264, Argb, LowLatency),
            Some(NV_ENC_H264_PROFILE_HIGH_GUID)
        );
        assert_eq!(
            p(Codec::H264, Yuv444, HighQuality),
            Some(NV_ENC_H264_PROFILE_HIGH_444_GUID)
        );
        assert_eq!(
            p(Codec::H264, Nv12, Lossless),
            Some(NV_ENC_H264_PROFILE_HIGH_444_GUID)
        );
        assert_eq!(p(Codec::H264, P010, HighQuality), None);
        assert_eq!(
            p(Codec::Hevc, Nv12, HighQuality),
            Some(NV_ENC_HEVC_PROFILE_MAIN_GUID)
        );
        assert_eq!(
            p(Codec::Hevc, Nv12, Lossless),
            Some(NV_ENC_HEVC_PROFILE_MAIN_GUID)
        );
        assert_eq!(
            p(Codec::Hevc, P010, HighQuality),
            Some(NV_ENC_HEVC_PROFILE_MAIN10_GUID)
        );
        assert_eq!(
            p(Codec::Hevc, Yuv444, HighQuality),
            Some(NV_ENC_HEVC_PROFILE_FREXT_GUID)
        );
        assert_eq!(
            p(Codec::Av1, Nv12, HighQuality),
            Some(NV_ENC_AV1_PROFILE_MAIN_GUID)
        );
        assert_eq!(
            p(Codec::Av1, P010, HighQuality),
            Some(NV_ENC_AV1_PROFILE_MAIN_GUID)
        );
        assert_eq!(p(Codec::Av1, Yuv444, HighQuality), None);
        assert_eq!(p(Codec::Vp9, Nv12, HighQuality), None);
        assert_eq!(guid_name(&NV_ENC_HEVC_PROFILE_MAIN10_GUID), "HEVC Main 10");
        assert_eq!(
            guid_name(&NV_ENC_CODEC_PROFILE_AUTOSELECT_GUID),
            "{BFD6F8E7-233C-4341-8B3E-4818523803F4}"
        );
    }

    #[test]
    fn encode_gop_structure_covers_intra_only_infinite_and_b_frames() {
        assert_eq!(gop_structure(1, 0), (1, 0));
        assert_eq!(gop_structure(60, 0), (60, 1));
        assert_eq!(gop_structure(60, 3), (60, 4));
        assert_eq!(
            gop_structure(INFINITE_GOP, 0),
            (NVENC_INFINITE_GOPLENGTH, 1)
        );
    }

    #[test]
    fn encode_cqp_and_gop_land_in_nv_enc_config() {
        let config = cfg(Codec::H264)
            .with_rate_control(RateControl::Cqp {
                qp_i: 20,
                qp_p: 22,
                qp_b: 24,
            })
            .with_gop_length(30)
            .with_b_frames(2);
        config.validate().unwrap();
        let mut nv = EncodeConfig::blank(EncodeCodec::H264);
        apply_overrides(&config, &mut nv);
        let raw = nv.get();
        assert_eq!(raw.version, NV_ENC_CONFIG_VER);
        assert_eq!(raw.gopLength, 30);
        assert_eq!(raw.frameIntervalP, 3);
        assert_eq!(raw.profileGUID, NV_ENC_H264_PROFILE_HIGH_GUID);
        assert_eq!(
            raw.rcParams.rateControlMode,
            NV_ENC_PARAMS_RC_MODE::NV_ENC_PARAMS_RC_CONSTQP
        );
        assert_eq!(
            (
                raw.rcParams.constQP.qpIntra,
                raw.rcParams.constQP.qpInterP,
                raw.rcParams.constQP.qpInterB
            ),
            (20, 22, 24)
        );
        let CodecConfig::H264(h) = nv.codec_config() else {
            panic!("H.264 config expected");
        };
        assert_eq!(h.idrPeriod, 30);
        assert_eq!(h.repeatSPSPPS(), 1);
        assert_eq!(h.chromaFormatIDC, 1);
        assert_eq!(h.qpPrimeYZeroTransformBypassFlag(), 0);
        // Two B-frames: the preset's B-reference mode is kept (blank = 0 here).
        assert_eq!(
            h.useBFramesAsRef,
            NV_ENC_BFRAME_REF_MODE::NV_ENC_BFRAME_REF_MODE_DISABLED
        );
    }

    #[test]
    fn encode_vbr_and_cbr_land_in_rc_params() {
        let mut nv = EncodeConfig::blank(EncodeCodec::Hevc);
        let vbr = cfg(Codec::Hevc).with_rate_control(RateControl::Vbr {
            bitrate: 4_000_000,
            max_bitrate: 6_000_000,
        });
        apply_overrides(&vbr, &mut nv);
        let rc = nv.get().rcParams;
        assert_eq!(
            rc.rateControlMode,
            NV_ENC_PARAMS_RC_MODE::NV_ENC_PARAMS_RC_VBR
        );
        assert_eq!((rc.averageBitRate, rc.maxBitRate), (4_000_000, 6_000_000));

        let cbr = cfg(Codec::Hevc).with_rate_control(RateControl::Cbr { bitrate: 2_500_000 });
        apply_overrides(&cbr, &mut nv);
        let rc = nv.get().rcParams;
        assert_eq!(
            rc.rateControlMode,
            NV_ENC_PARAMS_RC_MODE::NV_ENC_PARAMS_RC_CBR
        );
        assert_eq!((rc.averageBitRate, rc.maxBitRate), (2_500_000, 2_500_000));

        // Back to CQP clears the bitrates.
        apply_overrides(&cfg(Codec::Hevc), &mut nv);
        let rc = nv.get().rcParams;
        assert_eq!(
            rc.rateControlMode,
            NV_ENC_PARAMS_RC_MODE::NV_ENC_PARAMS_RC_CONSTQP
        );
        assert_eq!((rc.averageBitRate, rc.maxBitRate), (0, 0));
        assert_eq!(rc.constQP.qpIntra, 23);
    }

    #[test]
    fn encode_b_frame_reference_mode_is_disabled_below_two_b_frames() {
        let mut nv = EncodeConfig::blank(EncodeCodec::Hevc);
        if let CodecConfigMut::Hevc(h) = nv.codec_config_mut() {
            h.useBFramesAsRef = NV_ENC_BFRAME_REF_MODE::NV_ENC_BFRAME_REF_MODE_MIDDLE;
        }
        apply_overrides(&cfg(Codec::Hevc).with_b_frames(3), &mut nv);
        let CodecConfig::Hevc(h) = nv.codec_config() else {
            panic!("HEVC config expected");
        };
        assert_eq!(
            h.useBFramesAsRef,
            NV_ENC_BFRAME_REF_MODE::NV_ENC_BFRAME_REF_MODE_MIDDLE
        );
        apply_overrides(&cfg(Codec::Hevc).with_b_frames(1), &mut nv);
        let CodecConfig::Hevc(h) = nv.codec_config() else {
            panic!("HEVC config expected");
        };
        assert_eq!(
            h.useBFramesAsRef,
            NV_ENC_BFRAME_REF_MODE::NV_ENC_BFRAME_REF_MODE_DISABLED
        );
        assert_eq!(nv.get().frameIntervalP, 2);
    }

    #[test]
    fn encode_hevc_main10_444_and_av1_10bit_set_depth_and_chroma() {
        let mut nv = EncodeConfig::blank(EncodeCodec::Hevc);
        apply_overrides(
            &cfg(Codec::Hevc).with_input_format(InputFormat::P010),
            &mut nv,
        );
        let CodecConfig::Hevc(h) = nv.codec_config() else {
            panic!("HEVC config expected");
        };
        assert_eq!((h.pixelBitDepthMinus8(), h.chromaFormatIDC()), (2, 1));
        assert_eq!(h.repeatSPSPPS(), 1);
        assert_eq!(h.idrPeriod, 60);
        assert_eq!(nv.get().profileGUID, NV_ENC_HEVC_PROFILE_MAIN10_GUID);

        apply_overrides(
            &cfg(Codec::Hevc).with_input_format(InputFormat::Yuv444),
            &mut nv,
        );
        let CodecConfig::Hevc(h) = nv.codec_config() else {
            panic!("HEVC config expected");
        };
        assert_eq!((h.pixelBitDepthMinus8(), h.chromaFormatIDC()), (0, 3));
        assert_eq!(nv.get().profileGUID, NV_ENC_HEVC_PROFILE_FREXT_GUID);

        let mut av1 = EncodeConfig::blank(EncodeCodec::Av1);
        apply_overrides(
            &cfg(Codec::Av1)
                .with_input_format(InputFormat::P010)
                .with_gop_length(INFINITE_GOP),
            &mut av1,
        );
        let CodecConfig::Av1(a) = av1.codec_config() else {
            panic!("AV1 config expected");
        };
        assert_eq!(
            (a.inputPixelBitDepthMinus8(), a.pixelBitDepthMinus8()),
            (2, 2)
        );
        assert_eq!((a.chromaFormatIDC(), a.repeatSeqHdr()), (1, 1));
        assert_eq!(a.idrPeriod, NVENC_INFINITE_GOPLENGTH);
        assert_eq!(av1.get().gopLength, NVENC_INFINITE_GOPLENGTH);
        assert_eq!(av1.get().frameIntervalP, 1);
    }

    #[test]
    fn encode_h264_lossless_sets_the_transform_bypass_and_444_profile() {
        let config = cfg(Codec::H264)
            .with_tuning(Tuning::Lossless)
            .with_rate_control(RateControl::LOSSLESS);
        config.validate().unwrap();
        let mut nv = EncodeConfig::blank(EncodeCodec::H264);
        apply_overrides(&config, &mut nv);
        let CodecConfig::H264(h) = nv.codec_config() else {
            panic!("H.264 config expected");
        };
        assert_eq!(h.qpPrimeYZeroTransformBypassFlag(), 1);
        assert_eq!(nv.get().profileGUID, NV_ENC_H264_PROFILE_HIGH_444_GUID);
        let qp = nv.get().rcParams.constQP;
        assert_eq!((qp.qpIntra, qp.qpInterP, qp.qpInterB), (0, 0, 0));
    }

    #[test]
    fn encode_init_params_carry_size_rate_preset_and_tuning() {
        let config = cfg(Codec::Av1)
            .with_frame_rate(30_000, 1001)
            .with_preset(Preset::P6)
            .with_tuning(Tuning::LowLatency)
            .with_input_format(InputFormat::Argb);
        let p = init_params(&config, EncodeCodec::Av1);
        assert_eq!(p.version, NV_ENC_INITIALIZE_PARAMS_VER);
        assert_eq!(p.encodeGUID, NV_ENC_CODEC_AV1_GUID);
        assert_eq!(p.presetGUID, NV_ENC_PRESET_P6_GUID);
        assert_eq!((p.encodeWidth, p.encodeHeight), (1280, 720));
        assert_eq!((p.darWidth, p.darHeight), (1280, 720));
        assert_eq!((p.maxEncodeWidth, p.maxEncodeHeight), (1280, 720));
        assert_eq!((p.frameRateNum, p.frameRateDen), (30_000, 1001));
        assert_eq!((p.enableEncodeAsync, p.enablePTD), (0, 1));
        assert_eq!(
            p.tuningInfo,
            NV_ENC_TUNING_INFO::NV_ENC_TUNING_INFO_LOW_LATENCY
        );
        assert_eq!(
            p.bufferFormat,
            NV_ENC_BUFFER_FORMAT::NV_ENC_BUFFER_FORMAT_ARGB
        );
        assert!(p.encodeConfig.is_null());
    }

    #[test]
    fn encode_pool_holds_every_frame_nvenc_may_hold_back() {
        assert_eq!(pool_size(0, 0), 2);
        assert_eq!(pool_size(3, 0), 5);
        assert_eq!(pool_size(4, 16), 22);
        assert_eq!(effective_lookahead(false, 8), 0);
        assert_eq!(effective_lookahead(true, 8), 8);
        assert_eq!(effective_lookahead(true, 0), 32);
    }
}
