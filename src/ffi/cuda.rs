//! Thin, `Result`-returning wrappers over the CUDA driver API, loaded at run time.
//!
//! Invariants:
//! - **One library, opened once, kept.** `libcuda.so.1` is opened by that name (the file
//!   `libnvcuvid.so.1` and `libnvidia-encode.so.1` bind to as well), exactly once per process,
//!   and never unloaded: the [`Api`] holding it lives in a `static` (see [`super::loader`]).
//!   Every entry point the crate uses is resolved up front; a driver lacking one is
//!   [`Error::SymbolNotFound`] naming it.
//! - **Statuses are integers.** Every entry point is called through a signature that returns
//!   `CUresult` as `u32`: a Rust enum holding a value it does not list is undefined behaviour,
//!   and drivers newer than any binding return new codes (226 `CUDA_ERROR_CONTAINED` after a
//!   contained hardware error, 913–916, ...). Known codes are named from a table; others are
//!   `unknown CUDA status`.
//! - **Lifecycle calls need a window.** Context creation, primary-context retain and context
//!   destruction take a [`WindowToken`], which only exists inside an init window.
//!
//! Why not cudarc's loader: `cudarc::driver::sys::Lib::new` resolves its whole symbol table
//! with `expect` (a driver older than the binding panics), its lazy loader searches its own
//! list of names (it can bind a different file than the `libcuda.so.1` NVDEC uses), and its
//! functions return the `CUresult` enum. cudarc is kept for what stays sound: the handle and
//! struct types (`CUcontext`, `CUdeviceptr`, `CUDA_MEMCPY2D`, ...), which
//! `nvidia-video-codec-sdk`'s raw types are built on.

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};

use cudarc::driver::sys::{self, CUcontext, CUdevice, CUdeviceptr, CUfunction, CUmodule, CUstream};

use super::loader::{DynamicLibrary, LoadFailure, Loaded};
use crate::error::{Error, Result};
use crate::init::WindowToken;

mod status;

pub(crate) use status::{check, check_in};

/// The driver library's file name.
pub(crate) const LIBCUDA: &str = "libcuda.so.1";

type Init = unsafe extern "C" fn(c_uint) -> u32;
type DeviceGetCount = unsafe extern "C" fn(*mut c_int) -> u32;
type DeviceGet = unsafe extern "C" fn(*mut CUdevice, c_int) -> u32;
type DeviceGetName = unsafe extern "C" fn(*mut c_char, c_int, CUdevice) -> u32;
type PrimaryCtxRetain = unsafe extern "C" fn(*mut CUcontext, CUdevice) -> u32;
type CtxCreate = unsafe extern "C" fn(*mut CUcontext, c_uint, CUdevice) -> u32;
type CtxDestroy = unsafe extern "C" fn(CUcontext) -> u32;
type CtxPush = unsafe extern "C" fn(CUcontext) -> u32;
type CtxPop = unsafe extern "C" fn(*mut CUcontext) -> u32;
type MemGetInfo = unsafe extern "C" fn(*mut usize, *mut usize) -> u32;
type MemAlloc = unsafe extern "C" fn(*mut CUdeviceptr, usize) -> u32;
type MemFree = unsafe extern "C" fn(CUdeviceptr) -> u32;
type StreamCreate = unsafe extern "C" fn(*mut CUstream, c_uint) -> u32;
type StreamDestroy = unsafe extern "C" fn(CUstream) -> u32;
type StreamSynchronize = unsafe extern "C" fn(CUstream) -> u32;
type Memcpy2DAsync = unsafe extern "C" fn(*const sys::CUDA_MEMCPY2D, CUstream) -> u32;
type ModuleLoadData = unsafe extern "C" fn(*mut CUmodule, *const c_void) -> u32;
type CtxSynchronize = unsafe extern "C" fn() -> u32;
type ModuleUnload = unsafe extern "C" fn(CUmodule) -> u32;
type ModuleGetFunction = unsafe extern "C" fn(*mut CUfunction, CUmodule, *const c_char) -> u32;
type LaunchKernel = unsafe extern "C" fn(
    CUfunction,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    CUstream,
    *mut *mut c_void,
    *mut *mut c_void,
) -> u32;

