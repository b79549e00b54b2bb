//! Thin, `Result`-returning wrappers over NVENC (`libnvidia-encode.so.1`), loaded at run time.
//!
//! Invariant: the library is opened once per process, its API version is checked against
//! the header this crate was built with, and every entry point used is taken from
//! `NvEncodeAPICreateInstance`'s function list up front, so a missing entry is one clear
//! error at first use. The raw types come from `nvidia-video-codec-sdk`'s `sys` module; its
//! `extern` declarations are never called (they would need build-time linking) and its
//! `safe` module is never used (it panics).
//!
//! Two hazards of the bindgen types are handled here, once, so no other module meets them:
//! - **Enums the driver writes.** A Rust enum holding a value it does not list is undefined
//!   behaviour, and a newer driver may return `NVENCSTATUS` codes, buffer formats or picture
//!   types the 12.1 header lacks. So every entry point is called through a signature that
//!   returns the status as `u32`, input formats are read as `u32`, and structs the driver
//!   writes enum fields into stay in `MaybeUninit` with those fields read as `u32`.
//! - **Enums with no zero value.** bindgen's `Default` zero-fills, which is invalid for
//!   `NV_ENC_PIC_STRUCT` and `NV_ENC_PARAMS_FRAME_FIELD_MODE` (both start at 1); structs
//!   holding them (`NV_ENC_CONFIG`, `NV_ENC_PIC_PARAMS`, `NV_ENC_LOCK_BITSTREAM`, ...) are
//!   built here with those fields set before the value exists.
//!
//! Lifecycle calls (session open/initialize/destroy, buffer create/destroy, resource
//! register/unregister) take a [`WindowToken`]: they compile only inside an init window.
//! Every function taking an [`EncoderPtr`] needs the session's CUDA context current.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::mem::MaybeUninit;

use cudarc::driver::sys::{CUcontext, CUdeviceptr};
use nvidia_video_codec_sdk::sys::nvEncodeAPI::{
    GUID, NV_ENC_BUFFER_FORMAT, NV_ENC_BUFFER_USAGE, NV_ENC_CAPS, NV_ENC_CAPS_PARAM,
    NV_ENC_CAPS_PARAM_VER, NV_ENC_CONFIG, NV_ENC_CONFIG_AV1, NV_ENC_CONFIG_H264,
    NV_ENC_CONFIG_HEVC, NV_ENC_CONFIG_VER, NV_ENC_CREATE_BITSTREAM_BUFFER,
    NV_ENC_CREATE_BITSTREAM_BUFFER_VER, NV_ENC_CREATE_INPUT_BUFFER, NV_ENC_CREATE_INPUT_BUFFER_VER,
    NV_ENC_DEVICE_TYPE, NV_ENC_INITIALIZE_PARAMS, NV_ENC_INPUT_RESOURCE_TYPE,
    NV_ENC_LOCK_BITSTREAM, NV_ENC_LOCK_BITSTREAM_VER, NV_ENC_LOCK_INPUT_BUFFER,
    NV_ENC_LOCK_INPUT_BUFFER_VER, NV_ENC_MAP_INPUT_RESOURCE, NV_ENC_MAP_INPUT_RESOURCE_VER,
    NV_ENC_MEMORY_HEAP, NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS,
    NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER, NV_ENC_PARAMS_FRAME_FIELD_MODE, NV_ENC_PIC_FLAGS,
    NV_ENC_PIC_PARAMS, NV_ENC_PIC_PARAMS_VER, NV_ENC_PIC_STRUCT, NV_ENC_PRESET_CONFIG,
    NV_ENC_PRESET_CONFIG_VER, NV_ENC_RC_PARAMS, NV_ENC_REGISTER_RESOURCE,
    NV_ENC_REGISTER_RESOURCE_VER, NV_ENC_SEQUENCE_PARAM_PAYLOAD, NV_ENC_SEQUENCE_PARAM_PAYLOAD_VER,
    NV_ENC_TUNING_INFO, NV_ENCODE_API_FUNCTION_LIST, NV_ENCODE_API_FUNCTION_LIST_VER,
    NV_MAX_SEQ_HDR_LEN, NVENCAPI_MAJOR_VERSION, NVENCAPI_MINOR_VERSION, NVENCAPI_VERSION,
    NVENCSTATUS, PNVENCCREATEBITSTREAMBUFFER, PNVENCCREATEINPUTBUFFER,
    PNVENCDESTROYBITSTREAMBUFFER, PNVENCDESTROYENCODER, PNVENCDESTROYINPUTBUFFER,
    PNVENCENCODEPICTURE, PNVENCGETENCODECAPS, PNVENCGETENCODEGUIDCOUNT, PNVENCGETENCODEGUIDS,
    PNVENCGETENCODEPRESETCONFIGEX, PNVENCGETENCODEPRESETCOUNT, PNVENCGETENCODEPRESETGUIDS,
    PNVENCGETINPUTFORMATCOUNT, PNVENCGETINPUTFORMATS, PNVENCGETSEQUENCEPARAMS,
    PNVENCINITIALIZEENCODER, PNVENCLOCKBITSTREAM, PNVENCLOCKINPUTBUFFER, PNVENCMAPINPUTRESOURCE,
    PNVENCOPENENCODESESSIONEX, PNVENCREGISTERRESOURCE, PNVENCUNLOCKBITSTREAM,
    PNVENCUNLOCKINPUTBUFFER, PNVENCUNMAPINPUTRESOURCE, PNVENCUNREGISTERRESOURCE,
};

