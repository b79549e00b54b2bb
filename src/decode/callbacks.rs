//! The `extern "C"` functions NVDEC's parser calls back into.
//!
//! Invariant: no Rust panic unwinds into the C parser. Each callback runs its body under
//! `catch_unwind`; a panic or an error is stored in the core (first one wins) and the
//! callback returns 0, which makes the parser stop that picture. `Decoder::decode` then
//! returns the stored error.

use std::ffi::{c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use nvidia_video_codec_sdk::sys::cuviddec::CUVIDPICPARAMS;
use nvidia_video_codec_sdk::sys::nvcuvid::{
    CUVIDEOFORMAT, CUVIDPARSERDISPINFO, CUVIDSEIMESSAGEINFO,
};

use super::callback_target::CallbackTarget;
use super::sei::{MAX_SEI_MESSAGES, collect};
use super::state::{DecoderState, SequenceFormat};
use crate::error::{Error, Result};

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Runs `body` for the core behind `user`, converting errors and panics into `failure`.
fn guarded(
    user: *mut c_void,
    name: &'static str,
    fatal: bool,
    success: impl FnOnce(&DecoderState) -> Result<c_int>,
) -> c_int {
    if user.is_null() {
        return 0;
    }
    // SAFETY: `user` is the core's `CallbackTarget::user_data`, registered as pUserData; the
    // core outlives the parser, and callbacks run synchronously on the thread inside
    // cuvidParseVideoData.
    let core = unsafe { CallbackTarget::<DecoderState>::from_user_data(user) };
    match catch_unwind(AssertUnwindSafe(|| success(core))) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            core.record_error(error, fatal);
            0
        }
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            core.record_error(
                Error::CallbackPanicked {
                    callback: name,
                    message,
                },
                true,
            );
            0
        }
    }
}

/// Reads the driver's `CUVIDEOFORMAT` field by field: its `codec` and `chroma_format` are
/// Rust enums in the bindings, and a driver may write values they do not list, so they are
/// read as the integers they are and never as a `&CUVIDEOFORMAT`.
///
/// # Safety
/// `format` must be null or point to a live, initialized `CUVIDEOFORMAT`.
unsafe fn read_format(format: *const CUVIDEOFORMAT) -> Option<SequenceFormat> {
    if format.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller; every read is of a plain integer field, the enum
    // fields through `u32` pointers (the C enums are 32-bit).
    unsafe {
        let area = &raw const (*format).display_area;
        Some(SequenceFormat {
            codec: (&raw const (*format).codec).cast::<u32>().read(),
            chroma_format: (&raw const (*format).chroma_format).cast::<u32>().read(),
            bit_depth_luma_minus8: (&raw const (*format).bit_depth_luma_minus8).read(),
            bit_depth_chroma_minus8: (&raw const (*format).bit_depth_chroma_minus8).read(),
            min_num_decode_surfaces: (&raw const (*format).min_num_decode_surfaces).read(),
            coded_width: (&raw const (*format).coded_width).read(),
            coded_height: (&raw const (*format).coded_height).read(),
            display_area: (
                (&raw const (*area).left).read(),
                (&raw const (*area).top).read(),
                (&raw const (*area).right).read(),
                (&raw const (*area).bottom).read(),
            ),
            frame_rate: (
                (&raw const (*format).frame_rate.numerator).read(),
                (&raw const (*format).frame_rate.denominator).read(),
            ),
            // Four bytes: a bit-field byte, then primaries, transfer, matrix.
            video_signal: (&raw const (*format).video_signal_description)
                .cast::<[u8; 4]>()
                .read(),
        })
    }
}

/// `pfnSequenceCallback`.
pub(crate) unsafe extern "C" fn on_sequence(
    user: *mut c_void,
    format: *mut CUVIDEOFORMAT,
) -> c_int {
    guarded(user, "sequence", true, |core| {
        // SAFETY: the parser passes a valid format (or null) for the duration of the call.
        let format = unsafe { read_format(format) }.ok_or_else(|| Error::DriverContract {
            call: "cuvidParseVideoData",
            violation: "called the sequence callback with no video format".into(),
        })?;
        core.on_sequence(&format)
    })
}

/// `pfnDecodePicture`.
pub(crate) unsafe extern "C" fn on_decode(user: *mut c_void, params: *mut CUVIDPICPARAMS) -> c_int {
    guarded(user, "decode", false, |core| {
        if params.is_null() {
            return Err(Error::DriverContract {
                call: "cuvidParseVideoData",
                violation: "called the decode callback with no picture".into(),
            });
        }
        // SAFETY: `params` is the parser's live picture, as the callback contract says.
        unsafe { core.on_decode(params) }?;
        Ok(1)
    })
}

/// `pfnGetSEIMsg`: the SEI messages of one picture (decode order), kept by surface index.
/// Every field of the driver's `CUVIDSEIMESSAGEINFO` and `CUSEIMESSAGE` array is read as a
/// plain integer or pointer; the payload is read only up to the sum of the message sizes,
/// after that sum was checked against the per-picture bound.
pub(crate) unsafe extern "C" fn on_sei(user: *mut c_void, info: *mut CUVIDSEIMESSAGEINFO) -> c_int {
    guarded(user, "sei", false, |core| {
        if info.is_null() {
            return Ok(1);
        }
        // SAFETY: the parser passes a live message info for the duration of the call; its
        // fields are plain integers and pointers.
        let (data, messages, count, picture) = unsafe {
            (
                (&raw const (*info).pSEIData).read(),
                (&raw const (*info).pSEIMessage).read(),
                (&raw const (*info).sei_message_count).read(),
                (&raw const (*info).picIdx).read(),
            )
        };
        let count = count as usize;
        let collected =
            if count > MAX_SEI_MESSAGES || (count > 0 && (messages.is_null() || data.is_null())) {
                None
            } else {
                let header = |i: usize| {
                    // SAFETY: `messages` points to `count` entries (the callback contract), and
                    // `i < count`; each is read field by field as integers.
                    unsafe {
                        let m = messages.add(i);
                        (
                            (&raw const (*m).sei_message_type).read(),
                            (&raw const (*m).sei_message_size).read(),
                        )
                    }
                };
                let headers: Vec<(u8, u32)> = (0..count).map(header).collect();
                collect(&headers, |total| {
                    if total == 0 {
                        return Some(Vec::new());
                    }
                    // SAFETY: the driver's payload buffer holds the concatenated messages, `total`
                    // bytes (the sum of their sizes, bounded by MAX_SEI_BYTES).
                    Some(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), total) }.to_vec())
                })
            };
        core.on_sei(picture, collected);
        Ok(1)
    })
}

/// `pfnDisplayPicture`. A null `info` marks the end of the stream.
pub(crate) unsafe extern "C" fn on_display(
    user: *mut c_void,
    info: *mut CUVIDPARSERDISPINFO,
) -> c_int {
    guarded(user, "display", false, |core| {
        // SAFETY: the parser passes a valid display info (or null) for the call's duration.
        if let Some(info) = unsafe { info.as_ref() } {
            core.on_display(info)?;
        }
        Ok(1)
    })
}
