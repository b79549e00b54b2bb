//! The owner of the conversion kernels on the GPU: the PTX module, loaded once per context and
//! cached, and the parameter block every launch passes (the kernels' ABI).
//!
//! Invariants:
//! - **Loaded inside an init window, once per context.** `cuModuleLoadData` creates a
//!   context-level resource (it allocates device memory for the code and may JIT-compile the
//!   PTX), so it counts as a lifecycle call and runs inside an init window, like context and
//!   decoder creation: the crate's rule is "every lifecycle call inside a window", and the
//!   driver's session table is exactly what that rule protects. `cuModuleUnload` likewise
//!   (through the teardown path). The cost is paid once per context: the first
//!   [`Converter`](crate::convert::Converter) of a context holds the lock for the load (JIT of this
//!   small module: milliseconds, plus the driver's compute cache on later runs); every later
//!   one finds the module in the cache without touching the lock.
//! - **Lock order: init window, then cache.** The cache's mutex is never held while waiting
//!   for the init lock, so a thread already inside a window (a user's own
//!   `CudaInitGuard`) can create a converter without deadlock.
//! - **A module never outlives its context.** It holds a clone of its [`Context`], so the
//!   context (and thus its address, the cache key) stays alive as long as the module does;
//!   the cache holds only `Weak` references, and a module unloads when its last converter
//!   drops.
//! - **The PTX is the committed text.** `kernels/convert.ptx` is generated from
//!   `kernels/convert.cu` by `scripts/gpu-frames.sh` and carries the source's SHA-256 in its
//!   header; a CPU test fails if they differ.

use std::ffi::{CStr, c_void};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use cudarc::driver::sys::{CUfunction, CUmodule, CUstream};

use crate::cuda::Context;
use crate::error::{Error, Result};
use crate::init::{destroy_in_window, in_runtime_window};

/// The PTX text of `kernels/convert.cu`, NUL-terminated for `cuModuleLoadData`.
pub(crate) const PTX: &str = concat!(include_str!("../../kernels/convert.ptx"), "\0");

/// Kernel names, indexed by `[stored sample is 16-bit][output type]`.
const KERNELS: [[&CStr; 3]; 2] = [
    [c"yuv8_to_u8", c"yuv8_to_f16", c"yuv8_to_f32"],
    [c"yuv16_to_u8", c"yuv16_to_f16", c"yuv16_to_f32"],
];

/// Consecutive pixels of one row that each thread converts: `PIXELS` in
/// `kernels/convert.cu`.
const PIXELS_PER_THREAD: u32 = 4;

/// Threads per block, (x, y): a block covers `BLOCK.0 * PIXELS_PER_THREAD` × `BLOCK.1` pixels.
const BLOCK: (u32, u32) = (32, 8);

/// The one parameter of every conversion kernel: `ConvertParams` in `kernels/convert.cu`,
/// field for field (192 bytes, 8-byte aligned).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KernelParams {
    pub(crate) luma: u64,
    pub(crate) chroma_u: u64,
    pub(crate) chroma_v: u64,
    pub(crate) dst: u64,
    pub(crate) dst_pitch: u64,
    pub(crate) dst_plane_pitch: u64,
    pub(crate) luma_pitch: u32,
    pub(crate) chroma_pitch: u32,
    pub(crate) chroma_step: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) chroma_width: u32,
    pub(crate) chroma_height: u32,
    pub(crate) channels: u32,
    pub(crate) planar: u32,
    pub(crate) index: [i32; 4],
    pub(crate) chroma_scale: [f32; 2],
    pub(crate) chroma_offset: [f32; 2],
    pub(crate) y_offset: f32,
    pub(crate) c_offset: f32,
    pub(crate) m: [f32; 9],
    pub(crate) mean: [f32; 3],
    pub(crate) inv_std: [f32; 3],
    pub(crate) alpha: f32,
    pub(crate) _pad: u32,
}

const _: () = assert!(std::mem::size_of::<KernelParams>() == 192);

/// The loaded module and its six kernels, in one context.
pub(crate) struct KernelModule {
    raw: CUmodule,
    functions: [[CUfunction; 3]; 2],
    /// Keeps the context (and the cache key, its address) alive while the module is.
    context: Context,
}

// SAFETY: module and function handles may be used from any thread of the process (the
// driver binds them to their context, not to a thread); they are only read after loading.
unsafe impl Send for KernelModule {}
// SAFETY: as above; nothing is mutated through `&KernelModule`.
unsafe impl Sync for KernelModule {}

/// Modules by context address; `Weak`, so an unused module unloads.
static MODULES: Mutex<Vec<(usize, Weak<KernelModule>)>> = Mutex::new(Vec::new());

