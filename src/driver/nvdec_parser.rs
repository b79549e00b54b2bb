//! The NVDEC parser's owner, [`ParserCore`], and the `extern "C"` functions the parser calls
//! back into.
//!
//! Invariants:
//! - **No Rust panic unwinds into the C parser.** Each callback runs its body under
//!   `catch_unwind`; a panic or an error is handed to [`ParserEvents::failed`] and the
//!   callback returns 0, which makes the parser stop that picture.
//! - **The callbacks' user data outlives the parser.** A [`ParserCore`] owns both the parser
//!   and the [`CallbackTarget`] registered as its `pUserData`, and drops the parser first;
//!   replacing the parser ([`ParserCore::renew`]) keeps the target.
//! - **Driver memory is read as integers.** The driver's `CUVIDEOFORMAT`, SEI headers and
//!   picture index are read field by field as the integers they are, never through a Rust
//!   enum; SEI payload bytes are read only up to the sum of the message sizes.
//!
//! The decoder's policy (what a sequence header means, which SEI messages to keep) is the
//! [`ParserEvents`] implementation above this layer; it sees only safe views.

use std::ffi::{c_int, c_ulong, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use nvidia_video_codec_sdk::sys::cuviddec::{CUVIDPICPARAMS, cudaVideoCodec};
use nvidia_video_codec_sdk::sys::nvcuvid::{
    CUSEIMESSAGE, CUVIDEOFORMAT, CUVIDPARSERDISPINFO, CUVIDPARSERPARAMS, CUVIDSEIMESSAGEINFO,
    CUVIDSOURCEDATAPACKET, CUvideoparser,
};

use super::callback_target::CallbackTarget;
use crate::error::{Error, Result};
use crate::ffi::nvcuvid::Nvcuvid;
use crate::init::{WindowToken, destroy_in_window};

/// What a sequence callback reported, read from the driver's `CUVIDEOFORMAT` field by field
/// (enum fields as the integers the driver wrote).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SequenceFormat {
    /// `cudaVideoCodec` value.
    pub(crate) codec: u32,
    /// `cudaVideoChromaFormat` value.
    pub(crate) chroma_format: u32,
    pub(crate) bit_depth_luma_minus8: u8,
    pub(crate) bit_depth_chroma_minus8: u8,
    pub(crate) min_num_decode_surfaces: u8,
    pub(crate) coded_width: u32,
    pub(crate) coded_height: u32,
    /// `(left, top, right, bottom)`.
    pub(crate) display_area: (i32, i32, i32, i32),
    /// `frame_rate.numerator` / `.denominator` (0 when the stream does not say).
    pub(crate) frame_rate: (u32, u32),
    /// `video_signal_description` as its four bytes (see
    /// `signal::colour_from_cuvid_signal`).
    pub(crate) video_signal: [u8; 4],
}

/// The picture the parser hands to the decode callback.
///
/// Invariant: `raw` is the parser's live, non-null `CUVIDPICPARAMS` for `'a`, the duration
/// of one decode callback; only the callback below makes one.
pub(crate) struct ParsedPicture<'a> {
    raw: *mut CUVIDPICPARAMS,
    _callback: std::marker::PhantomData<&'a mut CUVIDPICPARAMS>,
}

impl ParsedPicture<'_> {
    /// `CurrPicIdx`: the decode surface the picture is decoded into.
    pub(crate) fn index(&self) -> i32 {
        // SAFETY: a live struct for the callback's duration (the invariant); only its
        // integer field is read.
        unsafe { (&raw const (*self.raw).CurrPicIdx).read() }
    }

    pub(super) fn as_mut_ptr(&mut self) -> *mut CUVIDPICPARAMS {
        self.raw
    }
}

/// The SEI messages the parser hands to the SEI callback for one picture.
///
/// Invariant: `raw` is the parser's live, non-null `CUVIDSEIMESSAGEINFO` for `'a`, the
/// duration of one SEI callback; only the callback below makes one.
pub(crate) struct SeiInfo<'a> {
    raw: *const CUVIDSEIMESSAGEINFO,
    _callback: std::marker::PhantomData<&'a CUVIDSEIMESSAGEINFO>,
}

