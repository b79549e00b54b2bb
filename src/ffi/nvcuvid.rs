//! Thin, `Result`-returning wrappers over NVDEC (`libnvcuvid.so.1`), loaded at run time.
//!
//! Invariants: the library is opened once per process and every entry point this crate uses
//! is resolved up front (see [`super::loader`]), so a missing symbol is one clear error at first use instead of a
//! failure in the middle of a stream. Every entry point returns its `CUresult` as `u32` (see
//! [`super::cuda`]), and structs the driver writes are read field by field, enum fields as
//! integers. Lifecycle calls (caps, decoder create/reconfigure/destroy, parser and context
//! lock create/destroy) take a [`WindowToken`]; per-frame calls (parse, decode, map, unmap)
//! do not. The raw types come from `nvidia-video-codec-sdk`'s `sys` module; its `extern`
//! declarations are never called (they would need build-time linking).

use std::ffi::{c_int, c_uint, c_ulonglong};
use std::mem::MaybeUninit;

use cudarc::driver::sys::CUcontext;
use nvidia_video_codec_sdk::sys::cuviddec::{
    CUVIDDECODECAPS, CUVIDDECODECREATEINFO, CUVIDPICPARAMS, CUVIDPROCPARAMS,
    CUVIDRECONFIGUREDECODERINFO, CUvideoctxlock, CUvideodecoder,
};
use nvidia_video_codec_sdk::sys::nvcuvid::{
    CUVIDPARSERPARAMS, CUVIDSOURCEDATAPACKET, CUvideoparser,
};

use super::cuda::check_in;
use super::loader::{DynamicLibrary, LoadFailure, Loaded};
use crate::error::{Error, Result};
use crate::init::WindowToken;

/// Converts an NVDEC call's `CUresult` into this crate's error, naming the call.
fn check(call: &'static str, status: u32) -> Result<()> {
    check_in(crate::error::Library::Nvcuvid, call, status)
}

/// The NVDEC library's file name.
pub(crate) const LIBNVCUVID: &str = "libnvcuvid.so.1";

type GetDecoderCaps = unsafe extern "C" fn(*mut CUVIDDECODECAPS) -> u32;
type CreateDecoder = unsafe extern "C" fn(*mut CUvideodecoder, *mut CUVIDDECODECREATEINFO) -> u32;
type DestroyDecoder = unsafe extern "C" fn(CUvideodecoder) -> u32;
type DecodePicture = unsafe extern "C" fn(CUvideodecoder, *mut CUVIDPICPARAMS) -> u32;
type ReconfigureDecoder =
    unsafe extern "C" fn(CUvideodecoder, *mut CUVIDRECONFIGUREDECODERINFO) -> u32;
type MapVideoFrame64 = unsafe extern "C" fn(
    CUvideodecoder,
    c_int,
    *mut c_ulonglong,
    *mut c_uint,
    *mut CUVIDPROCPARAMS,
) -> u32;
type UnmapVideoFrame64 = unsafe extern "C" fn(CUvideodecoder, c_ulonglong) -> u32;
type CtxLockCreate = unsafe extern "C" fn(*mut CUvideoctxlock, CUcontext) -> u32;
type CtxLockDestroy = unsafe extern "C" fn(CUvideoctxlock) -> u32;
type CreateVideoParser = unsafe extern "C" fn(*mut CUvideoparser, *mut CUVIDPARSERPARAMS) -> u32;
type ParseVideoData = unsafe extern "C" fn(CUvideoparser, *mut CUVIDSOURCEDATAPACKET) -> u32;
type DestroyVideoParser = unsafe extern "C" fn(CUvideoparser) -> u32;

