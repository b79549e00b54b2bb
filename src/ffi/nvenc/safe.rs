//! The safe layer: types that carry an invariant of NVENC's over their lifetime, built on
//! [`super::result`]: [`EncodeConfig`] (an `NV_ENC_CONFIG` whose union and enum fields stay
//! valid) and the lock guards [`LockedInput`] and [`LockedBitstream`] (unlocked on drop).

use std::ffi::c_void;
#[cfg(test)]
use std::mem::MaybeUninit;

use nvidia_video_codec_sdk::sys::nvEncodeAPI::{
    GUID, NV_ENC_CONFIG, NV_ENC_CONFIG_AV1, NV_ENC_CONFIG_H264, NV_ENC_CONFIG_HEVC,
    NV_ENC_RC_PARAMS, NV_ENC_TUNING_INFO,
};
#[cfg(test)]
use nvidia_video_codec_sdk::sys::nvEncodeAPI::{NV_ENC_CONFIG_VER, NV_ENC_PARAMS_FRAME_FIELD_MODE};

use super::bindgen_enums::EncodeCodec;
use super::result::EncoderPtr;
use super::sys::Nvenc;
use crate::error::{Error, Result};
use crate::unwind::contained;

/// An `NV_ENC_CONFIG` whose codec union holds the member of its codec (or zeros).
///
/// Invariant: the union is only ever reached through [`EncodeConfig::codec_config`] /
/// [`EncodeConfig::codec_config_mut`], which hand out the member of `codec` alone, so no
/// code reinterprets one codec's bytes as another's enums; and every enum field holds a
/// value the header defines (a blank config is zeroed with `frameFieldMode` set; a preset
/// config is checked by [`Nvenc::preset_config`]).
pub(crate) struct EncodeConfig {
    raw: Box<NV_ENC_CONFIG>,
    codec: EncodeCodec,
}

/// The codec-specific part of an [`EncodeConfig`], mutably.
pub(crate) enum CodecConfigMut<'a> {
    H264(&'a mut NV_ENC_CONFIG_H264),
    Hevc(&'a mut NV_ENC_CONFIG_HEVC),
    Av1(&'a mut NV_ENC_CONFIG_AV1),
}

/// The codec-specific part of an [`EncodeConfig`] (read back by tests).
#[cfg(test)]
pub(crate) enum CodecConfig<'a> {
    H264(&'a NV_ENC_CONFIG_H264),
    Hevc(&'a NV_ENC_CONFIG_HEVC),
    Av1(&'a NV_ENC_CONFIG_AV1),
}

impl EncodeConfig {
    /// `NvEncGetEncodePresetConfigEx`: the preset's configuration for a tuning, checked
    /// (see [`Nvenc::preset_config`]).
    ///
    /// # Safety
    /// `enc` must be a live session of `api`.
    pub(crate) unsafe fn preset(
        api: &Nvenc,
        enc: EncoderPtr,
        codec: EncodeCodec,
        codec_guid: GUID,
        preset_guid: GUID,
        tuning: NV_ENC_TUNING_INFO,
    ) -> Result<Self> {
        // SAFETY: guaranteed by the caller.
        let raw = unsafe { api.preset_config(enc, codec, codec_guid, preset_guid, tuning) }?;
        // `preset_config` checked every enum field outside the union and in the member of
        // `codec`: the type's invariant holds.
        Ok(EncodeConfig { raw, codec })
    }

    /// A zeroed configuration for `codec` (what tests start from; the encoder starts from
    /// the preset's).
    #[cfg(test)]
    pub(crate) fn blank(codec: EncodeCodec) -> Self {
        let mut raw = Box::new(MaybeUninit::<NV_ENC_CONFIG>::zeroed());
        let p = raw.as_mut_ptr();
        // SAFETY: `p` points to the zeroed allocation; fields are written in place. Zero is
        // valid for every field but `frameFieldMode` (enums starting at 1), set here; the
        // union is zero, which is a valid H.264, HEVC and AV1 member alike (their enums all
        // define 0).
        let raw = unsafe {
            (&raw mut (*p).version).write(NV_ENC_CONFIG_VER);
            (&raw mut (*p).frameFieldMode)
                .write(NV_ENC_PARAMS_FRAME_FIELD_MODE::NV_ENC_PARAMS_FRAME_FIELD_MODE_FRAME);
            raw.assume_init()
        };
        EncodeConfig { raw, codec }
    }

    /// The whole struct, read-only (its union must be read through [`Self::codec_config`]).
    pub(crate) fn get(&self) -> &NV_ENC_CONFIG {
        &self.raw
    }

    pub(crate) fn rc_mut(&mut self) -> &mut NV_ENC_RC_PARAMS {
        &mut self.raw.rcParams
    }

    pub(crate) fn set_profile(&mut self, profile: GUID) {
        self.raw.profileGUID = profile;
    }

    pub(crate) fn set_gop(&mut self, gop_length: u32, frame_interval_p: i32) {
        self.raw.gopLength = gop_length;
        self.raw.frameIntervalP = frame_interval_p;
    }

    #[cfg(test)]
    pub(crate) fn codec_config(&self) -> CodecConfig<'_> {
        let union = &self.raw.encodeCodecConfig;
        // SAFETY: by the type's invariant the union holds the member of `self.codec` (or
        // zeros, valid for each member), with defined enum values.
        unsafe {
            match self.codec {
                EncodeCodec::H264 => CodecConfig::H264(&union.h264Config),
                EncodeCodec::Hevc => CodecConfig::Hevc(&union.hevcConfig),
                EncodeCodec::Av1 => CodecConfig::Av1(&union.av1Config),
            }
        }
    }

    pub(crate) fn codec_config_mut(&mut self) -> CodecConfigMut<'_> {
        let union = &mut self.raw.encodeCodecConfig;
        // SAFETY: as in `codec_config`; writes through the returned reference are typed, so
        // they keep every enum field defined.
        unsafe {
            match self.codec {
                EncodeCodec::H264 => CodecConfigMut::H264(&mut union.h264Config),
                EncodeCodec::Hevc => CodecConfigMut::Hevc(&mut union.hevcConfig),
                EncodeCodec::Av1 => CodecConfigMut::Av1(&mut union.av1Config),
            }
        }
    }

    /// The struct for the driver to read (`NvEncInitializeEncoder`); writing through the
    /// pointer needs `unsafe` and must keep the invariant.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut NV_ENC_CONFIG {
        &mut *self.raw
    }
}

impl std::fmt::Debug for EncodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodeConfig")
            .field("codec", &self.codec)
            .field("gopLength", &self.raw.gopLength)
            .field("frameIntervalP", &self.raw.frameIntervalP)
            .field("rcParams", &self.raw.rcParams)
            .finish_non_exhaustive()
    }
}