impl SeiInfo<'_> {
    fn fields(&self) -> (*mut c_void, *mut CUSEIMESSAGE, u32, u32) {
        // SAFETY: a live message info for the callback's duration (the invariant); its
        // fields are plain integers and pointers.
        unsafe {
            (
                (&raw const (*self.raw).pSEIData).read(),
                (&raw const (*self.raw).pSEIMessage).read(),
                (&raw const (*self.raw).sei_message_count).read(),
                (&raw const (*self.raw).picIdx).read(),
            )
        }
    }

    /// `picIdx`: the decode surface of the picture the messages belong to.
    pub(crate) fn picture(&self) -> u32 {
        self.fields().3
    }

    /// `sei_message_count`.
    pub(crate) fn count(&self) -> usize {
        self.fields().2 as usize
    }

    /// Whether both the message array and the payload buffer are present.
    pub(crate) fn has_data(&self) -> bool {
        let (data, messages, _, _) = self.fields();
        !data.is_null() && !messages.is_null()
    }

    /// `(sei_message_type, sei_message_size)` of each message; empty without data. Reads
    /// [`count`](Self::count) entries: bound the count before calling.
    pub(crate) fn headers(&self) -> Vec<(u8, u32)> {
        let (_, messages, count, _) = self.fields();
        if messages.is_null() || !self.has_data() {
            return Vec::new();
        }
        (0..count as usize)
            .map(|i| {
                // SAFETY: `messages` points to `count` entries (the callback contract), and
                // `i < count`; each is read field by field as integers.
                unsafe {
                    let m = messages.add(i);
                    (
                        (&raw const (*m).sei_message_type).read(),
                        (&raw const (*m).sei_message_size).read(),
                    )
                }
            })
            .collect()
    }

    /// The first `total` bytes of the concatenated payload, copied; `None` without data or
    /// when `total` exceeds the sum of the message sizes.
    pub(crate) fn payload(&self, total: usize) -> Option<Vec<u8>> {
        let (data, _, _, _) = self.fields();
        let sum = self
            .headers()
            .iter()
            .try_fold(0usize, |sum, &(_, size)| sum.checked_add(size as usize))?;
        if data.is_null() || total > sum {
            return None;
        }
        // SAFETY: the driver's payload buffer holds the concatenated messages, the sum of
        // the sizes of all `count` headers (the callback contract), and `total` is at most
        // that sum.
        Some(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), total) }.to_vec())
    }
}