use super::loader::{self, Library, Loaded};
use crate::error::{Error, Result};
use crate::init::WindowToken;

/// The NVENC library's file name.
pub(crate) const LIBNVENC: &str = "libnvidia-encode.so.1";

/// The API version of the header the raw types were generated from, in the encoding
/// `NvEncodeAPIGetMaxSupportedVersion` reports: `major << 4 | minor`.
pub(crate) const HEADER_API_VERSION: u32 = (NVENCAPI_MAJOR_VERSION << 4) | NVENCAPI_MINOR_VERSION;

/// A successful call that handed back a null object is an error, not a null handle.
fn non_null(call: &'static str, ptr: *mut c_void) -> Result<*mut c_void> {
    if ptr.is_null() {
        Err(Error::Codec(format!(
            "{call} succeeded but returned no object"
        )))
    } else {
        Ok(ptr)
    }
}

/// `NV_ENC_SUCCESS`.
const SUCCESS: u32 = NVENCSTATUS::NV_ENC_SUCCESS as u32;
/// `NV_ENC_ERR_NEED_MORE_INPUT`: not an error from `NvEncEncodePicture`.
const NEED_MORE_INPUT: u32 = NVENCSTATUS::NV_ENC_ERR_NEED_MORE_INPUT as u32;

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

/// Checks the driver's largest supported NVENC API version (`major << 4 | minor`) against
/// the header's.
pub(crate) fn check_api_version(driver_max: u32) -> Result<()> {
    if driver_max >= HEADER_API_VERSION {
        return Ok(());
    }
    Err(Error::Unsupported {
        what: format!(
            "NVENC API {NVENCAPI_MAJOR_VERSION}.{NVENCAPI_MINOR_VERSION} (the header this crate uses)"
        ),
        supported: format!(
            "the installed driver supports NVENC API up to {}.{}; API 12.1 needs an NVIDIA driver of release 530 or newer",
            driver_max >> 4,
            driver_max & 0xf
        ),
    })
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

/// The codecs NVENC encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EncodeCodec {
    H264,
    Hevc,
    Av1,
}

/// One picture for `NvEncEncodePicture`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Picture {
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

// ---------------------------------------------------------------------------------------
// Entry-point signatures: the header's, with `NVENCSTATUS` returned as `u32`.
// ---------------------------------------------------------------------------------------

type Handle = *mut c_void;
type GetMaxSupportedVersion = unsafe extern "C" fn(*mut u32) -> u32;
type CreateInstance = unsafe extern "C" fn(*mut NV_ENCODE_API_FUNCTION_LIST) -> u32;
type OpenSessionEx =
    unsafe extern "C" fn(*mut NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS, *mut Handle) -> u32;
