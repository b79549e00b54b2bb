//! A fault-injecting stand-in for the NVIDIA driver libraries, for CPU tests of
//! `nvcodec-guard` (no GPU needed). One shared object exports every symbol of
//! `libcuda.so.1`, `libnvcuvid.so.1` and `libnvidia-encode.so.1` that the crate (and cudarc's
//! symbol table) resolves; the test harness copies it under the three sonames.
//!
//! What it models: a per-thread CUDA context stack, "device" memory that is host memory (so
//! copies work), an NVDEC parser that invents one frame per packet, decoders whose mapped
//! surfaces are filled with a deterministic pattern, and an NVENC that has no encode engine
//! (like an H100) or, after `standin_set_nvenc_working(1)`, one that encodes (inventing a
//! few bytes per picture; see `nvenc.rs`).
//!
//! What it checks: every *session lifecycle call* (context create/destroy, primary
//! retain/release, decoder caps/create/reconfigure/destroy, parser and ctx-lock
//! create/destroy, NVENC open/initialize/destroy, buffer and resource create/destroy) widens
//! itself by a configurable sleep and fails (CUDA 401 / NVENC 20) when another lifecycle call
//! is in flight; misuse (destroying a decoder with a frame mapped, unknown handles, calls
//! without a current context, copies outside known memory) fails and is counted.
//!
//! Control API (`standin_*`, C ABI) lets a test inject statuses, count calls and live objects.
//!
//! Nothing here panics across the C ABI: no `unwrap`, poisoned locks are recovered, and
//! allocations use `try_reserve` (the release profile aborts on panic anyway).

use std::collections::HashMap;
use std::ffi::{CStr, c_char};
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

mod cuda;
mod cuvid;
mod nvenc;
#[macro_use]
mod macros {
    /// Exports each name as a C function that ignores its arguments and returns
    /// CUDA_ERROR_NOT_SUPPORTED.
    macro_rules! stubs {
        ($($name:ident),* $(,)?) => {
            $(
                #[unsafe(no_mangle)]
                pub extern "C" fn $name() -> u32 {
                    crate::fault(stringify!($name));
                    801
                }
            )*
        };
    }
}
#[allow(non_snake_case)]
mod stubs;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads a C string argument; `None` for null or non-UTF-8.
pub(crate) fn name_arg(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller passes a NUL-terminated string (control API contract).
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .ok()
        .map(str::to_owned)
}

// ---------------------------------------------------------------------------------------
// Fault injection and call counting

#[derive(Default)]
struct Rules {
    always: HashMap<String, u32>,
    /// call -> (calls left before the failing one, status)
    nth: HashMap<String, (u32, u32)>,
    calls: HashMap<String, u64>,
}

static RULES: LazyLock<Mutex<Rules>> = LazyLock::new(|| Mutex::new(Rules::default()));

/// Counts a call of `call` and returns the status to inject, if any.
pub(crate) fn fault(call: &str) -> Option<u32> {
    let mut rules = lock(&RULES);
    *rules.calls.entry(call.to_owned()).or_insert(0) += 1;
    if let Some(&status) = rules.always.get(call) {
        return Some(status);
    }
    if let Some((left, status)) = rules.nth.get_mut(call) {
        *left = left.saturating_sub(1);
        if *left == 0 {
            let status = *status;
            rules.nth.remove(call);
            return Some(status);
        }
    }
    None
}

fn bump(key: String) {
    *lock(&RULES).calls.entry(key).or_insert(0) += 1;
}

// ---------------------------------------------------------------------------------------
// Lifecycle overlap detection

static IN_FLIGHT: AtomicU32 = AtomicU32::new(0);
static STARTS: AtomicU64 = AtomicU64::new(0);
static OVERLAPS: AtomicU64 = AtomicU64::new(0);
static DELAY_US: AtomicU32 = AtomicU32::new(0);
/// Extra sleep of one lifecycle call, in microseconds (on top of `DELAY_US`). Starts from
/// `NVCG_STANDIN_CALL_DELAYS_US` (`call=us,call=us`), so a program that knows nothing of the
/// control API (an example, a benchmark) can run against a driver with realistic call times.
static CALL_DELAYS_US: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(|| {
    let delays = std::env::var("NVCG_STANDIN_CALL_DELAYS_US")
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| {
            let (call, us) = pair.split_once('=')?;
            Some((call.trim().to_owned(), us.trim().parse().ok()?))
        })
        .collect();
    Mutex::new(delays)
});

/// One lifecycle call in flight; `overlapped` says whether another one ran at the same time.
pub(crate) struct Lifecycle {
    pub(crate) overlapped: bool,
}

