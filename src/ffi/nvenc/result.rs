//! The thin layer: one `Result`-returning `unsafe` wrapper per NVENC call, on [`Nvenc`].
//!
//! Each wrapper names its call in the error, with the `NVENCSTATUS` name and, on a live
//! session, `NvEncGetLastErrorString`. Structs the driver writes enum fields into are read
//! field by field, enum fields as `u32`; a preset configuration is checked field by field
//! ([`unknown_enum`], in [`super::bindgen_enums`]) before it becomes a Rust value; structs
//! holding enums without a zero value are built with those fields set ([`pic_params`],
//! [`lock_bitstream_params`]).
//! Wrappers return plain data; the RAII types built on them are in [`super::safe`]. The
//! capability queries of a live session are in [`super::query`].

use std::ffi::{CStr, c_void};
use std::mem::MaybeUninit;

use cudarc::driver::sys::{CUcontext, CUdeviceptr};
use nvidia_video_codec_sdk::sys::nvEncodeAPI::{
    NV_ENC_BUFFER_FORMAT, NV_ENC_BUFFER_USAGE, NV_ENC_CONFIG, NV_ENC_CREATE_BITSTREAM_BUFFER,
    NV_ENC_CREATE_BITSTREAM_BUFFER_VER, NV_ENC_CREATE_INPUT_BUFFER, NV_ENC_CREATE_INPUT_BUFFER_VER,
    NV_ENC_DEVICE_TYPE, NV_ENC_INITIALIZE_PARAMS, NV_ENC_INPUT_RESOURCE_TYPE,
    NV_ENC_LOCK_INPUT_BUFFER, NV_ENC_LOCK_INPUT_BUFFER_VER, NV_ENC_MAP_INPUT_RESOURCE,
    NV_ENC_MAP_INPUT_RESOURCE_VER, NV_ENC_MEMORY_HEAP, NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS,
    NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER, NV_ENC_PIC_FLAGS, NV_ENC_REGISTER_RESOURCE,
    NV_ENC_REGISTER_RESOURCE_VER, NV_ENC_SEQUENCE_PARAM_PAYLOAD, NV_ENC_SEQUENCE_PARAM_PAYLOAD_VER,
    NV_MAX_SEQ_HDR_LEN, NVENCAPI_VERSION,
};

use super::bindgen_enums::{lock_bitstream_params, pic_params};
use super::status::{NEED_MORE_INPUT, SUCCESS, status_error, status_name};
use super::sys::{Handle, Nvenc};
use crate::error::{Error, Result};
use crate::init::WindowToken;

/// A successful call that handed back a null object is an error, not a null handle.
fn non_null(call: &'static str, ptr: *mut c_void) -> Result<*mut c_void> {
    if ptr.is_null() {
        Err(Error::DriverContract {
            call,
            violation: "succeeded but returned no object".into(),
        })
    } else {
        Ok(ptr)
    }
}

/// A raw NVENC session handle (`void* encoder`). Plain data: liveness is the caller's
/// business, which is why the functions taking one are `unsafe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EncoderPtr(pub(crate) *mut c_void);

/// What `NvEncEncodePicture` said about the picture it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncodeStatus {
    /// `NV_ENC_SUCCESS`: every output buffer submitted so far can be locked.
    Ready,
    /// `NV_ENC_ERR_NEED_MORE_INPUT`: the picture is held for reordering or lookahead.
    NeedMoreInput,
}

/// What `NvEncLockBitstream` reported for one encoded picture, as plain data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BitstreamLock {
    /// `bitstreamBufferPtr`.
    pub(crate) data: *const u8,
    /// `bitstreamSizeInBytes`.
    pub(crate) len: usize,
    /// `outputTimeStamp`: the `inputTimeStamp` of this picture.
    pub(crate) timestamp: u64,
    /// `pictureType` as its raw `NV_ENC_PIC_TYPE` value.
    pub(crate) picture_type: u32,
}