/// The driver entry points this crate uses, resolved from `libcuda.so.1`.
struct Api {
    init: Init,
    device_get_count: DeviceGetCount,
    device_get: DeviceGet,
    device_get_name: DeviceGetName,
    primary_ctx_retain: PrimaryCtxRetain,
    ctx_create: CtxCreate,
    ctx_destroy: CtxDestroy,
    ctx_push: CtxPush,
    ctx_pop: CtxPop,
    mem_get_info: MemGetInfo,
    mem_alloc: MemAlloc,
    mem_free: MemFree,
    stream_create: StreamCreate,
    stream_destroy: StreamDestroy,
    stream_synchronize: StreamSynchronize,
    memcpy_2d_async: Memcpy2DAsync,
    module_load_data: ModuleLoadData,
    module_unload: ModuleUnload,
    ctx_synchronize: CtxSynchronize,
    module_get_function: ModuleGetFunction,
    launch_kernel: LaunchKernel,
    /// Keeps the library mapped for the life of the process (the `Api` is a `static`).
    _library: DynamicLibrary,
}

impl Api {
    fn load() -> Result<Api, LoadFailure> {
        let library = DynamicLibrary::open(LIBCUDA)?;
        // SAFETY: for every `symbol` call below, the type alias spells the documented C
        // signature of the symbol it is resolved for, with `CUresult` returned as `u32`.
        unsafe {
            Ok(Api {
                init: library.symbol("cuInit")?,
                device_get_count: library.symbol("cuDeviceGetCount")?,
                device_get: library.symbol("cuDeviceGet")?,
                device_get_name: library.symbol("cuDeviceGetName")?,
                primary_ctx_retain: library.symbol("cuDevicePrimaryCtxRetain")?,
                ctx_create: library.symbol("cuCtxCreate_v2")?,
                ctx_destroy: library.symbol("cuCtxDestroy_v2")?,
                ctx_push: library.symbol("cuCtxPushCurrent_v2")?,
                ctx_pop: library.symbol("cuCtxPopCurrent_v2")?,
                mem_get_info: library.symbol("cuMemGetInfo_v2")?,
                mem_alloc: library.symbol("cuMemAlloc_v2")?,
                mem_free: library.symbol("cuMemFree_v2")?,
                stream_create: library.symbol("cuStreamCreate")?,
                stream_destroy: library.symbol("cuStreamDestroy_v2")?,
                stream_synchronize: library.symbol("cuStreamSynchronize")?,
                memcpy_2d_async: library.symbol("cuMemcpy2DAsync_v2")?,
                module_load_data: library.symbol("cuModuleLoadData")?,
                module_unload: library.symbol("cuModuleUnload")?,
                ctx_synchronize: library.symbol("cuCtxSynchronize")?,
                module_get_function: library.symbol("cuModuleGetFunction")?,
                launch_kernel: library.symbol("cuLaunchKernel")?,
                _library: library,
            })
        }
    }
}

/// Proof that `libcuda.so.1` is loaded with every entry point this crate uses.
#[derive(Clone, Copy)]
pub(crate) struct LibCuda {
    api: &'static Api,
}

impl std::fmt::Debug for LibCuda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LibCuda(libcuda.so.1)")
    }
}

impl LibCuda {
    /// Opens the driver library once per process; later calls return the cached outcome.
    pub(crate) fn load() -> Result<LibCuda> {
        static LOADED: Loaded<Api> = Loaded::new(LIBCUDA, Api::load);
        LOADED.get().map(|api| LibCuda { api })
    }

    /// `cuInit(0)`; cheap after the first call.
    pub(crate) fn init(self) -> Result<()> {
        // SAFETY: cuInit takes a flags word only.
        check("cuInit", unsafe { (self.api.init)(0) })
    }

    /// `cuDeviceGetCount`.
    pub(crate) fn device_count(self) -> Result<u32> {
        let mut count: c_int = 0;
        // SAFETY: the out-pointer is a live local.
        check("cuDeviceGetCount", unsafe {
            (self.api.device_get_count)(&mut count)
        })?;
        Ok(u32::try_from(count).unwrap_or(0))
    }