/// NVDEC's entry points, resolved from `libnvcuvid.so.1`.
pub(crate) struct Nvcuvid {
    get_decoder_caps: GetDecoderCaps,
    create_decoder: CreateDecoder,
    destroy_decoder: DestroyDecoder,
    decode_picture: DecodePicture,
    reconfigure_decoder: ReconfigureDecoder,
    map_video_frame: MapVideoFrame64,
    unmap_video_frame: UnmapVideoFrame64,
    ctx_lock_create: CtxLockCreate,
    ctx_lock_destroy: CtxLockDestroy,
    create_video_parser: CreateVideoParser,
    parse_video_data: ParseVideoData,
    destroy_video_parser: DestroyVideoParser,
    /// Keeps the library mapped for as long as the function pointers above are used.
    _library: DynamicLibrary,
}

impl std::fmt::Debug for Nvcuvid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nvcuvid(libnvcuvid.so.1)")
    }
}

impl Nvcuvid {
    /// Loads the library once per process; later calls return the cached outcome.
    pub(crate) fn get() -> Result<&'static Nvcuvid> {
        static LOADED: Loaded<Nvcuvid> = Loaded::new(LIBNVCUVID, Nvcuvid::load);
        LOADED.get()
    }

    fn load() -> Result<Nvcuvid, LoadFailure> {
        let library = DynamicLibrary::open(LIBNVCUVID)?;
        // SAFETY: for every `symbol` call below, the type alias spells the C signature
        // NVIDIA's cuviddec.h / nvcuvid.h document for that symbol, with `CUresult` returned
        // as `u32`.
        unsafe {
            Ok(Nvcuvid {
                get_decoder_caps: library.symbol("cuvidGetDecoderCaps")?,
                create_decoder: library.symbol("cuvidCreateDecoder")?,
                destroy_decoder: library.symbol("cuvidDestroyDecoder")?,
                decode_picture: library.symbol("cuvidDecodePicture")?,
                reconfigure_decoder: library.symbol("cuvidReconfigureDecoder")?,
                map_video_frame: library.symbol("cuvidMapVideoFrame64")?,
                unmap_video_frame: library.symbol("cuvidUnmapVideoFrame64")?,
                ctx_lock_create: library.symbol("cuvidCtxLockCreate")?,
                ctx_lock_destroy: library.symbol("cuvidCtxLockDestroy")?,
                create_video_parser: library.symbol("cuvidCreateVideoParser")?,
                parse_video_data: library.symbol("cuvidParseVideoData")?,
                destroy_video_parser: library.symbol("cuvidDestroyVideoParser")?,
                _library: library,
            })
        }
    }

    /// `cuvidGetDecoderCaps` for `codec` (a `cudaVideoCodec` value), `chroma` (a
    /// `cudaVideoChromaFormat` value) and bit depth; a lifecycle call. Needs a current
    /// context. The driver-written struct is read field by field, never as a Rust value.
    pub(crate) fn decoder_caps(
        &self,
        window: WindowToken<'_>,
        codec: u32,
        chroma: u32,
        bit_depth_minus8: u32,
    ) -> Result<RawDecodeCaps> {
        let mut caps = MaybeUninit::<CUVIDDECODECAPS>::zeroed();
        let p = caps.as_mut_ptr();
        // SAFETY: `p` points to a zeroed local of the right type; the input fields are
        // written in place, the enum-typed ones through `u32` pointers (same size and ABI).
        unsafe {
            (&raw mut (*p).eCodecType).cast::<u32>().write(codec);
            (&raw mut (*p).eChromaFormat).cast::<u32>().write(chroma);
            (&raw mut (*p).nBitDepthMinus8).write(bit_depth_minus8);
        }
        // SAFETY: `p` is live and initialized (zeroed, inputs set) as the API requires.
        let status = window.lifecycle("cuvidGetDecoderCaps", || unsafe {
            (self.get_decoder_caps)(p)
        })?;
        check("cuvidGetDecoderCaps", status)?;
        // SAFETY: every byte of `*p` is initialized; only integer fields are read.
        unsafe {
            Ok(RawDecodeCaps {
                supported: (&raw const (*p).bIsSupported).read() != 0,
                engines: (&raw const (*p).nNumNVDECs).read(),
                output_format_mask: (&raw const (*p).nOutputFormatMask).read(),
                max_width: (&raw const (*p).nMaxWidth).read(),
                max_height: (&raw const (*p).nMaxHeight).read(),
                min_width: (&raw const (*p).nMinWidth).read(),
                min_height: (&raw const (*p).nMinHeight).read(),
            })
        }
    }

    /// `cuvidCreateDecoder`, a lifecycle call. Needs a current context.
    pub(crate) fn create_decoder(
        &self,
        window: WindowToken<'_>,
        info: &mut CUVIDDECODECREATEINFO,
    ) -> Result<CUvideodecoder> {
        let mut decoder: CUvideodecoder = std::ptr::null_mut();
        // SAFETY: both pointers are live; `info` is fully initialized by the caller.
        let status = window.lifecycle("cuvidCreateDecoder", || unsafe {
            (self.create_decoder)(&mut decoder, info)
        })?;
        check("cuvidCreateDecoder", status)?;
        if decoder.is_null() {
            return Err(Error::DriverContract {
                call: "cuvidCreateDecoder",
                violation: "succeeded but returned no decoder".into(),
            });
        }
        Ok(decoder)
    }

    /// `cuvidDestroyDecoder`, a lifecycle call.
    ///
    /// # Safety
    /// `decoder` must be live, with no frame mapped, and unused afterwards.
    pub(crate) unsafe fn destroy_decoder(
        &self,
        window: WindowToken<'_>,
        decoder: CUvideodecoder,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status = window.lifecycle("cuvidDestroyDecoder", || unsafe {
            (self.destroy_decoder)(decoder)
        })?;
        check("cuvidDestroyDecoder", status)
    }

    /// `cuvidDecodePicture`.
    ///
    /// # Safety
    /// `decoder` must be live; `params` must come from the parser's decode callback.
    pub(crate) unsafe fn decode_picture(
        &self,
        decoder: CUvideodecoder,
        params: *mut CUVIDPICPARAMS,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuvidDecodePicture", unsafe {
            (self.decode_picture)(decoder, params)
        })
    }

    /// `cuvidReconfigureDecoder`, a lifecycle call.
    ///
    /// # Safety
    /// `decoder` must be live with no frame mapped.
    pub(crate) unsafe fn reconfigure_decoder(
        &self,
        window: WindowToken<'_>,
        decoder: CUvideodecoder,
        info: &mut CUVIDRECONFIGUREDECODERINFO,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller; `info` is live and initialized.
        let status = window.lifecycle("cuvidReconfigureDecoder", || unsafe {
            (self.reconfigure_decoder)(decoder, info)
        })?;
        check("cuvidReconfigureDecoder", status)
    }

    /// `cuvidMapVideoFrame64`: returns the output surface's device pointer and pitch. The
    /// post-processing it starts is queued on `params.output_stream`.
    ///
    /// # Safety
    /// `decoder` must be live and `picture_index` a surface the parser handed out.
    pub(crate) unsafe fn map_frame(
        &self,
        decoder: CUvideodecoder,
        picture_index: c_int,
        params: &mut CUVIDPROCPARAMS,
    ) -> Result<(u64, u32)> {
        let (mut ptr, mut pitch): (c_ulonglong, c_uint) = (0, 0);
        // SAFETY: guaranteed by the caller; out-pointers are live locals.
        check("cuvidMapVideoFrame64", unsafe {
            (self.map_video_frame)(decoder, picture_index, &mut ptr, &mut pitch, params)
        })?;
        if ptr == 0 {
            return Err(Error::DriverContract {
                call: "cuvidMapVideoFrame64",
                violation: "succeeded but returned no surface".into(),
            });
        }
        Ok((ptr, pitch))
    }

    /// `cuvidUnmapVideoFrame64`.
    ///
    /// # Safety
    /// `ptr` must be a pointer mapped on `decoder` and unused afterwards.
    pub(crate) unsafe fn unmap_frame(&self, decoder: CUvideodecoder, ptr: u64) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuvidUnmapVideoFrame64", unsafe {
            (self.unmap_video_frame)(decoder, ptr)
        })
    }

    /// `cuvidCtxLockCreate`, a lifecycle call.
    ///
    /// # Safety
    /// `ctx` must be a live context.
    pub(crate) unsafe fn ctx_lock_create(
        &self,
        window: WindowToken<'_>,
        ctx: CUcontext,
    ) -> Result<CUvideoctxlock> {
        let mut lock: CUvideoctxlock = std::ptr::null_mut();
        // SAFETY: guaranteed by the caller; the out-pointer is a live local.
        let status = window.lifecycle("cuvidCtxLockCreate", || unsafe {
            (self.ctx_lock_create)(&mut lock, ctx)
        })?;
        check("cuvidCtxLockCreate", status)?;
        if lock.is_null() {
            return Err(Error::DriverContract {
                call: "cuvidCtxLockCreate",
                violation: "succeeded but returned no lock".into(),
            });
        }
        Ok(lock)
    }

    /// `cuvidCtxLockDestroy`, a lifecycle call.
    ///
    /// # Safety
    /// `lock` must be live and unused by any decoder afterwards.
    pub(crate) unsafe fn ctx_lock_destroy(
        &self,
        window: WindowToken<'_>,
        lock: CUvideoctxlock,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status = window.lifecycle("cuvidCtxLockDestroy", || unsafe {
            (self.ctx_lock_destroy)(lock)
        })?;
        check("cuvidCtxLockDestroy", status)
    }

    /// `cuvidCreateVideoParser`, a lifecycle call.
    ///
    /// # Safety
    /// The callbacks in `params` must stay valid, and `pUserData` must point to memory that
    /// outlives the parser and is not moved.
    pub(crate) unsafe fn create_parser(
        &self,
        window: WindowToken<'_>,
        params: &mut CUVIDPARSERPARAMS,
    ) -> Result<CUvideoparser> {
        let mut parser: CUvideoparser = std::ptr::null_mut();
        // SAFETY: guaranteed by the caller.
        let status = window.lifecycle("cuvidCreateVideoParser", || unsafe {
            (self.create_video_parser)(&mut parser, params)
        })?;
        check("cuvidCreateVideoParser", status)?;
        if parser.is_null() {
            return Err(Error::DriverContract {
                call: "cuvidCreateVideoParser",
                violation: "succeeded but returned no parser".into(),
            });
        }
        Ok(parser)
    }

    /// `cuvidParseVideoData`: runs the parser, which calls back synchronously.
    ///
    /// # Safety
    /// `parser` must be live; the packet's payload must be valid for `payload_size` bytes.
    pub(crate) unsafe fn parse(
        &self,
        parser: CUvideoparser,
        packet: &mut CUVIDSOURCEDATAPACKET,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuvidParseVideoData", unsafe {
            (self.parse_video_data)(parser, packet)
        })
    }

    /// `cuvidDestroyVideoParser`, a lifecycle call.
    ///
    /// # Safety
    /// `parser` must be live and unused afterwards.
    pub(crate) unsafe fn destroy_parser(
        &self,
        window: WindowToken<'_>,
        parser: CUvideoparser,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status = window.lifecycle("cuvidDestroyVideoParser", || unsafe {
            (self.destroy_video_parser)(parser)
        })?;
        check("cuvidDestroyVideoParser", status)
    }
}

/// What `cuvidGetDecoderCaps` reported, as plain integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawDecodeCaps {
    pub(crate) supported: bool,
    pub(crate) engines: u8,
    /// Bit `1 << cudaVideoSurfaceFormat` per output format.
    pub(crate) output_format_mask: u16,
    pub(crate) max_width: u32,
    pub(crate) max_height: u32,
    pub(crate) min_width: u16,
    pub(crate) min_height: u16,
}