/// Starts a lifecycle call: widens it by the configured delay and detects overlap.
pub(crate) fn lifecycle(call: &str) -> Lifecycle {
    let start = STARTS.fetch_add(1, SeqCst);
    let before = IN_FLIGHT.fetch_add(1, SeqCst);
    let delay = DELAY_US.load(SeqCst);
    if delay > 0 {
        std::thread::sleep(Duration::from_micros(u64::from(delay)));
    }
    let own_delay = lock(&CALL_DELAYS_US).get(call).copied().unwrap_or(0);
    if own_delay > 0 {
        std::thread::sleep(Duration::from_micros(u64::from(own_delay)));
    }
    let overlapped = before > 0 || STARTS.load(SeqCst) != start + 1;
    if overlapped {
        OVERLAPS.fetch_add(1, SeqCst);
        bump(format!("overlap:{call}"));
    }
    Lifecycle { overlapped }
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, SeqCst);
    }
}

// ---------------------------------------------------------------------------------------
// Live objects, misuse and handles

pub(crate) const KINDS: [&str; 13] = [
    "context",
    "primary",
    "stream",
    "event",
    "alloc",
    "ctxlock",
    "decoder",
    "parser",
    "mapped",
    "encoder",
    "enc_buffer",
    "registration",
    "enc_mapped",
];

static LIVE: [AtomicI64; 13] = [const { AtomicI64::new(0) }; 13];

pub(crate) fn live_add(kind: &str, delta: i64) {
    if let Some(i) = KINDS.iter().position(|k| *k == kind) {
        LIVE[i].fetch_add(delta, SeqCst);
    }
}

static MISUSE: AtomicU64 = AtomicU64::new(0);

/// Records a misuse of the API by the caller (not an injected fault) and returns `status`.
pub(crate) fn misuse(what: &str, status: u32) -> u32 {
    MISUSE.fetch_add(1, SeqCst);
    bump(format!("misuse:{what}"));
    status
}

static NEXT_HANDLE: AtomicUsize = AtomicUsize::new(0x5100_0000);

/// A fresh, never reused, non-null opaque handle value.
pub(crate) fn new_handle() -> usize {
    NEXT_HANDLE.fetch_add(0x40, SeqCst)
}

// ---------------------------------------------------------------------------------------
// Control API

/// Clears every injected status, the call counters, the overlap and misuse counters, the
/// lifecycle delay, the format overrides and the NVENC settings (working mode off, pitch and
/// bitstream size not overridden). Live objects stay as they are.
#[unsafe(no_mangle)]
pub extern "C" fn standin_reset() {
    *lock(&RULES) = Rules::default();
    OVERLAPS.store(0, SeqCst);
    MISUSE.store(0, SeqCst);
    DELAY_US.store(0, SeqCst);
    lock(&CALL_DELAYS_US).clear();
    cuda::reset_unsynced();
    cuvid::reset_format();
    nvenc::reset();
}

/// Every later call of `call` returns `status` without doing anything; 0 clears.
#[unsafe(no_mangle)]
pub extern "C" fn standin_set_status(call: *const c_char, status: u32) {
    let Some(call) = name_arg(call) else { return };
    let mut rules = lock(&RULES);
    if status == 0 {
        rules.always.remove(&call);
    } else {
        rules.always.insert(call, status);
    }
}

/// Only the `n`-th call of `call` from now on (1 = the next one) returns `status`.
/// `n == 0` or `status == 0` clears.
#[unsafe(no_mangle)]
pub extern "C" fn standin_fail_nth(call: *const c_char, n: u32, status: u32) {
    let Some(call) = name_arg(call) else { return };
    let mut rules = lock(&RULES);
    if n == 0 || status == 0 {
        rules.nth.remove(&call);
    } else {
        rules.nth.insert(call, (n, status));
    }
}

/// Calls of `call` since the last reset. Also `"overlap:<call>"` (overlapping starts of that
/// lifecycle call) and `"misuse:<what>"`.
#[unsafe(no_mangle)]
pub extern "C" fn standin_calls(call: *const c_char) -> u64 {
    let Some(call) = name_arg(call) else { return 0 };
    lock(&RULES).calls.get(&call).copied().unwrap_or(0)
}

/// Objects of `kind` alive now (see [`KINDS`]); -1 for an unknown kind.
#[unsafe(no_mangle)]
pub extern "C" fn standin_live(kind: *const c_char) -> i64 {
    let Some(kind) = name_arg(kind) else {
        return -1;
    };
    match KINDS.iter().position(|k| *k == kind) {
        Some(i) => LIVE[i].load(SeqCst),
        None => -1,
    }
}

/// Sleep inside every lifecycle call, in microseconds (widens the overlap window).
#[unsafe(no_mangle)]
pub extern "C" fn standin_set_lifecycle_delay_us(us: u32) {
    DELAY_US.store(us, SeqCst);
}

