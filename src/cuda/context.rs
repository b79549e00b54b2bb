//! CUDA contexts, created only inside an init window.
//!
//! Invariant: a [`Context`] can only be obtained through [`Context::acquire`], which takes a
//! `&CudaInitGuard`, so context creation (`cuInit`, `cuDevicePrimaryCtxRetain`,
//! `cuCtxCreate`) always happens inside the process-wide init window; a dedicated context is
//! destroyed inside one too (at once, or by the teardown thread if the lock is busy).
//!
//! Trade-off: [`ContextMode::SharedPrimary`] (the default) retains each device's primary
//! context once and keeps it for the life of the process. Re-creating a primary context
//! costs ~100 ms (plus ~150 ms for `cuInit` the first time), and a transcoder's
//! pipelines come and go, so releasing it when the last session closes would put that cost
//! back into the next cold start. The price is ~300–500 MiB of device memory that stays
//! reserved until exit. [`ContextMode::Dedicated`] creates a context per session and
//! destroys it with the session.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use cudarc::driver::sys::{CUcontext, CUdevice};

use crate::error::{Error, Result};
use crate::ffi::cuda::LibCuda;
use crate::init::{CudaInitGuard, WindowToken, destroy_in_window};
use crate::unwind::contained;

/// Which CUDA context a session runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
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
    driver: LibCuda,
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
    ///
    /// # Errors
    /// [`Error::LibraryNotFound`] / [`Error::SymbolNotFound`] without a usable driver,
    /// [`Error::InvalidConfig`] for a device that does not exist, [`Error::Driver`] naming the
    /// failing driver call and its status.
    ///
    /// # Examples
    /// ```no_run
    /// use nvcodec_guard::cuda::{Context, ContextMode};
    /// use nvcodec_guard::init::CudaInitGuard;
    /// let guard = CudaInitGuard::acquire()?;
    /// let ctx = Context::acquire(&guard, 0, ContextMode::SharedPrimary)?;
    /// drop(guard);
    /// println!("{}", ctx.device_name());
    /// # Ok::<(), nvcodec_guard::Error>(())
    /// ```
    pub fn acquire(guard: &CudaInitGuard, ordinal: u32, mode: ContextMode) -> Result<Context> {
        let window = guard.token();
        let driver = LibCuda::load()?;
        driver.init()?;
        let count = driver.device_count()?;
        if ordinal >= count {
            return Err(Error::InvalidConfig {
                parameter: "device",
                reason: format!("CUDA device {ordinal} does not exist ({count} device(s) present)"),
            });
        }
        match mode {
            ContextMode::SharedPrimary => Self::shared_primary(window, driver, ordinal),
            ContextMode::Dedicated => Self::dedicated(window, driver, ordinal),
        }
    }

    fn shared_primary(window: WindowToken<'_>, driver: LibCuda, ordinal: u32) -> Result<Context> {
        let mut registry = PRIMARY.lock().unwrap_or_else(PoisonError::into_inner);
        let registry = registry.get_or_insert_with(HashMap::new);
        if let Some(ctx) = registry.get(&ordinal) {
            return Ok(ctx.clone());
        }
        let device = driver.device(ordinal)?;
        let name = driver.device_name(device)?;
        let raw = driver.primary_context_retain(window, device)?;
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

    fn dedicated(window: WindowToken<'_>, driver: LibCuda, ordinal: u32) -> Result<Context> {
        let device = driver.device(ordinal)?;
        let name = driver.device_name(device)?;
        let raw = driver.context_create(window, device)?;
        // cuCtxCreate made it current on this thread; leave the thread's stack as it was. If
        // that fails, destroy it (which also pops it): nothing may leak or stay current.
        let popped = driver.context_pop();
        if popped.as_ref().map_or(true, |&top| top != raw) {
            if let Ok(other) = popped {
                // Not ours on top (cannot happen with a conforming driver): put it back.
                // SAFETY: the driver just handed `other` out as a live current context.
                let _ = unsafe { driver.context_push(other) };
            }
            // SAFETY: `raw` was created above and nothing else has seen it.
            if let Err(error) = unsafe { driver.context_destroy(window, raw) } {
                tracing::error!(%error, "destroying a dedicated context after a failed pop failed");
            }
            return Err(popped.err().unwrap_or_else(|| Error::DriverContract {
                call: "cuCtxPopCurrent_v2",
                violation: "popped another context than the new one".into(),
            }));
        }
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

    /// The device's name, as `cuDeviceGetName` reports it.
    pub fn device_name(&self) -> &str {
        &self.inner.name
    }

    /// Shared primary or dedicated.
    pub fn mode(&self) -> ContextMode {
        self.inner.mode
    }

    /// Makes this context current on the calling thread until the returned value drops.
    ///
    /// # Errors
    /// [`Error::Driver`](crate::Error::Driver) if `cuCtxPushCurrent` fails.
    pub fn make_current(&self) -> Result<CurrentContext<'_>> {
        // SAFETY: `raw` is live for as long as `self` (the Arc keeps it alive).
        unsafe { self.inner.driver.context_push(self.inner.raw) }?;
        Ok(CurrentContext {
            context: self,
            _one_thread: PhantomData,
        })
    }

    /// `(free, total)` device memory in bytes, as `cuMemGetInfo` reports it.
    ///
    /// # Errors
    /// [`Error::Driver`](crate::Error::Driver) if the context cannot be made current or
    /// `cuMemGetInfo` fails.
    pub fn memory_info(&self) -> Result<(usize, usize)> {
        let _current = self.make_current()?;
        self.inner.driver.mem_info()
    }

    pub(crate) fn driver(&self) -> LibCuda {
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

/// A dedicated context on its way to `cuCtxDestroy`.
struct DedicatedTeardown {
    raw: CUcontext,
    driver: LibCuda,
}

// SAFETY: a context handle may be destroyed from any thread; nothing else refers to it.
unsafe impl Send for DedicatedTeardown {}

impl Drop for ContextInner {
    fn drop(&mut self) {
        if self.mode != ContextMode::Dedicated {
            return; // Primary contexts live in the registry until the process exits.
        }
        let doomed = DedicatedTeardown {
            raw: self.raw,
            driver: self.driver,
        };
        destroy_in_window("dedicated CUDA context", move |window| {
            let doomed = doomed;
            // SAFETY: this was the last reference to a context we created; everything that
            // used it (decoders, buffers, encoder sessions) held a clone and is gone.
            if let Err(error) = unsafe { doomed.driver.context_destroy(window, doomed.raw) } {
                tracing::error!(%error, "destroying a dedicated CUDA context failed");
            }
        });
    }
}

/// Keeps a context current on this thread; pops it when dropped. Not `Send`.
#[must_use = "the context is popped again when this is dropped; bind it (`let _current = ...`) for as long as it must stay current"]
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
    /// Pops this context — and only this one: if other code pushed a context on top without
    /// popping it, that context is pushed back and the mismatch logged.
    fn drop(&mut self) {
        let driver = self.context.inner.driver;
        match driver.context_pop() {
            Ok(popped) if popped == self.context.inner.raw => {}
            Ok(popped) => {
                // SAFETY: the driver just reported `popped` as a live current context.
                let restored = unsafe { driver.context_push(popped) };
                contained(|| {
                    tracing::error!("the current CUDA context was not ours; leaving it current");
                    if let Err(error) = restored {
                        tracing::error!(%error, "restoring a foreign CUDA context failed");
                    }
                });
            }
            Err(error) => contained(|| {
                tracing::error!(%error, "popping the current CUDA context failed");
            }),
        }
    }
}
