//! What the GPU's NVENC reports it can do, and the check of a config against it.
//!
//! Invariant: a config the hardware cannot encode fails at open with
//! [`Error::Unsupported`] naming what was asked and what the GPU offers, never later in
//! `NvEncInitializeEncoder` with a bare `NV_ENC_ERR_INVALID_PARAM`. The decision is a pure
//! function of the reported values, tested without a GPU.

use nvcodec_media::InputFormat;
use nvidia_video_codec_sdk::sys::nvEncodeAPI::{GUID, NV_ENC_CAPS};

use super::config::{EncoderConfig, Tuning};
use super::nvenc_params::{buffer_format, buffer_format_name, codec_guid, guid_name, preset_guid};
use crate::driver::nvenc_session::SessionHandle;
use crate::error::{Error, Result};
use crate::ffi::nvenc::EncodeCodec;

/// What one GPU reports for one codec (only what the config needs is asked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reported {
    pub(crate) codecs: Vec<GUID>,
    pub(crate) presets: Vec<GUID>,
    /// Raw `NV_ENC_BUFFER_FORMAT` values.
    pub(crate) input_formats: Vec<u32>,
    pub(crate) width_max: i32,
    pub(crate) height_max: i32,
    pub(crate) max_b_frames: i32,
    pub(crate) lossless: bool,
    pub(crate) yuv444: bool,
    pub(crate) ten_bit: bool,
}

/// Asks the session what its GPU can do for `codec`. The codec list comes first: for a
/// codec the GPU lacks, the per-codec queries are skipped.
pub(crate) fn query(session: &SessionHandle, codec: EncodeCodec) -> Result<Reported> {
    let guid = codec_guid(codec);
    let codecs = session.encode_guids()?;
    if !codecs.contains(&guid) {
        return Ok(Reported {
            codecs,
            ..Reported::default()
        });
    }
    let cap = |c| session.cap(guid, c);
    Ok(Reported {
        presets: session.preset_guids(guid)?,
        input_formats: session.input_formats(guid)?,
        width_max: cap(NV_ENC_CAPS::NV_ENC_CAPS_WIDTH_MAX)?,
        height_max: cap(NV_ENC_CAPS::NV_ENC_CAPS_HEIGHT_MAX)?,
        max_b_frames: cap(NV_ENC_CAPS::NV_ENC_CAPS_NUM_MAX_BFRAMES)?,
        lossless: cap(NV_ENC_CAPS::NV_ENC_CAPS_SUPPORT_LOSSLESS_ENCODE)? != 0,
        yuv444: cap(NV_ENC_CAPS::NV_ENC_CAPS_SUPPORT_YUV444_ENCODE)? != 0,
        ten_bit: cap(NV_ENC_CAPS::NV_ENC_CAPS_SUPPORT_10BIT_ENCODE)? != 0,
        codecs,
    })
}

fn names(guids: &[GUID]) -> String {
    if guids.is_empty() {
        return "none".into();
    }
    guids.iter().map(guid_name).collect::<Vec<_>>().join(", ")
}