    /// `cuDeviceGet`.
    pub(crate) fn device(self, ordinal: u32) -> Result<CUdevice> {
        let ordinal = c_int::try_from(ordinal).map_err(|_| Error::InvalidConfig {
            parameter: "device",
            reason: format!("device ordinal {ordinal} is out of range"),
        })?;
        let mut device: CUdevice = 0;
        // SAFETY: the out-pointer is a live local.
        check("cuDeviceGet", unsafe {
            (self.api.device_get)(&mut device, ordinal)
        })?;
        Ok(device)
    }

    /// `cuDeviceGetName`.
    pub(crate) fn device_name(self, device: CUdevice) -> Result<String> {
        let mut buf = [0 as c_char; 256];
        // SAFETY: the buffer is live and one byte shorter is passed, so the last byte stays
        // NUL whatever the driver writes.
        check("cuDeviceGetName", unsafe {
            (self.api.device_get_name)(buf.as_mut_ptr(), (buf.len() - 1) as c_int, device)
        })?;
        // SAFETY: `buf` ends with a NUL byte the driver cannot have overwritten.
        let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
        Ok(name.to_string_lossy().into_owned())
    }

    /// `cuDevicePrimaryCtxRetain`, a lifecycle call.
    pub(crate) fn primary_context_retain(
        self,
        window: WindowToken<'_>,
        device: CUdevice,
    ) -> Result<CUcontext> {
        let mut ctx: CUcontext = std::ptr::null_mut();
        // SAFETY: the out-pointer is a live local; `device` came from cuDeviceGet.
        let status = window.lifecycle("cuDevicePrimaryCtxRetain", || unsafe {
            (self.api.primary_ctx_retain)(&mut ctx, device)
        })?;
        check("cuDevicePrimaryCtxRetain", status)?;
        non_null_context("cuDevicePrimaryCtxRetain", ctx)
    }

    /// `cuCtxCreate_v2`, a lifecycle call. The new context is current on this thread
    /// afterwards; callers pop it.
    pub(crate) fn context_create(
        self,
        window: WindowToken<'_>,
        device: CUdevice,
    ) -> Result<CUcontext> {
        let mut ctx: CUcontext = std::ptr::null_mut();
        // SAFETY: the out-pointer is a live local; flags 0 = default scheduling.
        let status = window.lifecycle("cuCtxCreate_v2", || unsafe {
            (self.api.ctx_create)(&mut ctx, 0, device)
        })?;
        check("cuCtxCreate_v2", status)?;
        non_null_context("cuCtxCreate_v2", ctx)
    }

    /// `cuCtxDestroy_v2`, a lifecycle call. Also pops the context if it is current.
    ///
    /// # Safety
    /// `ctx` must be a context from [`Self::context_create`] that nothing uses any more.
    pub(crate) unsafe fn context_destroy(
        self,
        window: WindowToken<'_>,
        ctx: CUcontext,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status =
            window.lifecycle("cuCtxDestroy_v2", || unsafe { (self.api.ctx_destroy)(ctx) })?;
        check("cuCtxDestroy_v2", status)
    }