type GetCount = unsafe extern "C" fn(Handle, *mut u32) -> u32;
type GetGuids = unsafe extern "C" fn(Handle, *mut GUID, u32, *mut u32) -> u32;
type GetCountFor = unsafe extern "C" fn(Handle, GUID, *mut u32) -> u32;
type GetGuidsFor = unsafe extern "C" fn(Handle, GUID, *mut GUID, u32, *mut u32) -> u32;
type GetInputFormats = unsafe extern "C" fn(Handle, GUID, *mut u32, u32, *mut u32) -> u32;
type GetCaps = unsafe extern "C" fn(Handle, GUID, *mut NV_ENC_CAPS_PARAM, *mut c_int) -> u32;
type GetPresetConfigEx =
    unsafe extern "C" fn(Handle, GUID, GUID, NV_ENC_TUNING_INFO, *mut NV_ENC_PRESET_CONFIG) -> u32;
type Initialize = unsafe extern "C" fn(Handle, *mut NV_ENC_INITIALIZE_PARAMS) -> u32;
type CreateInputBuffer = unsafe extern "C" fn(Handle, *mut NV_ENC_CREATE_INPUT_BUFFER) -> u32;
type CreateBitstreamBuffer =
    unsafe extern "C" fn(Handle, *mut NV_ENC_CREATE_BITSTREAM_BUFFER) -> u32;
/// `(encoder, some NVENC pointer)`: destroy, unlock, unmap and unregister calls.
type OnPointer = unsafe extern "C" fn(Handle, *mut c_void) -> u32;
type EncodePicture = unsafe extern "C" fn(Handle, *mut NV_ENC_PIC_PARAMS) -> u32;
type LockBitstream = unsafe extern "C" fn(Handle, *mut NV_ENC_LOCK_BITSTREAM) -> u32;
type LockInputBuffer = unsafe extern "C" fn(Handle, *mut NV_ENC_LOCK_INPUT_BUFFER) -> u32;
type GetSequenceParams = unsafe extern "C" fn(Handle, *mut NV_ENC_SEQUENCE_PARAM_PAYLOAD) -> u32;
type MapInputResource = unsafe extern "C" fn(Handle, *mut NV_ENC_MAP_INPUT_RESOURCE) -> u32;
type RegisterResource = unsafe extern "C" fn(Handle, *mut NV_ENC_REGISTER_RESOURCE) -> u32;
type DestroyEncoder = unsafe extern "C" fn(Handle) -> u32;

/// NVENC's entry points, resolved from `libnvidia-encode.so.1`.
pub(crate) struct Nvenc {
    open_session_ex: OpenSessionEx,
    get_encode_guid_count: GetCount,
    get_encode_guids: GetGuids,
    get_preset_count: GetCountFor,
    get_preset_guids: GetGuidsFor,
    get_input_format_count: GetCountFor,
    get_input_formats: GetInputFormats,
    get_encode_caps: GetCaps,
    get_preset_config_ex: GetPresetConfigEx,
    initialize_encoder: Initialize,
    create_input_buffer: CreateInputBuffer,
    destroy_input_buffer: OnPointer,
    create_bitstream_buffer: CreateBitstreamBuffer,
    destroy_bitstream_buffer: OnPointer,
    encode_picture: EncodePicture,
    lock_bitstream: LockBitstream,
    unlock_bitstream: OnPointer,
    lock_input_buffer: LockInputBuffer,
    unlock_input_buffer: OnPointer,
    get_sequence_params: GetSequenceParams,
    map_input_resource: MapInputResource,
    unmap_input_resource: OnPointer,
    register_resource: RegisterResource,
    unregister_resource: OnPointer,
    destroy_encoder: DestroyEncoder,
    get_last_error: unsafe extern "C" fn(Handle) -> *const c_char,
    /// The driver's largest supported API version (`major << 4 | minor`).
    driver_api_version: u32,
    /// Keeps the library mapped for as long as the function pointers above are used.
    _library: Library,
}

impl std::fmt::Debug for Nvenc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Nvenc({LIBNVENC}, driver API {}.{})",
            self.driver_api_version >> 4,
            self.driver_api_version & 0xf
        )
    }
}

