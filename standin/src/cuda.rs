//! `libcuda.so.1`: contexts, streams, events and "device" memory (host memory).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::{LazyLock, Mutex};

use crate::{fault, lifecycle, live_add, lock, misuse, new_handle};

pub(crate) const SUCCESS: u32 = 0;
pub(crate) const INVALID_VALUE: u32 = 1;
pub(crate) const OUT_OF_MEMORY: u32 = 2;
pub(crate) const NOT_INITIALIZED: u32 = 3;
pub(crate) const INVALID_DEVICE: u32 = 101;
pub(crate) const INVALID_CONTEXT: u32 = 201;
pub(crate) const INVALID_HANDLE: u32 = 400;
pub(crate) const ILLEGAL_STATE: u32 = 401;
pub(crate) const NOT_PERMITTED: u32 = 800;

/// The one device's primary context handle.
pub(crate) const PRIMARY: usize = 0x5000_0040;
#[cfg(not(feature = "old-driver"))]
const TOTAL_MEMORY: usize = 8 << 30;
/// Largest single allocation or surface, so absurd sizes fail instead of aborting.
pub(crate) const MAX_ALLOC: usize = 1 << 30;

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Successful async copies per stream (0 = the legacy default stream) not synchronized yet.
static UNSYNCED: LazyLock<Mutex<HashMap<usize, u64>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

pub(crate) fn reset_unsynced() {
    lock(&UNSYNCED).clear();
}

pub(crate) fn unsynced_copies() -> u64 {
    lock(&UNSYNCED).values().sum()
}

/// The work of `stream` is done: of every stream for the legacy default stream (null), which
/// synchronizes with all blocking streams, or with `None` (a context synchronize).
fn synced(stream: Option<usize>) {
    let mut unsynced = lock(&UNSYNCED);
    match stream {
        None | Some(0) => unsynced.clear(),
        Some(s) => {
            unsynced.remove(&s);
        }
    }
}
static PRIMARY_RETAINS: AtomicU32 = AtomicU32::new(0);

#[derive(Default)]
struct Objects {
    contexts: HashSet<usize>,
    streams: HashSet<usize>,
    events: HashSet<usize>,
}

static OBJECTS: LazyLock<Mutex<Objects>> = LazyLock::new(|| Mutex::new(Objects::default()));

/// Device memory: allocations and mapped decoder surfaces, both host memory.
#[derive(Default)]
pub(crate) struct Memory {
    pub(crate) allocs: HashMap<u64, Box<[u8]>>,
    /// Mapped surface address -> (decoder, surface).
    pub(crate) mapped: HashMap<u64, (usize, Box<[u8]>)>,
}

pub(crate) static MEMORY: LazyLock<Mutex<Memory>> = LazyLock::new(|| Mutex::new(Memory::default()));

impl Memory {
    /// Whether `[addr, addr + len)` lies inside one known block.
    pub(crate) fn contains(&self, addr: u64, len: usize) -> bool {
        let inside = |base: u64, size: usize| {
            addr >= base
                && (addr - base)
                    .checked_add(len as u64)
                    .is_some_and(|end| end <= size as u64)
        };
        self.allocs.iter().any(|(b, m)| inside(*b, m.len()))
            || self.mapped.iter().any(|(b, (_, m))| inside(*b, m.len()))
    }
}

/// Zero-filled host memory, or `None` if it cannot be had.
pub(crate) fn host_block(len: usize) -> Option<Box<[u8]>> {
    if len > MAX_ALLOC {
        return None;
    }
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(len.max(1)).ok()?;
    v.resize(len.max(1), 0);
    Some(v.into_boxed_slice())
}