/// Lifecycle calls that overlapped another one since the last reset (both sides count).
#[unsafe(no_mangle)]
pub extern "C" fn standin_overlaps() -> u64 {
    OVERLAPS.load(SeqCst)
}

/// Misuses detected since the last reset (destroy/reconfigure with frames mapped, unknown
/// handles, no current context, copies outside known memory, ...).
#[unsafe(no_mangle)]
pub extern "C" fn standin_misuse() -> u64 {
    MISUSE.load(SeqCst)
}

/// Overrides one field of the format the parser reports in its sequence callback. Returns
/// 0, or -1 for an unknown field. Fields: codec (-1 = the parser's codec), chroma_format,
/// coded_width, coded_height, display_left, display_top, display_right, display_bottom,
/// bit_depth_luma_minus8, bit_depth_chroma_minus8, min_num_decode_surfaces,
/// progressive_sequence, frame_rate_num, frame_rate_den. Values are written raw
/// (truncated to the field's C type).
#[unsafe(no_mangle)]
pub extern "C" fn standin_set_format(field: *const c_char, value: i64) -> i32 {
    match name_arg(field) {
        Some(field) if cuvid::set_format(&field, value) => 0,
        _ => -1,
    }
}

/// Switches NVENC between "no encode engine" (0, the default: open fails with
/// NV_ENC_ERR_UNSUPPORTED_DEVICE) and a working encoder (1).
#[unsafe(no_mangle)]
pub extern "C" fn standin_set_nvenc_working(on: u32) {
    nvenc::set_working(on != 0);
}

/// The pitch `nvEncLockInputBuffer` reports from now on; 0 = the default (the row rounded up
/// to 256). A pitch whose surface fits in 1 GiB is backed by that much memory; a larger one
/// is reported over the memory there is, as a broken driver would.
#[unsafe(no_mangle)]
pub extern "C" fn standin_set_nvenc_pitch(pitch: u32) {
    nvenc::set_pitch(pitch);
}

/// The `bitstreamSizeInBytes` `nvEncLockBitstream` reports from now on; `u64::MAX` = the
/// real size (the default). The field is 32 bits: larger values saturate to `u32::MAX`.
/// Sizes up to 16 MiB are backed by memory (the fake picture, then zeros); larger ones are
/// reported over the few real bytes, as a broken driver would.
#[unsafe(no_mangle)]
pub extern "C" fn standin_set_nvenc_bitstream_size(size: u64) {
    nvenc::set_bitstream_size(size);
}

/// Writes every non-zero `overlap:*` and `misuse:*` counter as `name=count` lines into
/// `buf` (at most `len` bytes, NUL-terminated, truncated if needed); returns the bytes the
/// whole report needs, without the NUL.
///
/// # Safety
/// `buf` must be null or writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn standin_report(buf: *mut c_char, len: usize) -> usize {
    let mut lines: Vec<String> = lock(&RULES)
        .calls
        .iter()
        .filter(|(k, n)| **n > 0 && (k.starts_with("overlap:") || k.starts_with("misuse:")))
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    lines.sort();
    let text = lines.join("\n");
    if !buf.is_null() && len > 0 {
        let n = text.len().min(len - 1);
        // SAFETY: the caller's buffer holds `len` bytes (the function's contract); at most
        // `len` are written.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), buf, n);
            buf.add(n).write(0);
        }
    }
    text.len()
}

/// Sleep inside every call of the lifecycle call `call` (e.g. `cuvidDestroyDecoder`), in
/// microseconds, on top of the delay of every lifecycle call; 0 clears.
#[unsafe(no_mangle)]
pub extern "C" fn standin_set_call_delay_us(call: *const c_char, us: u32) {
    let Some(call) = name_arg(call) else { return };
    let mut delays = lock(&CALL_DELAYS_US);
    if us == 0 {
        delays.remove(&call);
    } else {
        delays.insert(call, us);
    }
}

/// `cuMemcpy2DAsync_v2` calls that succeeded and whose stream has not been synchronized
/// since (by `cuStreamSynchronize` of that stream or of the legacy default stream, by
/// `cuCtxSynchronize`, or by destroying the stream). A caller that returns with such a copy
/// outstanding could let the real driver write memory after it was handed back.
#[unsafe(no_mangle)]
pub extern "C" fn standin_unsynced_copies() -> u64 {
    cuda::unsynced_copies()
}

/// How many pictures the parser decodes and displays for each non-empty packet from now on
/// (1, the default, after a reset); 0 is taken as 1, larger values are capped at 256.
#[unsafe(no_mangle)]
pub extern "C" fn standin_set_pictures_per_packet(n: u32) {
    cuvid::set_pictures_per_packet(n);
}
