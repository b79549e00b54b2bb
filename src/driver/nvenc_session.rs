//! [`SessionHandle`]: the RAII owner of one NVENC session and every driver object made on
//! it.
//!
//! Invariant: an NVENC session's buffers and registrations must be destroyed before the
//! session, and all of it in the CUDA context it was made in. One owner holds them all, so
//! its `Drop` can do that in one init window and in the right
//! order — device registrations (then their memory), input buffers, bitstream buffers,
//! then the session — whether the encoder is dropped after a long run or construction
//! failed half-way. Creation and destruction of all of them are lifecycle calls: they run
//! inside an init window (the builder's, or one taken at run time for the staging surfaces
//! of the first device frame). Destruction
//! failures are logged, never panicked on. Every driver call here makes the context current
//! first.

use nvcodec_media::PlaneLayout;
use std::ffi::c_void;
use std::mem::ManuallyDrop;

use nvidia_video_codec_sdk::sys::nvEncodeAPI::{
    GUID, NV_ENC_BUFFER_FORMAT, NV_ENC_CAPS, NV_ENC_INITIALIZE_PARAMS, NV_ENC_TUNING_INFO,
    NVENCSTATUS,
};

pub(crate) use super::device_surface::DeviceSurface;
use crate::cuda::{Context, DeviceBuffer, EnqueuedWork};
use crate::error::{DriverError, Error, Result};
use crate::ffi::cuda::{Copy2d, Mem};
use crate::ffi::nvenc::{
    EncodeCodec, EncodeConfig, EncodeStatus, EncoderPtr, LockedBitstream, LockedInput, Nvenc,
    PictureToEncode,
};
use crate::init::{WindowToken, destroy_in_window, in_runtime_window};

/// Row alignment of the device staging surfaces (what `cuMemAllocPitch` picks on current
/// GPUs).
const STAGING_PITCH_ALIGN: usize = 512;

/// How long registering staging surfaces at the first device frame (a lifecycle call, so
/// inside an init window taken at run time) waits for the lock.
const RUNTIME_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether a pitch NVENC reported for an input buffer with rows of `row_bytes` is one a
/// driver could mean: at least a row, at most the row rounded up to 4 KiB. A larger value
/// would make the crate write past what the driver allocated.
fn plausible_input_pitch(pitch: usize, row_bytes: usize) -> bool {
    pitch >= row_bytes && pitch <= row_bytes.next_multiple_of(4096)
}

/// An encoder-owned device surface for device input, registered with the session once;
/// `mapped` while a picture from it is in flight.
struct Staging {
    /// The memory; freed only after its registration is gone (see `Drop`).
    buffer: DeviceBuffer,
    pitch: usize,
    registered: *mut c_void,
    mapped: Option<*mut c_void>,
}

/// One encoded picture, copied out of its bitstream buffer.
#[derive(Debug)]
pub(crate) struct Bitstream {
    pub(crate) data: Vec<u8>,
    pub(crate) timestamp: u64,
    pub(crate) picture_type: u32,
}

/// One NVENC session with its input buffers, bitstream buffers and registered device
/// staging surfaces.
///
/// Its driver objects live in [`SessionObjects`] (reached through `Deref`), which `Drop` hands
/// whole to one teardown inside an init window.
pub(crate) struct SessionHandle {
    /// Taken only by `Drop`.
    objects: ManuallyDrop<SessionObjects>,
    /// The most bytes one encoded picture may plausibly have (set by `allocate`).
    max_bitstream: usize,
}

/// The driver objects of one NVENC session.
pub(crate) struct SessionObjects {
    raw: EncoderPtr,
    api: &'static Nvenc,
    context: Context,
    initialized: bool,
    /// Pictures were submitted since the last end-of-stream.
    unfinished: bool,
    inputs: Vec<*mut c_void>,
    outputs: Vec<*mut c_void>,
    /// Per slot, made at the first device frame: the staging surface device frames are
    /// copied into.
    staging: Vec<Staging>,
}

impl std::ops::Deref for SessionHandle {
    type Target = SessionObjects;

    fn deref(&self) -> &SessionObjects {
        &self.objects
    }
}

impl std::ops::DerefMut for SessionHandle {
    fn deref_mut(&mut self) -> &mut SessionObjects {
        &mut self.objects
    }
}