/// Why NVENC could not be loaded: the shared loader's failures, plus NVENC's own.
#[derive(Debug, Clone)]
enum LoadFailure {
    Load(loader::LoadFailure),
    TooOld(u32),
    Call(&'static str, u32),
}

impl From<loader::LoadFailure> for LoadFailure {
    fn from(failure: loader::LoadFailure) -> Self {
        LoadFailure::Load(failure)
    }
}

impl loader::Failure for LoadFailure {
    fn to_error(&self, library: &'static str) -> Error {
        match self {
            LoadFailure::Load(failure) => failure.to_error(library),
            LoadFailure::TooOld(version) => match check_api_version(*version) {
                Err(error) => error,
                Ok(()) => Error::Codec(format!(
                    "{library} could not be used (API version {version:#x})"
                )),
            },
            LoadFailure::Call(call, code) => status_error(call, *code, None),
        }
    }
}

/// Takes one entry of the function list as a signature returning `u32`; an empty entry is a
/// missing symbol.
macro_rules! entry {
    ($list:expr, $field:ident) => {{
        $list.$field.ok_or_else(|| {
            LoadFailure::Load(loader::LoadFailure::Symbol(
                stringify!($field),
                "NvEncodeAPICreateInstance left this entry empty".into(),
            ))
        })?
    }};
    ($list:expr, $field:ident, $header:ty, $ours:ty) => {{
        // SAFETY: `$ours` is `$header` with `NVENCSTATUS` (a `#[repr(u32)]` enum) returned
        // as `u32` and enum-typed pointer arguments as pointers to `u32`: the same C ABI.
        // `Option<fn>` has the same layout for both (null is `None`).
        let f = unsafe { std::mem::transmute::<$header, Option<$ours>>($list.$field) };
        f.ok_or_else(|| {
            LoadFailure::Load(loader::LoadFailure::Symbol(
                stringify!($field),
                "NvEncodeAPICreateInstance left this entry empty".into(),
            ))
        })?
    }};
}

impl Nvenc {
    /// Loads the library once per process; later calls return the cached outcome.
    pub(crate) fn get() -> Result<&'static Nvenc> {
        static LOADED: Loaded<Nvenc, LoadFailure> = Loaded::new(LIBNVENC, Nvenc::load);
        LOADED.get()
    }