/// Checks `config` (validated) against what `device` reported for `codec`.
pub(crate) fn check(
    config: &EncoderConfig,
    codec: EncodeCodec,
    device: &str,
    reported: &Reported,
) -> Result<()> {
    let unsupported = |what: String, supported: String| Err(Error::Unsupported { what, supported });
    if !reported.codecs.contains(&codec_guid(codec)) {
        return unsupported(
            format!("{} encoding on {device}", config.codec),
            format!("codecs: {}", names(&reported.codecs)),
        );
    }
    let preset = preset_guid(config.preset);
    if !reported.presets.contains(&preset) {
        return unsupported(
            format!(
                "preset {:?} for {} on {device}",
                config.preset, config.codec
            ),
            format!("presets: {}", names(&reported.presets)),
        );
    }
    let format = buffer_format(config.input_format) as u32;
    if !reported.input_formats.contains(&format) {
        let formats: Vec<String> = reported
            .input_formats
            .iter()
            .map(|&f| buffer_format_name(f))
            .collect();
        return unsupported(
            format!(
                "{:?} input for {} on {device}",
                config.input_format, config.codec
            ),
            format!("input formats: {}", formats.join(", ")),
        );
    }
    let fits = |size: u32, max: i32| i64::from(size) <= i64::from(max);
    if !fits(config.width, reported.width_max) || !fits(config.height, reported.height_max) {
        return unsupported(
            format!(
                "{}x{} {} encoding on {device}",
                config.width, config.height, config.codec
            ),
            format!(
                "up to {}x{} (NV_ENC_CAPS_WIDTH_MAX/HEIGHT_MAX)",
                reported.width_max, reported.height_max
            ),
        );
    }
    if config.b_frames > 0 && i64::from(config.b_frames) > i64::from(reported.max_b_frames) {
        return unsupported(
            format!(
                "{} B-frames for {} on {device}",
                config.b_frames, config.codec
            ),
            format!(
                "at most {} (NV_ENC_CAPS_NUM_MAX_BFRAMES)",
                reported.max_b_frames.max(0)
            ),
        );
    }
    let needs = [
        (
            config.tuning == Tuning::Lossless,
            reported.lossless,
            "lossless",
        ),
        (
            matches!(
                config.input_format,
                InputFormat::Yuv444 | InputFormat::Yuv444P10
            ),
            reported.yuv444,
            "4:4:4",
        ),
        (
            matches!(
                config.input_format,
                InputFormat::P010 | InputFormat::Yuv444P10
            ),
            reported.ten_bit,
            "10-bit",
        ),
    ];
    for (needed, available, what) in needs {
        if needed && !available {
            return unsupported(
                format!("{what} {} encoding on {device}", config.codec),
                format!("{} without {what}", config.codec),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Codec;
    use crate::encode::Preset;
    use crate::encode::config::RateControl;
    use crate::encode::nvenc_params::preset_guid;

    fn turing_hevc() -> Reported {
        Reported {
            codecs: vec![codec_guid(EncodeCodec::H264), codec_guid(EncodeCodec::Hevc)],
            presets: [Preset::P1, Preset::P4, Preset::P7]
                .map(preset_guid)
                .to_vec(),
            input_formats: vec![
                buffer_format(InputFormat::Nv12) as u32,
                buffer_format(InputFormat::P010) as u32,
                0x4000_0001,
            ],
            width_max: 8192,
            height_max: 8192,
            max_b_frames: 4,
            lossless: true,
            yuv444: false,
            ten_bit: true,
        }
    }

    #[test]
    fn encode_caps_accept_what_the_gpu_reports() {
        let config = EncoderConfig::new(Codec::Hevc, 3840, 2160).with_b_frames(3);
        check(&config, EncodeCodec::Hevc, "GPU", &turing_hevc()).unwrap();
    }

    #[test]
    fn encode_caps_reject_with_what_is_supported() {
        let r = turing_hevc();
        let cases = [
            (
                EncoderConfig::new(Codec::Av1, 640, 360),
                "av1 encoding",
                "codecs: H.264, HEVC",
            ),
            (
                EncoderConfig::new(Codec::Hevc, 640, 360).with_preset(Preset::P5),
                "preset P5",
                "presets: P1, P4, P7",
            ),
            (
                EncoderConfig::new(Codec::Hevc, 640, 360).with_input_format(InputFormat::Argb),
                "Argb input",
                "NV12, P010, 0x40000001",
            ),
            (
                EncoderConfig::new(Codec::Hevc, 16_384, 360),
                "16384x360",
                "up to 8192x8192",
            ),
            (
                EncoderConfig::new(Codec::Hevc, 640, 360)
                    .with_tuning(Tuning::Lossless)
                    .with_rate_control(RateControl::LOSSLESS),
                "lossless",
                "",
            ),
        ];
        for (config, what, supported) in cases {
            let codec = crate::encode::nvenc_params::encode_codec(config.codec).unwrap();
            let err = check(&config, codec, "NVIDIA T4", &r);
            let ok_lossless = config.tuning == Tuning::Lossless;
            if ok_lossless {
                assert!(err.is_ok(), "lossless is reported supported");
                continue;
            }
            let err = err.unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
            assert!(text.contains(what) && text.contains(supported), "{text}");
            assert!(text.contains("NVIDIA T4"), "{text}");
        }
    }

    #[test]
    fn encode_caps_reject_missing_b_frames_444_and_10_bit() {
        let mut r = turing_hevc();
        r.max_b_frames = 0;
        r.ten_bit = false;
        let b = EncoderConfig::new(Codec::Hevc, 640, 360).with_b_frames(2);
        let err = check(&b, EncodeCodec::Hevc, "GPU", &r).unwrap_err();
        assert!(err.to_string().contains("at most 0"), "{err}");
        let p010 = EncoderConfig::new(Codec::Hevc, 640, 360).with_input_format(InputFormat::P010);
        let err = check(&p010, EncodeCodec::Hevc, "GPU", &r).unwrap_err();
        assert!(err.to_string().contains("10-bit"), "{err}");
        r.input_formats
            .push(buffer_format(InputFormat::Yuv444) as u32);
        let yuv = EncoderConfig::new(Codec::Hevc, 640, 360).with_input_format(InputFormat::Yuv444);
        let err = check(&yuv, EncodeCodec::Hevc, "GPU", &r).unwrap_err();
        assert!(err.to_string().contains("4:4:4"), "{err}");
    }
}