impl SessionHandle {
    /// `NvEncOpenEncodeSessionEx` on `context`. Must run inside an init window.
    /// `NV_ENC_ERR_NO_ENCODE_DEVICE` and `NV_ENC_ERR_UNSUPPORTED_DEVICE` become
    /// [`Error::NoEncodeDevice`] naming the GPU (see [`no_encoder_status`]).
    pub(crate) fn open(
        window: WindowToken<'_>,
        api: &'static Nvenc,
        context: &Context,
    ) -> Result<Self> {
        let _current = context.make_current()?;
        // SAFETY: the context is live: `context` holds a reference to it.
        match unsafe { api.open_session(window, context.raw()) } {
            Ok(raw) => Ok(SessionHandle {
                objects: ManuallyDrop::new(SessionObjects {
                    raw,
                    api,
                    context: context.clone(),
                    initialized: false,
                    unfinished: false,
                    inputs: Vec::new(),
                    outputs: Vec::new(),
                    staging: Vec::new(),
                }),
                max_bitstream: 0,
            }),
            // A GPU without NVENC: the header's status for it is NO_ENCODE_DEVICE, but drivers
            // also answer UNSUPPORTED_DEVICE for it; both mean the same here.
            Err(Error::Driver(DriverError { status, .. })) if no_encoder_status(status.code()) => {
                tracing::info!(
                    device = context.device_name(),
                    status = status.name(),
                    "NvEncOpenEncodeSessionEx: the GPU has no NVENC engine"
                );
                Err(Error::NoEncodeDevice {
                    device: context.device_name().to_owned(),
                    status,
                })
            }
            Err(error) => Err(error),
        }
    }

    pub(crate) fn raw(&self) -> *mut c_void {
        self.raw.0
    }

    pub(crate) fn context(&self) -> &Context {
        &self.context
    }