    fn load() -> Result<Nvenc, LoadFailure> {
        let library = Library::open(LIBNVENC)?;
        // SAFETY: both aliases spell the C signatures nvEncodeAPI.h documents for these
        // symbols, with NVENCSTATUS returned as its underlying u32.
        let (max_version, create_instance): (GetMaxSupportedVersion, CreateInstance) = unsafe {
            (
                library.symbol("NvEncodeAPIGetMaxSupportedVersion")?,
                library.symbol("NvEncodeAPICreateInstance")?,
            )
        };

        let mut driver_api_version = 0u32;
        // SAFETY: the out-pointer is a live local.
        let status = unsafe { max_version(&mut driver_api_version) };
        if status != SUCCESS {
            return Err(LoadFailure::Call(
                "NvEncodeAPIGetMaxSupportedVersion",
                status,
            ));
        }
        if check_api_version(driver_api_version).is_err() {
            return Err(LoadFailure::TooOld(driver_api_version));
        }

        let mut list = NV_ENCODE_API_FUNCTION_LIST {
            version: NV_ENCODE_API_FUNCTION_LIST_VER,
            ..Default::default()
        };
        // SAFETY: `list` is a live, zeroed function list with its version set, as the
        // header requires; the driver fills in the entry points.
        let status = unsafe { create_instance(&mut list) };
        if status != SUCCESS {
            return Err(LoadFailure::Call("NvEncodeAPICreateInstance", status));
        }

        Ok(Nvenc {
            open_session_ex: entry!(
                list,
                nvEncOpenEncodeSessionEx,
                PNVENCOPENENCODESESSIONEX,
                OpenSessionEx
            ),
            get_encode_guid_count: entry!(
                list,
                nvEncGetEncodeGUIDCount,
                PNVENCGETENCODEGUIDCOUNT,
                GetCount
            ),
            get_encode_guids: entry!(list, nvEncGetEncodeGUIDs, PNVENCGETENCODEGUIDS, GetGuids),
            get_preset_count: entry!(
                list,
                nvEncGetEncodePresetCount,
                PNVENCGETENCODEPRESETCOUNT,
                GetCountFor
            ),
            get_preset_guids: entry!(
                list,
                nvEncGetEncodePresetGUIDs,
                PNVENCGETENCODEPRESETGUIDS,
                GetGuidsFor
            ),
            get_input_format_count: entry!(
                list,
                nvEncGetInputFormatCount,
                PNVENCGETINPUTFORMATCOUNT,
                GetCountFor
            ),
            get_input_formats: entry!(
                list,
                nvEncGetInputFormats,
                PNVENCGETINPUTFORMATS,
                GetInputFormats
            ),
            get_encode_caps: entry!(list, nvEncGetEncodeCaps, PNVENCGETENCODECAPS, GetCaps),
            get_preset_config_ex: entry!(
                list,
                nvEncGetEncodePresetConfigEx,
                PNVENCGETENCODEPRESETCONFIGEX,
                GetPresetConfigEx
            ),
            initialize_encoder: entry!(
                list,
                nvEncInitializeEncoder,
                PNVENCINITIALIZEENCODER,
                Initialize
            ),
            create_input_buffer: entry!(
                list,
                nvEncCreateInputBuffer,
                PNVENCCREATEINPUTBUFFER,
                CreateInputBuffer
            ),
            destroy_input_buffer: entry!(
                list,
                nvEncDestroyInputBuffer,
                PNVENCDESTROYINPUTBUFFER,
                OnPointer
            ),
            create_bitstream_buffer: entry!(
                list,
                nvEncCreateBitstreamBuffer,
                PNVENCCREATEBITSTREAMBUFFER,
                CreateBitstreamBuffer
            ),
            destroy_bitstream_buffer: entry!(
                list,
                nvEncDestroyBitstreamBuffer,
                PNVENCDESTROYBITSTREAMBUFFER,
                OnPointer
            ),
            encode_picture: entry!(list, nvEncEncodePicture, PNVENCENCODEPICTURE, EncodePicture),
            lock_bitstream: entry!(list, nvEncLockBitstream, PNVENCLOCKBITSTREAM, LockBitstream),
            unlock_bitstream: entry!(list, nvEncUnlockBitstream, PNVENCUNLOCKBITSTREAM, OnPointer),
            lock_input_buffer: entry!(
                list,
                nvEncLockInputBuffer,
                PNVENCLOCKINPUTBUFFER,
                LockInputBuffer
            ),
            unlock_input_buffer: entry!(
                list,
                nvEncUnlockInputBuffer,
                PNVENCUNLOCKINPUTBUFFER,
                OnPointer
            ),
            get_sequence_params: entry!(
                list,
                nvEncGetSequenceParams,
                PNVENCGETSEQUENCEPARAMS,
                GetSequenceParams
            ),
            map_input_resource: entry!(
                list,
                nvEncMapInputResource,
                PNVENCMAPINPUTRESOURCE,
                MapInputResource
            ),
            unmap_input_resource: entry!(
                list,
                nvEncUnmapInputResource,
                PNVENCUNMAPINPUTRESOURCE,
                OnPointer
            ),
            register_resource: entry!(
                list,
                nvEncRegisterResource,
                PNVENCREGISTERRESOURCE,
                RegisterResource
            ),
            unregister_resource: entry!(
                list,
                nvEncUnregisterResource,
                PNVENCUNREGISTERRESOURCE,
                OnPointer
            ),
            destroy_encoder: entry!(
                list,
                nvEncDestroyEncoder,
                PNVENCDESTROYENCODER,
                DestroyEncoder
            ),
            // Returns a string, not a status: taken as declared.
            get_last_error: entry!(list, nvEncGetLastErrorString),
            driver_api_version,
            _library: library,
        })
    }