/// A locked input buffer; unlocked on drop (or by [`LockedInput::unlock`]).
pub(crate) struct LockedInput<'a> {
    api: &'a Nvenc,
    enc: EncoderPtr,
    buffer: *mut c_void,
    data: *mut u8,
    pitch: usize,
    locked: bool,
}

impl<'a> LockedInput<'a> {
    /// `NvEncLockInputBuffer` (blocking); the buffer is unlocked when the guard drops.
    ///
    /// # Safety
    /// `enc` must be a live session of `api` and `buffer` one of its input buffers, not
    /// locked already, that outlives the guard.
    pub(crate) unsafe fn lock(
        api: &'a Nvenc,
        enc: EncoderPtr,
        buffer: *mut c_void,
    ) -> Result<Self> {
        // SAFETY: guaranteed by the caller.
        let (data, pitch) = unsafe { api.lock_input_buffer(enc, buffer) }?;
        let guard = LockedInput {
            api,
            enc,
            buffer,
            data,
            pitch,
            locked: true,
        };
        if guard.data.is_null() {
            // Dropping the guard unlocks the buffer.
            return Err(Error::DriverContract {
                call: "NvEncLockInputBuffer",
                violation: "succeeded but returned no memory".into(),
            });
        }
        Ok(guard)
    }

    /// Bytes between rows of the locked surface.
    pub(crate) fn pitch(&self) -> usize {
        self.pitch
    }

    /// The locked memory as `len` bytes.
    ///
    /// # Safety
    /// The buffer must hold at least `len` bytes at its locked address: `len` must not
    /// exceed `pitch` × the number of rows NVENC lays out for the buffer's size and format.
    pub(crate) unsafe fn bytes_mut(&mut self, len: usize) -> &mut [u8] {
        // SAFETY: `data` is non-null (checked at lock) and valid for `len` bytes (caller's
        // guarantee) until unlock, which needs `self` and so cannot happen while the
        // returned borrow lives.
        unsafe { std::slice::from_raw_parts_mut(self.data, len) }
    }

    /// Unlocks now, reporting failure.
    pub(crate) fn unlock(mut self) -> Result<()> {
        self.locked = false;
        self.unlock_raw()
    }

    fn unlock_raw(&self) -> Result<()> {
        // SAFETY: the buffer was locked by `lock_input_buffer` on this live session (the
        // lock's precondition) and is unlocked exactly once (the flag).
        unsafe { self.api.unlock_input_buffer(self.enc, self.buffer) }
    }
}

impl Drop for LockedInput<'_> {
    fn drop(&mut self) {
        if self.locked {
            if let Err(error) = self.unlock_raw() {
                contained(|| tracing::error!(%error, "unlocking an NVENC input buffer failed"));
            }
        }
    }
}

