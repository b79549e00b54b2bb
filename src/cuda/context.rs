//! CUDA contexts, created only inside an init window.
//!
//! Invariant: a [`Context`] can only be obtained through [`Context::acquire`], which takes a
//! `&CudaInitGuard`, so context creation (`cuInit`, `cuDevicePrimaryCtxRetain`,
//! `cuCtxCreate`) always happens inside the process-wide init window.
//!
//! Trade-off: [`ContextMode::SharedPrimary`] (the default) retains each device's primary
//! context once and keeps it for the life of the process. Re-creating a primary context
//! costs ~100 ms on an H100 (plus ~150 ms for `cuInit` the first time), and a transcoder's
//! pipelines come and go, so releasing it when the last session closes would put that cost
//! back into the next cold start. The price is ~300–500 MiB of device memory that stays
//! reserved until exit. [`ContextMode::Dedicated`] creates a context per session and
//! destroys it with the session, under the [`TeardownPolicy`].

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use cudarc::driver::sys::{CUcontext, CUdevice};

use crate::error::{Error, Result};
use crate::ffi::cuda::Driver;
use crate::init::{CudaInitGuard, held_by_current_thread};

/// Which CUDA context a session runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContextMode {
    /// The device's primary context, retained once per process and shared by every session
    /// on that device (the default; cheapest to start, least memory).
    #[default]
    SharedPrimary,
    /// A context of its own, created with `cuCtxCreate` and destroyed with the session.
    Dedicated,
}

/// A CUDA context on one device. Cloning shares it.
#[derive(Clone)]
pub struct Context {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    raw: CUcontext,
    device: CUdevice,
    ordinal: u32,
    name: String,
    mode: ContextMode,
    driver: Driver,
}

// SAFETY: a CUcontext handle may be used from any thread (the driver is thread-safe and
// binds contexts per thread through push/pop); the other fields are plain data.
unsafe impl Send for ContextInner {}
// SAFETY: as above; `ContextInner` has no interior mutability.
unsafe impl Sync for ContextInner {}

/// Primary contexts retained so far, by device ordinal. Touched only inside init windows.
static PRIMARY: Mutex<Option<HashMap<u32, Context>>> = Mutex::new(None);

impl Context {
    /// Returns the context for `ordinal` in `mode`, creating it if needed.
    ///
    /// Requires the init guard: this is where `cuInit` and context creation happen.
    pub fn acquire(guard: &CudaInitGuard, ordinal: u32, mode: ContextMode) -> Result<Context> {
        let _ = guard;
        let driver = Driver::load()?;
        driver.init()?;
        let count = driver.device_count()?;
        if ordinal >= count {
            return Err(Error::InvalidConfig(format!(
                "CUDA device {ordinal} does not exist ({count} device(s) present)"
            )));
        }
        match mode {
            ContextMode::SharedPrimary => Self::shared_primary(driver, ordinal),
            ContextMode::Dedicated => Self::dedicated(driver, ordinal),
        }
    }

    fn shared_primary(driver: Driver, ordinal: u32) -> Result<Context> {
        let mut registry = PRIMARY.lock().unwrap_or_else(PoisonError::into_inner);
        let registry = registry.get_or_insert_with(HashMap::new);
        if let Some(ctx) = registry.get(&ordinal) {
            return Ok(ctx.clone());
        }
        let device = driver.device(ordinal)?;
        let name = driver.device_name(device)?;
        let raw = driver.primary_context_retain(device)?;
        tracing::info!(device = ordinal, %name, "retained shared primary context");
        let ctx = Context {
            inner: Arc::new(ContextInner {
                raw,
                device,
                ordinal,
                name,
                mode: ContextMode::SharedPrimary,
                driver,
            }),
        };
        registry.insert(ordinal, ctx.clone());
        Ok(ctx)
    }

    fn dedicated(driver: Driver, ordinal: u32) -> Result<Context> {
        let device = driver.device(ordinal)?;
        let name = driver.device_name(device)?;
        let raw = driver.context_create(device)?;
        // cuCtxCreate made it current on this thread; leave the thread's stack as it was.
        driver.context_pop()?;
        tracing::info!(device = ordinal, %name, "created dedicated context");
        Ok(Context {
            inner: Arc::new(ContextInner {
                raw,
                device,
                ordinal,
                name,
                mode: ContextMode::Dedicated,
                driver,
            }),
        })
    }

    /// The raw `CUcontext`, for your own CUDA work (e.g. during the init window).
    pub fn raw(&self) -> CUcontext {
        self.inner.raw
    }

    /// The raw `CUdevice`.
    pub fn device(&self) -> CUdevice {
        self.inner.device
    }

    /// The device ordinal.
    pub fn ordinal(&self) -> u32 {
        self.inner.ordinal
    }

    /// The device's name, e.g. `NVIDIA H100 80GB HBM3`.
    pub fn device_name(&self) -> &str {
        &self.inner.name
    }

    /// Shared primary or dedicated.
    pub fn mode(&self) -> ContextMode {
        self.inner.mode
    }

    /// Makes this context current on the calling thread until the returned value drops.
    pub fn make_current(&self) -> Result<CurrentContext<'_>> {
        // SAFETY: `raw` is live for as long as `self` (the Arc keeps it alive).
        unsafe { self.inner.driver.context_push(self.inner.raw) }?;
        Ok(CurrentContext {
            context: self,
            _one_thread: PhantomData,
        })
    }

    /// `(free, total)` device memory in bytes, as `cuMemGetInfo` reports it.
    pub fn memory_info(&self) -> Result<(usize, usize)> {
        let _current = self.make_current()?;
        self.inner.driver.mem_info()
    }

    pub(crate) fn driver(&self) -> Driver {
        self.inner.driver
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("device", &self.inner.ordinal)
            .field("name", &self.inner.name)
            .field("mode", &self.inner.mode)
            .finish()
    }
}

impl Drop for ContextInner {
    fn drop(&mut self) {
        if self.mode != ContextMode::Dedicated {
            return; // Primary contexts live in the registry until the process exits.
        }
        let _window = (!held_by_current_thread()).then(CudaInitGuard::acquire);
        // SAFETY: this is the last reference to a context we created; everything that
        // used it (decoders, buffers) held a clone and has been dropped.
        if let Err(error) = unsafe { self.driver.context_destroy(self.raw) } {
            tracing::error!(%error, "destroying a dedicated CUDA context failed");
        }
    }
}

/// Keeps a context current on this thread; pops it when dropped. Not `Send`.
pub struct CurrentContext<'a> {
    context: &'a Context,
    _one_thread: PhantomData<*const ()>,
}

impl CurrentContext<'_> {
    /// The context that is current.
    pub fn context(&self) -> &Context {
        self.context
    }
}

impl Drop for CurrentContext<'_> {
    fn drop(&mut self) {
        if let Err(error) = self.context.inner.driver.context_pop() {
            tracing::error!(%error, "popping the current CUDA context failed");
        }
    }
}
