//! The raw layer: opening `libnvidia-encode.so.1`, checking its API version, and taking
//! every entry point this crate uses from `NvEncodeAPICreateInstance`'s function list, as
//! signatures that return `NVENCSTATUS` as `u32`.
//!
//! Nothing here calls an entry point of a session; [`super::result`] does.

use std::ffi::{c_char, c_int, c_void};

use nvidia_video_codec_sdk::sys::nvEncodeAPI::{
    GUID, NV_ENC_CAPS_PARAM, NV_ENC_CREATE_BITSTREAM_BUFFER, NV_ENC_CREATE_INPUT_BUFFER,
    NV_ENC_INITIALIZE_PARAMS, NV_ENC_LOCK_BITSTREAM, NV_ENC_LOCK_INPUT_BUFFER,
    NV_ENC_MAP_INPUT_RESOURCE, NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS, NV_ENC_PIC_PARAMS,
    NV_ENC_PRESET_CONFIG, NV_ENC_REGISTER_RESOURCE, NV_ENC_SEQUENCE_PARAM_PAYLOAD,
    NV_ENC_TUNING_INFO, NV_ENCODE_API_FUNCTION_LIST, NV_ENCODE_API_FUNCTION_LIST_VER,
    NVENCAPI_MAJOR_VERSION, NVENCAPI_MINOR_VERSION, PNVENCCREATEBITSTREAMBUFFER,
    PNVENCCREATEINPUTBUFFER, PNVENCDESTROYBITSTREAMBUFFER, PNVENCDESTROYENCODER,
    PNVENCDESTROYINPUTBUFFER, PNVENCENCODEPICTURE, PNVENCGETENCODECAPS, PNVENCGETENCODEGUIDCOUNT,
    PNVENCGETENCODEGUIDS, PNVENCGETENCODEPRESETCONFIGEX, PNVENCGETENCODEPRESETCOUNT,
    PNVENCGETENCODEPRESETGUIDS, PNVENCGETINPUTFORMATCOUNT, PNVENCGETINPUTFORMATS,
    PNVENCGETSEQUENCEPARAMS, PNVENCINITIALIZEENCODER, PNVENCLOCKBITSTREAM, PNVENCLOCKINPUTBUFFER,
    PNVENCMAPINPUTRESOURCE, PNVENCOPENENCODESESSIONEX, PNVENCREGISTERRESOURCE,
    PNVENCUNLOCKBITSTREAM, PNVENCUNLOCKINPUTBUFFER, PNVENCUNMAPINPUTRESOURCE,
    PNVENCUNREGISTERRESOURCE,
};

use super::status::{SUCCESS, status_error};
use crate::error::{Error, Result};
use crate::ffi::loader::{self, DynamicLibrary, Loaded};

/// The NVENC library's file name.
pub(crate) const LIBNVENC: &str = "libnvidia-encode.so.1";

/// The API version of the header the raw types were generated from, in the encoding
/// `NvEncodeAPIGetMaxSupportedVersion` reports: `major << 4 | minor`.
pub(crate) const HEADER_API_VERSION: u32 = (NVENCAPI_MAJOR_VERSION << 4) | NVENCAPI_MINOR_VERSION;

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

// ---------------------------------------------------------------------------------------
// Entry-point signatures: the header's, with `NVENCSTATUS` returned as `u32`.
// ---------------------------------------------------------------------------------------

