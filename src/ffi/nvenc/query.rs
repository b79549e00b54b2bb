//! The capability queries of a live NVENC session, one `Result`-returning `unsafe` wrapper
//! per call, on [`Nvenc`]: what the GPU encodes, with which presets and input formats, and a
//! preset's configuration. Same rules as [`super::result`]: each names its call in the error,
//! and structs the driver writes enum fields into are read field by field.

use std::ffi::c_int;
use std::mem::MaybeUninit;

use nvidia_video_codec_sdk::sys::nvEncodeAPI::{
    GUID, NV_ENC_CAPS, NV_ENC_CAPS_PARAM, NV_ENC_CAPS_PARAM_VER, NV_ENC_CONFIG, NV_ENC_CONFIG_VER,
    NV_ENC_PARAMS_FRAME_FIELD_MODE, NV_ENC_PRESET_CONFIG, NV_ENC_PRESET_CONFIG_VER,
    NV_ENC_TUNING_INFO,
};

use super::bindgen_enums::{EncodeCodec, unknown_enum};
use super::result::EncoderPtr;
use super::sys::Nvenc;
use crate::error::{Error, Result};

impl Nvenc {
    /// `NvEncGetEncodeGUIDCount` + `NvEncGetEncodeGUIDs`: the codecs this GPU encodes.
    ///
    /// # Safety
    /// `enc` must be a live session.
    pub(crate) unsafe fn encode_guids(&self, enc: EncoderPtr) -> Result<Vec<GUID>> {
        let mut count = 0u32;
        // SAFETY: guaranteed by the caller; the out-pointer is a live local.
        let status = unsafe { (self.get_encode_guid_count)(enc.0, &mut count) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncGetEncodeGUIDCount", status) }?;
        let mut guids = vec![GUID::default(); count as usize];
        let mut written = 0u32;
        // SAFETY: `guids` has room for `count` GUIDs, and that size is passed.
        let status =
            unsafe { (self.get_encode_guids)(enc.0, guids.as_mut_ptr(), count, &mut written) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncGetEncodeGUIDs", status) }?;
        guids.truncate(written as usize);
        Ok(guids)
    }

    /// `NvEncGetEncodePresetCount` + `NvEncGetEncodePresetGUIDs` for a codec.
    ///
    /// # Safety
    /// `enc` must be a live session.
    pub(crate) unsafe fn preset_guids(&self, enc: EncoderPtr, codec: GUID) -> Result<Vec<GUID>> {
        let mut count = 0u32;
        // SAFETY: guaranteed by the caller; the out-pointer is a live local.
        let status = unsafe { (self.get_preset_count)(enc.0, codec, &mut count) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncGetEncodePresetCount", status) }?;
        let mut guids = vec![GUID::default(); count as usize];
        let mut written = 0u32;
        // SAFETY: `guids` has room for `count` GUIDs, and that size is passed.
        let status = unsafe {
            (self.get_preset_guids)(enc.0, codec, guids.as_mut_ptr(), count, &mut written)
        };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncGetEncodePresetGUIDs", status) }?;
        guids.truncate(written as usize);
        Ok(guids)
    }

    /// `NvEncGetInputFormatCount` + `NvEncGetInputFormats` for a codec, as raw
    /// `NV_ENC_BUFFER_FORMAT` values (a driver may list formats newer than the header).
    ///
    /// # Safety
    /// `enc` must be a live session.
    pub(crate) unsafe fn input_formats(&self, enc: EncoderPtr, codec: GUID) -> Result<Vec<u32>> {
        let mut count = 0u32;
        // SAFETY: guaranteed by the caller; the out-pointer is a live local.
        let status = unsafe { (self.get_input_format_count)(enc.0, codec, &mut count) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncGetInputFormatCount", status) }?;
        let mut formats = vec![0u32; count as usize];
        let mut written = 0u32;
        // SAFETY: `formats` has room for `count` 32-bit values, and that size is passed.
        let status = unsafe {
            (self.get_input_formats)(enc.0, codec, formats.as_mut_ptr(), count, &mut written)
        };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncGetInputFormats", status) }?;
        formats.truncate(written as usize);
        Ok(formats)
    }

    /// `NvEncGetEncodeCaps` for one capability of a codec.
    ///
    /// # Safety
    /// `enc` must be a live session.
    pub(crate) unsafe fn caps(
        &self,
        enc: EncoderPtr,
        codec: GUID,
        cap: NV_ENC_CAPS,
    ) -> Result<i32> {
        let mut param = NV_ENC_CAPS_PARAM {
            version: NV_ENC_CAPS_PARAM_VER,
            capsToQuery: cap,
            ..Default::default()
        };
        let mut value: c_int = 0;
        // SAFETY: guaranteed by the caller; both pointers are live locals.
        let status = unsafe { (self.get_encode_caps)(enc.0, codec, &mut param, &mut value) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncGetEncodeCaps", status) }?;
        Ok(value)
    }

    /// `NvEncGetEncodePresetConfigEx`: the preset's full configuration for a tuning, with
    /// its version set.
    ///
    /// The driver writes a whole `NV_ENC_CONFIG`; its enum fields (outside the codec union,
    /// and in the union member of `codec`) are checked against the header's values before
    /// the struct is used as a Rust value. That is what
    /// [`EncodeConfig`](super::safe::EncodeConfig) requires of a configuration.
    ///
    /// # Safety
    /// `enc` must be a live session.
    pub(crate) unsafe fn preset_config(
        &self,
        enc: EncoderPtr,
        codec: EncodeCodec,
        codec_guid: GUID,
        preset_guid: GUID,
        tuning: NV_ENC_TUNING_INFO,
    ) -> Result<Box<NV_ENC_CONFIG>> {
        let mut preset = Box::new(MaybeUninit::<NV_ENC_PRESET_CONFIG>::zeroed());
        let p = preset.as_mut_ptr();
        // SAFETY: `p` points to a zeroed allocation of the right type; the fields are
        // written in place, nothing is read.
        unsafe {
            (&raw mut (*p).version).write(NV_ENC_PRESET_CONFIG_VER);
            (&raw mut (*p).presetCfg.version).write(NV_ENC_CONFIG_VER);
            (&raw mut (*p).presetCfg.frameFieldMode)
                .write(NV_ENC_PARAMS_FRAME_FIELD_MODE::NV_ENC_PARAMS_FRAME_FIELD_MODE_FRAME);
        }
        // SAFETY: guaranteed by the caller; `p` is live and versioned as the API requires.
        let status =
            unsafe { (self.get_preset_config_ex)(enc.0, codec_guid, preset_guid, tuning, p) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncGetEncodePresetConfigEx", status) }?;
        // SAFETY: `p` is live and every byte of it is initialized (zeroed, then written by
        // the driver); only raw reads happen.
        if let Some((field, value)) = unsafe { unknown_enum(&raw const (*p).presetCfg, codec) } {
            return Err(Error::Unsupported {
                what: format!(
                    "NvEncGetEncodePresetConfigEx returned {field} = {value}, a value the NVENC 12.1 header does not define"
                ),
                supported: "the values of nvEncodeAPI.h 12.1".into(),
            });
        }
        // SAFETY: all bytes are initialized and every enum field outside the codec union
        // holds a defined value (checked above); union members are read only through
        // `EncodeConfig`, and the member of `codec` was checked too.
        let preset = unsafe { preset.assume_init() };
        let mut raw = Box::new(preset.presetCfg);
        raw.version = NV_ENC_CONFIG_VER;
        Ok(raw)
    }
}
