//! Stream-ordered release of frame memory, through libcuda's event calls (loaded at run
//! time, as the main crate loads the driver).
//!
//! Invariant: a frame's device memory goes back to its pool only after every piece of work
//! that a consumer queued on it before releasing it has finished. Each holder (the Python
//! `Frame`, each DLPack capsule's tensor) records an event on the stream its consumer works
//! on when it lets go, and the memory is kept (in [`Graveyard`]) until that event has
//! completed. Completed entries are reaped whenever a frame is produced or released; when a
//! reaper takes the entries out to scan them and finds more than [`MAX_PENDING`], it waits
//! for the oldest until that many are left.
//!
//! Trade-off: one `cuEventCreate`/`cuEventRecord` per release (microseconds) instead of a
//! context-wide synchronisation, and no thread of its own: memory of released frames comes
//! back at the next decode or release.

use std::collections::VecDeque;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, OnceLock};

use guard::cuda::Context;

/// The legacy default stream (`CU_STREAM_LEGACY`).
pub(crate) const STREAM_LEGACY: usize = 0x1;
/// The per-thread default stream (`CU_STREAM_PER_THREAD`).
pub(crate) const STREAM_PER_THREAD: usize = 0x2;

/// Released holders whose consumers' work may still run, at most this many.
pub(crate) const MAX_PENDING: usize = 256;

const CUDA_SUCCESS: u32 = 0;
const CUDA_ERROR_NOT_READY: u32 = 600;
/// `CU_EVENT_DISABLE_TIMING`: the cheapest event.
const EVENT_DISABLE_TIMING: u32 = 0x2;

type Event = *mut c_void;

struct Api {
    create: unsafe extern "C" fn(*mut Event, u32) -> u32,
    record: unsafe extern "C" fn(Event, *mut c_void) -> u32,
    query: unsafe extern "C" fn(Event) -> u32,
    synchronize: unsafe extern "C" fn(Event) -> u32,
    destroy: unsafe extern "C" fn(Event) -> u32,
    ctx_synchronize: unsafe extern "C" fn() -> u32,
    copy_dtod: unsafe extern "C" fn(u64, u64, usize) -> u32,
    stream_synchronize: unsafe extern "C" fn(*mut c_void) -> u32,
    _lib: libloading::Library,
}

fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| {
        // SAFETY: libcuda.so.1 is the NVIDIA driver (or a stand-in with its ABI); loading it
        // runs no initialiser with preconditions. The main crate has loaded it already if a
        // frame exists, so this only adds a reference.
        let lib = unsafe { libloading::Library::new("libcuda.so.1") }.ok()?;
        // SAFETY: each symbol has the signature of the CUDA driver API (cuda.h) it names.
        unsafe {
            Some(Api {
                create: *lib.get(b"cuEventCreate\0").ok()?,
                record: *lib.get(b"cuEventRecord\0").ok()?,
                query: *lib.get(b"cuEventQuery\0").ok()?,
                synchronize: *lib.get(b"cuEventSynchronize\0").ok()?,
                destroy: *lib.get(b"cuEventDestroy_v2\0").ok()?,
                ctx_synchronize: *lib.get(b"cuCtxSynchronize\0").ok()?,
                copy_dtod: *lib.get(b"cuMemcpyDtoD_v2\0").ok()?,
                stream_synchronize: *lib.get(b"cuStreamSynchronize\0").ok()?,
                _lib: lib,
            })
        }
    })
    .as_ref()
}

/// Something that owns device memory and frees (or pools) it on drop.
pub(crate) type Held = Arc<dyn Send + Sync>;

struct Pending {
    event: usize,
    context: Context,
    held: Held,
}

/// Released memory waiting for its consumers' work.
struct Graveyard {
    pending: VecDeque<Pending>,
}

fn graveyard() -> &'static Mutex<Graveyard> {
    static GRAVEYARD: OnceLock<Mutex<Graveyard>> = OnceLock::new();
    GRAVEYARD.get_or_init(|| {
        Mutex::new(Graveyard {
            pending: VecDeque::new(),
        })
    })
}