    pub(crate) fn api(&self) -> &'static Nvenc {
        self.api
    }

    pub(crate) fn pool_size(&self) -> usize {
        self.outputs.len()
    }

    pub(crate) fn encode_guids(&self) -> Result<Vec<GUID>> {
        let _current = self.context.make_current()?;
        // SAFETY: the session is live while `self` exists.
        unsafe { self.api.encode_guids(self.raw) }
    }

    pub(crate) fn preset_guids(&self, codec: GUID) -> Result<Vec<GUID>> {
        let _current = self.context.make_current()?;
        // SAFETY: the session is live while `self` exists.
        unsafe { self.api.preset_guids(self.raw, codec) }
    }

    pub(crate) fn input_formats(&self, codec: GUID) -> Result<Vec<u32>> {
        let _current = self.context.make_current()?;
        // SAFETY: the session is live while `self` exists.
        unsafe { self.api.input_formats(self.raw, codec) }
    }

    pub(crate) fn cap(&self, codec: GUID, cap: NV_ENC_CAPS) -> Result<i32> {
        let _current = self.context.make_current()?;
        // SAFETY: the session is live while `self` exists.
        unsafe { self.api.caps(self.raw, codec, cap) }
    }

    pub(crate) fn preset_config(
        &self,
        codec: EncodeCodec,
        codec_guid: GUID,
        preset: GUID,
        tuning: NV_ENC_TUNING_INFO,
    ) -> Result<EncodeConfig> {
        let _current = self.context.make_current()?;
        // SAFETY: the session is live while `self` exists.
        unsafe { EncodeConfig::preset(self.api, self.raw, codec, codec_guid, preset, tuning) }
    }

    pub(crate) fn initialize(
        &mut self,
        window: WindowToken<'_>,
        params: &mut NV_ENC_INITIALIZE_PARAMS,
        config: &mut EncodeConfig,
    ) -> Result<()> {
        let o = &mut *self.objects;
        if o.initialized {
            return Err(Error::Internal {
                what: "NVENC session initialized twice",
            });
        }
        let _current = o.context.make_current()?;
        // SAFETY: the session is live and not yet initialized (the flag).
        unsafe { o.api.initialize(window, o.raw, params, config.as_mut_ptr()) }?;
        o.initialized = true;
        Ok(())
    }

    /// Allocates `count` input buffers of `width`×`height` `format` and `count` bitstream
    /// buffers. On failure the ones made so far stay owned and are destroyed with `self`.
    pub(crate) fn allocate(
        &mut self,
        window: WindowToken<'_>,
        count: usize,
        width: u32,
        height: u32,
        format: NV_ENC_BUFFER_FORMAT,
    ) -> Result<()> {
        if !self.initialized {
            return Err(Error::Internal {
                what: "NVENC buffers requested before initialization",
            });
        }
        // An encoded picture is at most a few times its raw size; anything above this bound
        // from `NvEncLockBitstream` is not trusted.
        self.max_bitstream = (width as usize)
            .saturating_mul(height as usize)
            .saturating_mul(8)
            .saturating_add(1 << 20);
        let o = &mut *self.objects;
        let _current = o.context.make_current()?;
        for _ in 0..count {
            // SAFETY: the session is live and initialized.
            let input = unsafe {
                o.api
                    .create_input_buffer(window, o.raw, width, height, format)
            }?;
            o.inputs.push(input);
            // SAFETY: as above.
            let output = unsafe { o.api.create_bitstream_buffer(window, o.raw) }?;
            o.outputs.push(output);
        }
        Ok(())
    }

    /// Locks the input buffer of `slot`, lets `fill` write the whole surface of `layout`
    /// (the bytes and their pitch) and unlocks it; returns the buffer and its pitch.
    pub(crate) fn write_input(
        &self,
        slot: usize,
        layout: &PlaneLayout,
        fill: impl FnOnce(&mut [u8], usize) -> Result<()>,
    ) -> Result<(*mut c_void, usize)> {
        let buffer = *self.inputs.get(slot).ok_or_else(|| bad_slot(slot))?;
        let _current = self.context.make_current()?;
        // SAFETY: `buffer` is one of this live session's input buffers; slots are used by
        // one picture at a time, so it is not locked already nor in use by the encoder.
        let mut locked = unsafe { LockedInput::lock(self.api, self.raw, buffer) }?;
        let pitch = locked.pitch();
        let row = layout.planes().first().map_or(0, |p| p.row_bytes);
        if !plausible_input_pitch(pitch, row) {
            return Err(Error::DriverContract {
                call: "NvEncLockInputBuffer",
                violation: format!("reported a pitch of {pitch} bytes for rows of {row}"),
            });
        }
        let len = layout
            .surface_size(pitch)
            .ok_or_else(|| Error::DriverContract {
                call: "NvEncLockInputBuffer",
                violation: format!("pitch {pitch} is too small for this frame"),
            })?;
        // SAFETY: NVENC allocated this buffer for the session's size and format; a locked
        // surface of that format holds `layout.surface_rows()` rows at `pitch` (planes back
        // to back, as NvEncoder and ffmpeg rely on), and `len` does not exceed that.
        let dst = unsafe { locked.bytes_mut(len) };
        fill(dst, pitch)?;
        locked.unlock()?;
        Ok((buffer, pitch))
    }

    /// Makes one registered device staging surface per slot (once).
    fn ensure_staging(
        &mut self,
        layout: &PlaneLayout,
        width: u32,
        height: u32,
        format: NV_ENC_BUFFER_FORMAT,
    ) -> Result<()> {
        if !self.staging.is_empty() {
            return Ok(());
        }
        let row = layout.planes().first().map_or(0, |p| p.row_bytes);
        let pitch = row
            .div_ceil(STAGING_PITCH_ALIGN)
            .saturating_mul(STAGING_PITCH_ALIGN);
        let pitch_u32 = u32::try_from(pitch).map_err(|_| Error::InvalidConfig {
            parameter: "width",
            reason: format!("a staging surface pitch of {pitch} bytes is too large"),
        })?;
        let bytes =
            pitch
                .checked_mul(layout.surface_rows())
                .ok_or_else(|| Error::InvalidConfig {
                    parameter: "height",
                    reason: "the staging surface size overflows".into(),
                })?;
        let count = self.outputs.len();
        let made = self.in_window(|window| {
            // Every surface made so far is unregistered (and freed) if a later one fails.
            let mut made: Vec<Staging> = Vec::with_capacity(count);
            let outcome = (|| -> Result<()> {
                for _ in 0..count {
                    let buffer = DeviceBuffer::alloc(&self.context, bytes)?;
                    let _current = self.context.make_current()?;
                    // SAFETY: the session is live and initialized; `buffer` is device memory
                    // of the session's context holding `surface_rows` rows at `pitch` of
                    // this format and size, and it outlives the registration (unregistered
                    // before it is freed, in `Drop` or below on failure).
                    let registered = unsafe {
                        self.api.register_device_ptr(
                            window,
                            self.raw,
                            buffer.device_ptr(),
                            width,
                            height,
                            pitch_u32,
                            format,
                        )
                    }?;
                    made.push(Staging {
                        buffer,
                        pitch,
                        registered,
                        mapped: None,
                    });
                }
                Ok(())
            })();
            match outcome {
                Ok(()) => Ok(made),
                Err(error) => {
                    let _current = self.context.make_current();
                    for staging in made {
                        // SAFETY: registered above on this live session, never mapped.
                        let undone = unsafe {
                            self.api
                                .unregister_resource(window, self.raw, staging.registered)
                        };
                        if let Err(e) = undone {
                            tracing::error!(error = %e, "NvEncUnregisterResource failed");
                        }
                        // `staging.buffer` is freed here, after its registration is gone.
                    }
                    Err(error)
                }
            }
        })?;
        self.staging = made;
        Ok(())
    }

    /// Runs `f` inside an init window taken at run time (see `init::in_runtime_window`).
    fn in_window<R>(&self, f: impl for<'w> FnOnce(WindowToken<'w>) -> Result<R>) -> Result<R> {
        in_runtime_window(
            RUNTIME_LOCK_TIMEOUT,
            self.context.ordinal(),
            "nvenc-staging",
            f,
        )
    }

    /// Copies the device surface `src` into the staging surface of `slot` and maps it;
    /// returns the mapped input and its pitch. The copy is waited for before returning.
    ///
    /// # Errors
    /// [`Error::Internal`] if `src` is known to be of another context or shorter than the
    /// surface of `layout` at its pitch, or its pitch is narrower than a row (callers check
    /// these first, with errors naming the frame); driver failures of the copy or the map.
    pub(crate) fn stage_device_input(
        &mut self,
        slot: usize,
        layout: &PlaneLayout,
        width: u32,
        height: u32,
        format: NV_ENC_BUFFER_FORMAT,
        src: &DeviceSurface<'_>,
    ) -> Result<(*mut c_void, usize)> {
        if src
            .context()
            .is_some_and(|c| c != self.context.raw() as usize)
        {
            return Err(Error::Internal {
                what: "a device surface of another context reached the NVENC staging copy",
            });
        }
        let needed = layout.surface_size(src.pitch()).ok_or(Error::Internal {
            what: "a device surface with a pitch narrower than its rows reached the NVENC staging copy",
        })?;
        if src.len().is_some_and(|len| len < needed) {
            return Err(Error::Internal {
                what: "a device surface shorter than the frame reached the NVENC staging copy",
            });
        }
        let (src, src_pitch) = (src.ptr(), src.pitch());
        self.ensure_staging(layout, width, height, format)?;
        self.release(slot)?;
        let staging = self.staging.get(slot).ok_or_else(|| bad_slot(slot))?;
        let (dst, dst_pitch, registered) = (
            staging.buffer.device_ptr(),
            staging.pitch,
            staging.registered,
        );
        let _current = self.context.make_current()?;
        // SAFETY: null is the legacy default stream.
        let mut work = unsafe { EnqueuedWork::on(&self.context, std::ptr::null_mut()) };
        for (index, plane) in layout.planes().iter().enumerate() {
            let offset = |pitch: usize| -> Result<u64> {
                layout
                    .plane_offset(index, pitch)
                    .and_then(|o| u64::try_from(o).ok())
                    // Unreachable: both surfaces' whole sizes at their pitches were computed
                    // without overflow (`device_surface_size`, `ensure_staging`).
                    .ok_or(Error::Internal {
                        what: "a plane offset in a checked surface overflows",
                    })
            };
            let copy = Copy2d {
                src: Mem::Device(src.wrapping_add(offset(src_pitch)?)),
                src_pitch,
                dst: Mem::Device(dst.wrapping_add(offset(dst_pitch)?)),
                dst_pitch,
                width_bytes: plane.row_bytes,
                height: plane.rows,
            };
            // SAFETY: the source is device memory of this context holding the whole surface
            // of `layout` at `src_pitch` (`DeviceSurface`'s invariant: checked above for a
            // buffer's context and length, promised for a raw address), so it holds this
            // plane; the staging surface was allocated for every plane at `dst_pitch`; both
            // outlive `work`, which waits for every copy enqueued, on early returns too (its
            // `Drop`).
            unsafe { work.copy_2d(&copy) }?;
        }
        work.wait()?;
        // SAFETY: `registered` is a registration of this live session, unmapped (released
        // above).
        let mapped = unsafe { self.api.map_input(self.raw, registered) }?;
        drop(_current);
        if let Some(staging) = self.staging.get_mut(slot) {
            staging.mapped = Some(mapped);
        }
        Ok((mapped, dst_pitch))
    }

    /// Unmaps the staging surface of `slot`, if a picture from it was in flight.
    pub(crate) fn release(&mut self, slot: usize) -> Result<()> {
        let o = &mut *self.objects;
        let Some(mapped) = o.staging.get_mut(slot).and_then(|s| s.mapped.take()) else {
            return Ok(());
        };
        let _current = o.context.make_current()?;
        // SAFETY: mapped on this live session; its picture was encoded (slots are released
        // after their output is read, or before being reused).
        unsafe { o.api.unmap_input(o.raw, mapped) }
    }

    /// `NvEncEncodePicture` into the bitstream buffer of `slot`.
    pub(crate) fn encode(
        &mut self,
        slot: usize,
        mut picture: PictureToEncode,
    ) -> Result<EncodeStatus> {
        let o = &mut *self.objects;
        picture.output = *o.outputs.get(slot).ok_or_else(|| bad_slot(slot))?;
        let _current = o.context.make_current()?;
        // SAFETY: the session is live and initialized; the input is this slot's buffer or
        // mapping and the output this slot's bitstream buffer, both owned by `self` until
        // the slot's output is read.
        let status = unsafe { o.api.encode_picture(o.raw, &picture) }?;
        o.unfinished = true;
        Ok(status)
    }

    /// Sends end of stream; afterwards every submitted picture's output can be read.
    pub(crate) fn end_of_stream(&mut self) -> Result<()> {
        let o = &mut *self.objects;
        let _current = o.context.make_current()?;
        // SAFETY: the session is live and initialized.
        unsafe { o.api.send_eos(o.raw) }?;
        o.unfinished = false;
        Ok(())
    }

    pub(crate) fn has_unfinished_pictures(&self) -> bool {
        self.unfinished
    }

    /// Locks the bitstream buffer of `slot` (waiting for its picture), copies it out and
    /// unlocks it.
    pub(crate) fn read_output(&self, slot: usize) -> Result<Bitstream> {
        let buffer = *self.outputs.get(slot).ok_or_else(|| bad_slot(slot))?;
        let _current = self.context.make_current()?;
        // SAFETY: the buffer belongs to this live session; the caller reads a slot only
        // after NvEncEncodePicture reported its output ready, once.
        let locked =
            unsafe { LockedBitstream::lock(self.api, self.raw, buffer, self.max_bitstream) }?;
        let out = Bitstream {
            data: locked.data().to_vec(),
            timestamp: locked.timestamp,
            picture_type: locked.picture_type,
        };
        locked.unlock()?;
        Ok(out)
    }

    /// `NvEncGetSequenceParams`.
    pub(crate) fn sequence_params(&self) -> Result<Vec<u8>> {
        if !self.initialized {
            return Err(Error::Internal {
                what: "sequence headers requested before initialization",
            });
        }
        let _current = self.context.make_current()?;
        // SAFETY: the session is live and initialized.
        unsafe { self.api.sequence_params(self.raw) }
    }

    /// `NvEncGetLastErrorString` of this session.
    pub(crate) fn last_error(&self) -> Option<String> {
        // SAFETY: the session is live while `self` exists.
        unsafe { self.api.last_error(self.raw) }
    }
}

