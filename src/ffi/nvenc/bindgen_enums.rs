//! The two hazards of the bindgen enums, handled once: enum fields the driver writes
//! ([`unknown_enum`] finds values the 12.1 header does not define before the bytes become a
//! Rust value), and enums without a zero value ([`pic_params`], [`lock_bitstream_params`]
//! build the structs holding them with those fields set). Also [`EncodeCodec`], the codec
//! whose union member of `NV_ENC_CONFIG` is live.
//!
//! Split from [`super::result`] to keep every FFI file under 800 lines; imports point one
//! way, `result` → `bindgen_enums`.

use std::mem::MaybeUninit;

use nvidia_video_codec_sdk::sys::nvEncodeAPI::{
    NV_ENC_CONFIG, NV_ENC_LOCK_BITSTREAM, NV_ENC_LOCK_BITSTREAM_VER, NV_ENC_PIC_PARAMS,
    NV_ENC_PIC_PARAMS_VER, NV_ENC_PIC_STRUCT,
};

/// The codecs NVENC encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EncodeCodec {
    H264,
    Hevc,
    Av1,
}

/// A zeroed `NV_ENC_PIC_PARAMS` with its version and a valid picture structure.
pub(super) fn pic_params() -> NV_ENC_PIC_PARAMS {
    let mut params = MaybeUninit::<NV_ENC_PIC_PARAMS>::zeroed();
    let p = params.as_mut_ptr();
    // SAFETY: `p` points to the zeroed local; the two fields are written in place. Every
    // other field is valid as zero: integers, null pointers, a union, and enums
    // (`NV_ENC_BUFFER_FORMAT`, `NV_ENC_PIC_TYPE`, `NV_ENC_DISPLAY_PIC_STRUCT`) that define 0.
    // `pictureStruct` starts at 1, so it is set before the value is assumed initialized.
    unsafe {
        (&raw mut (*p).version).write(NV_ENC_PIC_PARAMS_VER);
        (&raw mut (*p).pictureStruct).write(NV_ENC_PIC_STRUCT::NV_ENC_PIC_STRUCT_FRAME);
        params.assume_init()
    }
}

/// A zeroed `NV_ENC_LOCK_BITSTREAM` with its version and a valid picture structure
/// (`doNotWait` = 0: the lock blocks until the picture is encoded).
pub(super) fn lock_bitstream_params() -> NV_ENC_LOCK_BITSTREAM {
    let mut params = MaybeUninit::<NV_ENC_LOCK_BITSTREAM>::zeroed();
    let p = params.as_mut_ptr();
    // SAFETY: as in `pic_params`: the only enum without a zero value is `pictureStruct`,
    // written before the value is assumed initialized.
    unsafe {
        (&raw mut (*p).version).write(NV_ENC_LOCK_BITSTREAM_VER);
        (&raw mut (*p).pictureStruct).write(NV_ENC_PIC_STRUCT::NV_ENC_PIC_STRUCT_FRAME);
        params.assume_init()
    }
}