/// A locked bitstream buffer: one encoded picture. Unlocked on drop (or by
/// [`LockedBitstream::unlock`]).
pub(crate) struct LockedBitstream<'a> {
    api: &'a Nvenc,
    enc: EncoderPtr,
    buffer: *mut c_void,
    data: *const u8,
    len: usize,
    /// `outputTimeStamp`: the `inputTimeStamp` of this picture.
    pub(crate) timestamp: u64,
    /// `pictureType` as its raw `NV_ENC_PIC_TYPE` value.
    pub(crate) picture_type: u32,
    locked: bool,
}

impl<'a> LockedBitstream<'a> {
    /// `NvEncLockBitstream` (blocking until the picture is encoded); the buffer is unlocked
    /// when the guard drops. More than `max_len` bytes, or bytes at a null address, are an
    /// error (and the buffer is unlocked).
    ///
    /// # Safety
    /// `enc` must be a live session of `api` and `buffer` one of its bitstream buffers that
    /// a successful `NvEncEncodePicture` made ready, not locked already, that outlives the
    /// guard.
    pub(crate) unsafe fn lock(
        api: &'a Nvenc,
        enc: EncoderPtr,
        buffer: *mut c_void,
        max_len: usize,
    ) -> Result<Self> {
        // SAFETY: guaranteed by the caller.
        let lock = unsafe { api.lock_bitstream(enc, buffer) }?;
        let guard = LockedBitstream {
            api,
            enc,
            buffer,
            data: lock.data,
            len: lock.len,
            timestamp: lock.timestamp,
            picture_type: lock.picture_type,
            locked: true,
        };
        if guard.len > max_len || (guard.data.is_null() && guard.len != 0) {
            // Dropping the guard unlocks the buffer.
            return Err(Error::DriverContract {
                call: "NvEncLockBitstream",
                violation: format!(
                    "reported {} bytes at {:p}; at most {max_len} are plausible for this session",
                    guard.len, guard.data
                ),
            });
        }
        Ok(guard)
    }

    /// The encoded bytes.
    pub(crate) fn data(&self) -> &[u8] {
        if self.data.is_null() || self.len == 0 {
            return &[];
        }
        // SAFETY: NVENC guarantees `bitstreamBufferPtr` holds `bitstreamSizeInBytes` bytes
        // while the buffer is locked; the borrow ends before the unlock (which needs
        // `self` by value or `&mut` in drop).
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }

    /// Unlocks now, reporting failure.
    pub(crate) fn unlock(mut self) -> Result<()> {
        self.locked = false;
        self.unlock_raw()
    }

    fn unlock_raw(&self) -> Result<()> {
        // SAFETY: the buffer was locked by `lock_bitstream` on this live session (the lock's
        // precondition) and is unlocked exactly once (the flag).
        unsafe { self.api.unlock_bitstream(self.enc, self.buffer) }
    }
}

impl Drop for LockedBitstream<'_> {
    fn drop(&mut self) {
        if self.locked {
            if let Err(error) = self.unlock_raw() {
                contained(|| tracing::error!(%error, "unlocking an NVENC bitstream buffer failed"));
            }
        }
    }
}

#[cfg(test)]
mod encode_ffi_tests {
    //! Named so that `cargo test --lib encode` selects them.
    use super::*;
    use crate::ffi::nvenc::bindgen_enums::{lock_bitstream_params, pic_params, unknown_enum};
    use nvidia_video_codec_sdk::sys::nvEncodeAPI::{
        NV_ENC_LOCK_BITSTREAM_VER, NV_ENC_PIC_PARAMS_VER, NV_ENC_PIC_STRUCT,
    };

    #[test]
    fn encode_blank_structs_have_versions_and_valid_enums() {
        let p = pic_params();
        assert_eq!(p.version, NV_ENC_PIC_PARAMS_VER);
        assert_eq!(p.pictureStruct, NV_ENC_PIC_STRUCT::NV_ENC_PIC_STRUCT_FRAME);
        let l = lock_bitstream_params();
        assert_eq!(l.version, NV_ENC_LOCK_BITSTREAM_VER);
        assert_eq!(l.doNotWait(), 0, "locks block until the picture is encoded");
        for codec in [EncodeCodec::H264, EncodeCodec::Hevc, EncodeCodec::Av1] {
            let c = EncodeConfig::blank(codec);
            assert_eq!(c.get().version, NV_ENC_CONFIG_VER);
            assert_eq!(
                c.get().frameFieldMode,
                NV_ENC_PARAMS_FRAME_FIELD_MODE::NV_ENC_PARAMS_FRAME_FIELD_MODE_FRAME
            );
            // SAFETY: `c.raw` is a live, fully initialized config.
            assert_eq!(unsafe { unknown_enum(&*c.raw, codec) }, None);
        }
    }
}