/// One picture for `NvEncEncodePicture`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PictureToEncode {
    /// An input buffer of the session, or a mapped registered resource.
    pub(crate) input: *mut c_void,
    /// A bitstream buffer of the session.
    pub(crate) output: *mut c_void,
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// Bytes between luma rows of `input`.
    pub(crate) pitch: u32,
    pub(crate) format: NV_ENC_BUFFER_FORMAT,
    /// Passed through to `NV_ENC_LOCK_BITSTREAM::outputTimeStamp`.
    pub(crate) timestamp: u64,
    pub(crate) frame_idx: u32,
    /// `NV_ENC_PIC_FLAGS` bits.
    pub(crate) flags: u32,
}

impl Nvenc {
    /// The error for a failed call on a live session, with `NvEncGetLastErrorString`.
    ///
    /// # Safety
    /// `enc` must be a live session.
    unsafe fn fail(&self, enc: EncoderPtr, call: &'static str, status: u32) -> Error {
        // SAFETY: guaranteed by the caller.
        let last = unsafe { self.last_error(enc) };
        status_error(call, status, last)
    }

    /// # Safety
    /// `enc` must be a live session.
    pub(super) unsafe fn check(
        &self,
        enc: EncoderPtr,
        call: &'static str,
        status: u32,
    ) -> Result<()> {
        if status == SUCCESS {
            Ok(())
        } else {
            // SAFETY: guaranteed by the caller.
            Err(unsafe { self.fail(enc, call, status) })
        }
    }

