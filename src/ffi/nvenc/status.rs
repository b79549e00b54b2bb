//! `NVENCSTATUS` as the integer the driver returns: names, and the crate's error for one.
//!
//! Statuses are never held as the bindgen enum: a driver newer than the 12.1 header may
//! return codes it lacks, and a Rust enum holding a value it does not list is undefined
//! behaviour. Codes the header lacks are named `NV_ENC_ERR_UNKNOWN`.

use nvidia_video_codec_sdk::sys::nvEncodeAPI::NVENCSTATUS;

use crate::error::{DriverError, Error, Library, Status};

/// `NV_ENC_SUCCESS`.
pub(super) const SUCCESS: u32 = NVENCSTATUS::NV_ENC_SUCCESS as u32;
/// `NV_ENC_ERR_NEED_MORE_INPUT`: not an error from `NvEncEncodePicture`.
pub(super) const NEED_MORE_INPUT: u32 = NVENCSTATUS::NV_ENC_ERR_NEED_MORE_INPUT as u32;

/// The `NVENCSTATUS` names, indexed by value (`nvEncodeAPI.h`, SDK 12.1).
const STATUS_NAMES: [&str; 27] = [
    "NV_ENC_SUCCESS",
    "NV_ENC_ERR_NO_ENCODE_DEVICE",
    "NV_ENC_ERR_UNSUPPORTED_DEVICE",
    "NV_ENC_ERR_INVALID_ENCODERDEVICE",
    "NV_ENC_ERR_INVALID_DEVICE",
    "NV_ENC_ERR_DEVICE_NOT_EXIST",
    "NV_ENC_ERR_INVALID_PTR",
    "NV_ENC_ERR_INVALID_EVENT",
    "NV_ENC_ERR_INVALID_PARAM",
    "NV_ENC_ERR_INVALID_CALL",
    "NV_ENC_ERR_OUT_OF_MEMORY",
    "NV_ENC_ERR_ENCODER_NOT_INITIALIZED",
    "NV_ENC_ERR_UNSUPPORTED_PARAM",
    "NV_ENC_ERR_LOCK_BUSY",
    "NV_ENC_ERR_NOT_ENOUGH_BUFFER",
    "NV_ENC_ERR_INVALID_VERSION",
    "NV_ENC_ERR_MAP_FAILED",
    "NV_ENC_ERR_NEED_MORE_INPUT",
    "NV_ENC_ERR_ENCODER_BUSY",
    "NV_ENC_ERR_EVENT_NOT_REGISTERD",
    "NV_ENC_ERR_GENERIC",
    "NV_ENC_ERR_INCOMPATIBLE_CLIENT_KEY",
    "NV_ENC_ERR_UNIMPLEMENTED",
    "NV_ENC_ERR_RESOURCE_REGISTER_FAILED",
    "NV_ENC_ERR_RESOURCE_NOT_REGISTERED",
    "NV_ENC_ERR_RESOURCE_NOT_MAPPED",
    "NV_ENC_ERR_NEED_MORE_OUTPUT",
];

/// The name of an `NVENCSTATUS` value, as NVIDIA's documentation spells it; codes newer
/// than the 12.1 header are `NV_ENC_ERR_UNKNOWN`.
pub(crate) fn status_name(code: u32) -> &'static str {
    usize::try_from(code)
        .ok()
        .and_then(|i| STATUS_NAMES.get(i))
        .copied()
        .unwrap_or("NV_ENC_ERR_UNKNOWN")
}

/// The typed status of an `NVENCSTATUS` value.
pub(crate) fn nvenc_status(code: u32) -> Status {
    Status::nvenc(code, status_name(code))
}

/// The crate's error for a failed NVENC status.
pub(crate) fn status_error(call: &'static str, code: u32, last_error: Option<String>) -> Error {
    Error::Driver(DriverError {
        last_error,
        ..DriverError::new(Library::Nvenc, call, nvenc_status(code))
    })
}

#[cfg(test)]
mod encode_ffi_tests {
    //! Named so that `cargo test --lib encode` selects them.
    use super::*;