    /// `cuCtxPushCurrent_v2`.
    ///
    /// # Safety
    /// `ctx` must be a live context.
    pub(crate) unsafe fn context_push(self, ctx: CUcontext) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuCtxPushCurrent_v2", unsafe { (self.api.ctx_push)(ctx) })
    }

    /// `cuCtxPopCurrent_v2`: returns the context that was popped.
    pub(crate) fn context_pop(self) -> Result<CUcontext> {
        let mut ctx: CUcontext = std::ptr::null_mut();
        // SAFETY: the out-pointer is a live local.
        check("cuCtxPopCurrent_v2", unsafe {
            (self.api.ctx_pop)(&mut ctx)
        })?;
        Ok(ctx)
    }

    /// `cuMemGetInfo_v2` for the current context: `(free, total)` bytes.
    pub(crate) fn mem_info(self) -> Result<(usize, usize)> {
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: out-pointers are live locals.
        check("cuMemGetInfo_v2", unsafe {
            (self.api.mem_get_info)(&mut free, &mut total)
        })?;
        Ok((free, total))
    }

    /// `cuMemAlloc_v2` in the current context.
    pub(crate) fn mem_alloc(self, bytes: usize) -> Result<CUdeviceptr> {
        let mut ptr: CUdeviceptr = 0;
        // SAFETY: the out-pointer is a live local.
        check("cuMemAlloc_v2", unsafe {
            (self.api.mem_alloc)(&mut ptr, bytes)
        })?;
        if ptr == 0 {
            return Err(Error::DriverContract {
                call: "cuMemAlloc_v2",
                violation: "succeeded but returned no memory".into(),
            });
        }
        Ok(ptr)
    }

    /// `cuMemFree_v2`.
    ///
    /// # Safety
    /// `ptr` must come from [`Self::mem_alloc`] and not be used afterwards.
    pub(crate) unsafe fn mem_free(self, ptr: CUdeviceptr) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuMemFree_v2", unsafe { (self.api.mem_free)(ptr) })
    }

    /// `cuStreamCreate` (non-blocking with respect to the legacy default stream).
    pub(crate) fn stream_create(self) -> Result<CUstream> {
        let mut stream: CUstream = std::ptr::null_mut();
        // SAFETY: the out-pointer is a live local.
        check("cuStreamCreate", unsafe {
            (self.api.stream_create)(
                &mut stream,
                sys::CUstream_flags::CU_STREAM_NON_BLOCKING as c_uint,
            )
        })?;
        if stream.is_null() {
            // Null is the legacy default stream: never hand it out as a stream of our own.
            return Err(Error::DriverContract {
                call: "cuStreamCreate",
                violation: "succeeded but returned no stream".into(),
            });
        }
        Ok(stream)
    }

    /// `cuStreamDestroy_v2`.
    ///
    /// # Safety
    /// `stream` must come from [`Self::stream_create`] and not be used afterwards.
    pub(crate) unsafe fn stream_destroy(self, stream: CUstream) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuStreamDestroy_v2", unsafe {
            (self.api.stream_destroy)(stream)
        })
    }

    /// `cuStreamSynchronize`.
    ///
    /// # Safety
    /// `stream` must be a live stream (or null for the legacy default stream).
    pub(crate) unsafe fn stream_synchronize(self, stream: CUstream) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuStreamSynchronize", unsafe {
            (self.api.stream_synchronize)(stream)
        })
    }

    /// `cuMemcpy2DAsync_v2` of one plane.
    ///
    /// # Safety
    /// `copy` must describe memory that is valid for the whole copy and stays valid until
    /// the stream is synchronized.
    pub(crate) unsafe fn memcpy_2d_async(self, copy: &Copy2d, stream: CUstream) -> Result<()> {
        let raw = copy.to_raw();
        // SAFETY: guaranteed by the caller; `raw` lives across the call (the driver copies
        // the descriptor before returning).
        check("cuMemcpy2DAsync_v2", unsafe {
            (self.api.memcpy_2d_async)(&raw, stream)
        })
    }
}

impl LibCuda {
    /// `cuModuleLoadData` of a NUL-terminated PTX image into the current context, a
    /// lifecycle call (it creates a context-level resource and may JIT-compile; see
    /// `convert::launch` for why it takes a window).
    pub(crate) fn module_load_data(
        self,
        window: WindowToken<'_>,
        image: &CStr,
    ) -> Result<CUmodule> {
        let mut module: CUmodule = std::ptr::null_mut();
        // SAFETY: the out-pointer is a live local; `image` is NUL-terminated text that lives
        // across the call (the driver copies or compiles it before returning).
        let status = window.lifecycle("cuModuleLoadData", || unsafe {
            (self.api.module_load_data)(&mut module, image.as_ptr().cast())
        })?;
        check("cuModuleLoadData", status)?;
        if module.is_null() {
            return Err(Error::DriverContract {
                call: "cuModuleLoadData",
                violation: "success, but no module".into(),
            });
        }
        Ok(module)
    }