/// Whether an `NvEncOpenEncodeSessionEx` status means "this GPU has no NVENC engine":
/// `NV_ENC_ERR_NO_ENCODE_DEVICE`, or `NV_ENC_ERR_UNSUPPORTED_DEVICE`, which is what a GPU
/// without NVENC returns through the 12.1 API.
pub(crate) fn no_encoder_status(code: u32) -> bool {
    code == NVENCSTATUS::NV_ENC_ERR_NO_ENCODE_DEVICE as u32
        || code == NVENCSTATUS::NV_ENC_ERR_UNSUPPORTED_DEVICE as u32
}

fn bad_slot(slot: usize) -> Error {
    tracing::error!(slot, "NVENC buffer slot does not exist");
    Error::Internal {
        what: "an NVENC buffer slot that does not exist",
    }
}

// SAFETY: NVENC and CUDA handles are not tied to the thread that made them; the objects are
// owned by one `SessionHandle` (itself used by one thread at a time) or, once dropped, by
// nothing but their teardown.
unsafe impl Send for SessionObjects {}

impl SessionObjects {
    /// Destroys device registrations (then their memory), input buffers, bitstream buffers,
    /// then the session, in the session's context.
    fn run(self, window: WindowToken<'_>) {
        let _current = match self.context.make_current() {
            Ok(current) => Some(current),
            Err(error) => {
                tracing::error!(%error, "NVENC teardown without a current context");
                None
            }
        };
        if self.initialized && self.unfinished {
            // Lets the encoder finish what it holds before its buffers go away.
            // SAFETY: the session is live and initialized.
            if let Err(error) = unsafe { self.api.send_eos(self.raw) } {
                tracing::warn!(%error, "end of stream before NVENC teardown failed");
            }
        }
        for staging in self.staging {
            if let Some(mapped) = staging.mapped {
                // SAFETY: mapped on this live session; end of stream was sent above.
                if let Err(error) = unsafe { self.api.unmap_input(self.raw, mapped) } {
                    tracing::error!(%error, "NvEncUnmapInputResource failed");
                }
            }
            let unregistered =
                // SAFETY: registered on this live session, unmapped, unused from here on.
                unsafe { self.api.unregister_resource(window, self.raw, staging.registered) };
            if let Err(error) = unregistered {
                tracing::error!(%error, "NvEncUnregisterResource failed");
            }
            // `staging.buffer` is freed here, after its registration is gone.
        }
        for buffer in self.inputs {
            // SAFETY: an input buffer of this live session, not locked (locks never
            // outlive a call), unused from here on.
            let destroyed = unsafe { self.api.destroy_input_buffer(window, self.raw, buffer) };
            if let Err(error) = destroyed {
                tracing::error!(%error, "NvEncDestroyInputBuffer failed");
            }
        }
        for buffer in self.outputs {
            // SAFETY: a bitstream buffer of this live session, not locked, unused from here
            // on.
            let destroyed = unsafe { self.api.destroy_bitstream_buffer(window, self.raw, buffer) };
            if let Err(error) = destroyed {
                tracing::error!(%error, "NvEncDestroyBitstreamBuffer failed");
            }
        }
        // SAFETY: everything made on the session is destroyed above; nothing uses it after.
        if let Err(error) = unsafe { self.api.destroy_encoder(window, self.raw) } {
            tracing::error!(%error, "NvEncDestroyEncoder failed");
        }
    }
}

impl Drop for SessionHandle {
    /// Destroys the session and everything made on it inside one init window: at once if
    /// the lock is free (or this thread is inside a window, as on a failed build), otherwise
    /// on the teardown thread.
    fn drop(&mut self) {
        // SAFETY: `objects` is taken exactly once, here, and never used afterwards.
        let doomed = unsafe { ManuallyDrop::take(&mut self.objects) };
        destroy_in_window("NVENC session", move |window| doomed.run(window));
    }
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("raw", &self.raw.0)
            .field("initialized", &self.initialized)
            .field("buffers", &self.outputs.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::no_encoder_status;

    #[test]
    fn encode_open_statuses_meaning_no_nvenc() {
        assert!(no_encoder_status(1), "NV_ENC_ERR_NO_ENCODE_DEVICE");
        assert!(
            no_encoder_status(2),
            "NV_ENC_ERR_UNSUPPORTED_DEVICE (what a GPU without NVENC returns)"
        );
        for other in [0, 3, 4, 5, 8, 10, 15, 20, 21] {
            assert!(!no_encoder_status(other), "{other}");
        }
    }
}
