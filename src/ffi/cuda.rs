//! Thin, `Result`-returning wrappers over the CUDA driver API (through cudarc's dynamically
//! loaded bindings).
//!
//! Invariant: no cudarc driver function is reached before [`Driver::load`] succeeded.
//! cudarc *panics* when `libcuda` cannot be opened; a [`Driver`] token exists only after this
//! module opened `libcuda.so.1` itself and checked that cudarc's symbol table loads from it,
//! and every wrapper here is a method on that token.

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::sync::OnceLock;

use cudarc::driver::sys::{self, CUcontext, CUdevice, CUdeviceptr, CUresult, CUstream};

use crate::error::{Error, Result};

/// The driver library's file name.
pub(crate) const LIBCUDA: &str = "libcuda.so.1";

/// Proof that the CUDA driver library is loaded and cudarc's bindings resolve against it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Driver {
    _loaded: (),
}

/// Converts a `CUresult` into this crate's error, naming the call.
pub(crate) fn check(call: &'static str, status: CUresult) -> Result<()> {
    if status == CUresult::CUDA_SUCCESS {
        Ok(())
    } else {
        Err(cuda_error(call, status))
    }
}

/// The error for a failed `CUresult`. The enum's variant name *is* the `CUDA_ERROR_*` name.
pub(crate) fn cuda_error(call: &'static str, status: CUresult) -> Error {
    Error::Cuda {
        call,
        name: format!("{status:?}"),
        code: status as u32,
    }
}

#[derive(Debug, Clone)]
enum LoadFailure {
    Missing(String),
    Symbols(String),
}

impl Driver {
    /// Opens the driver library once per process; later calls return the cached outcome.
    pub(crate) fn load() -> Result<Driver> {
        static OUTCOME: OnceLock<Result<(), LoadFailure>> = OnceLock::new();
        let outcome = OUTCOME.get_or_init(|| {
            // SAFETY: loading the NVIDIA driver library runs only its (trusted) initializers.
            let probe = unsafe { libloading::Library::new(LIBCUDA) };
            if let Err(e) = probe {
                return Err(LoadFailure::Missing(e.to_string()));
            }
            // cudarc resolves its whole symbol table at first use and panics on any miss;
            // resolve it here first so that a driver too old for it becomes an error.
            // SAFETY: as above; the table is dropped right away, the library stays loaded
            // (the probe above and cudarc's own copy keep it referenced).
            match unsafe { sys::Lib::new(LIBCUDA) } {
                Ok(_) => Ok(()),
                Err(e) => Err(LoadFailure::Symbols(e.to_string())),
            }
        });
        match outcome {
            Ok(()) => Ok(Driver { _loaded: () }),
            Err(LoadFailure::Missing(reason)) => Err(Error::LibraryNotFound {
                name: LIBCUDA,
                reason: reason.clone(),
            }),
            Err(LoadFailure::Symbols(reason)) => Err(Error::SymbolNotFound {
                library: LIBCUDA,
                symbol: "(CUDA 12.2 driver API)",
                reason: reason.clone(),
            }),
        }
    }