fn cached(key: usize) -> Option<Arc<KernelModule>> {
    let mut modules = MODULES.lock().unwrap_or_else(PoisonError::into_inner);
    modules.retain(|(_, weak)| weak.strong_count() > 0);
    modules
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, weak)| weak.upgrade())
}

impl KernelModule {
    /// The module of `context`: the cached one, or loaded now inside an init window waited
    /// for at most `timeout`.
    pub(crate) fn for_context(context: &Context, timeout: Duration) -> Result<Arc<KernelModule>> {
        let key = context.raw() as usize;
        if let Some(module) = cached(key) {
            return Ok(module);
        }
        in_runtime_window(
            timeout,
            context.ordinal(),
            "convert-module-load",
            |window| {
                // Another thread may have loaded it while this one waited for the window.
                if let Some(module) = cached(key) {
                    return Ok(module);
                }
                let driver = context.driver();
                let image =
                    CStr::from_bytes_with_nul(PTX.as_bytes()).map_err(|_| Error::Internal {
                        what: "the conversion PTX holds a NUL byte before its end",
                    })?;
                let _current = context.make_current()?;
                let raw = driver.module_load_data(window, image)?;
                let mut module = KernelModule {
                    raw,
                    functions: [[std::ptr::null_mut(); 3]; 2],
                    context: context.clone(),
                };
                // From here `module` owns `raw`: an error below unloads it in its drop.
                for (wide, names) in KERNELS.iter().enumerate() {
                    for (out, name) in names.iter().enumerate() {
                        // SAFETY: the module was just loaded in the current context.
                        module.functions[wide][out] = unsafe { driver.module_function(raw, name) }?;
                    }
                }
                let module = Arc::new(module);
                MODULES
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((key, Arc::downgrade(&module)));
                tracing::debug!(device = context.ordinal(), "conversion kernels loaded");
                Ok(module)
            },
        )
    }

    /// The context the module lives in.
    pub(crate) fn context(&self) -> &Context {
        &self.context
    }

    /// Launches the kernel for `wide` (16-bit) sources and output type `out` (0 u8, 1 f16,
    /// 2 f32) over `params.width × params.height` pixels on `stream`, one thread per
    /// `PIXELS_PER_THREAD` pixels of a row. Needs the context current.
    ///
    /// # Safety
    /// Every address in `params` must be valid for every access the kernel makes (see
    /// `kernels/convert.cu`) until the work queued on `stream` has finished, and `stream`
    /// must be live in this module's context.
    pub(crate) unsafe fn launch(
        &self,
        wide: bool,
        out: usize,
        params: &KernelParams,
        stream: CUstream,
    ) -> Result<()> {
        let function = self.functions[usize::from(wide)][out.min(2)];
        let grid = (
            params.width.div_ceil(BLOCK.0 * PIXELS_PER_THREAD),
            params.height.div_ceil(BLOCK.1),
        );
        let mut value = *params;
        // SAFETY: guaranteed by the caller; `value` is the kernel's declared parameter type
        // and lives across the call (the driver copies it before returning).
        unsafe {
            self.context.driver().launch_kernel(
                function,
                grid,
                BLOCK,
                stream,
                (&raw mut value).cast::<c_void>(),
            )
        }
    }
}

impl Drop for KernelModule {
    fn drop(&mut self) {
        struct Doomed(CUmodule);
        // SAFETY: a module handle is not tied to a thread; the doomed one is used by nothing
        // but its teardown.
        unsafe impl Send for Doomed {}
        let (raw, context) = (Doomed(self.raw), self.context.clone());
        destroy_in_window("conversion kernels", move |window| {
            let raw = raw;
            let unloaded = context.make_current().and_then(|_current| {
                // Kernels may still run on a caller's stream: wait for the context first
                // (rare: a module unloads only when the last converter of its context drops).
                context.driver().context_synchronize()?;
                // SAFETY: the module was loaded in this context, no kernel of it runs any
                // more (synchronized above), and no converter is left to launch from it.
                unsafe { context.driver().module_unload(window, raw.0) }
            });
            if let Err(error) = unloaded {
                tracing::error!(%error, "cuModuleUnload failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_launch_covers_as_many_pixels_per_thread_as_the_kernel_converts() {
        let source = include_str!("../../kernels/convert.cu");
        let declared = format!("constexpr unsigned int PIXELS = {PIXELS_PER_THREAD};");
        assert!(
            source.lines().any(|l| l.trim() == declared),
            "kernels/convert.cu does not declare `{declared}`"
        );
    }
}