/// What the decoder above does with the parser's callbacks. Each runs synchronously on the
/// thread inside `cuvidParseVideoData`, reached through `&self` only.
pub(crate) trait ParserEvents {
    /// `pfnSequenceCallback`: the value the parser gets back (the decode surfaces to use).
    fn sequence(&self, format: &SequenceFormat) -> Result<c_int>;
    /// `pfnDecodePicture`.
    fn picture(&self, picture: &mut ParsedPicture<'_>) -> Result<()>;
    /// `pfnGetSEIMsg`.
    fn sei(&self, info: &SeiInfo<'_>);
    /// `pfnDisplayPicture`; `None` marks the end of the stream.
    fn display(&self, info: Option<&CUVIDPARSERDISPINFO>) -> Result<()>;
    /// A callback failed (`fatal`: the decoder cannot go on) or panicked.
    fn failed(&self, error: Error, fatal: bool);
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Runs `body` for the target behind `user`, converting errors and panics into `failure`.
fn guarded<T: ParserEvents>(
    user: *mut c_void,
    name: &'static str,
    fatal: bool,
    success: impl FnOnce(&T) -> Result<c_int>,
) -> c_int {
    if user.is_null() {
        return 0;
    }
    // SAFETY: `user` is a `ParserCore<T>`'s `CallbackTarget::user_data`, registered as
    // pUserData; the target outlives the parser, and callbacks run synchronously on the
    // thread inside cuvidParseVideoData.
    let target = unsafe { CallbackTarget::<T>::from_user_data(user) };
    match catch_unwind(AssertUnwindSafe(|| success(target))) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            target.failed(error, fatal);
            0
        }
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            target.failed(
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
unsafe extern "C" fn on_sequence<T: ParserEvents>(
    user: *mut c_void,
    format: *mut CUVIDEOFORMAT,
) -> c_int {
    guarded::<T>(user, "sequence", true, |target| {
        // SAFETY: the parser passes a valid format (or null) for the duration of the call.
        let format = unsafe { read_format(format) }.ok_or_else(|| Error::DriverContract {
            call: "cuvidParseVideoData",
            violation: "called the sequence callback with no video format".into(),
        })?;
        target.sequence(&format)
    })
}

/// `pfnDecodePicture`.
unsafe extern "C" fn on_decode<T: ParserEvents>(
    user: *mut c_void,
    params: *mut CUVIDPICPARAMS,
) -> c_int {
    guarded::<T>(user, "decode", false, |target| {
        if params.is_null() {
            return Err(Error::DriverContract {
                call: "cuvidParseVideoData",
                violation: "called the decode callback with no picture".into(),
            });
        }
        // The parser's live picture for this callback, as the callback contract says.
        let mut picture = ParsedPicture {
            raw: params,
            _callback: std::marker::PhantomData,
        };
        target.picture(&mut picture)?;
        Ok(1)
    })
}

/// `pfnGetSEIMsg`: the SEI messages of one picture (decode order).
unsafe extern "C" fn on_sei<T: ParserEvents>(
    user: *mut c_void,
    info: *mut CUVIDSEIMESSAGEINFO,
) -> c_int {
    guarded::<T>(user, "sei", false, |target| {
        if info.is_null() {
            return Ok(1);
        }
        // The parser's live message info for this callback, as the callback contract says.
        let info = SeiInfo {
            raw: info,
            _callback: std::marker::PhantomData,
        };
        target.sei(&info);
        Ok(1)
    })
}

/// `pfnDisplayPicture`. A null `info` marks the end of the stream.
unsafe extern "C" fn on_display<T: ParserEvents>(
    user: *mut c_void,
    info: *mut CUVIDPARSERDISPINFO,
) -> c_int {
    guarded::<T>(user, "display", false, |target| {
        // SAFETY: the parser passes a valid display info (or null) for the call's duration.
        target.display(unsafe { info.as_ref() })?;
        Ok(1)
    })
}

/// The longest payload one `cuvidParseVideoData` call takes (its length is a C
/// `unsigned long`).
#[allow(
    clippy::unnecessary_cast,
    reason = "`c_ulong` is `u64` here but `u32` where `long` is 32 bits"
)]
pub(crate) const MAX_PAYLOAD: u64 = c_ulong::MAX as u64;

/// What a parser is created with, besides its callbacks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParserSettings {
    pub(crate) codec: cudaVideoCodec,
    pub(crate) max_decode_surfaces: u32,
    pub(crate) max_display_delay: u32,
    /// Register the SEI callback.
    pub(crate) sei: bool,
}

/// One `cuvidCreateVideoParser` handle.
struct ParserHandle {
    raw: CUvideoparser,
    api: &'static Nvcuvid,
}

// SAFETY: a parser handle is not tied to the thread that made it; it is owned here and
// destroyed once, in `Drop`.
unsafe impl Send for ParserHandle {}

impl Drop for ParserHandle {
    fn drop(&mut self) {
        struct Doomed(CUvideoparser);
        // SAFETY: a doomed handle is used by nothing but its teardown.
        unsafe impl Send for Doomed {}
        let (raw, api) = (Doomed(self.raw), self.api);
        destroy_in_window("NVDEC parser", move |window| {
            let raw = raw;
            // SAFETY: the parser is live and its callbacks' user data outlives it (a
            // `ParserCore` drops its parser before its target).
            if let Err(error) = unsafe { api.destroy_parser(window, raw.0) } {
                tracing::error!(%error, "cuvidDestroyVideoParser failed");
            }
        });
    }
}

/// A parser and the value its callbacks reach: `T` at a fixed address, the parser calling
/// into it. Dereferences to `T`.
pub(crate) struct ParserCore<T> {
    /// Dropped first: the parser calls into `target`.
    parser: ParserHandle,
    target: CallbackTarget<T>,
}

impl<T: ParserEvents> ParserCore<T> {
    /// Moves `value` to its fixed address and creates a parser calling into it.
    pub(crate) fn create(
        window: WindowToken<'_>,
        api: &'static Nvcuvid,
        value: T,
        settings: ParserSettings,
    ) -> Result<Self> {
        let target = CallbackTarget::new(value);
        let parser = Self::create_parser(window, api, &target, settings)?;
        Ok(ParserCore { parser, target })
    }