/// A raw session handle as the entry points take it.
pub(super) type Handle = *mut c_void;
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
    pub(super) open_session_ex: OpenSessionEx,
    pub(super) get_encode_guid_count: GetCount,
    pub(super) get_encode_guids: GetGuids,
    pub(super) get_preset_count: GetCountFor,
    pub(super) get_preset_guids: GetGuidsFor,
    pub(super) get_input_format_count: GetCountFor,
    pub(super) get_input_formats: GetInputFormats,
    pub(super) get_encode_caps: GetCaps,
    pub(super) get_preset_config_ex: GetPresetConfigEx,
    pub(super) initialize_encoder: Initialize,
    pub(super) create_input_buffer: CreateInputBuffer,
    pub(super) destroy_input_buffer: OnPointer,
    pub(super) create_bitstream_buffer: CreateBitstreamBuffer,
    pub(super) destroy_bitstream_buffer: OnPointer,
    pub(super) encode_picture: EncodePicture,
    pub(super) lock_bitstream: LockBitstream,
    pub(super) unlock_bitstream: OnPointer,
    pub(super) lock_input_buffer: LockInputBuffer,
    pub(super) unlock_input_buffer: OnPointer,
    pub(super) get_sequence_params: GetSequenceParams,
    pub(super) map_input_resource: MapInputResource,
    pub(super) unmap_input_resource: OnPointer,
    pub(super) register_resource: RegisterResource,
    pub(super) unregister_resource: OnPointer,
    pub(super) destroy_encoder: DestroyEncoder,
    pub(super) get_last_error: unsafe extern "C" fn(Handle) -> *const c_char,
    /// The driver's largest supported API version (`major << 4 | minor`).
    driver_api_version: u32,
    /// Keeps the library mapped for as long as the function pointers above are used.
    _library: DynamicLibrary,
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
enum NvencLoadFailure {
    Load(loader::LoadFailure),
    TooOld(u32),
    Call(&'static str, u32),
}

impl From<loader::LoadFailure> for NvencLoadFailure {
    fn from(failure: loader::LoadFailure) -> Self {
        NvencLoadFailure::Load(failure)
    }
}

impl loader::Failure for NvencLoadFailure {
    fn to_error(&self, library: &'static str) -> Error {
        match self {
            NvencLoadFailure::Load(failure) => failure.to_error(library),
            NvencLoadFailure::TooOld(version) => match check_api_version(*version) {
                Err(error) => error,
                Ok(()) => Error::Unsupported {
                    what: format!("{library} (API version {version:#x})"),
                    supported: "NVENC API 12.1 or newer".into(),
                },
            },
            NvencLoadFailure::Call(call, code) => status_error(call, *code, None),
        }
    }
}

/// Takes one entry of the function list as a signature returning `u32`; an empty entry is a
/// missing symbol.
macro_rules! entry {
    ($list:expr, $field:ident) => {{
        $list.$field.ok_or_else(|| {
            NvencLoadFailure::Load(loader::LoadFailure::Symbol(
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
            NvencLoadFailure::Load(loader::LoadFailure::Symbol(
                stringify!($field),
                "NvEncodeAPICreateInstance left this entry empty".into(),
            ))
        })?
    }};
}

impl Nvenc {
    /// Loads the library once per process; later calls return the cached outcome.
    pub(crate) fn get() -> Result<&'static Nvenc> {
        static LOADED: Loaded<Nvenc, NvencLoadFailure> = Loaded::new(LIBNVENC, Nvenc::load);
        LOADED.get()
    }

    fn load() -> Result<Nvenc, NvencLoadFailure> {
        let library = DynamicLibrary::open(LIBNVENC)?;
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
            return Err(NvencLoadFailure::Call(
                "NvEncodeAPIGetMaxSupportedVersion",
                status,
            ));
        }
        if check_api_version(driver_api_version).is_err() {
            return Err(NvencLoadFailure::TooOld(driver_api_version));
        }

        let mut list = NV_ENCODE_API_FUNCTION_LIST {
            version: NV_ENCODE_API_FUNCTION_LIST_VER,
            ..Default::default()
        };
        // SAFETY: `list` is a live, zeroed function list with its version set, as the
        // header requires; the driver fills in the entry points.
        let status = unsafe { create_instance(&mut list) };
        if status != SUCCESS {
            return Err(NvencLoadFailure::Call("NvEncodeAPICreateInstance", status));
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
}

#[cfg(test)]
mod encode_ffi_tests {
    //! Named so that `cargo test --lib encode` selects them.
    use super::*;

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
}