/// The first enum field of `cfg` (outside the codec union, plus the union member of
/// `codec`) whose value the 12.1 header does not define, with that value.
///
/// # Safety
/// `cfg` must point to a live `NV_ENC_CONFIG` whose bytes are all initialized.
pub(super) unsafe fn unknown_enum(
    cfg: *const NV_ENC_CONFIG,
    codec: EncodeCodec,
) -> Option<(&'static str, u32)> {
    macro_rules! check {
        ($($field:ident).+, $valid:pat) => {{
            // SAFETY: `cfg` points to a live, fully initialized NV_ENC_CONFIG (caller's
            // guarantee); `&raw const` projects to one of its `#[repr(u32)]` enum fields (a
            // union member's included) without reading, and the field is read as a u32, so
            // no enum value is produced.
            let value = unsafe { (&raw const (*cfg).$($field).+).cast::<u32>().read() };
            if !matches!(value, $valid) {
                return Some((stringify!($($field).+), value));
            }
        }};
    }
    check!(frameFieldMode, 1..=3);
    check!(mvPrecision, 0..=3);
    check!(rcParams.rateControlMode, 0..=2);
    check!(rcParams.qpMapMode, 0..=3);
    check!(rcParams.multiPass, 0..=2);
    match codec {
        EncodeCodec::H264 => {
            check!(encodeCodecConfig.h264Config.adaptiveTransformMode, 0..=2);
            check!(encodeCodecConfig.h264Config.fmoMode, 0..=2);
            check!(encodeCodecConfig.h264Config.bdirectMode, 0..=3);
            check!(encodeCodecConfig.h264Config.entropyCodingMode, 0..=2);
            check!(encodeCodecConfig.h264Config.stereoMode, 0..=6);
            check!(encodeCodecConfig.h264Config.useBFramesAsRef, 0..=2);
            check!(encodeCodecConfig.h264Config.numRefL0, 0..=7);
            check!(encodeCodecConfig.h264Config.numRefL1, 0..=7);
            check!(
                encodeCodecConfig.h264Config.h264VUIParameters.videoFormat,
                0..=5
            );
            check!(
                encodeCodecConfig
                    .h264Config
                    .h264VUIParameters
                    .colourPrimaries,
                0..=12 | 22
            );
            check!(
                encodeCodecConfig
                    .h264Config
                    .h264VUIParameters
                    .transferCharacteristics,
                0..=18
            );
            check!(
                encodeCodecConfig.h264Config.h264VUIParameters.colourMatrix,
                0..=11
            );
        }
        EncodeCodec::Hevc => {
            check!(encodeCodecConfig.hevcConfig.minCUSize, 0..=4);
            check!(encodeCodecConfig.hevcConfig.maxCUSize, 0..=4);
            check!(encodeCodecConfig.hevcConfig.useBFramesAsRef, 0..=2);
            check!(encodeCodecConfig.hevcConfig.numRefL0, 0..=7);
            check!(encodeCodecConfig.hevcConfig.numRefL1, 0..=7);
            check!(
                encodeCodecConfig.hevcConfig.hevcVUIParameters.videoFormat,
                0..=5
            );
            check!(
                encodeCodecConfig
                    .hevcConfig
                    .hevcVUIParameters
                    .colourPrimaries,
                0..=12 | 22
            );
            check!(
                encodeCodecConfig
                    .hevcConfig
                    .hevcVUIParameters
                    .transferCharacteristics,
                0..=18
            );
            check!(
                encodeCodecConfig.hevcConfig.hevcVUIParameters.colourMatrix,
                0..=11
            );
        }
        EncodeCodec::Av1 => {
            check!(encodeCodecConfig.av1Config.minPartSize, 0..=5);
            check!(encodeCodecConfig.av1Config.maxPartSize, 0..=5);
            check!(encodeCodecConfig.av1Config.colorPrimaries, 0..=12 | 22);
            check!(encodeCodecConfig.av1Config.transferCharacteristics, 0..=18);
            check!(encodeCodecConfig.av1Config.matrixCoefficients, 0..=11);
            check!(encodeCodecConfig.av1Config.useBFramesAsRef, 0..=2);
            check!(encodeCodecConfig.av1Config.numFwdRefs, 0..=7);
            check!(encodeCodecConfig.av1Config.numBwdRefs, 0..=7);
        }
    }
    None
}

#[cfg(test)]
mod encode_ffi_tests {
    //! Named so that `cargo test --lib encode` selects them.
    use super::*;

    #[test]
    fn encode_unknown_enum_values_from_the_driver_are_caught() {
        // Kept in `MaybeUninit` throughout, as `preset_config` does: the invalid value is
        // never part of a Rust value.
        let mut raw = Box::new(MaybeUninit::<NV_ENC_CONFIG>::zeroed());
        let p = raw.as_mut_ptr();
        // SAFETY: `p` points to the zeroed allocation; raw u32 writes into enum fields, as a
        // driver newer than the header could make.
        unsafe {
            (&raw mut (*p).frameFieldMode).cast::<u32>().write(1);
            (&raw mut (*p).rcParams.rateControlMode)
                .cast::<u32>()
                .write(0x20);
        }
        // SAFETY: `p` is live and every byte is initialized.
        let found = unsafe { unknown_enum(p, EncodeCodec::Hevc) };
        assert_eq!(found, Some(("rcParams.rateControlMode", 0x20)));
        // SAFETY: as above.
        unsafe { (&raw mut (*p).frameFieldMode).cast::<u32>().write(0) };
        // SAFETY: as above.
        let found = unsafe { unknown_enum(p, EncodeCodec::H264) };
        assert_eq!(found, Some(("frameFieldMode", 0)));
    }
}