    /// The driver's largest supported NVENC API version as `(major, minor)`.
    pub(crate) fn driver_api_version(&self) -> (u32, u32) {
        (self.driver_api_version >> 4, self.driver_api_version & 0xf)
    }

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
    unsafe fn check(&self, enc: EncoderPtr, call: &'static str, status: u32) -> Result<()> {
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
        let status = window.lifecycle(|| unsafe { (self.open_session_ex)(&mut params, &mut raw) });
        if status != SUCCESS {
            if !raw.is_null() {
                // SAFETY: the handle came from the failed open and is used by nobody else.
                let destroyed = window.lifecycle(|| unsafe { (self.destroy_encoder)(raw) });
                if destroyed != SUCCESS {
                    tracing::warn!(
                        status = status_name(destroyed),
                        "NvEncDestroyEncoder after a failed open failed"
                    );
                }
            }
            return Err(status_error("NvEncOpenEncodeSessionEx", status, None));
        }
        if raw.is_null() {
            return Err(Error::Codec(
                "NvEncOpenEncodeSessionEx succeeded but returned no session".into(),
            ));
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
        let status = window.lifecycle(|| unsafe { (self.destroy_encoder)(enc.0) });
        if status == SUCCESS {
            Ok(())
        } else {
            // The session is gone (or unusable): no last-error string to ask for.
            Err(status_error("NvEncDestroyEncoder", status, None))
        }
    }

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

    /// `NvEncGetEncodePresetConfigEx`: the preset's full configuration for a tuning.
    ///
    /// The driver writes a whole `NV_ENC_CONFIG`; its enum fields are checked against the
    /// header's values before the struct is used as a Rust value.
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
    ) -> Result<EncodeConfig> {
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
        Ok(EncodeConfig { raw, codec })
    }

    /// `NvEncInitializeEncoder` with `config` as the encode configuration.
    ///
    /// # Safety
    /// `enc` must be a live, not yet initialized session.
    pub(crate) unsafe fn initialize(
        &self,
        window: WindowToken<'_>,
        enc: EncoderPtr,
        params: &mut NV_ENC_INITIALIZE_PARAMS,
        config: &mut EncodeConfig,
    ) -> Result<()> {
        params.encodeConfig = config.as_mut_ptr();
        // SAFETY: guaranteed by the caller; `params` and the config it points to are live
        // for the call (the driver copies them).
        let status = window.lifecycle(|| unsafe { (self.initialize_encoder)(enc.0, params) });
        params.encodeConfig = std::ptr::null_mut();
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
        let status = window.lifecycle(|| unsafe { (self.create_input_buffer)(enc.0, &mut params) });
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
        let status = window.lifecycle(|| unsafe { (self.destroy_input_buffer)(enc.0, buffer) });
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
        let status =
            window.lifecycle(|| unsafe { (self.create_bitstream_buffer)(enc.0, &mut params) });
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
        let status = window.lifecycle(|| unsafe { (self.destroy_bitstream_buffer)(enc.0, buffer) });
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncDestroyBitstreamBuffer", status) }
    }

    /// `NvEncLockInputBuffer` (blocking); the buffer is unlocked when the guard drops.
    ///
    /// # Safety
    /// `enc` must be live and `buffer` one of its input buffers, not locked already, that
    /// outlives the guard.
    pub(crate) unsafe fn lock_input_buffer(
        &self,
        enc: EncoderPtr,
        buffer: *mut c_void,
    ) -> Result<LockedInput<'_>> {
        let mut params = NV_ENC_LOCK_INPUT_BUFFER {
            version: NV_ENC_LOCK_INPUT_BUFFER_VER,
            inputBuffer: buffer,
            ..Default::default()
        };
        // SAFETY: guaranteed by the caller; `params` is live and initialized.
        let status = unsafe { (self.lock_input_buffer)(enc.0, &mut params) };
        // SAFETY: guaranteed by the caller.
        unsafe { self.check(enc, "NvEncLockInputBuffer", status) }?;
        let guard = LockedInput {
            api: self,
            enc,
            buffer,
            data: params.bufferDataPtr.cast(),
            pitch: params.pitch as usize,
            locked: true,
        };
        if guard.data.is_null() {
            return Err(Error::Codec(
                "NvEncLockInputBuffer succeeded but returned no memory".into(),
            ));
        }
        Ok(guard)
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
        picture: &Picture,
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