    /// `NvEncGetLastErrorString`, trimmed; `None` when empty.
    ///
    /// # Safety
    /// `enc` must be a live session.
    pub(crate) unsafe fn last_error(&self, enc: EncoderPtr) -> Option<String> {
        // SAFETY: guaranteed by the caller; the driver returns null or a NUL-terminated
        // string it owns, which is copied before the next call can change it.
        let ptr = unsafe { (self.get_last_error)(enc.0) };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: non-null and NUL-terminated, per the API.
        let text = unsafe { CStr::from_ptr(ptr) }.to_string_lossy();
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// `NvEncOpenEncodeSessionEx` on a CUDA context. On failure, a handle the driver
    /// returned anyway is destroyed (the API requires it) and the error carries the status;
    /// there is no session to ask for a last-error string.
    ///
    /// # Safety
    /// `ctx` must be a live CUDA context.
    pub(crate) unsafe fn open_session(
        &self,
        window: WindowToken<'_>,
        ctx: CUcontext,
    ) -> Result<EncoderPtr> {
        let mut params = NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS {
            version: NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER,
            deviceType: NV_ENC_DEVICE_TYPE::NV_ENC_DEVICE_TYPE_CUDA,
            device: ctx.cast(),
            apiVersion: NVENCAPI_VERSION,
            ..Default::default()
        };
        let mut raw: Handle = std::ptr::null_mut();
        // SAFETY: both pointers are live locals; `params` is fully initialized.
        let status = window.lifecycle("NvEncOpenEncodeSessionEx", || unsafe {
            (self.open_session_ex)(&mut params, &mut raw)
        })?;
        if status != SUCCESS {
            if !raw.is_null() {
                // SAFETY: the handle came from the failed open and is used by nobody else.
                match window.lifecycle("NvEncDestroyEncoder", || unsafe {
                    (self.destroy_encoder)(raw)
                }) {
                    Ok(SUCCESS) => {}
                    Ok(destroyed) => tracing::warn!(
                        status = status_name(destroyed),
                        "NvEncDestroyEncoder after a failed open failed"
                    ),
                    Err(error) => {
                        tracing::warn!(%error, "NvEncDestroyEncoder after a failed open refused")
                    }
                }
            }
            return Err(status_error("NvEncOpenEncodeSessionEx", status, None));
        }
        if raw.is_null() {
            return Err(Error::DriverContract {
                call: "NvEncOpenEncodeSessionEx",
                violation: "succeeded but returned no session".into(),
            });
        }
        Ok(EncoderPtr(raw))
    }

    /// `NvEncDestroyEncoder`.
    ///
    /// # Safety
    /// `enc` must be live, with every buffer and resource of it destroyed, and unused
    /// afterwards.
    pub(crate) unsafe fn destroy_encoder(
        &self,
        window: WindowToken<'_>,
        enc: EncoderPtr,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status = window.lifecycle("NvEncDestroyEncoder", || unsafe {
            (self.destroy_encoder)(enc.0)
        })?;
        if status == SUCCESS {
            Ok(())
        } else {
            // The session is gone (or unusable): no last-error string to ask for.
            Err(status_error("NvEncDestroyEncoder", status, None))
        }
    }

    /// `NvEncInitializeEncoder` with `config` as the encode configuration.
    ///
    /// # Safety
    /// `enc` must be a live, not yet initialized session; `config` must point to a live
    /// `NV_ENC_CONFIG` (an [`EncodeConfig`](super::safe::EncodeConfig)'s).
    pub(crate) unsafe fn initialize(
        &self,
        window: WindowToken<'_>,
        enc: EncoderPtr,
        params: &mut NV_ENC_INITIALIZE_PARAMS,
        config: *mut NV_ENC_CONFIG,
    ) -> Result<()> {
        params.encodeConfig = config;
        // SAFETY: guaranteed by the caller; `params` and the config it points to are live
        // for the call (the driver copies them).
        let status = window.lifecycle("NvEncInitializeEncoder", || unsafe {
            (self.initialize_encoder)(enc.0, params)
        });
        params.encodeConfig = std::ptr::null_mut();
        let status = status?;
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncInitializeEncoder", status) }
    }

    /// `NvEncCreateInputBuffer`: a driver-allocated input surface of `width`×`height`.
    ///
    /// # Safety
    /// `enc` must be a live, initialized session.
    pub(crate) unsafe fn create_input_buffer(
        &self,
        window: WindowToken<'_>,
        enc: EncoderPtr,
        width: u32,
        height: u32,
        format: NV_ENC_BUFFER_FORMAT,
    ) -> Result<*mut c_void> {
        let mut params = NV_ENC_CREATE_INPUT_BUFFER {
            version: NV_ENC_CREATE_INPUT_BUFFER_VER,
            width,
            height,
            memoryHeap: NV_ENC_MEMORY_HEAP::NV_ENC_MEMORY_HEAP_AUTOSELECT,
            bufferFmt: format,
            ..Default::default()
        };
        // SAFETY: guaranteed by the caller; `params` is live and initialized.
        let status = window.lifecycle("NvEncCreateInputBuffer", || unsafe {
            (self.create_input_buffer)(enc.0, &mut params)
        })?;
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncCreateInputBuffer", status) }?;
        non_null("NvEncCreateInputBuffer", params.inputBuffer)
    }

    /// `NvEncDestroyInputBuffer`.
    ///
    /// # Safety
    /// `enc` must be live; `buffer` one of its input buffers, unlocked and unused afterwards.
    pub(crate) unsafe fn destroy_input_buffer(
        &self,
        window: WindowToken<'_>,
        enc: EncoderPtr,
        buffer: *mut c_void,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status = window.lifecycle("NvEncDestroyInputBuffer", || unsafe {
            (self.destroy_input_buffer)(enc.0, buffer)
        })?;
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncDestroyInputBuffer", status) }
    }

    /// `NvEncCreateBitstreamBuffer`.
    ///
    /// # Safety
    /// `enc` must be a live, initialized session.
    pub(crate) unsafe fn create_bitstream_buffer(
        &self,
        window: WindowToken<'_>,
        enc: EncoderPtr,
    ) -> Result<*mut c_void> {
        let mut params = NV_ENC_CREATE_BITSTREAM_BUFFER {
            version: NV_ENC_CREATE_BITSTREAM_BUFFER_VER,
            ..Default::default()
        };
        // SAFETY: guaranteed by the caller; `params` is live and initialized.
        let status = window.lifecycle("NvEncCreateBitstreamBuffer", || unsafe {
            (self.create_bitstream_buffer)(enc.0, &mut params)
        })?;
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncCreateBitstreamBuffer", status) }?;
        non_null("NvEncCreateBitstreamBuffer", params.bitstreamBuffer)
    }

    /// `NvEncDestroyBitstreamBuffer`.
    ///
    /// # Safety
    /// `enc` must be live; `buffer` one of its bitstream buffers, unlocked and unused
    /// afterwards.
    pub(crate) unsafe fn destroy_bitstream_buffer(
        &self,
        window: WindowToken<'_>,
        enc: EncoderPtr,
        buffer: *mut c_void,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status = window.lifecycle("NvEncDestroyBitstreamBuffer", || unsafe {
            (self.destroy_bitstream_buffer)(enc.0, buffer)
        })?;
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncDestroyBitstreamBuffer", status) }
    }

    /// `NvEncLockInputBuffer` (blocking): the locked memory (null if the driver gave none)
    /// and its pitch. [`LockedInput`](super::safe::LockedInput) owns the lock from here.
    ///
    /// # Safety
    /// `enc` must be live and `buffer` one of its input buffers, not locked already.
    pub(crate) unsafe fn lock_input_buffer(
        &self,
        enc: EncoderPtr,
        buffer: *mut c_void,
    ) -> Result<(*mut u8, usize)> {
        let mut params = NV_ENC_LOCK_INPUT_BUFFER {
            version: NV_ENC_LOCK_INPUT_BUFFER_VER,
            inputBuffer: buffer,
            ..Default::default()
        };
        // SAFETY: guaranteed by the caller; `params` is live and initialized.
        let status = unsafe { (self.lock_input_buffer)(enc.0, &mut params) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncLockInputBuffer", status) }?;
        Ok((params.bufferDataPtr.cast(), params.pitch as usize))
    }

    /// `NvEncUnlockInputBuffer`.
    ///
    /// # Safety
    /// `enc` must be live and `buffer` one of its input buffers, locked by
    /// [`Self::lock_input_buffer`] and not unlocked since.
    pub(crate) unsafe fn unlock_input_buffer(
        &self,
        enc: EncoderPtr,
        buffer: *mut c_void,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status = unsafe { (self.unlock_input_buffer)(enc.0, buffer) };
        // SAFETY: the session is live (guaranteed by the caller).
        unsafe { self.check(enc, "NvEncUnlockInputBuffer", status) }
    }

    /// `NvEncEncodePicture` of one frame.
    ///
    /// # Safety
    /// `enc` must be a live, initialized session; `picture.input` one of its input buffers
    /// (unlocked) or a mapped resource, `picture.output` one of its bitstream buffers (not
    /// locked); both must stay alive until that output has been locked.
    pub(crate) unsafe fn encode_picture(
        &self,
        enc: EncoderPtr,
        picture: &PictureToEncode,
    ) -> Result<EncodeStatus> {
        let mut params = pic_params();
        params.inputWidth = picture.width;
        params.inputHeight = picture.height;
        params.inputPitch = picture.pitch;
        params.encodePicFlags = picture.flags;
        params.frameIdx = picture.frame_idx;
        params.inputTimeStamp = picture.timestamp;
        params.inputBuffer = picture.input;
        params.outputBitstream = picture.output;
        params.bufferFmt = picture.format;
        // SAFETY: guaranteed by the caller; `params` is live and fully initialized.
        let status = unsafe { (self.encode_picture)(enc.0, &mut params) };
        match status {
            SUCCESS => Ok(EncodeStatus::Ready),
            NEED_MORE_INPUT => Ok(EncodeStatus::NeedMoreInput),
            // SAFETY: guaranteed by the caller.
            _ => Err(unsafe { self.fail(enc, "NvEncEncodePicture", status) }),
        }
    }

    /// `NvEncEncodePicture` with `NV_ENC_PIC_FLAG_EOS` and no picture: end of stream.
    ///
    /// # Safety
    /// `enc` must be a live, initialized session.
    pub(crate) unsafe fn send_eos(&self, enc: EncoderPtr) -> Result<()> {
        let mut params = pic_params();
        params.encodePicFlags = NV_ENC_PIC_FLAGS::NV_ENC_PIC_FLAG_EOS as u32;
        // SAFETY: guaranteed by the caller; `params` is live and fully initialized.
        let status = unsafe { (self.encode_picture)(enc.0, &mut params) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncEncodePicture (EOS)", status) }
    }

    /// `NvEncLockBitstream` (blocking until the picture is encoded): what the driver
    /// reported, unchecked. [`LockedBitstream`](super::safe::LockedBitstream) owns the lock
    /// from here.
    ///
    /// # Safety
    /// `enc` must be live and `buffer` one of its bitstream buffers that a successful
    /// `NvEncEncodePicture` made ready, not locked already.
    pub(crate) unsafe fn lock_bitstream(
        &self,
        enc: EncoderPtr,
        buffer: *mut c_void,
    ) -> Result<BitstreamLock> {
        let mut params = MaybeUninit::new(lock_bitstream_params());
        let p = params.as_mut_ptr();
        // SAFETY: `p` points to the live local above; written in place.
        unsafe { (&raw mut (*p).outputBitstream).write(buffer) };
        // SAFETY: guaranteed by the caller; `p` is live and fully initialized.
        let status = unsafe { (self.lock_bitstream)(enc.0, p) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncLockBitstream", status) }?;
        // SAFETY: `p` is live and initialized; every field is read as plain data, the
        // enum-typed picture type as its underlying u32 (the driver may write values the
        // header lacks).
        unsafe {
            Ok(BitstreamLock {
                data: (&raw const (*p).bitstreamBufferPtr).read().cast(),
                len: (&raw const (*p).bitstreamSizeInBytes).read() as usize,
                timestamp: (&raw const (*p).outputTimeStamp).read(),
                picture_type: (&raw const (*p).pictureType).cast::<u32>().read(),
            })
        }
    }

    /// `NvEncUnlockBitstream`.
    ///
    /// # Safety
    /// `enc` must be live and `buffer` one of its bitstream buffers, locked by
    /// [`Self::lock_bitstream`] and not unlocked since.
    pub(crate) unsafe fn unlock_bitstream(
        &self,
        enc: EncoderPtr,
        buffer: *mut c_void,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status = unsafe { (self.unlock_bitstream)(enc.0, buffer) };
        // SAFETY: the session is live (guaranteed by the caller).
        unsafe { self.check(enc, "NvEncUnlockBitstream", status) }
    }

    /// `NvEncGetSequenceParams`: the stream headers (SPS/PPS, VPS, AV1 sequence header).
    ///
    /// # Safety
    /// `enc` must be a live, initialized session.
    pub(crate) unsafe fn sequence_params(&self, enc: EncoderPtr) -> Result<Vec<u8>> {
        let mut buffer = vec![0u8; NV_MAX_SEQ_HDR_LEN as usize];
        let mut written = 0u32;
        let mut params = NV_ENC_SEQUENCE_PARAM_PAYLOAD {
            version: NV_ENC_SEQUENCE_PARAM_PAYLOAD_VER,
            inBufferSize: NV_MAX_SEQ_HDR_LEN,
            spsppsBuffer: buffer.as_mut_ptr().cast(),
            outSPSPPSPayloadSize: &mut written,
            ..Default::default()
        };
        // SAFETY: guaranteed by the caller; the buffer holds `inBufferSize` bytes and the
        // size out-pointer is a live local; both outlive the call.
        let status = unsafe { (self.get_sequence_params)(enc.0, &mut params) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncGetSequenceParams", status) }?;
        buffer.truncate((written as usize).min(NV_MAX_SEQ_HDR_LEN as usize));
        Ok(buffer)
    }

    /// `NvEncRegisterResource` of a CUDA device pointer as an input image.
    ///
    /// # Safety
    /// `enc` must be a live, initialized session; `ptr` must be device memory of the
    /// session's context holding a `width`×`height` surface of `format` at `pitch`, alive
    /// until unregistered.
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn register_device_ptr(
        &self,
        window: WindowToken<'_>,
        enc: EncoderPtr,
        ptr: CUdeviceptr,
        width: u32,
        height: u32,
        pitch: u32,
        format: NV_ENC_BUFFER_FORMAT,
    ) -> Result<*mut c_void> {
        let mut params = NV_ENC_REGISTER_RESOURCE {
            version: NV_ENC_REGISTER_RESOURCE_VER,
            resourceType: NV_ENC_INPUT_RESOURCE_TYPE::NV_ENC_INPUT_RESOURCE_TYPE_CUDADEVICEPTR,
            width,
            height,
            pitch,
            resourceToRegister: ptr as *mut c_void,
            bufferFormat: format,
            bufferUsage: NV_ENC_BUFFER_USAGE::NV_ENC_INPUT_IMAGE,
            ..Default::default()
        };
        // SAFETY: guaranteed by the caller; `params` is live and initialized.
        let status = window.lifecycle("NvEncRegisterResource", || unsafe {
            (self.register_resource)(enc.0, &mut params)
        })?;
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncRegisterResource", status) }?;
        non_null("NvEncRegisterResource", params.registeredResource)
    }

    /// `NvEncUnregisterResource`.
    ///
    /// # Safety
    /// `enc` must be live; `registered` one of its registrations, unmapped, unused
    /// afterwards.
    pub(crate) unsafe fn unregister_resource(
        &self,
        window: WindowToken<'_>,
        enc: EncoderPtr,
        registered: *mut c_void,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status = window.lifecycle("NvEncUnregisterResource", || unsafe {
            (self.unregister_resource)(enc.0, registered)
        })?;
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncUnregisterResource", status) }
    }

    /// `NvEncMapInputResource`: the input pointer to pass to `NvEncEncodePicture`.
    ///
    /// # Safety
    /// `enc` must be live; `registered` one of its registrations, not mapped already.
    pub(crate) unsafe fn map_input(
        &self,
        enc: EncoderPtr,
        registered: *mut c_void,
    ) -> Result<*mut c_void> {
        let mut params = MaybeUninit::new(NV_ENC_MAP_INPUT_RESOURCE {
            version: NV_ENC_MAP_INPUT_RESOURCE_VER,
            registeredResource: registered,
            ..Default::default()
        });
        let p = params.as_mut_ptr();
        // SAFETY: guaranteed by the caller; `p` is live and initialized.
        let status = unsafe { (self.map_input_resource)(enc.0, p) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncMapInputResource", status) }?;
        // SAFETY: `p` is live; the pointer field is read on its own (the driver also writes
        // the enum `mappedBufferFmt`, which is never read).
        let mapped = unsafe { (&raw const (*p).mappedResource).read() };
        if mapped.is_null() {
            return Err(Error::DriverContract {
                call: "NvEncMapInputResource",
                violation: "succeeded but returned no input".into(),
            });
        }
        Ok(mapped)
    }

    /// `NvEncUnmapInputResource`.
    ///
    /// # Safety
    /// `enc` must be live; `mapped` a pointer [`Self::map_input`] returned, whose picture
    /// has been encoded, unused afterwards.
    pub(crate) unsafe fn unmap_input(&self, enc: EncoderPtr, mapped: *mut c_void) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status = unsafe { (self.unmap_input_resource)(enc.0, mapped) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncUnmapInputResource", status) }
    }
}