thread_local! {
    static STACK: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// The calling thread's current context, if any.
pub(crate) fn current() -> Option<usize> {
    STACK.with(|s| s.borrow().last().copied())
}

/// Whether `ctx` is a live context (the retained primary or a dedicated one).
pub(crate) fn is_context(ctx: usize) -> bool {
    (ctx == PRIMARY && PRIMARY_RETAINS.load(SeqCst) > 0) || lock(&OBJECTS).contexts.contains(&ctx)
}

/// Checks that a device call may run: cuInit done and a live context current.
pub(crate) fn need_context(call: &str) -> Result<(), u32> {
    if !INITIALIZED.load(SeqCst) {
        return Err(misuse(&format!("{call}:not-initialized"), NOT_INITIALIZED));
    }
    match current() {
        Some(ctx) if is_context(ctx) => Ok(()),
        _ => Err(misuse(&format!("{call}:no-context"), INVALID_CONTEXT)),
    }
}

macro_rules! injected {
    ($call:expr) => {
        if let Some(status) = fault($call) {
            return status;
        }
    };
}

/// Writes through an out-pointer, failing the call on null.
macro_rules! out {
    ($ptr:expr, $value:expr) => {
        if $ptr.is_null() {
            return INVALID_VALUE;
        }
        // SAFETY: non-null out-pointer from the caller, of the documented type.
        unsafe { $ptr.write($value) };
    };
}

#[unsafe(no_mangle)]
pub extern "C" fn cuInit(flags: c_uint) -> u32 {
    injected!("cuInit");
    if flags != 0 {
        return INVALID_VALUE;
    }
    INITIALIZED.store(true, SeqCst);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuDriverGetVersion(version: *mut c_int) -> u32 {
    injected!("cuDriverGetVersion");
    out!(version, 12080);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuDeviceGetCount(count: *mut c_int) -> u32 {
    injected!("cuDeviceGetCount");
    if !INITIALIZED.load(SeqCst) {
        return NOT_INITIALIZED;
    }
    out!(count, 1);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuDeviceGet(device: *mut c_int, ordinal: c_int) -> u32 {
    injected!("cuDeviceGet");
    if !INITIALIZED.load(SeqCst) {
        return NOT_INITIALIZED;
    }
    if ordinal != 0 {
        return INVALID_DEVICE;
    }
    out!(device, 0);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuDeviceGetName(name: *mut c_char, len: c_int, device: c_int) -> u32 {
    injected!("cuDeviceGetName");
    if device != 0 {
        return INVALID_DEVICE;
    }
    let text = b"Stand-in GPU\0";
    let Ok(len) = usize::try_from(len) else {
        return INVALID_VALUE;
    };
    if name.is_null() || len == 0 {
        return INVALID_VALUE;
    }
    let n = text.len().min(len);
    // SAFETY: the caller's buffer holds `len` bytes; we write at most that, NUL-terminated.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), name, n);
        name.add(n - 1).write(0);
    }
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuDevicePrimaryCtxRetain(ctx: *mut *mut c_void, device: c_int) -> u32 {
    let injected = fault("cuDevicePrimaryCtxRetain");
    let life = lifecycle("cuDevicePrimaryCtxRetain");
    if life.overlapped {
        return ILLEGAL_STATE;
    }
    if let Some(status) = injected {
        return status;
    }
    if device != 0 {
        return INVALID_DEVICE;
    }
    if ctx.is_null() {
        return INVALID_VALUE;
    }
    PRIMARY_RETAINS.fetch_add(1, SeqCst);
    live_add("primary", 1);
    out!(ctx, PRIMARY as *mut c_void);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuDevicePrimaryCtxRelease_v2(device: c_int) -> u32 {
    let injected = fault("cuDevicePrimaryCtxRelease_v2");
    let life = lifecycle("cuDevicePrimaryCtxRelease_v2");
    if life.overlapped {
        return ILLEGAL_STATE;
    }
    if let Some(status) = injected {
        return status;
    }
    if device != 0 {
        return INVALID_DEVICE;
    }
    if PRIMARY_RETAINS
        .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
        .is_err()
    {
        return misuse("cuDevicePrimaryCtxRelease_v2:not-retained", INVALID_CONTEXT);
    }
    live_add("primary", -1);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuCtxCreate_v2(ctx: *mut *mut c_void, _flags: c_uint, device: c_int) -> u32 {
    let injected = fault("cuCtxCreate_v2");
    let life = lifecycle("cuCtxCreate_v2");
    if life.overlapped {
        return ILLEGAL_STATE;
    }
    if let Some(status) = injected {
        return status;
    }
    if !INITIALIZED.load(SeqCst) {
        return NOT_INITIALIZED;
    }
    if device != 0 {
        return INVALID_DEVICE;
    }
    if ctx.is_null() {
        return INVALID_VALUE;
    }
    let handle = new_handle();
    lock(&OBJECTS).contexts.insert(handle);
    live_add("context", 1);
    STACK.with(|s| s.borrow_mut().push(handle));
    out!(ctx, handle as *mut c_void);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuCtxDestroy_v2(ctx: *mut c_void) -> u32 {
    let injected = fault("cuCtxDestroy_v2");
    let life = lifecycle("cuCtxDestroy_v2");
    if life.overlapped {
        return ILLEGAL_STATE;
    }
    if let Some(status) = injected {
        return status;
    }
    let handle = ctx as usize;
    if !lock(&OBJECTS).contexts.remove(&handle) {
        return misuse("cuCtxDestroy_v2:unknown", INVALID_CONTEXT);
    }
    live_add("context", -1);
    // Like the driver: a destroyed context current on this thread is popped.
    STACK.with(|s| s.borrow_mut().retain(|c| *c != handle));
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuCtxPushCurrent_v2(ctx: *mut c_void) -> u32 {
    injected!("cuCtxPushCurrent_v2");
    let handle = ctx as usize;
    if !is_context(handle) {
        return misuse("cuCtxPushCurrent_v2:unknown", INVALID_CONTEXT);
    }
    STACK.with(|s| s.borrow_mut().push(handle));
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuCtxPopCurrent_v2(ctx: *mut *mut c_void) -> u32 {
    injected!("cuCtxPopCurrent_v2");
    match STACK.with(|s| s.borrow_mut().pop()) {
        Some(handle) => {
            if !ctx.is_null() {
                // SAFETY: non-null out-pointer from the caller.
                unsafe { ctx.write(handle as *mut c_void) };
            }
            SUCCESS
        }
        None => misuse("cuCtxPopCurrent_v2:empty-stack", INVALID_CONTEXT),
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn cuCtxGetCurrent(ctx: *mut *mut c_void) -> u32 {
    injected!("cuCtxGetCurrent");
    out!(ctx, current().unwrap_or(0) as *mut c_void);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuCtxSynchronize() -> u32 {
    injected!("cuCtxSynchronize");
    if let Err(status) = need_context("cuCtxSynchronize") {
        return status;
    }
    synced(None);
    SUCCESS
}

#[cfg(not(feature = "old-driver"))]
#[unsafe(no_mangle)]
pub extern "C" fn cuMemGetInfo_v2(free: *mut usize, total: *mut usize) -> u32 {
    injected!("cuMemGetInfo_v2");
    if let Err(status) = need_context("cuMemGetInfo_v2") {
        return status;
    }
    let used: usize = lock(&MEMORY).allocs.values().map(|b| b.len()).sum();
    out!(free, TOTAL_MEMORY.saturating_sub(used));
    out!(total, TOTAL_MEMORY);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuMemAlloc_v2(ptr: *mut u64, bytes: usize) -> u32 {
    injected!("cuMemAlloc_v2");
    if let Err(status) = need_context("cuMemAlloc_v2") {
        return status;
    }
    if ptr.is_null() || bytes == 0 {
        return INVALID_VALUE;
    }
    let Some(block) = host_block(bytes) else {
        return OUT_OF_MEMORY;
    };
    let addr = block.as_ptr() as u64;
    lock(&MEMORY).allocs.insert(addr, block);
    live_add("alloc", 1);
    out!(ptr, addr);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuMemFree_v2(ptr: u64) -> u32 {
    injected!("cuMemFree_v2");
    if lock(&MEMORY).allocs.remove(&ptr).is_none() {
        return misuse("cuMemFree_v2:unknown", INVALID_VALUE);
    }
    live_add("alloc", -1);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuMemsetD8_v2(ptr: u64, value: u8, count: usize) -> u32 {
    injected!("cuMemsetD8_v2");
    let memory = lock(&MEMORY);
    if !memory.contains(ptr, count) {
        return misuse("cuMemsetD8_v2:out-of-bounds", INVALID_VALUE);
    }
    // SAFETY: the range lies inside a block we own, kept alive by holding the lock.
    unsafe { std::ptr::write_bytes(ptr as *mut u8, value, count) };
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuStreamCreate(stream: *mut *mut c_void, _flags: c_uint) -> u32 {
    injected!("cuStreamCreate");
    if let Err(status) = need_context("cuStreamCreate") {
        return status;
    }
    if stream.is_null() {
        return INVALID_VALUE;
    }
    let handle = new_handle();
    lock(&OBJECTS).streams.insert(handle);
    live_add("stream", 1);
    out!(stream, handle as *mut c_void);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuStreamDestroy_v2(stream: *mut c_void) -> u32 {
    injected!("cuStreamDestroy_v2");
    if !lock(&OBJECTS).streams.remove(&(stream as usize)) {
        return misuse("cuStreamDestroy_v2:unknown", INVALID_HANDLE);
    }
    // Work queued on a destroyed stream still completes (as documented for the driver); it
    // is no longer this stand-in's to track.
    synced(Some(stream as usize));
    live_add("stream", -1);
    SUCCESS
}

fn stream_ok(stream: *mut c_void) -> bool {
    stream.is_null() || stream as usize <= 2 || lock(&OBJECTS).streams.contains(&(stream as usize))
}

#[cfg(not(feature = "old-driver"))]
#[unsafe(no_mangle)]
pub extern "C" fn cuStreamSynchronize(stream: *mut c_void) -> u32 {
    injected!("cuStreamSynchronize");
    if !stream_ok(stream) {
        return misuse("cuStreamSynchronize:unknown", INVALID_HANDLE);
    }
    synced(Some(stream as usize));
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuStreamWaitEvent(
    stream: *mut c_void,
    event: *mut c_void,
    _flags: c_uint,
) -> u32 {
    injected!("cuStreamWaitEvent");
    if !stream_ok(stream) || !lock(&OBJECTS).events.contains(&(event as usize)) {
        return misuse("cuStreamWaitEvent:unknown", INVALID_HANDLE);
    }
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuEventCreate(event: *mut *mut c_void, _flags: c_uint) -> u32 {
    injected!("cuEventCreate");
    if let Err(status) = need_context("cuEventCreate") {
        return status;
    }
    if event.is_null() {
        return INVALID_VALUE;
    }
    let handle = new_handle();
    lock(&OBJECTS).events.insert(handle);
    live_add("event", 1);
    out!(event, handle as *mut c_void);
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuEventRecord(event: *mut c_void, stream: *mut c_void) -> u32 {
    injected!("cuEventRecord");
    if !stream_ok(stream) || !lock(&OBJECTS).events.contains(&(event as usize)) {
        return misuse("cuEventRecord:unknown", INVALID_HANDLE);
    }
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuEventSynchronize(event: *mut c_void) -> u32 {
    injected!("cuEventSynchronize");
    if !lock(&OBJECTS).events.contains(&(event as usize)) {
        return misuse("cuEventSynchronize:unknown", INVALID_HANDLE);
    }
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuEventDestroy_v2(event: *mut c_void) -> u32 {
    injected!("cuEventDestroy_v2");
    if !lock(&OBJECTS).events.remove(&(event as usize)) {
        return misuse("cuEventDestroy_v2:unknown", INVALID_HANDLE);
    }
    live_add("event", -1);
    SUCCESS
}

/// `CUDA_MEMCPY2D` (cuda.h).
#[repr(C)]
pub struct Memcpy2d {
    src_x_in_bytes: usize,
    src_y: usize,
    src_memory_type: u32,
    src_host: *const c_void,
    src_device: u64,
    src_array: *mut c_void,
    src_pitch: usize,
    dst_x_in_bytes: usize,
    dst_y: usize,
    dst_memory_type: u32,
    dst_host: *mut c_void,
    dst_device: u64,
    dst_array: *mut c_void,
    dst_pitch: usize,
    width_in_bytes: usize,
    height: usize,
}
const _: () = assert!(std::mem::size_of::<Memcpy2d>() == 128);

const MEMORYTYPE_HOST: u32 = 1;
const MEMORYTYPE_DEVICE: u32 = 2;

fn memcpy_2d(call: &str, copy: *const Memcpy2d) -> u32 {
    // SAFETY: a non-null descriptor from the caller, of the documented layout.
    let Some(c) = (unsafe { copy.as_ref() }) else {
        return INVALID_VALUE;
    };
    if c.height == 0 || c.width_in_bytes == 0 {
        return SUCCESS;
    }
    if c.width_in_bytes > c.src_pitch.max(c.width_in_bytes) || c.width_in_bytes > c.dst_pitch {
        return misuse(&format!("{call}:pitch"), INVALID_VALUE);
    }
    let span = |pitch: usize| {
        pitch
            .checked_mul(c.height - 1)
            .and_then(|v| v.checked_add(c.width_in_bytes))
    };
    let (Some(src_span), Some(dst_span)) = (span(c.src_pitch), span(c.dst_pitch)) else {
        return misuse(&format!("{call}:overflow"), INVALID_VALUE);
    };
    let memory = lock(&MEMORY);
    let side =
        |kind: u32, host: usize, device: u64, x: usize, y: usize, pitch: usize, len: usize| {
            let offset = y.checked_mul(pitch)?.checked_add(x)?;
            match kind {
                MEMORYTYPE_HOST if host != 0 => host.checked_add(offset),
                MEMORYTYPE_DEVICE => {
                    let addr = device.checked_add(offset as u64)?;
                    memory.contains(addr, len).then_some(addr as usize)
                }
                _ => None,
            }
        };
    let src = side(
        c.src_memory_type,
        c.src_host as usize,
        c.src_device,
        c.src_x_in_bytes,
        c.src_y,
        c.src_pitch,
        src_span,
    );
    let dst = side(
        c.dst_memory_type,
        c.dst_host as usize,
        c.dst_device,
        c.dst_x_in_bytes,
        c.dst_y,
        c.dst_pitch,
        dst_span,
    );
    let (Some(src), Some(dst)) = (src, dst) else {
        return misuse(&format!("{call}:out-of-bounds"), INVALID_VALUE);
    };
    for row in 0..c.height {
        // SAFETY: device sides were checked against our blocks (kept alive by the lock);
        // host sides are the caller's promise, as with the real driver.
        unsafe {
            std::ptr::copy(
                (src + row * c.src_pitch) as *const u8,
                (dst + row * c.dst_pitch) as *mut u8,
                c.width_in_bytes,
            );
        }
    }
    SUCCESS
}

#[cfg(not(feature = "old-driver"))]
#[unsafe(no_mangle)]
pub extern "C" fn cuMemcpy2DAsync_v2(copy: *const Memcpy2d, stream: *mut c_void) -> u32 {
    injected!("cuMemcpy2DAsync_v2");
    if !stream_ok(stream) {
        return misuse("cuMemcpy2DAsync_v2:unknown-stream", INVALID_HANDLE);
    }
    let status = memcpy_2d("cuMemcpy2DAsync_v2", copy);
    if status == SUCCESS {
        *lock(&UNSYNCED).entry(stream as usize).or_insert(0) += 1;
    }
    status
}

#[unsafe(no_mangle)]
pub extern "C" fn cuMemcpy2D_v2(copy: *const Memcpy2d) -> u32 {
    injected!("cuMemcpy2D_v2");
    memcpy_2d("cuMemcpy2D_v2", copy)
}

/// Name and description of the statuses this stand-in knows.
fn describe(status: u32) -> Option<(&'static [u8], &'static [u8])> {
    Some(match status {
        0 => (b"CUDA_SUCCESS\0", b"no error\0"),
        1 => (b"CUDA_ERROR_INVALID_VALUE\0", b"invalid argument\0"),
        2 => (b"CUDA_ERROR_OUT_OF_MEMORY\0", b"out of memory\0"),
        3 => (b"CUDA_ERROR_NOT_INITIALIZED\0", b"initialization error\0"),
        101 => (b"CUDA_ERROR_INVALID_DEVICE\0", b"invalid device ordinal\0"),
        201 => (b"CUDA_ERROR_INVALID_CONTEXT\0", b"invalid device context\0"),
        205 => (
            b"CUDA_ERROR_MAP_FAILED\0",
            b"mapping of buffer object failed\0",
        ),
        226 => (b"CUDA_ERROR_CONTAINED\0", b"contained error\0"),
        400 => (b"CUDA_ERROR_INVALID_HANDLE\0", b"invalid resource handle\0"),
        401 => (b"CUDA_ERROR_ILLEGAL_STATE\0", b"illegal state\0"),
        800 => (b"CUDA_ERROR_NOT_PERMITTED\0", b"operation not permitted\0"),
        801 => (b"CUDA_ERROR_NOT_SUPPORTED\0", b"operation not supported\0"),
        999 => (b"CUDA_ERROR_UNKNOWN\0", b"unknown error\0"),
        _ => return None,
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn cuGetErrorName(status: u32, name: *mut *const c_char) -> u32 {
    injected!("cuGetErrorName");
    let text = describe(status).map_or(std::ptr::null(), |(n, _)| n.as_ptr().cast());
    out!(name, text);
    if text.is_null() {
        INVALID_VALUE
    } else {
        SUCCESS
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn cuGetErrorString(status: u32, text: *mut *const c_char) -> u32 {
    injected!("cuGetErrorString");
    let s = describe(status).map_or(std::ptr::null(), |(_, s)| s.as_ptr().cast());
    out!(text, s);
    if s.is_null() { INVALID_VALUE } else { SUCCESS }
}