    fn lib(self) -> &'static sys::Lib {
        // SAFETY: a `Driver` exists only after `sys::Lib::new(LIBCUDA)` succeeded, so
        // cudarc's lazy loader finds a library with every symbol and does not panic.
        unsafe { sys::culib() }
    }

    /// `cuInit(0)`; cheap after the first call.
    pub(crate) fn init(self) -> Result<()> {
        // SAFETY: cuInit takes a flags word only.
        check("cuInit", unsafe { (self.lib().cuInit)(0) })
    }

    /// `cuDeviceGetCount`.
    pub(crate) fn device_count(self) -> Result<u32> {
        let mut count: c_int = 0;
        // SAFETY: the out-pointer is a live local.
        check("cuDeviceGetCount", unsafe {
            (self.lib().cuDeviceGetCount)(&mut count)
        })?;
        Ok(u32::try_from(count).unwrap_or(0))
    }

    /// `cuDeviceGet`.
    pub(crate) fn device(self, ordinal: u32) -> Result<CUdevice> {
        let ordinal = c_int::try_from(ordinal).map_err(|_| {
            Error::InvalidConfig(format!("device ordinal {ordinal} is out of range"))
        })?;
        let mut device: CUdevice = 0;
        // SAFETY: the out-pointer is a live local.
        check("cuDeviceGet", unsafe {
            (self.lib().cuDeviceGet)(&mut device, ordinal)
        })?;
        Ok(device)
    }

    /// `cuDeviceGetName`.
    pub(crate) fn device_name(self, device: CUdevice) -> Result<String> {
        let mut buf = [0 as c_char; 256];
        // SAFETY: the buffer is live and its length is passed; the driver NUL-terminates.
        check("cuDeviceGetName", unsafe {
            (self.lib().cuDeviceGetName)(buf.as_mut_ptr(), buf.len() as c_int, device)
        })?;
        // SAFETY: the driver wrote a NUL-terminated string into `buf`.
        let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
        Ok(name.to_string_lossy().into_owned())
    }

    /// `cuDevicePrimaryCtxRetain`.
    pub(crate) fn primary_context_retain(self, device: CUdevice) -> Result<CUcontext> {
        let mut ctx: CUcontext = std::ptr::null_mut();
        // SAFETY: the out-pointer is a live local; `device` came from cuDeviceGet.
        check("cuDevicePrimaryCtxRetain", unsafe {
            (self.lib().cuDevicePrimaryCtxRetain)(&mut ctx, device)
        })?;
        Ok(ctx)
    }

    /// `cuCtxCreate_v2`. The new context is current on this thread afterwards; callers pop it.
    pub(crate) fn context_create(self, device: CUdevice) -> Result<CUcontext> {
        let mut ctx: CUcontext = std::ptr::null_mut();
        // SAFETY: the out-pointer is a live local; flags 0 = default scheduling.
        check("cuCtxCreate_v2", unsafe {
            (self.lib().cuCtxCreate_v2)(&mut ctx, 0, device)
        })?;
        Ok(ctx)
    }

    /// `cuCtxDestroy_v2`.
    ///
    /// # Safety
    /// `ctx` must be a context from [`Self::context_create`] that nothing uses any more.
    pub(crate) unsafe fn context_destroy(self, ctx: CUcontext) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuCtxDestroy_v2", unsafe {
            (self.lib().cuCtxDestroy_v2)(ctx)
        })
    }

    /// `cuCtxPushCurrent_v2`.
    ///
    /// # Safety
    /// `ctx` must be a live context.
    pub(crate) unsafe fn context_push(self, ctx: CUcontext) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuCtxPushCurrent_v2", unsafe {
            (self.lib().cuCtxPushCurrent_v2)(ctx)
        })
    }

    /// `cuCtxPopCurrent_v2`.
    pub(crate) fn context_pop(self) -> Result<CUcontext> {
        let mut ctx: CUcontext = std::ptr::null_mut();
        // SAFETY: the out-pointer is a live local.
        check("cuCtxPopCurrent_v2", unsafe {
            (self.lib().cuCtxPopCurrent_v2)(&mut ctx)
        })?;
        Ok(ctx)
    }

    /// `cuMemGetInfo_v2` for the current context: `(free, total)` bytes.
    pub(crate) fn mem_info(self) -> Result<(usize, usize)> {
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: out-pointers are live locals.
        check("cuMemGetInfo_v2", unsafe {
            (self.lib().cuMemGetInfo_v2)(&mut free, &mut total)
        })?;
        Ok((free, total))
    }

    /// `cuMemAlloc_v2` in the current context.
    pub(crate) fn mem_alloc(self, bytes: usize) -> Result<CUdeviceptr> {
        let mut ptr: CUdeviceptr = 0;
        // SAFETY: the out-pointer is a live local.
        check("cuMemAlloc_v2", unsafe {
            (self.lib().cuMemAlloc_v2)(&mut ptr, bytes)
        })?;
        Ok(ptr)
    }

    /// `cuMemFree_v2`.
    ///
    /// # Safety
    /// `ptr` must come from [`Self::mem_alloc`] and not be used afterwards.
    pub(crate) unsafe fn mem_free(self, ptr: CUdeviceptr) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuMemFree_v2", unsafe { (self.lib().cuMemFree_v2)(ptr) })
    }

    /// `cuStreamCreate` (non-blocking with respect to the legacy default stream).
    pub(crate) fn stream_create(self) -> Result<CUstream> {
        let mut stream: CUstream = std::ptr::null_mut();
        // SAFETY: the out-pointer is a live local.
        check("cuStreamCreate", unsafe {
            (self.lib().cuStreamCreate)(
                &mut stream,
                sys::CUstream_flags::CU_STREAM_NON_BLOCKING as c_uint,
            )
        })?;
        Ok(stream)
    }

    /// `cuStreamDestroy_v2`.
    ///
    /// # Safety
    /// `stream` must come from [`Self::stream_create`] and not be used afterwards.
    pub(crate) unsafe fn stream_destroy(self, stream: CUstream) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuStreamDestroy_v2", unsafe {
            (self.lib().cuStreamDestroy_v2)(stream)
        })
    }

    /// `cuStreamSynchronize`.
    ///
    /// # Safety
    /// `stream` must be a live stream (or null for the legacy default stream).
    pub(crate) unsafe fn stream_synchronize(self, stream: CUstream) -> Result<()> {
        // SAFETY: guaranteed by the caller.
        check("cuStreamSynchronize", unsafe {
            (self.lib().cuStreamSynchronize)(stream)
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
            (self.lib().cuMemcpy2DAsync_v2)(&raw, stream)
        })
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