/// Lets go of `held` once the work queued so far on `stream` (a `CUstream` of `context`, or
/// [`STREAM_LEGACY`] / [`STREAM_PER_THREAD`]) has finished.
pub(crate) fn release_after(context: &Context, stream: usize, held: Held) {
    let Some(api) = api() else {
        drop(held); // no driver: no work can be queued on the memory either
        return;
    };
    let Ok(_current) = context.make_current() else {
        drop(held);
        return;
    };
    let mut event: Event = std::ptr::null_mut();
    // SAFETY: `event` is a valid out-pointer; the context is current.
    let created = unsafe { (api.create)(&mut event, EVENT_DISABLE_TIMING) };
    // SAFETY: `event` was just created in the current context; `stream` is the consumer's
    // stream of this context, as DLPack and the array API standard define it.
    let recorded = created == CUDA_SUCCESS
        && unsafe { (api.record)(event, stream as *mut c_void) } == CUDA_SUCCESS;
    if !recorded {
        if created == CUDA_SUCCESS {
            // SAFETY: created above, not used since.
            unsafe { (api.destroy)(event) };
        }
        // The stream could not be ordered against: wait for all of the context's work.
        // SAFETY: the context is current.
        unsafe { (api.ctx_synchronize)() };
        drop(held);
        reap();
        return;
    }
    {
        let mut yard = graveyard().lock().unwrap_or_else(|e| e.into_inner());
        yard.pending.push_back(Pending {
            event: event as usize,
            context: context.clone(),
            held,
        });
    }
    reap();
}

/// Frees the memory of every released holder whose consumers' work has finished; waits for
/// the oldest while more than [`MAX_PENDING`] wait.
///
/// Called for every frame produced and released, from every thread. The graveyard's mutex is
/// held only to take the entries out and to put the running ones back, never across the
/// driver calls, so threads do not queue behind each other's event queries: a reaper that
/// finds the graveyard empty (another is scanning it) returns at once.
pub(crate) fn reap() {
    let Some(api) = api() else { return };
    let taken = {
        let mut yard = graveyard().lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut yard.pending)
    };
    if taken.is_empty() {
        return;
    }
    let over = taken.len().saturating_sub(MAX_PENDING);
    let mut done = Vec::new();
    let mut running = VecDeque::with_capacity(taken.len());
    for (i, entry) in taken.into_iter().enumerate() {
        let finished = match entry.context.make_current() {
            Ok(_current) => {
                let event = entry.event as Event;
                // SAFETY: the event is live (destroyed only below, once, by the reaper that
                // took its entry out of the graveyard) and belongs to the current context.
                let status = unsafe {
                    if i < over {
                        (api.synchronize)(event)
                    } else {
                        (api.query)(event)
                    }
                };
                status != CUDA_ERROR_NOT_READY
            }
            Err(_) => true,
        };
        if finished {
            done.push(entry);
        } else {
            running.push_back(entry);
        }
    }
    if !running.is_empty() {
        let mut yard = graveyard().lock().unwrap_or_else(|e| e.into_inner());
        // Older first: entries released while this scan ran go after the ones it kept.
        let newer = std::mem::replace(&mut yard.pending, running);
        yard.pending.extend(newer);
    }
    for entry in done {
        if let Ok(_current) = entry.context.make_current() {
            // SAFETY: the event is live and no longer referenced by the graveyard.
            unsafe { (api.destroy)(entry.event as Event) };
        }
        drop(entry.held);
    }
}

/// Released holders still waiting (for tests and `memory_stats`).
pub(crate) fn pending() -> usize {
    graveyard()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pending
        .len()
}

/// Copies `bytes` bytes of device memory from `src` to `dst` (both in `context`) and waits
/// for the copy. Returns the failing call and its `CUresult` on failure.
///
/// The caller guarantees that both ranges are live allocations of at least `bytes` bytes.
pub(crate) fn copy_device(
    context: &Context,
    dst: u64,
    src: u64,
    bytes: usize,
) -> Result<(), (&'static str, u32)> {
    let api = api().ok_or(("dlopen(libcuda.so.1)", 0))?;
    let _current = context
        .make_current()
        .map_err(|_| ("cuCtxPushCurrent_v2", 0))?;
    // SAFETY: the caller guarantees both ranges; the context they belong to is current.
    let status = unsafe { (api.copy_dtod)(dst, src, bytes) };
    if status != CUDA_SUCCESS {
        return Err(("cuMemcpyDtoD_v2", status));
    }
    // Device-to-device copies are not waited for by the host: wait, so the batch is
    // complete when handed out, as frames are.
    // `cuMemcpyDtoD` runs on the legacy default stream.
    // SAFETY: the context is current; the legacy stream handle is always valid.
    let status = unsafe { (api.stream_synchronize)(STREAM_LEGACY as *mut c_void) };
    if status != CUDA_SUCCESS {
        return Err(("cuStreamSynchronize", status));
    }
    Ok(())
}