    #[test]
    fn encode_status_names_follow_the_header() {
        assert_eq!(status_name(0), "NV_ENC_SUCCESS");
        assert_eq!(status_name(1), "NV_ENC_ERR_NO_ENCODE_DEVICE");
        assert_eq!(status_name(8), "NV_ENC_ERR_INVALID_PARAM");
        assert_eq!(status_name(17), "NV_ENC_ERR_NEED_MORE_INPUT");
        assert_eq!(status_name(26), "NV_ENC_ERR_NEED_MORE_OUTPUT");
        assert_eq!(status_name(27), "NV_ENC_ERR_UNKNOWN");
        assert_eq!(status_name(u32::MAX), "NV_ENC_ERR_UNKNOWN");
        // Every name matches the bindgen enum's variant of the same value.
        for code in 0..=26u32 {
            let variant = match code {
                0 => NVENCSTATUS::NV_ENC_SUCCESS,
                1 => NVENCSTATUS::NV_ENC_ERR_NO_ENCODE_DEVICE,
                2 => NVENCSTATUS::NV_ENC_ERR_UNSUPPORTED_DEVICE,
                3 => NVENCSTATUS::NV_ENC_ERR_INVALID_ENCODERDEVICE,
                4 => NVENCSTATUS::NV_ENC_ERR_INVALID_DEVICE,
                5 => NVENCSTATUS::NV_ENC_ERR_DEVICE_NOT_EXIST,
                6 => NVENCSTATUS::NV_ENC_ERR_INVALID_PTR,
                7 => NVENCSTATUS::NV_ENC_ERR_INVALID_EVENT,
                8 => NVENCSTATUS::NV_ENC_ERR_INVALID_PARAM,
                9 => NVENCSTATUS::NV_ENC_ERR_INVALID_CALL,
                10 => NVENCSTATUS::NV_ENC_ERR_OUT_OF_MEMORY,
                11 => NVENCSTATUS::NV_ENC_ERR_ENCODER_NOT_INITIALIZED,
                12 => NVENCSTATUS::NV_ENC_ERR_UNSUPPORTED_PARAM,
                13 => NVENCSTATUS::NV_ENC_ERR_LOCK_BUSY,
                14 => NVENCSTATUS::NV_ENC_ERR_NOT_ENOUGH_BUFFER,
                15 => NVENCSTATUS::NV_ENC_ERR_INVALID_VERSION,
                16 => NVENCSTATUS::NV_ENC_ERR_MAP_FAILED,
                17 => NVENCSTATUS::NV_ENC_ERR_NEED_MORE_INPUT,
                18 => NVENCSTATUS::NV_ENC_ERR_ENCODER_BUSY,
                19 => NVENCSTATUS::NV_ENC_ERR_EVENT_NOT_REGISTERD,
                20 => NVENCSTATUS::NV_ENC_ERR_GENERIC,
                21 => NVENCSTATUS::NV_ENC_ERR_INCOMPATIBLE_CLIENT_KEY,
                22 => NVENCSTATUS::NV_ENC_ERR_UNIMPLEMENTED,
                23 => NVENCSTATUS::NV_ENC_ERR_RESOURCE_REGISTER_FAILED,
                24 => NVENCSTATUS::NV_ENC_ERR_RESOURCE_NOT_REGISTERED,
                25 => NVENCSTATUS::NV_ENC_ERR_RESOURCE_NOT_MAPPED,
                _ => NVENCSTATUS::NV_ENC_ERR_NEED_MORE_OUTPUT,
            };
            assert_eq!(variant as u32, code);
            assert_eq!(status_name(code), format!("{variant:?}"));
        }
    }

    #[test]
    fn encode_error_names_call_status_and_last_error() {
        let e = status_error("NvEncInitializeEncoder", 8, Some("bad preset".into()));
        assert_eq!(
            e.to_string(),
            "NvEncInitializeEncoder failed: NV_ENC_ERR_INVALID_PARAM (8): bad preset"
        );
    }
}