    /// `NvEncLockBitstream` (blocking until the picture is encoded); the buffer is unlocked
    /// when the guard drops.
    ///
    /// # Safety
    /// `enc` must be live and `buffer` one of its bitstream buffers that a successful
    /// `NvEncEncodePicture` made ready, not locked already, that outlives the guard.
    pub(crate) unsafe fn lock_bitstream(
        &self,
        enc: EncoderPtr,
        buffer: *mut c_void,
        max_len: usize,
    ) -> Result<LockedBitstream<'_>> {
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
        let guard = unsafe {
            LockedBitstream {
                api: self,
                enc,
                buffer,
                data: (&raw const (*p).bitstreamBufferPtr).read().cast(),
                len: (&raw const (*p).bitstreamSizeInBytes).read() as usize,
                timestamp: (&raw const (*p).outputTimeStamp).read(),
                picture_type: (&raw const (*p).pictureType).cast::<u32>().read(),
                locked: true,
            }
        };
        if guard.len > max_len || (guard.data.is_null() && guard.len != 0) {
            // Dropping the guard unlocks the buffer.
            return Err(Error::Codec(format!(
                "NvEncLockBitstream reported {} bytes at {:p}; at most {max_len} are plausible for this session",
                guard.len, guard.data
            )));
        }
        Ok(guard)
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
        let status = window.lifecycle(|| unsafe { (self.register_resource)(enc.0, &mut params) });
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
        let status = window.lifecycle(|| unsafe { (self.unregister_resource)(enc.0, registered) });
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
            return Err(Error::Codec(
                "NvEncMapInputResource succeeded but returned no input".into(),
            ));
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

/// The crate's error for a failed NVENC status.
pub(crate) fn status_error(call: &'static str, code: u32, last_error: Option<String>) -> Error {
    Error::Encoder {
        call,
        status: status_name(code),
        code,
        last_error,
    }
}

/// A zeroed `NV_ENC_PIC_PARAMS` with its version and a valid picture structure.
fn pic_params() -> NV_ENC_PIC_PARAMS {
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
fn lock_bitstream_params() -> NV_ENC_LOCK_BITSTREAM {
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
unsafe fn unknown_enum(
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

    fn as_mut_ptr(&mut self) -> *mut NV_ENC_CONFIG {
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

impl LockedInput<'_> {
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
        // SAFETY: the buffer was locked by `lock_input_buffer` on this live session and is
        // unlocked exactly once (the flag).
        let status = unsafe { (self.api.unlock_input_buffer)(self.enc.0, self.buffer) };
        // SAFETY: the session is live (the lock's precondition).
        unsafe { self.api.check(self.enc, "NvEncUnlockInputBuffer", status) }
    }
}

impl Drop for LockedInput<'_> {
    fn drop(&mut self) {
        if self.locked {
            if let Err(error) = self.unlock_raw() {
                tracing::error!(%error, "unlocking an NVENC input buffer failed");
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

impl LockedBitstream<'_> {
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
        // SAFETY: the buffer was locked by `lock_bitstream` on this live session and is
        // unlocked exactly once (the flag).
        let status = unsafe { (self.api.unlock_bitstream)(self.enc.0, self.buffer) };
        // SAFETY: the session is live (the lock's precondition).
        unsafe { self.api.check(self.enc, "NvEncUnlockBitstream", status) }
    }
}

impl Drop for LockedBitstream<'_> {
    fn drop(&mut self) {
        if self.locked {
            if let Err(error) = self.unlock_raw() {
                tracing::error!(%error, "unlocking an NVENC bitstream buffer failed");
            }
        }
    }
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

    #[test]
    fn encode_api_version_check_names_both_versions() {
        assert_eq!(HEADER_API_VERSION, (12 << 4) | 1);
        check_api_version(HEADER_API_VERSION).unwrap();
        check_api_version(13 << 4).unwrap();
        let err = check_api_version((11 << 4) | 1).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
        assert!(text.contains("12.1") && text.contains("11.1"), "{text}");
    }

    #[test]
    fn encode_library_absence_is_an_error_value() {
        match Nvenc::get() {
            Ok(api) => eprintln!("NVENC present: {api:?}"),
            Err(Error::LibraryNotFound { name, .. }) => assert_eq!(name, LIBNVENC),
            Err(other @ (Error::SymbolNotFound { .. } | Error::Unsupported { .. })) => {
                eprintln!("NVENC unusable here: {other}")
            }
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }

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