    /// `cuModuleUnload`, a lifecycle call. Needs the module's context current.
    ///
    /// # Safety
    /// `module` must come from [`Self::module_load_data`], with no kernel of it still
    /// running or used afterwards.
    pub(crate) unsafe fn module_unload(
        self,
        window: WindowToken<'_>,
        module: CUmodule,
    ) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        let status = window.lifecycle("cuModuleUnload", || unsafe {
            (self.api.module_unload)(module)
        })?;
        check("cuModuleUnload", status)
    }

    /// `cuCtxSynchronize`: waits for all work of the current context.
    pub(crate) fn context_synchronize(self) -> Result<()> {
        // SAFETY: no arguments; fails cleanly without a current context.
        check("cuCtxSynchronize", unsafe { (self.api.ctx_synchronize)() })
    }

    /// `cuModuleGetFunction`.
    ///
    /// # Safety
    /// `module` must be a live module.
    pub(crate) unsafe fn module_function(
        self,
        module: CUmodule,
        name: &CStr,
    ) -> Result<CUfunction> {
        let mut function: CUfunction = std::ptr::null_mut();
        // SAFETY: guaranteed by the caller; the out-pointer is a live local and `name` is
        // NUL-terminated.
        check("cuModuleGetFunction", unsafe {
            (self.api.module_get_function)(&mut function, module, name.as_ptr())
        })?;
        if function.is_null() {
            return Err(Error::DriverContract {
                call: "cuModuleGetFunction",
                violation: "success, but no function".into(),
            });
        }
        Ok(function)
    }

    /// `cuLaunchKernel` with one parameter (a struct passed by value), no dynamic shared
    /// memory.
    ///
    /// # Safety
    /// `function` must be live in the current context; `param` must point to a value of
    /// exactly the type the kernel declares as its one parameter; every device address in it
    /// must be valid for every access the kernel makes with the given grid, until the work
    /// queued on `stream` has finished; `stream` must be live in the current context (or a
    /// special handle: null, per-thread).
    pub(crate) unsafe fn launch_kernel(
        self,
        function: CUfunction,
        grid: (u32, u32),
        block: (u32, u32),
        stream: CUstream,
        param: *mut c_void,
    ) -> Result<()> {
        let mut params = [param];
        // SAFETY: guaranteed by the caller; `params` lives across the call (the driver copies
        // the parameter values before returning).
        check("cuLaunchKernel", unsafe {
            (self.api.launch_kernel)(
                function,
                grid.0,
                grid.1,
                1,
                block.0,
                block.1,
                1,
                0,
                stream,
                params.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        })
    }
}

/// A successful call that handed back no context is an error, not a null handle.
fn non_null_context(call: &'static str, ctx: CUcontext) -> Result<CUcontext> {
    if ctx.is_null() {
        Err(Error::DriverContract {
            call,
            violation: "succeeded but returned no context".into(),
        })
    } else {
        Ok(ctx)
    }
}

/// Where one side of a 2-D copy lives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mem {
    /// Device memory.
    Device(CUdeviceptr),
    /// Host memory (pageable or pinned).
    Host(*mut c_void),
}

/// One plane copy: `height` rows of `width_bytes`, each side with its own pitch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Copy2d {
    pub(crate) src: Mem,
    pub(crate) src_pitch: usize,
    pub(crate) dst: Mem,
    pub(crate) dst_pitch: usize,
    pub(crate) width_bytes: usize,
    pub(crate) height: usize,
}

impl Copy2d {
    fn to_raw(self) -> sys::CUDA_MEMCPY2D {
        fn side(mem: Mem) -> (sys::CUmemorytype, *mut c_void, CUdeviceptr) {
            match mem {
                Mem::Device(d) => (
                    sys::CUmemorytype::CU_MEMORYTYPE_DEVICE,
                    std::ptr::null_mut(),
                    d,
                ),
                Mem::Host(h) => (sys::CUmemorytype::CU_MEMORYTYPE_HOST, h, 0),
            }
        }
        let (src_type, src_host, src_device) = side(self.src);
        let (dst_type, dst_host, dst_device) = side(self.dst);
        sys::CUDA_MEMCPY2D {
            srcXInBytes: 0,
            srcY: 0,
            srcMemoryType: src_type,
            srcHost: src_host,
            srcDevice: src_device,
            srcArray: std::ptr::null_mut(),
            srcPitch: self.src_pitch,
            dstXInBytes: 0,
            dstY: 0,
            dstMemoryType: dst_type,
            dstHost: dst_host,
            dstDevice: dst_device,
            dstArray: std::ptr::null_mut(),
            dstPitch: self.dst_pitch,
            WidthInBytes: self.width_bytes,
            Height: self.height,
        }
    }
}