    fn create_parser(
        window: WindowToken<'_>,
        api: &'static Nvcuvid,
        target: &CallbackTarget<T>,
        settings: ParserSettings,
    ) -> Result<ParserHandle> {
        let mut params = CUVIDPARSERPARAMS {
            CodecType: settings.codec,
            ulMaxNumDecodeSurfaces: settings.max_decode_surfaces,
            ulClockRate: 0,
            ulErrorThreshold: 100,
            ulMaxDisplayDelay: settings.max_display_delay,
            pUserData: target.user_data(),
            pfnSequenceCallback: Some(on_sequence::<T>),
            pfnDecodePicture: Some(on_decode::<T>),
            pfnDisplayPicture: Some(on_display::<T>),
            pfnGetSEIMsg: if settings.sei {
                Some(on_sei::<T>)
            } else {
                None
            },
            ..Default::default()
        };
        // SAFETY: the callbacks are `extern "C"` functions that never unwind; `pUserData` is
        // the target's fixed address, freed only after this parser is destroyed (the
        // parser's owner, `ParserCore`, drops it first).
        let raw = unsafe { api.create_parser(window, &mut params) }?;
        Ok(ParserHandle { raw, api })
    }

    /// Replaces the parser with a new one made with `settings`; the old one is destroyed
    /// here, inside `window`. On failure the old one stays.
    pub(crate) fn renew(
        &mut self,
        window: WindowToken<'_>,
        settings: ParserSettings,
    ) -> Result<()> {
        let parser = Self::create_parser(window, self.parser.api, &self.target, settings)?;
        drop(std::mem::replace(&mut self.parser, parser));
        Ok(())
    }

    /// `cuvidParseVideoData` of one packet: `payload` (`None`: no data, as at the end of the
    /// stream), `flags` (`CUvideopacketflags` bits) and `timestamp`. The callbacks run inside
    /// this call. Needs the context current.
    ///
    /// # Errors
    /// [`Error::PacketTooLarge`] for a payload longer than a C `unsigned long`; driver
    /// failures.
    pub(crate) fn parse(&self, payload: Option<&[u8]>, flags: u32, timestamp: i64) -> Result<()> {
        let (ptr, len) = match payload {
            Some(data) => (data.as_ptr(), data.len()),
            None => (std::ptr::null(), 0),
        };
        let size = c_ulong::try_from(len).map_err(|_| Error::PacketTooLarge {
            len,
            max: MAX_PAYLOAD,
        })?;
        let mut packet = CUVIDSOURCEDATAPACKET {
            flags: flags as _,
            payload_size: size,
            payload: ptr,
            timestamp,
        };
        // SAFETY: the parser is live; the payload is a borrowed slice valid for its size for
        // the duration of the call (the parser copies what it keeps), or null with size 0.
        unsafe { self.parser.api.parse(self.parser.raw, &mut packet) }
    }
}

impl<T> std::ops::Deref for ParserCore<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.target
    }
}

#[cfg(test)]
mod tests {
    //! The SEI view over a driver-shaped message info in plain CPU memory.
    use super::*;

    fn view(info: &CUVIDSEIMESSAGEINFO) -> SeiInfo<'_> {
        SeiInfo {
            raw: info,
            _callback: std::marker::PhantomData,
        }
    }

    #[test]
    fn sei_view_reads_headers_and_never_more_payload_than_the_sizes_sum_to() {
        let mut messages = [
            CUSEIMESSAGE {
                sei_message_type: 4,
                reserved: [0; 3],
                sei_message_size: 3,
            },
            CUSEIMESSAGE {
                sei_message_type: 5,
                reserved: [0; 3],
                sei_message_size: 2,
            },
        ];
        let mut data = [1u8, 2, 3, 4, 5];
        let info = CUVIDSEIMESSAGEINFO {
            pSEIData: data.as_mut_ptr().cast(),
            pSEIMessage: messages.as_mut_ptr(),
            sei_message_count: 2,
            picIdx: 7,
        };
        let sei = view(&info);
        assert_eq!((sei.count(), sei.picture()), (2, 7));
        assert!(sei.has_data());
        assert_eq!(sei.headers(), [(4, 3), (5, 2)]);
        assert_eq!(sei.payload(5), Some(vec![1, 2, 3, 4, 5]));
        assert_eq!(sei.payload(2), Some(vec![1, 2]));
        assert_eq!(sei.payload(6), None, "past the sum of the sizes");
    }

    #[test]
    fn sei_view_without_data_reads_nothing() {
        let info = CUVIDSEIMESSAGEINFO {
            pSEIData: std::ptr::null_mut(),
            pSEIMessage: std::ptr::null_mut(),
            sei_message_count: 3,
            picIdx: 0,
        };
        let sei = view(&info);
        assert!(!sei.has_data());
        assert!(sei.headers().is_empty());
        assert_eq!(sei.payload(0), None);
    }
}
