//! Error paths and lifecycle ordering against a fault-injecting stand-in NVIDIA driver
//! (`standin/`), on any CPU machine.
//!
//! `cargo test --test standin` builds the stand-in (`standin/`, into `target/standin`), links
//! it under the three sonames into `target/standin/lib` (and an old-driver build, missing
//! three CUDA symbols, into `target/standin/lib-old`), then runs every scenario in a child
//! process of this binary with `LD_LIBRARY_PATH` pointing there, so the crate's normal
//! run-time loading (`dlopen("libcuda.so.1")`, ...) finds the stand-in. A child that panics,
//! dies of a signal or runs past its timeout is a failure.
//!
//! One scenario by hand (after one full run built the libraries):
//! `NVCG_STANDIN_SCENARIO=cuinit_odd_status/226 LD_LIBRARY_PATH=target/standin/lib
//! target/debug/deps/standin-<hash>`.
//!
//! The three sonames are hard links of one file, so the dynamic loader maps it once and the
//! three "libraries" share one state (a real driver's libnvcuvid also shares libcuda's).
//!
//! The stand-in is for error paths and ordering only: success paths stay verified on the GPU.
//! Its NVENC working mode (`standin_set_nvenc_working(1)`) models the API's bookkeeping
//! (buffers, locks, registrations, mappings) and invents a few bytes per picture, so the
//! encoder's ownership and error paths run on CPU; it says nothing about real encoding.

use std::collections::BTreeMap;
use std::ffi::{CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nvcodec_guard::cuda::{Context, ContextMode, DeviceBuffer};
use nvcodec_guard::decode::{
    Decoder, DecoderBuilder, DecoderConfig, DecoderPool, DecoderSpec, PoolConfig,
};
use nvcodec_guard::encode::{EncoderBuilder, EncoderConfig, InputFrame};
use nvcodec_guard::error::{BitstreamError, FrameError, Library};
use nvcodec_guard::init::{CudaInitGuard, init_lock_stats, wait_for_teardowns};
use nvcodec_guard::{Codec, DriverError, Error};

// =======================================================================================
// Control of the stand-in (its `standin_*` exports, through libloading)

struct Control {
    reset: unsafe extern "C" fn(),
    set_status: unsafe extern "C" fn(*const c_char, u32),
    fail_nth: unsafe extern "C" fn(*const c_char, u32, u32),
    calls: unsafe extern "C" fn(*const c_char) -> u64,
    live: unsafe extern "C" fn(*const c_char) -> i64,
    set_delay: unsafe extern "C" fn(u32),
    overlaps: unsafe extern "C" fn() -> u64,
    misuse: unsafe extern "C" fn() -> u64,
    set_format: unsafe extern "C" fn(*const c_char, i64) -> i32,
    ctx_get_current: unsafe extern "C" fn(*mut *mut c_void) -> u32,
    ctx_pop: unsafe extern "C" fn(*mut *mut c_void) -> u32,
    ctx_push: unsafe extern "C" fn(*mut c_void) -> u32,
    ctx_create: unsafe extern "C" fn(*mut *mut c_void, u32, i32) -> u32,
    ctx_destroy: unsafe extern "C" fn(*mut c_void) -> u32,
    set_nvenc_working: unsafe extern "C" fn(u32),
    set_nvenc_pitch: unsafe extern "C" fn(u32),
    set_nvenc_bitstream_size: unsafe extern "C" fn(u64),
    report: unsafe extern "C" fn(*mut c_char, usize) -> usize,
    _lib: libloading::Library,
}

const KINDS: [&str; 13] = [
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

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL in names")
}

/// The stand-in's control functions; panics if `libcuda.so.1` is not the stand-in.
fn standin() -> &'static Control {
    static CONTROL: OnceLock<Control> = OnceLock::new();
    CONTROL.get_or_init(|| {
        // SAFETY: loads the stand-in (the harness set LD_LIBRARY_PATH); its initializers are
        // Rust statics only.
        let lib = unsafe { libloading::Library::new("libcuda.so.1") }
            .expect("libcuda.so.1 (the stand-in) loads");
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the stand-in exports these with exactly the declared signatures.
                *unsafe { lib.get($name) }.unwrap_or_else(|e| {
                    panic!(
                        "libcuda.so.1 is not the stand-in ({}: {e})",
                        String::from_utf8_lossy($name)
                    )
                })
            };
        }
        Control {
            reset: sym!(b"standin_reset\0"),
            set_status: sym!(b"standin_set_status\0"),
            fail_nth: sym!(b"standin_fail_nth\0"),
            calls: sym!(b"standin_calls\0"),
            live: sym!(b"standin_live\0"),
            set_delay: sym!(b"standin_set_lifecycle_delay_us\0"),
            overlaps: sym!(b"standin_overlaps\0"),
            misuse: sym!(b"standin_misuse\0"),
            set_format: sym!(b"standin_set_format\0"),
            ctx_get_current: sym!(b"cuCtxGetCurrent\0"),
            ctx_pop: sym!(b"cuCtxPopCurrent_v2\0"),
            ctx_push: sym!(b"cuCtxPushCurrent_v2\0"),
            ctx_create: sym!(b"cuCtxCreate_v2\0"),
            ctx_destroy: sym!(b"cuCtxDestroy_v2\0"),
            set_nvenc_working: sym!(b"standin_set_nvenc_working\0"),
            set_nvenc_pitch: sym!(b"standin_set_nvenc_pitch\0"),
            set_nvenc_bitstream_size: sym!(b"standin_set_nvenc_bitstream_size\0"),
            report: sym!(b"standin_report\0"),
            _lib: lib,
        }
    })
}

// SAFETY (all methods): the stand-in's control calls take NUL-terminated strings and plain
// integers, and never unwind.
impl Control {
    fn reset(&self) {
        unsafe { (self.reset)() }
    }
    fn set_status(&self, call: &str, status: u32) {
        unsafe { (self.set_status)(c(call).as_ptr(), status) }
    }
    fn fail_nth(&self, call: &str, n: u32, status: u32) {
        unsafe { (self.fail_nth)(c(call).as_ptr(), n, status) }
    }
    fn calls(&self, call: &str) -> u64 {
        unsafe { (self.calls)(c(call).as_ptr()) }
    }
    fn live(&self, kind: &str) -> i64 {
        unsafe { (self.live)(c(kind).as_ptr()) }
    }
    fn live_all(&self) -> BTreeMap<&'static str, i64> {
        KINDS.iter().map(|k| (*k, self.live(k))).collect()
    }
    fn set_delay_us(&self, us: u32) {
        unsafe { (self.set_delay)(us) }
    }
    fn overlaps(&self) -> u64 {
        unsafe { (self.overlaps)() }
    }
    fn misuse(&self) -> u64 {
        unsafe { (self.misuse)() }
    }
    fn set_format(&self, field: &str, value: i64) {
        let r = unsafe { (self.set_format)(c(field).as_ptr(), value) };
        assert_eq!(r, 0, "stand-in format field {field}");
    }
    fn current_context(&self) -> usize {
        let mut ctx = std::ptr::null_mut();
        unsafe { (self.ctx_get_current)(&mut ctx) };
        ctx as usize
    }
    fn set_nvenc_working(&self, on: bool) {
        unsafe { (self.set_nvenc_working)(u32::from(on)) }
    }
    fn set_nvenc_pitch(&self, pitch: u32) {
        unsafe { (self.set_nvenc_pitch)(pitch) }
    }
    fn set_nvenc_bitstream_size(&self, size: u64) {
        unsafe { (self.set_nvenc_bitstream_size)(size) }
    }
    /// Every non-zero `overlap:*` and `misuse:*` counter, one `name=count` per line.
    fn report(&self) -> String {
        let mut buf = vec![0u8; 8192];
        let n = unsafe { (self.report)(buf.as_mut_ptr().cast(), buf.len()) };
        buf.truncate(n.min(buf.len() - 1));
        String::from_utf8_lossy(&buf).into_owned()
    }
    /// Pushes `ctx` on this thread's context stack, as foreign code would.
    fn push_context(&self, ctx: usize) -> u32 {
        unsafe { (self.ctx_push)(ctx as *mut c_void) }
    }
    /// Creates a context of the test's own (left current, as cuCtxCreate does).
    fn create_context(&self) -> usize {
        let mut ctx = std::ptr::null_mut();
        let status = unsafe { (self.ctx_create)(&mut ctx, 0, 0) };
        assert_eq!(status, 0, "cuCtxCreate_v2 of the test's own context");
        ctx as usize
    }
    fn destroy_context(&self, ctx: usize) -> u32 {
        unsafe { (self.ctx_destroy)(ctx as *mut c_void) }
    }
    fn pop_context(&self) -> (u32, usize) {
        let mut popped = std::ptr::null_mut();
        let status = unsafe { (self.ctx_pop)(&mut popped) };
        (status, popped as usize)
    }
    /// Pops this thread's context stack back to `ctx` (after a failure left it dirty).
    fn restore_current(&self, ctx: usize) {
        for _ in 0..16 {
            if self.current_context() == ctx {
                return;
            }
            let mut popped = std::ptr::null_mut();
            if unsafe { (self.ctx_pop)(&mut popped) } != 0 {
                return;
            }
        }
    }
}

/// Lifecycle and misuse diagnostics: every `overlap:*` / `misuse:*` counter that is non-zero.
fn diagnostics(s: &Control) -> String {
    const CALLS: [&str; 21] = [
        "cuCtxCreate_v2",
        "cuCtxDestroy_v2",
        "cuDevicePrimaryCtxRetain",
        "cuDevicePrimaryCtxRelease_v2",
        "cuvidGetDecoderCaps",
        "cuvidCreateDecoder",
        "cuvidReconfigureDecoder",
        "cuvidDestroyDecoder",
        "cuvidCreateVideoParser",
        "cuvidDestroyVideoParser",
        "cuvidCtxLockCreate",
        "cuvidCtxLockDestroy",
        "nvEncOpenEncodeSessionEx",
        "nvEncInitializeEncoder",
        "nvEncDestroyEncoder",
        "nvEncRegisterResource",
        "nvEncUnregisterResource",
        "nvEncCreateInputBuffer",
        "nvEncDestroyInputBuffer",
        "nvEncCreateBitstreamBuffer",
        "nvEncDestroyBitstreamBuffer",
    ];
    const MISUSES: [&str; 12] = [
        "cuvidDestroyDecoder:mapped",
        "cuvidReconfigureDecoder:mapped",
        "cuvidUnmapVideoFrame64:unknown-pointer",
        "cuvidUnmapVideoFrame64:unknown-decoder",
        "cuvidMapVideoFrame64:unknown",
        "cuvidCreateDecoder:no-context",
        "cuvidGetDecoderCaps:no-context",
        "cuMemAlloc_v2:no-context",
        "cuStreamCreate:no-context",
        "cuCtxPopCurrent_v2:empty-stack",
        "cuMemFree_v2:unknown",
        "cuMemcpy2DAsync_v2:out-of-bounds",
    ];
    let mut out = Vec::new();
    for call in CALLS {
        let n = s.calls(&format!("overlap:{call}"));
        if n > 0 {
            out.push(format!("overlap:{call}={n}"));
        }
    }
    for m in MISUSES {
        let n = s.calls(&format!("misuse:{m}"));
        if n > 0 {
            out.push(format!("misuse:{m}={n}"));
        }
    }
    out.push(format!("misuse total={}", s.misuse()));
    let report = s.report();
    if !report.is_empty() {
        out.push(format!("stand-in report: {}", report.replace('\n', ", ")));
    }
    out.join(", ")
}

// =======================================================================================
// Helpers

/// Checks that this process really runs on the stand-in and retains the shared primary
/// context (so it is part of every later baseline).
fn on_standin() -> &'static Control {
    let s = standin();
    let guard = CudaInitGuard::acquire().expect("init lock");
    let ctx =
        Context::acquire(&guard, 0, ContextMode::SharedPrimary).expect("a context on the stand-in");
    assert_eq!(
        ctx.device_name(),
        "Stand-in GPU",
        "not running on the stand-in"
    );
    drop(ctx);
    drop(guard);
    s
}

fn h264(mode: ContextMode) -> DecoderConfig {
    DecoderConfig::new(Codec::H264).with_context_mode(mode)
}

fn build(mode: ContextMode) -> nvcodec_guard::Result<Decoder> {
    DecoderBuilder::new(h264(mode)).build()
}

const PACKET: &[u8] = &[0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00];

fn settle() {
    assert!(
        wait_for_teardowns(Duration::from_secs(5)),
        "deferred teardowns did not drain within 5 s"
    );
}

fn assert_live(s: &Control, baseline: &BTreeMap<&'static str, i64>, what: &str) {
    let now = s.live_all();
    assert_eq!(
        &now,
        baseline,
        "{what}: live objects differ from the baseline ({})",
        diagnostics(s)
    );
}

fn lock_is_free() {
    let guard = CudaInitGuard::acquire_timeout(Duration::from_secs(1));
    assert!(guard.is_ok(), "the init lock is not free: {guard:?}");
}

/// The status name the crate reports for `status`: exact where the brief fixes it, else a
/// `CUDA_ERROR_*` name that is not a mislabel as UNKNOWN, or "unknown CUDA status ...".
fn assert_truthful_name(status: u32, name: &str) {
    match status {
        226 => assert_eq!(name, "CUDA_ERROR_CONTAINED"),
        999 => assert_eq!(name, "CUDA_ERROR_UNKNOWN"),
        12345 => assert!(
            name.starts_with("unknown CUDA status"),
            "name for 12345: {name:?}"
        ),
        _ => assert!(
            (name.starts_with("CUDA_ERROR_") && name != "CUDA_ERROR_UNKNOWN")
                || name.starts_with("unknown CUDA status"),
            "name for {status}: {name:?}"
        ),
    }
}

const ODD_STATUSES: [u32; 10] = [226, 227, 402, 721, 913, 914, 915, 916, 999, 12345];

// =======================================================================================
// Scenarios

/// cuInit returns `status`: the build fails with that status, named, and the lock is free.
fn cuinit_odd_status(status: u32) {
    let s = on_standin();
    s.set_status("cuInit", status);
    let result = build(ContextMode::SharedPrimary);
    s.set_status("cuInit", 0);
    match result {
        Err(Error::Driver(DriverError {
            library: Library::Cuda,
            call,
            status: got,
            ..
        })) => {
            assert_eq!(call, "cuInit");
            assert_eq!(got.code(), status);
            assert!(got.is_cuda_result());
            assert_truthful_name(status, got.name());
        }
        other => panic!("expected Err(Cuda {{ call: cuInit, code: {status} }}), got {other:?}"),
    }
    lock_is_free();
}

/// `call` returns `status` during a decoder build: Err naming the call; nothing leaks.
fn cuvid_odd_status(call: &str, status: u32) {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    s.set_status(call, status);
    let result = build(ContextMode::SharedPrimary);
    s.set_status(call, 0);
    match &result {
        Err(Error::Driver(DriverError {
            call: failed,
            status: got,
            library,
            ..
        })) => {
            assert_eq!(*failed, call);
            assert_eq!(got.code(), status);
            let expected = if call.starts_with("cuvid") {
                Library::Nvcuvid
            } else {
                Library::Cuda
            };
            assert_eq!(*library, expected);
            assert_truthful_name(status, got.name());
        }
        other => panic!("expected Err(Cuda {{ call: {call}, code: {status} }}), got {other:?}"),
    }
    drop(result);
    settle();
    assert_live(s, &baseline, "after the failed build");
    lock_is_free();
}

/// The old driver lacks cuMemcpy2DAsync_v2, cuStreamSynchronize and cuMemGetInfo_v2.
fn missing_symbols() {
    let s = standin();
    assert_eq!(s.live("context"), 0, "stand-in control works");
    let missing = [
        "cuMemcpy2DAsync_v2",
        "cuStreamSynchronize",
        "cuMemGetInfo_v2",
    ];
    let check = |what: &str, result: nvcodec_guard::Result<()>| match result {
        Err(Error::SymbolNotFound {
            library, symbol, ..
        }) => {
            assert_eq!(library, "libcuda.so.1", "{what}");
            assert!(
                missing.contains(&symbol),
                "{what}: SymbolNotFound names {symbol:?}, expected one of {missing:?}"
            );
        }
        other => panic!("{what}: expected Err(SymbolNotFound), got {other:?}"),
    };
    check("driver_available", nvcodec_guard::cuda::driver_available());
    check("build", build(ContextMode::SharedPrimary).map(drop));
}

/// (dev, inode) of every mapping of a file whose name starts with `prefix`, by path.
fn mapped_files(prefix: &str) -> BTreeMap<String, String> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    let mut out = BTreeMap::new();
    for line in maps.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 6 {
            continue;
        }
        let path = cols[5..].join(" ");
        let name = Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with(prefix) {
            out.insert(path, format!("{}:{}", cols[3], cols[4]));
        }
    }
    out
}

fn standin_inode() -> u64 {
    use std::os::unix::fs::MetadataExt;
    let dir = std::env::var("LD_LIBRARY_PATH").expect("LD_LIBRARY_PATH");
    let dir = dir.split(':').next().unwrap_or_default();
    std::fs::metadata(Path::new(dir).join("libcuda.so.1"))
        .expect("the stand-in's libcuda.so.1")
        .ino()
}

/// libcuda.so.1 is opened once, by that name, and stays loaded.
fn libcuda_loaded_once_and_kept() {
    let inode = standin_inode().to_string();
    // Before this harness opens the library itself: only the crate holds it.
    let available = nvcodec_guard::cuda::driver_available();
    assert!(available.is_ok(), "driver_available: {available:?}");
    let after_probe = mapped_files("");
    assert!(
        after_probe
            .values()
            .any(|id| id.ends_with(&format!(":{inode}"))),
        "the stand-in (inode {inode}) is not mapped after driver_available(): it was unloaded"
    );
    let s = on_standin();
    let decoder = build(ContextMode::SharedPrimary).expect("build");
    let cuda = mapped_files("libcuda.so");
    assert_eq!(
        cuda.len(),
        1,
        "expected exactly one file named libcuda.so* mapped, got {cuda:?}"
    );
    let id = cuda.values().next().map(String::as_str).unwrap_or_default();
    assert!(
        id.ends_with(&format!(":{inode}")),
        "the mapped libcuda.so.1 is not the stand-in: {cuda:?}"
    );
    drop(decoder);
    settle();
    let _ = s;
}

/// Every create/alloc/pop of a build fails in turn: Err, nothing leaks, the thread's
/// current context is unchanged.
fn fail_each_step_of_a_build() {
    const STEPS: [&str; 7] = [
        "cuCtxCreate_v2",
        "cuCtxPopCurrent_v2",
        "cuStreamCreate",
        "cuvidCtxLockCreate",
        "cuvidCreateDecoder",
        "cuvidCreateVideoParser",
        "cuMemAlloc_v2",
    ];
    let s = on_standin();
    let mut failures = Vec::new();
    let mut tried = 0;
    for mode in [ContextMode::SharedPrimary, ContextMode::Dedicated] {
        // Measure how often a successful build makes each call.
        s.reset();
        let decoder = build(mode).expect("a successful build");
        let counts: Vec<(&str, u64)> = STEPS.iter().map(|c| (*c, s.calls(c))).collect();
        drop(decoder);
        settle();
        for (call, k) in counts {
            for n in 1..=k {
                tried += 1;
                let before_ctx = s.current_context();
                let baseline = s.live_all();
                s.reset();
                s.fail_nth(call, n as u32, 2);
                let result = build(mode);
                s.reset();
                let label = format!("{mode:?}, {call} #{n}");
                match result {
                    Err(_) => {}
                    // A pop inside a drop guard cannot always fail the build; leaks and
                    // the current context are still checked below.
                    Ok(decoder) if call == "cuCtxPopCurrent_v2" => drop(decoder),
                    Ok(decoder) => {
                        failures.push(format!("{label}: build succeeded"));
                        drop(decoder);
                    }
                }
                settle();
                let now = s.live_all();
                if now != baseline {
                    let diff: Vec<String> = KINDS
                        .iter()
                        .filter(|k| now[*k] != baseline[*k])
                        .map(|k| format!("{k} {} -> {}", baseline[k], now[k]))
                        .collect();
                    failures.push(format!("{label}: leaked {}", diff.join(", ")));
                }
                let after_ctx = s.current_context();
                // A pop the driver refuses inside `CurrentContext::drop` leaves the shared
                // primary context current: nothing sound can undo a refused pop (it is
                // logged). A dedicated context must never stay current (it is destroyed).
                let refused_pop_of_primary =
                    call == "cuCtxPopCurrent_v2" && mode == ContextMode::SharedPrimary;
                if after_ctx != before_ctx && refused_pop_of_primary {
                    s.restore_current(before_ctx);
                } else if after_ctx != before_ctx {
                    failures.push(format!(
                        "{label}: current context {before_ctx:#x} -> {after_ctx:#x}"
                    ));
                    s.restore_current(before_ctx);
                }
            }
        }
    }
    assert!(tried > 0, "no step was measured");
    assert!(
        failures.is_empty(),
        "{} of {tried} injected failures misbehaved:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// 32 threads churn decoders (shared and dedicated, mid-stream drops, flush and reuse,
/// resolution changes) and encoder opens; no two lifecycle calls ever overlap.
fn lifecycle_calls_never_overlap() {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    s.reset();
    s.set_delay_us(200);
    let stop = AtomicBool::new(false);
    let builds = AtomicU64::new(0);
    let errors: std::sync::Mutex<BTreeMap<String, u64>> = Default::default();
    let note = |e: &Error| {
        let key = match e {
            Error::Driver(DriverError { call, status, .. }) => format!("{call}: {}", status.name()),
            other => {
                let text = other.to_string();
                text.chars().take(80).collect()
            }
        };
        *errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert(0) += 1;
    };
    std::thread::scope(|scope| {
        for t in 0..32u32 {
            let (stop, builds, note) = (&stop, &builds, &note);
            scope.spawn(move || {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    if (i + t) % 5 == 0 {
                        let enc =
                            EncoderBuilder::new(EncoderConfig::new(Codec::H264, 640, 360)).build();
                        match enc {
                            Err(Error::NoEncodeDevice { .. }) => {}
                            Err(e) => note(&e),
                            Ok(_) => note(&Error::Internal {
                                what: "encoder built on the stand-in",
                            }),
                        }
                        continue;
                    }
                    let mode = if (i + t) % 2 == 0 {
                        ContextMode::SharedPrimary
                    } else {
                        ContextMode::Dedicated
                    };
                    let mut decoder = match build(mode) {
                        Ok(d) => d,
                        Err(e) => {
                            note(&e);
                            continue;
                        }
                    };
                    builds.fetch_add(1, Ordering::Relaxed);
                    let mut pts = 0i64;
                    let mut feed = |decoder: &mut Decoder, take: bool| {
                        pts += 1;
                        match decoder.decode(PACKET, pts) {
                            Ok(frames) if take => {
                                for frame in frames {
                                    if let Err(e) = frame {
                                        note(&e);
                                    }
                                }
                            }
                            Ok(_) => {}
                            Err(e) => note(&e),
                        }
                    };
                    match i % 4 {
                        // Drop mid-stream with frames queued.
                        1 => {
                            feed(&mut decoder, false);
                            feed(&mut decoder, false);
                        }
                        // Flush, then decode again (parser renewal).
                        2 => {
                            feed(&mut decoder, true);
                            match decoder.flush() {
                                Ok(frames) => frames.for_each(drop),
                                Err(e) => note(&e),
                            }
                            feed(&mut decoder, true);
                        }
                        _ => {
                            for _ in 0..3 {
                                feed(&mut decoder, true);
                            }
                        }
                    }
                    drop(decoder);
                }
            });
        }
        // Resolution changes, seen by new parsers and by live ones mid-stream.
        let start = Instant::now();
        let mut big = false;
        while start.elapsed() < Duration::from_millis(1500) {
            std::thread::sleep(Duration::from_millis(150));
            big = !big;
            let (w, h, cw, ch) = if big {
                (1280, 720, 1280, 720)
            } else {
                (640, 360, 640, 368)
            };
            s.set_format("coded_width", cw);
            s.set_format("coded_height", ch);
            s.set_format("display_right", w);
            s.set_format("display_bottom", h);
        }
        stop.store(true, Ordering::Relaxed);
    });
    let settled = wait_for_teardowns(Duration::from_secs(20));
    s.set_delay_us(0);
    let overlaps = s.overlaps();
    let stats = init_lock_stats();
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    eprintln!(
        "churn: {} decoder builds, {overlaps} overlapping lifecycle calls, \
         max_concurrent_lifecycle_calls {}, errors {errors:?}",
        builds.load(Ordering::Relaxed),
        stats.max_concurrent_lifecycle_calls
    );
    let mut failures = Vec::new();
    if !settled {
        failures.push("deferred teardowns did not drain within 20 s".to_owned());
    }
    if overlaps != 0 {
        failures.push(format!(
            "{overlaps} lifecycle calls overlapped another ({})",
            diagnostics(s)
        ));
    }
    if stats.max_concurrent_lifecycle_calls != 1 {
        failures.push(format!(
            "init_lock_stats().max_concurrent_lifecycle_calls = {}",
            stats.max_concurrent_lifecycle_calls
        ));
    }
    let now = s.live_all();
    if now != baseline {
        failures.push(format!("live objects {now:?}, baseline {baseline:?}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A driver-written enum field out of range (`field` = `value`) is an error, not UB.
fn driver_written_enum(field: &str, value: i64) {
    let s = on_standin();
    let mut decoder = build(ContextMode::SharedPrimary).expect("build");
    s.set_format(field, value);
    let result = decoder.decode(PACKET, 1).map(|frames| frames.count());
    s.reset();
    match result {
        Err(Error::Bitstream(BitstreamError::CodecMismatch {
            expected,
            found,
            cuvid_codec,
        })) if field == "codec" => {
            assert_eq!(expected, Codec::H264);
            assert_eq!(
                found, None,
                "cudaVideoCodec {value} is no codec this crate knows"
            );
            assert_eq!(i64::from(cuvid_codec), value);
        }
        Err(e @ Error::Unsupported { .. }) if field != "codec" => {
            let text = e.to_string();
            assert!(
                text.contains(&value.to_string()),
                "the error does not name {value}: {text}"
            );
        }
        other => panic!("expected Err(Bitstream | Unsupported) naming {value}, got {other:?}"),
    }
}

/// A coded size near u32::MAX is an error naming it.
fn huge_coded_size(field: &str) {
    let s = on_standin();
    let mut decoder = build(ContextMode::SharedPrimary).expect("build");
    s.set_format(field, i64::from(u32::MAX - 3));
    let result = decoder.decode(PACKET, 1).map(|frames| frames.count());
    s.reset();
    eprintln!("{field} = u32::MAX - 3: {result:?}");
    match result {
        Err(Error::Bitstream(BitstreamError::CodedSizeOutOfRange { width, height, .. })) => {
            let reported = if field == "coded_width" {
                width
            } else {
                height
            };
            assert_eq!(reported, u32::MAX - 3, "{field}");
        }
        other => panic!("expected Err(Bitstream(CodedSizeOutOfRange)), got {other:?}"),
    }
}

/// A stream asking for 255 decode surfaces: capped at 64 or a clear error.
fn too_many_surfaces_requested() {
    let s = on_standin();
    let mut decoder = build(ContextMode::SharedPrimary).expect("build");
    s.set_format("min_num_decode_surfaces", 255);
    let result = decoder
        .decode(PACKET, 1)
        .map(|frames| frames.map(|f| f.map(drop)).collect::<Vec<_>>());
    s.reset();
    eprintln!("decode with 255 surfaces requested: {result:?}");
    assert!(
        decoder.decode_surfaces() <= 64,
        "the decoder has {} decode surfaces",
        decoder.decode_surfaces()
    );
}

/// Low-latency decoders are created with the live default (4 H.264 surfaces, 1 output
/// surface) and grow, by a new handle, only when a stream needs more; the count never shrinks.
fn low_latency_decoders_are_created_small() {
    let s = on_standin();
    for low_latency in [true, false] {
        let config = h264(ContextMode::SharedPrimary).with_low_latency(low_latency);
        assert_eq!(config.output_surfaces, if low_latency { 1 } else { 2 });
        let mut decoder = DecoderBuilder::new(config).build().expect("build");
        let mut seen = vec![(decoder.decode_surfaces(), 0, 0)];
        for (pts, needs) in [(1, 2_i64), (2, 6), (3, 3)] {
            s.reset();
            s.set_format("min_num_decode_surfaces", needs);
            let frames = decoder.decode(PACKET, pts).expect("decode");
            frames.for_each(|f| drop(f.expect("a frame")));
            seen.push((
                decoder.decode_surfaces(),
                s.calls("cuvidCreateDecoder"),
                s.calls("cuvidDestroyDecoder"),
            ));
        }
        s.reset();
        let expected = if low_latency {
            // 4 created; a stream of 2 fits; 6 needs a new handle; 3 fits the 6.
            vec![(4, 0, 0), (4, 0, 0), (6, 1, 1), (6, 0, 0)]
        } else {
            vec![(8, 0, 0), (8, 0, 0), (8, 0, 0), (8, 0, 0)]
        };
        assert_eq!(
            seen, expected,
            "low latency {low_latency}: (surfaces, creates, destroys) after each packet"
        );
    }
}

/// A forgotten frame is unmapped before its decoder is reconfigured or destroyed.
fn forgotten_frame_is_unmapped() {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    s.reset();
    let mut decoder = build(ContextMode::SharedPrimary).expect("build");
    {
        let mut frames = decoder.decode(PACKET, 1).expect("decode");
        let frame = frames.next().expect("a frame").expect("mapped");
        std::mem::forget(frame);
    }
    for pts in 2..10 {
        match decoder.decode(PACKET, pts) {
            Ok(frames) => frames.for_each(drop),
            Err(e) => eprintln!("decode {pts}: {e}"),
        }
        if pts == 5 {
            // A resolution change: the decoder is reconfigured.
            s.set_format("coded_width", 1280);
            s.set_format("coded_height", 720);
            s.set_format("display_right", 1280);
            s.set_format("display_bottom", 720);
        }
    }
    drop(decoder);
    settle();
    let bad: Vec<String> = [
        "cuvidDestroyDecoder:mapped",
        "cuvidReconfigureDecoder:mapped",
        "cuvidUnmapVideoFrame64:unknown-pointer",
        "cuvidUnmapVideoFrame64:unknown-decoder",
    ]
    .iter()
    .filter(|m| s.calls(&format!("misuse:{m}")) > 0)
    .map(|m| format!("{m} x{}", s.calls(&format!("misuse:{m}"))))
    .collect();
    assert_eq!(
        s.live("mapped"),
        0,
        "a surface stayed mapped ({})",
        diagnostics(s)
    );
    assert!(bad.is_empty(), "driver calls made while mapped: {bad:?}");
    assert_live(s, &baseline, "after dropping the decoder");
}

/// 200 decodes whose frames are never taken keep a bounded number of buffers.
fn ignored_frames_are_bounded() {
    let s = on_standin();
    let before = s.live("alloc");
    let mut decoder = build(ContextMode::SharedPrimary).expect("build");
    let mut errors = 0;
    let mut peak = before;
    for pts in 0..200 {
        if decoder.decode(PACKET, pts).is_err() {
            errors += 1;
        }
        peak = peak.max(s.live("alloc"));
    }
    eprintln!(
        "ignored frames: {errors} decode errors, peak allocations {peak} (baseline {before})"
    );
    assert!(
        peak - before <= 40,
        "{} device buffers for ignored frames (baseline {before})",
        peak - before
    );
    drop(decoder);
}

/// A failed map keeps the frame: the same frame comes next.
fn map_failure_keeps_the_frame() {
    let s = on_standin();
    let mut decoder = build(ContextMode::SharedPrimary).expect("build");
    s.fail_nth("cuvidMapVideoFrame64", 1, 205);
    let retried = {
        let mut frames = decoder.decode(PACKET, 7).expect("decode");
        match frames.next() {
            Some(Err(_)) => {}
            other => panic!(
                "expected the failed map as Some(Err), got {:?}",
                other.map(|f| f.map(|f| f.pts()))
            ),
        }
        frames.next().map(|f| f.map(|f| f.pts()))
    };
    let pts = match retried {
        Some(r) => r,
        None => {
            let mut again = decoder.decode(&[], 0).expect("decode of nothing");
            let next = again.next().map(|f| f.map(|f| f.pts()));
            match next {
                Some(r) => r,
                None => panic!("the frame whose map failed is lost"),
            }
        }
    };
    assert_eq!(
        pts.expect("the retried map"),
        7,
        "another frame came instead"
    );
}

/// The pop right after cuCtxCreate fails: no dedicated context leaks or stays current.
fn dedicated_pop_failure_does_not_leak() {
    let s = on_standin();
    settle();
    let baseline = s.live("context");
    let before = s.current_context();
    s.reset();
    s.fail_nth("cuCtxPopCurrent_v2", 1, 2);
    let result = build(ContextMode::Dedicated);
    s.reset();
    assert!(result.is_err(), "expected Err, got {result:?}");
    drop(result);
    settle();
    let current = s.current_context();
    s.restore_current(before);
    assert_eq!(
        s.live("context"),
        baseline,
        "a dedicated context leaked ({})",
        diagnostics(s)
    );
    assert_eq!(current, before, "a context stayed current on this thread");
}

// =======================================================================================
// NVENC working mode

const ENC_W: u32 = 640;
const ENC_H: u32 = 360;

fn enc_config() -> EncoderConfig {
    EncoderConfig::new(Codec::H264, ENC_W, ENC_H)
}

/// Byte `(row, col)` of the test pattern of a packed NV12 frame (luma rows, then UV rows).
fn pattern(row: usize, col: usize, seed: u8) -> u8 {
    if row < ENC_H as usize {
        (row * 7 + col + usize::from(seed)) as u8
    } else {
        0x80u8.wrapping_add(seed).wrapping_add(col as u8)
    }
}

/// A packed NV12 frame of the test pattern.
fn nv12_frame(seed: u8) -> Vec<u8> {
    let (w, rows) = (ENC_W as usize, ENC_H as usize * 3 / 2);
    let mut frame = vec![0u8; w * rows];
    for (i, byte) in frame.iter_mut().enumerate() {
        *byte = pattern(i / w, i % w, seed);
    }
    frame
}

/// What the stand-in encodes for a frame of the pattern: an Annex-B slice (IDR or P)
/// carrying the first byte of the first and last luma rows and of the UV plane.
fn expected_packet(idr: bool, seed: u8) -> Vec<u8> {
    let h = ENC_H as usize;
    vec![
        0,
        0,
        0,
        1,
        if idr { 0x65 } else { 0x41 },
        pattern(0, 0, seed),
        pattern(h - 1, 0, seed),
        pattern(h, 0, seed),
    ]
}

/// A device buffer of the encoder's context holding the pattern at `pitch`.
///
/// The stand-in's device memory is host memory, so the test fills it through its address.
fn device_frame(
    encoder: &nvcodec_guard::encode::Encoder,
    pitch: usize,
    seed: u8,
) -> nvcodec_guard::Result<DeviceBuffer> {
    let (w, rows) = (ENC_W as usize, ENC_H as usize * 3 / 2);
    let buffer = DeviceBuffer::alloc(encoder.context(), pitch * rows)?;
    let base = buffer.device_ptr() as usize as *mut u8;
    for row in 0..rows {
        for col in 0..w {
            // SAFETY: the stand-in's device memory is host memory of `pitch * rows` bytes.
            unsafe { base.add(row * pitch + col).write(pattern(row, col, seed)) };
        }
    }
    Ok(buffer)
}

/// The stand-in in NVENC working mode with counters reset; returns the live baseline.
fn nvenc_working() -> (&'static Control, BTreeMap<&'static str, i64>) {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    s.reset();
    s.set_nvenc_working(true);
    (s, baseline)
}

/// After the scenario: nothing live beyond the baseline, no overlap, no misuse, one
/// lifecycle call in flight at most.
fn nvenc_clean_end(s: &Control, baseline: &BTreeMap<&'static str, i64>, what: &str) {
    settle();
    assert_live(s, baseline, what);
    assert_eq!(s.overlaps(), 0, "{what}: overlaps ({})", diagnostics(s));
    assert_eq!(s.misuse(), 0, "{what}: misuse ({})", diagnostics(s));
    let stats = init_lock_stats();
    assert!(
        stats.max_concurrent_lifecycle_calls <= 1,
        "{what}: max_concurrent_lifecycle_calls = {}",
        stats.max_concurrent_lifecycle_calls
    );
    s.reset();
}

/// Working mode: build, encode a host and a device frame, flush, drop: nothing leaks.
fn encoder_builds_and_encodes_on_the_standin() {
    let (s, baseline) = nvenc_working();
    let mut encoder = EncoderBuilder::new(enc_config())
        .build()
        .expect("an encoder builds on the working stand-in");
    let pool = encoder.buffer_pool_size();
    assert!(pool >= 1, "buffer pool of {pool}");
    assert_eq!(s.live("encoder"), baseline["encoder"] + 1);
    assert_eq!(
        s.live("enc_buffer"),
        baseline["enc_buffer"] + 2 * pool as i64
    );

    let host = nv12_frame(3);
    let packets = encoder
        .encode(InputFrame::packed(&host), 1000)
        .expect("encode a host frame");
    assert_eq!(packets.len(), 1, "no B-frames: one packet per frame");
    assert_eq!(packets[0].pts, 1000, "timestamp echoed");
    assert_eq!(packets[0].dts, 1000);
    assert!(packets[0].keyframe, "the first picture is an IDR");
    assert_eq!(
        packets[0].data,
        expected_packet(true, 3),
        "host frame bytes"
    );

    // A device frame at a pitch wider than the row: copied into a registered staging
    // surface (one per slot, registered in a window taken at run time).
    let device = device_frame(&encoder, 1024, 9).expect("device buffer");
    let windows = init_lock_stats().windows_opened;
    let packets = encoder
        .encode(InputFrame::device(&device, 1024), 2000)
        .expect("encode a device frame");
    assert!(
        init_lock_stats().windows_opened > windows,
        "the staging registrations took no init window"
    );
    assert_eq!(
        s.live("registration"),
        baseline["registration"] + pool as i64
    );
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].pts, 2000);
    assert!(!packets[0].keyframe, "the second picture is a P picture");
    assert_eq!(
        packets[0].data,
        expected_packet(false, 9),
        "device frame bytes"
    );
    drop(device);

    // The device buffer may go as soon as encode returned: a second device frame reuses
    // the staging surfaces without registering again.
    let registrations = s.calls("nvEncRegisterResource");
    let device = device_frame(&encoder, ENC_W as usize, 11).expect("device buffer");
    let packets = encoder
        .encode(InputFrame::device(&device, ENC_W as usize), 3000)
        .expect("encode a second device frame");
    assert_eq!(packets[0].data, expected_packet(false, 11));
    assert_eq!(s.calls("nvEncRegisterResource"), registrations);

    // Frames that do not fit are refused before any driver call, naming the sizes at fault.
    let (row, rows) = (ENC_W as usize, ENC_H as usize * 3 / 2);
    let pictures = s.calls("nvEncEncodePicture");
    match encoder.encode(InputFrame::device(&device, row - 2), 3100) {
        Err(Error::Frame(FrameError::PitchTooSmall {
            plane: "Y",
            pitch,
            row_bytes,
            ..
        })) => assert_eq!((pitch, row_bytes), (row - 2, row)),
        other => panic!("expected Frame(PitchTooSmall), got {other:?}"),
    }
    match encoder.encode(InputFrame::device(&device, 2 * row), 3200) {
        Err(Error::Frame(FrameError::DeviceBufferTooSmall { len, needed, .. })) => {
            assert_eq!((len, needed), (row * rows, 2 * row * (rows - 1) + row));
        }
        other => panic!("expected Frame(DeviceBufferTooSmall), got {other:?}"),
    }
    match encoder.encode(InputFrame::packed(&host[1..]), 3300) {
        Err(Error::Frame(FrameError::PackedSize { expected, len, .. })) => {
            assert_eq!((expected, len), (row * rows, row * rows - 1));
        }
        other => panic!("expected Frame(PackedSize), got {other:?}"),
    }
    assert_eq!(
        s.calls("nvEncEncodePicture"),
        pictures,
        "a refused frame reached NVENC"
    );
    drop(device);

    assert!(
        encoder.flush().expect("flush").is_empty(),
        "nothing held back"
    );
    let headers = encoder.sequence_headers().expect("sequence headers");
    assert!(headers.starts_with(&[0, 0, 0, 1, 0x67]), "{headers:?}");
    // After a flush the next frame is an IDR again.
    let packets = encoder
        .encode(InputFrame::packed(&host), 4000)
        .expect("encode after flush");
    assert!(packets[0].keyframe, "{:?}", packets[0]);
    drop(encoder);
    nvenc_clean_end(s, &baseline, "after dropping the encoder");
}

/// A staging registration or allocation fails at the first device frame: Err, and nothing
/// of the half-made staging set stays registered or allocated.
fn staging_registration_failure_leaks_nothing() {
    let (s, baseline) = nvenc_working();
    for (call, status) in [("nvEncRegisterResource", 23), ("cuMemAlloc_v2", 2)] {
        let mut encoder = EncoderBuilder::new(enc_config()).build().expect("build");
        assert!(
            encoder.buffer_pool_size() >= 2,
            "a second staging surface is needed for this scenario"
        );
        let device = device_frame(&encoder, ENC_W as usize, 5).expect("device buffer");
        let allocs = s.live("alloc");
        s.fail_nth(call, 2, status);
        let result = encoder.encode(InputFrame::device(&device, ENC_W as usize), 1);
        s.fail_nth(call, 0, 0);
        assert!(
            result.is_err(),
            "{call} #2 failed, yet encode gave {result:?}"
        );
        eprintln!("{call} #2 failed: {result:?}");
        assert_eq!(
            s.live("registration"),
            baseline["registration"],
            "{call} #2 failed: a staging surface stayed registered ({})",
            diagnostics(s)
        );
        assert_eq!(
            s.live("alloc"),
            allocs,
            "{call} #2 failed: a staging surface stayed allocated"
        );
        // The encoder is still usable: the next device frame makes the staging set anew.
        let packets = encoder
            .encode(InputFrame::device(&device, ENC_W as usize), 2)
            .expect("a device frame after the failure");
        assert_eq!(packets[0].data, expected_packet(true, 5));
        drop(device);
        drop(encoder);
        settle();
        assert_eq!(
            s.live("registration"),
            baseline["registration"],
            "{call}: registrations left"
        );
        assert_eq!(
            s.live("alloc"),
            baseline["alloc"],
            "{call}: allocations left"
        );
    }
    nvenc_clean_end(s, &baseline, "after both failures");
}

/// `NvEncLockInputBuffer` reports a pitch no driver would: encoding a host frame fails
/// without writing out of bounds, the buffer is unlocked, and the encoder recovers.
fn encoder_rejects_absurd_driver_pitch() {
    let (s, baseline) = nvenc_working();
    let mut encoder = EncoderBuilder::new(enc_config()).build().expect("build");
    let host = nv12_frame(1);
    for pitch in [1u32 << 30, ENC_W / 2, ENC_W - 1, u32::MAX] {
        s.set_nvenc_pitch(pitch);
        let result = encoder.encode(InputFrame::packed(&host), i64::from(pitch));
        eprintln!("pitch {pitch}: {result:?}");
        assert!(result.is_err(), "pitch {pitch} accepted: {result:?}");
        assert_eq!(s.misuse(), 0, "pitch {pitch}: {}", diagnostics(s));
    }
    // A wide but plausible pitch (the stand-in backs it with memory) and the default work.
    for pitch in [4096, 0] {
        s.set_nvenc_pitch(pitch);
        let packets = encoder
            .encode(InputFrame::packed(&host), 7)
            .unwrap_or_else(|e| panic!("pitch {pitch}: {e}"));
        assert_eq!(packets[0].data[5..], expected_packet(true, 1)[5..]);
        assert_eq!(s.misuse(), 0, "pitch {pitch}: {}", diagnostics(s));
    }
    drop(encoder);
    nvenc_clean_end(s, &baseline, "after the pitch checks");
}

/// `NvEncLockBitstream` reports an absurd size: the encode that reads it fails, nothing
/// panics, and the encoder drops cleanly.
fn encoder_rejects_absurd_bitstream_size() {
    let (s, baseline) = nvenc_working();
    let host = nv12_frame(2);
    // 1 << 40 saturates the 32-bit field to u32::MAX; 8 MiB is backed by memory but above
    // what a 640x360 picture may plausibly take.
    for size in [1u64 << 40, u64::from(u32::MAX), 8 << 20] {
        let mut encoder = EncoderBuilder::new(enc_config()).build().expect("build");
        s.set_nvenc_bitstream_size(size);
        let result = encoder.encode(InputFrame::packed(&host), 1);
        s.set_nvenc_bitstream_size(u64::MAX);
        eprintln!("bitstream size {size}: {result:?}");
        assert!(result.is_err(), "bitstream size {size} accepted");
        // The output could not be trusted: the encoder says so from now on.
        let again = encoder.encode(InputFrame::packed(&host), 2);
        assert!(again.is_err(), "usable after a bad output: {again:?}");
        drop(encoder);
        settle();
        assert_live(s, &baseline, &format!("bitstream size {size}"));
    }
    // A plausible size (1 MiB, backed) is read in full.
    let mut encoder = EncoderBuilder::new(enc_config()).build().expect("build");
    s.set_nvenc_bitstream_size(1 << 20);
    let packets = encoder
        .encode(InputFrame::packed(&host), 1)
        .expect("a 1 MiB picture");
    s.set_nvenc_bitstream_size(u64::MAX);
    assert_eq!(packets[0].data.len(), 1 << 20);
    drop(encoder);
    nvenc_clean_end(s, &baseline, "after the size checks");
}

/// A builder dropped in `SessionOpen` destroys its session (and context) inside its own
/// window: no extra window, no deferred teardown, nothing left.
fn session_open_builder_dropped_destroys_inside_its_window() {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    s.reset();
    let check = |what: &str, before: nvcodec_guard::init::InitLockStats| {
        let after = init_lock_stats();
        assert_eq!(
            after.windows_opened, before.windows_opened,
            "{what}: dropping the builder opened another window"
        );
        assert_eq!(
            after.deferred_teardowns, before.deferred_teardowns,
            "{what}: the teardown was deferred"
        );
        assert_eq!(nvcodec_guard::init::pending_teardowns(), 0, "{what}");
        // Checked before any wait: everything went during the drop itself.
        assert_live(s, &baseline, what);
        lock_is_free();
    };
    for mode in [ContextMode::SharedPrimary, ContextMode::Dedicated] {
        let guard = CudaInitGuard::acquire().expect("guard");
        let builder = DecoderBuilder::new(h264(mode))
            .create_context(guard)
            .expect("context")
            .open_session()
            .expect("open_session");
        assert_eq!(s.live("decoder"), baseline["decoder"] + 1);
        let before = init_lock_stats();
        drop(builder);
        check(&format!("decoder, {mode:?}"), before);
    }
    s.set_nvenc_working(true);
    for mode in [ContextMode::SharedPrimary, ContextMode::Dedicated] {
        let guard = CudaInitGuard::acquire().expect("guard");
        let builder = EncoderBuilder::new(enc_config().with_context_mode(mode))
            .create_context(guard)
            .expect("context")
            .open_session()
            .expect("open_session");
        assert_eq!(s.live("encoder"), baseline["encoder"] + 1);
        let before = init_lock_stats();
        drop(builder);
        check(&format!("encoder, {mode:?}"), before);
    }
    assert_eq!(s.overlaps(), 0, "{}", diagnostics(s));
    assert_eq!(s.misuse(), 0, "{}", diagnostics(s));
    s.reset();
}

/// A context pushed by foreign code on top of the crate's while its `CurrentContext` guard
/// lives stays current when the guard drops: the crate pops only what it pushed.
fn foreign_context_on_top_is_not_popped() {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    let before = s.current_context();
    s.reset();
    // The test's own context X, created (and so pushed) by the test, then popped.
    let foreign = s.create_context();
    assert_eq!(s.pop_context(), (0, foreign));
    let guard = CudaInitGuard::acquire().expect("guard");
    let ctx = Context::acquire(&guard, 0, ContextMode::SharedPrimary).expect("context");
    drop(guard);
    let ours = ctx.raw() as usize;
    assert_ne!(ours, foreign);
    let current = ctx.make_current().expect("make_current");
    assert_eq!(s.current_context(), ours);
    assert_eq!(s.push_context(foreign), 0, "pushing X");
    drop(current);
    let after = s.current_context();
    // What lies under X now (the crate cannot pop its own context from under X).
    let (_, popped) = s.pop_context();
    let under = s.current_context();
    eprintln!(
        "after the guard dropped: current {after:#x} (X {foreign:#x}, ours {ours:#x}); under X: {under:#x}"
    );
    s.restore_current(before);
    assert_eq!(
        s.current_context(),
        before,
        "the stack could not be restored"
    );
    assert_eq!(s.destroy_context(foreign), 0, "destroying X");
    drop(ctx);
    settle();
    assert_eq!(after, foreign, "the crate popped a context it did not push");
    assert_eq!(popped, foreign);
    assert_live(s, &baseline, "after the cleanup");
    assert_eq!(s.misuse(), 0, "{}", diagnostics(s));
}

/// 16 threads build, use and drop encoders (host and device frames) and decoders for about
/// a second with every lifecycle call widened: none overlaps, nothing leaks.
fn nvenc_lifecycle_never_overlaps() {
    let (s, baseline) = nvenc_working();
    s.set_delay_us(200);
    let stop = AtomicBool::new(false);
    let encoders = AtomicU64::new(0);
    let device_frames = AtomicU64::new(0);
    let decoders = AtomicU64::new(0);
    let errors: std::sync::Mutex<BTreeMap<String, u64>> = Default::default();
    let note = |e: &Error| {
        let text: String = e.to_string().chars().take(100).collect();
        *errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(text)
            .or_insert(0) += 1;
    };
    let host = nv12_frame(4);
    std::thread::scope(|scope| {
        for t in 0..16u32 {
            let (stop, encoders, device_frames, decoders, note, host) =
                (&stop, &encoders, &device_frames, &decoders, &note, &host);
            scope.spawn(move || {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let mode = if (i + t) % 2 == 0 {
                        ContextMode::SharedPrimary
                    } else {
                        ContextMode::Dedicated
                    };
                    if (i + t) % 3 != 0 {
                        let mut encoder =
                            match EncoderBuilder::new(enc_config().with_context_mode(mode)).build()
                            {
                                Ok(e) => e,
                                Err(e) => {
                                    note(&e);
                                    continue;
                                }
                            };
                        encoders.fetch_add(1, Ordering::Relaxed);
                        if let Err(e) = encoder.encode(InputFrame::packed(host), 1) {
                            note(&e);
                        }
                        if i % 2 == 0 {
                            match device_frame(&encoder, ENC_W as usize, 4) {
                                Ok(device) => {
                                    match encoder
                                        .encode(InputFrame::device(&device, ENC_W as usize), 2)
                                    {
                                        Ok(_) => {
                                            device_frames.fetch_add(1, Ordering::Relaxed);
                                        }
                                        Err(e) => note(&e),
                                    }
                                }
                                Err(e) => note(&e),
                            }
                        }
                        if let Err(e) = encoder.flush() {
                            note(&e);
                        }
                        drop(encoder);
                    } else {
                        let mut decoder = match build(mode) {
                            Ok(d) => d,
                            Err(e) => {
                                note(&e);
                                continue;
                            }
                        };
                        decoders.fetch_add(1, Ordering::Relaxed);
                        match decoder.decode(PACKET, 1) {
                            Ok(frames) => frames.for_each(drop),
                            Err(e) => note(&e),
                        }
                        drop(decoder);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(1000));
        stop.store(true, Ordering::Relaxed);
    });
    let settled = wait_for_teardowns(Duration::from_secs(20));
    s.set_delay_us(0);
    let overlaps = s.overlaps();
    let stats = init_lock_stats();
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    let (encoders, device_frames, decoders) = (
        encoders.load(Ordering::Relaxed),
        device_frames.load(Ordering::Relaxed),
        decoders.load(Ordering::Relaxed),
    );
    eprintln!(
        "churn: {encoders} encoders ({device_frames} device frames), {decoders} decoders, \
         {overlaps} overlapping lifecycle calls, max_concurrent_lifecycle_calls {}, \
         deferred teardowns {}, errors {errors:?}",
        stats.max_concurrent_lifecycle_calls, stats.deferred_teardowns
    );
    let mut failures = Vec::new();
    if !settled {
        failures.push("deferred teardowns did not drain within 20 s".to_owned());
    }
    if encoders == 0 || device_frames == 0 || decoders == 0 {
        failures.push(format!(
            "too little churn: {encoders} encoders, {device_frames} device frames, {decoders} decoders"
        ));
    }
    if overlaps != 0 {
        failures.push(format!(
            "{overlaps} lifecycle calls overlapped another ({})",
            diagnostics(s)
        ));
    }
    if stats.max_concurrent_lifecycle_calls != 1 {
        failures.push(format!(
            "init_lock_stats().max_concurrent_lifecycle_calls = {}",
            stats.max_concurrent_lifecycle_calls
        ));
    }
    if !errors.is_empty() {
        failures.push(format!("errors: {errors:?}"));
    }
    if s.misuse() != 0 {
        failures.push(format!("misuse: {}", diagnostics(s)));
    }
    let now = s.live_all();
    if now != baseline {
        failures.push(format!("live objects {now:?}, baseline {baseline:?}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// =======================================================================================
// Harness

/// Which library directory a scenario runs against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driver {
    Current,
    Old,
}

// ---------------------------------------------------------------------------------------
// Decoder pool: keys, LRU, limits, reset semantics, concurrency.
// ---------------------------------------------------------------------------------------

fn spec(codec: Codec) -> DecoderSpec {
    DecoderSpec::new(codec, 640, 360)
}

/// The pts of every frame one packet gives (taking them all).
fn decode_pts(decoder: &mut Decoder, pts: i64) -> Vec<i64> {
    decoder
        .decode(PACKET, pts)
        .expect("decode")
        .map(|f| f.expect("frame").pts())
        .collect()
}

/// Keys and LRU: a full pool evicts its least recently used idle decoder for a new key; a
/// per-key limit makes a checkout wait and then fail with `PoolExhausted`.
fn pool_keys_lru_and_limits() {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    let pool = DecoderPool::new(
        PoolConfig::default()
            .with_max_total(3)
            .with_max_per_key(2)
            .with_checkout_timeout(Duration::from_millis(200)),
    );
    pool.prewarm(spec(Codec::H264), 2).expect("prewarm");
    assert_eq!(s.live("decoder") - baseline["decoder"], 2);
    // A third key fits (3 in all); a fourth evicts the least recently used idle H.264.
    drop(pool.checkout(spec(Codec::Hevc)).expect("hevc"));
    let before = pool.stats();
    let vp9 = pool.checkout(spec(Codec::Vp9)).expect("vp9");
    let after = pool.stats();
    assert_eq!(after.evictions, before.evictions + 1, "{after:?}");
    assert_eq!((after.idle, after.in_use), (2, 1), "{after:?}");
    settle();
    assert_eq!(s.live("decoder") - baseline["decoder"], 3, "{after:?}");
    // Per key: two H.264 decoders may exist; a third waits, then fails clearly.
    let a = pool.checkout(spec(Codec::H264)).expect("h264 a");
    let b = pool.checkout(spec(Codec::H264)).expect("h264 b");
    let t = Instant::now();
    match pool.checkout(spec(Codec::H264)) {
        Err(Error::PoolExhausted { waited }) => {
            assert!(waited >= Duration::from_millis(150), "{waited:?}")
        }
        other => panic!("expected PoolExhausted, got {:?}", other.map(|_| ())),
    }
    assert!(t.elapsed() < Duration::from_secs(5));
    drop((a, b, vp9));
    let stats = pool.stats();
    assert!(stats.idle <= 3 && stats.in_use == 0, "{stats:?}");
    drop(pool);
    settle();
    assert_live(s, &baseline, "after the pool is dropped");
    assert_eq!(s.overlaps(), 0);
    lock_is_free();
}

/// A memory budget is never exceeded (by the pool's estimate): idle decoders are evicted,
/// and a request that cannot fit waits and fails.
fn pool_memory_budget() {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    let one = {
        let probe = DecoderPool::new(PoolConfig::default());
        probe.prewarm(spec(Codec::H264), 1).expect("probe");
        probe.stats().memory_held
    };
    settle();
    let pool = DecoderPool::new(
        PoolConfig::default()
            .with_memory_budget(Some(one * 2 + one / 2))
            .with_checkout_timeout(Duration::from_millis(100)),
    );
    pool.prewarm(spec(Codec::H264), 2).expect("two fit");
    assert!(
        pool.prewarm(spec(Codec::H264), 1).is_err(),
        "a third does not"
    );
    let a = pool
        .checkout(spec(Codec::Hevc))
        .expect("hevc evicts an idle h264");
    assert!(
        pool.stats().memory_held <= one * 2 + one / 2,
        "{:?}",
        pool.stats()
    );
    let b = pool.checkout(spec(Codec::H264)).expect("the idle h264");
    match pool.checkout(spec(Codec::Vp9)) {
        Err(Error::PoolExhausted { .. }) => {}
        other => panic!("expected PoolExhausted, got {:?}", other.map(|_| ())),
    }
    drop((a, b));
    drop(pool);
    settle();
    assert_live(s, &baseline, "after the budgeted pool is dropped");
}

/// A decoder back from the pool shows nothing of its previous stream: queued frames are
/// gone and the parser was renewed (inside a window) when it came back.
fn pool_reset_drops_the_old_stream() {
    let s = on_standin();
    let pool = DecoderPool::new(PoolConfig::default());
    let mut first = pool.checkout(spec(Codec::H264)).expect("checkout");
    for pts in 1..=5 {
        let _untaken = first.decode(PACKET, pts).expect("decode");
    }
    assert!(first.queued_frames() > 0, "frames are queued");
    let parsers_before = s.calls("cuvidCreateVideoParser");
    drop(first);
    assert_eq!(
        s.calls("cuvidCreateVideoParser"),
        parsers_before + 1,
        "the parser is renewed when the decoder comes back"
    );
    let mut second = pool.checkout(spec(Codec::H264)).expect("checkout again");
    assert_eq!(pool.stats().hits, 1, "{:?}", pool.stats());
    assert_eq!(second.queued_frames(), 0);
    let got = decode_pts(&mut second, 100);
    assert_eq!(got, [100], "only the new stream's frame");
    drop(second);
    assert_eq!(s.misuse(), 0, "{}", s.report());
}

/// A pooled decoder too small for a stream is not handed out for it.
fn pool_small_decoder_not_handed_out_for_larger() {
    let _s = on_standin();
    let pool = DecoderPool::new(PoolConfig::default());
    pool.prewarm(spec(Codec::H264), 1).expect("prewarm 640x360");
    let big = pool
        .checkout(DecoderSpec::new(Codec::H264, 1920, 1080))
        .expect("checkout 1080p");
    let (w, h) = big.max_coded_size();
    assert!(w >= 1920 && h >= 1088, "{w}x{h}");
    let stats = pool.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.idle),
        (0, 1, 1),
        "{stats:?}"
    );
}

/// 32 threads check decoders out and in with widened lifecycle calls: no two overlap, every
/// frame is the thread's own, and everything is destroyed at the end.
fn pool_concurrent_checkouts_never_overlap() {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    s.set_delay_us(200);
    let pool = DecoderPool::new(PoolConfig::default().with_max_total(12));
    pool.prewarm(spec(Codec::H264), 4).expect("prewarm");
    let deadline = Instant::now() + Duration::from_millis(1500);
    let wrong = AtomicU64::new(0);
    let rounds = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..32i64 {
            let (pool, wrong, rounds) = (pool.clone(), &wrong, &rounds);
            scope.spawn(move || {
                let mut n = 0i64;
                while Instant::now() < deadline {
                    let codec = if (t + n) % 3 == 0 {
                        Codec::Hevc
                    } else {
                        Codec::H264
                    };
                    let mut d = pool.checkout(spec(codec)).expect("checkout");
                    let base = t * 1_000_000 + n * 100;
                    let mut got = Vec::new();
                    for k in 0..(1 + n % 4) {
                        got.extend(decode_pts(&mut d, base + k));
                    }
                    if got.iter().any(|&p| p / 100 != base / 100) {
                        wrong.fetch_add(1, Ordering::Relaxed);
                    }
                    drop(d);
                    n += 1;
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    s.set_delay_us(0);
    let stats = pool.stats();
    eprintln!(
        "pool churn: {} rounds, {stats:?}, {} lifecycle calls",
        rounds.load(Ordering::Relaxed),
        init_lock_stats().lifecycle_calls
    );
    assert_eq!(
        wrong.load(Ordering::Relaxed),
        0,
        "a frame of another stream came out"
    );
    assert!(
        stats.hits > 0 && stats.idle + stats.in_use <= 12,
        "{stats:?}"
    );
    drop(pool);
    settle();
    assert_eq!(s.overlaps(), 0, "{}", s.report());
    assert_eq!(init_lock_stats().max_concurrent_lifecycle_calls, 1);
    assert_live(s, &baseline, "after the pool churn");
}

/// The conversion kernels cannot be loaded (the stand-in's `cuModuleLoadData` answers
/// CUDA_ERROR_NOT_SUPPORTED, as a driver too old for the PTX answers with its own status):
/// `Converter::new` is an error naming the call, taken inside a window that is released.
fn conversion_kernels_unloadable_is_an_error_naming_the_call() {
    let _s = on_standin();
    let decoder = build(ContextMode::SharedPrimary).expect("build");
    match nvcodec_guard::convert::Converter::new(decoder.context()) {
        Err(nvcodec_guard::Error::Driver(DriverError { call, status, .. })) => {
            assert_eq!((call, status.code()), ("cuModuleLoadData", 801));
        }
        other => panic!("expected the cuModuleLoadData error, got {other:?}"),
    }
    let _free = CudaInitGuard::acquire_timeout(std::time::Duration::from_secs(1))
        .expect("the init lock was left held");
    assert_eq!(init_lock_stats().max_concurrent_lifecycle_calls, 1);
}

fn scenarios() -> Vec<(String, Driver)> {
    let mut list = Vec::new();
    for status in ODD_STATUSES {
        list.push((format!("cuinit_odd_status/{status}"), Driver::Current));
    }
    for call in [
        "cuvidCreateDecoder",
        "cuvidGetDecoderCaps",
        "cuvidCreateVideoParser",
        "cuvidCtxLockCreate",
    ] {
        for status in ODD_STATUSES {
            list.push((format!("cuvid_odd_status/{call}/{status}"), Driver::Current));
        }
    }
    list.push(("missing_symbols".into(), Driver::Old));
    for name in [
        "libcuda_loaded_once_and_kept",
        "fail_each_step_of_a_build",
        "lifecycle_calls_never_overlap",
        "driver_written_enums/codec/99",
        "driver_written_enums/chroma_format/7",
        "huge_coded_size/coded_width",
        "huge_coded_size/coded_height",
        "too_many_surfaces_requested",
        "low_latency_decoders_are_created_small",
        "forgotten_frame_is_unmapped",
        "ignored_frames_are_bounded",
        "map_failure_keeps_the_frame",
        "dedicated_pop_failure_does_not_leak",
        "encoder_builds_and_encodes_on_the_standin",
        "staging_registration_failure_leaks_nothing",
        "encoder_rejects_absurd_driver_pitch",
        "encoder_rejects_absurd_bitstream_size",
        "session_open_builder_dropped_destroys_inside_its_window",
        "foreign_context_on_top_is_not_popped",
        "nvenc_lifecycle_never_overlaps",
        "pool_keys_lru_and_limits",
        "pool_memory_budget",
        "pool_reset_drops_the_old_stream",
        "pool_small_decoder_not_handed_out_for_larger",
        "pool_concurrent_checkouts_never_overlap",
        "conversion_kernels_unloadable_is_an_error_naming_the_call",
    ] {
        list.push((name.into(), Driver::Current));
    }
    list.extend(
        runtime_scenarios()
            .into_iter()
            .map(|n| (n.into(), Driver::Current)),
    );
    list.extend(
        window_scenarios()
            .into_iter()
            .map(|n| (n.into(), Driver::Current)),
    );
    list
}

fn run_scenario(name: &str) {
    let parts: Vec<&str> = name.split('/').collect();
    let num = |s: &str| -> u32 { s.parse().expect("a number in the scenario name") };
    match parts.as_slice() {
        ["cuinit_odd_status", status] => cuinit_odd_status(num(status)),
        ["cuvid_odd_status", call, status] => cuvid_odd_status(call, num(status)),
        ["missing_symbols"] => missing_symbols(),
        ["libcuda_loaded_once_and_kept"] => libcuda_loaded_once_and_kept(),
        ["fail_each_step_of_a_build"] => fail_each_step_of_a_build(),
        ["lifecycle_calls_never_overlap"] => lifecycle_calls_never_overlap(),
        ["driver_written_enums", field, value] => driver_written_enum(field, i64::from(num(value))),
        ["huge_coded_size", field] => huge_coded_size(field),
        ["too_many_surfaces_requested"] => too_many_surfaces_requested(),
        ["low_latency_decoders_are_created_small"] => low_latency_decoders_are_created_small(),
        ["forgotten_frame_is_unmapped"] => forgotten_frame_is_unmapped(),
        ["ignored_frames_are_bounded"] => ignored_frames_are_bounded(),
        ["map_failure_keeps_the_frame"] => map_failure_keeps_the_frame(),
        ["dedicated_pop_failure_does_not_leak"] => dedicated_pop_failure_does_not_leak(),
        ["encoder_builds_and_encodes_on_the_standin"] => {
            encoder_builds_and_encodes_on_the_standin()
        }
        ["staging_registration_failure_leaks_nothing"] => {
            staging_registration_failure_leaks_nothing()
        }
        ["encoder_rejects_absurd_driver_pitch"] => encoder_rejects_absurd_driver_pitch(),
        ["encoder_rejects_absurd_bitstream_size"] => encoder_rejects_absurd_bitstream_size(),
        ["session_open_builder_dropped_destroys_inside_its_window"] => {
            session_open_builder_dropped_destroys_inside_its_window()
        }
        ["foreign_context_on_top_is_not_popped"] => foreign_context_on_top_is_not_popped(),
        ["nvenc_lifecycle_never_overlaps"] => nvenc_lifecycle_never_overlaps(),
        ["pool_keys_lru_and_limits"] => pool_keys_lru_and_limits(),
        ["pool_memory_budget"] => pool_memory_budget(),
        ["conversion_kernels_unloadable_is_an_error_naming_the_call"] => {
            conversion_kernels_unloadable_is_an_error_naming_the_call()
        }
        ["pool_reset_drops_the_old_stream"] => pool_reset_drops_the_old_stream(),
        ["pool_small_decoder_not_handed_out_for_larger"] => {
            pool_small_decoder_not_handed_out_for_larger()
        }
        ["pool_concurrent_checkouts_never_overlap"] => pool_concurrent_checkouts_never_overlap(),
        _ if run_runtime_scenario(name) => {}
        _ if run_window_scenario(name) => {}
        _ => panic!("unknown scenario {name:?}"),
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the stand-in and links it under the three sonames into `dir`.
fn build_standin(features: &[&str], target_dir: &Path, dir: &Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root())
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(root().join("standin/Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    let status = cmd.status().map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the stand-in failed: {status}"));
    }
    let built = target_dir.join("release/libnvcodec_standin.so");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // One real file; the sonames are hard links of it, so the loader maps it once.
    let real = dir.join("libnvcodec_standin.so");
    let _ = std::fs::remove_file(&real);
    std::fs::copy(&built, &real).map_err(|e| format!("copying {}: {e}", built.display()))?;
    for soname in ["libcuda.so.1", "libnvcuvid.so.1", "libnvidia-encode.so.1"] {
        let link = dir.join(soname);
        let _ = std::fs::remove_file(&link);
        if std::fs::hard_link(&real, &link).is_err() {
            std::os::unix::fs::symlink("libnvcodec_standin.so", &link)
                .map_err(|e| format!("linking {}: {e}", link.display()))?;
        }
    }
    Ok(())
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = status.signal() {
        let name = match signal {
            4 => "SIGILL",
            6 => "SIGABRT",
            7 => "SIGBUS",
            8 => "SIGFPE",
            9 => "SIGKILL",
            11 => "SIGSEGV",
            _ => "signal",
        };
        format!("killed by {name} ({signal})")
    } else {
        format!("exit code {}", status.code().unwrap_or(-1))
    }
}

/// The last lines of a child's output that say why it failed.
fn reason(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note: run with"))
        .collect();
    let start = lines.len().saturating_sub(6);
    lines[start..].join("\n      ")
}

fn run_all() -> ExitCode {
    let base = root().join("target/standin");
    let lib = base.join("lib");
    let lib_old = base.join("lib-old");
    let logs = base.join("logs");
    if let Err(e) = build_standin(&[], &base, &lib)
        .and_then(|()| build_standin(&["old-driver"], &base.join("old-driver"), &lib_old))
    {
        eprintln!("{e}");
        println!("0 passed, 1 failed");
        return ExitCode::FAILURE;
    }
    let _ = std::fs::create_dir_all(&logs);
    let exe = std::env::current_exe().expect("the test binary's path");
    let timeout = Duration::from_secs(60);
    let (mut passed, mut failed) = (0, 0);
    for (name, driver) in scenarios() {
        let dir = if driver == Driver::Old {
            &lib_old
        } else {
            &lib
        };
        let log_path = logs.join(format!("{}.log", name.replace('/', "_")));
        let outcome = (|| -> Result<(), String> {
            let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
            let err = log.try_clone().map_err(|e| e.to_string())?;
            let started = Instant::now();
            let mut child = Command::new(&exe)
                .env("NVCG_STANDIN_SCENARIO", &name)
                .env("LD_LIBRARY_PATH", dir)
                .env("RUST_BACKTRACE", "0")
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                .spawn()
                .map_err(|e| format!("spawn: {e}"))?;
            loop {
                match child.try_wait().map_err(|e| e.to_string())? {
                    Some(status) if status.success() => return Ok(()),
                    Some(status) => {
                        return Err(format!("{}: {}", describe_exit(status), reason(&log_path)));
                    }
                    None if started.elapsed() > timeout => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(format!("timed out after {timeout:?} (hang)"));
                    }
                    None => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })();
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("PASS {name}");
            }
            Err(why) => {
                failed += 1;
                println!("FAIL {name}: {why}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    match std::env::var("NVCG_STANDIN_SCENARIO") {
        Ok(name) => match catch_unwind(AssertUnwindSafe(|| run_scenario(&name))) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE, // the panic message is already on stderr
        },
        Err(_) => run_all(),
    }
}

// =======================================================================================
// Enqueued copies always waited for, destructors that never wait for the lock, the pool
// doing what its docs say, teardowns that yield to creations.

/// The stand-in's control calls added for these scenarios (loaded apart from `Control`).
struct RuntimeControl {
    unsynced_copies: unsafe extern "C" fn() -> u64,
    set_call_delay_us: unsafe extern "C" fn(*const c_char, u32),
    set_pictures_per_packet: unsafe extern "C" fn(u32),
    _lib: libloading::Library,
}

fn runtime_control() -> &'static RuntimeControl {
    static CONTROL: OnceLock<RuntimeControl> = OnceLock::new();
    CONTROL.get_or_init(|| {
        // SAFETY: as in `standin()`: the stand-in, already loaded by the harness's setup.
        let lib = unsafe { libloading::Library::new("libcuda.so.1") }
            .expect("libcuda.so.1 (the stand-in) loads");
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the stand-in exports these with exactly the declared signatures.
                *unsafe { lib.get($name) }.expect("a stand-in control call")
            };
        }
        RuntimeControl {
            unsynced_copies: sym!(b"standin_unsynced_copies\0"),
            set_call_delay_us: sym!(b"standin_set_call_delay_us\0"),
            set_pictures_per_packet: sym!(b"standin_set_pictures_per_packet\0"),
            _lib: lib,
        }
    })
}

// SAFETY (all methods): plain integers and NUL-terminated strings; the calls never unwind.
impl RuntimeControl {
    /// Async copies whose stream has not been synchronized since they were enqueued.
    fn unsynced_copies(&self) -> u64 {
        unsafe { (self.unsynced_copies)() }
    }
    fn set_call_delay_us(&self, call: &str, us: u32) {
        unsafe { (self.set_call_delay_us)(c(call).as_ptr(), us) }
    }
    fn set_pictures_per_packet(&self, n: u32) {
        unsafe { (self.set_pictures_per_packet)(n) }
    }
}

fn runtime_scenarios() -> Vec<&'static str> {
    vec![
        "failed_second_copy_waits_for_the_first",
        "pooled_decoder_drop_never_waits_for_the_lock",
        "reaper_survives_a_panicking_subscriber",
        "pool_refuses_a_swapped_in_decoder",
        "pool_zero_timeout_checkout_is_a_checkout",
        "pool_budget_holds_after_a_decoder_grew",
        "pools_prefer_a_device_with_an_idle_fit",
        "evicted_decoders_are_destroyed_before_a_checkout_waits",
        "one_packet_with_many_pictures_is_bounded",
        "frame_pool_keeps_recent_sizes_only",
        "teardowns_wait_behind_creations",
        "queued_teardowns_stay_bounded_under_churn",
        "pool_checkout_waits_for_a_decoder_being_reset",
        "pool_reset_wait_is_bounded_and_a_failed_reset_ends_it",
        "pool_return_and_checkout_loop_never_grows_the_pool",
    ]
}

/// Runs `name` if it is one of [`runtime_scenarios`]; false otherwise.
fn run_runtime_scenario(name: &str) -> bool {
    match name {
        "failed_second_copy_waits_for_the_first" => failed_second_copy_waits_for_the_first(),
        "pooled_decoder_drop_never_waits_for_the_lock" => {
            pooled_decoder_drop_never_waits_for_the_lock()
        }
        "reaper_survives_a_panicking_subscriber" => reaper_survives_a_panicking_subscriber(),
        "pool_refuses_a_swapped_in_decoder" => pool_refuses_a_swapped_in_decoder(),
        "pool_zero_timeout_checkout_is_a_checkout" => pool_zero_timeout_checkout_is_a_checkout(),
        "pool_budget_holds_after_a_decoder_grew" => pool_budget_holds_after_a_decoder_grew(),
        "pools_prefer_a_device_with_an_idle_fit" => pools_prefer_a_device_with_an_idle_fit(),
        "evicted_decoders_are_destroyed_before_a_checkout_waits" => {
            evicted_decoders_are_destroyed_before_a_checkout_waits()
        }
        "one_packet_with_many_pictures_is_bounded" => one_packet_with_many_pictures_is_bounded(),
        "frame_pool_keeps_recent_sizes_only" => frame_pool_keeps_recent_sizes_only(),
        "teardowns_wait_behind_creations" => teardowns_wait_behind_creations(),
        "queued_teardowns_stay_bounded_under_churn" => queued_teardowns_stay_bounded_under_churn(),
        "pool_checkout_waits_for_a_decoder_being_reset" => {
            pool_checkout_waits_for_a_decoder_being_reset()
        }
        "pool_reset_wait_is_bounded_and_a_failed_reset_ends_it" => {
            pool_reset_wait_is_bounded_and_a_failed_reset_ends_it()
        }
        "pool_return_and_checkout_loop_never_grows_the_pool" => {
            pool_return_and_checkout_loop_never_grows_the_pool()
        }
        _ => return false,
    }
    true
}

/// When the chroma copy fails to enqueue, the luma copy already enqueued is waited for
/// before the call returns — for every frame copy (host, device, pool) and the NVENC staging
/// upload — so no destination is written after it was handed back.
fn failed_second_copy_waits_for_the_first() {
    let s = on_standin();
    let r = runtime_control();
    s.reset();
    let mut decoder = build(ContextMode::SharedPrimary).expect("decoder");
    let pool = nvcodec_guard::decode::DeviceFramePool::new(decoder.context());
    let mut frames = decoder.decode(PACKET, 7).expect("decode");
    let frame = frames.next().expect("one frame").expect("mapped");
    assert_eq!(r.unsynced_copies(), 0, "mapping leaves nothing outstanding");
    let copy = |what: &str| -> nvcodec_guard::Result<()> {
        match what {
            "to_vec" => frame.to_vec().map(drop),
            "copy_to_device" => frame.copy_to_device().map(drop),
            _ => frame.copy_to_pool(&pool).map(drop),
        }
    };
    for what in ["to_vec", "copy_to_device", "copy_to_pool"] {
        copy(what).unwrap_or_else(|e| panic!("{what} succeeds without a fault: {e}"));
        s.fail_nth("cuMemcpy2DAsync_v2", 2, 700);
        let failed = copy(what);
        assert!(
            matches!(&failed, Err(e) if e.to_string().contains("cuMemcpy2DAsync")),
            "{what}: the injected failure is reported: {failed:?}"
        );
        assert_eq!(
            r.unsynced_copies(),
            0,
            "{what} returned with the first plane's copy still enqueued"
        );
    }
    drop(frame);
    drop(frames);
    drop(pool);
    drop(decoder);

    // The NVENC staging upload of a device frame: two planes, the second fails.
    s.set_nvenc_working(true);
    let mut encoder = EncoderBuilder::new(enc_config()).build().expect("encoder");
    let device = device_frame(&encoder, 1024, 5).expect("device buffer");
    encoder
        .encode(InputFrame::device(&device, 1024), 1)
        .expect("a device frame encodes");
    s.fail_nth("cuMemcpy2DAsync_v2", 2, 700);
    let failed = encoder.encode(InputFrame::device(&device, 1024), 2);
    assert!(failed.is_err(), "the injected failure is reported");
    assert_eq!(
        r.unsynced_copies(),
        0,
        "the staging upload returned with its first plane's copy still enqueued"
    );
    drop(failed);
    drop(encoder);
    settle();
    assert_eq!(s.misuse(), 0, "{}", diagnostics(s));
    s.reset();
}

/// Holds the init lock on another thread for `hold`; returns once it is held.
fn hold_lock_elsewhere(hold: Duration) -> std::thread::JoinHandle<()> {
    let (held, is_held) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let guard = CudaInitGuard::acquire().expect("the holder's window");
        held.send(()).expect("the test waits");
        std::thread::sleep(hold);
        drop(guard);
    });
    is_held.recv().expect("the holder took the lock");
    holder
}

/// Makes the stand-in's parser report a `width`×`height` stream from the next packet on.
fn stream_size(s: &Control, width: i64, height: i64) {
    s.set_format("coded_width", width);
    s.set_format("coded_height", height);
    s.set_format("display_right", width);
    s.set_format("display_bottom", height);
}

/// Dropping a `PooledDecoder` while another thread holds the lock for 1.5 s returns at
/// once; the parser renewal happens later in a window of its own, and only then is the decoder
/// idle again — reset, so the next checkout sees nothing of the old stream.
fn pooled_decoder_drop_never_waits_for_the_lock() {
    let s = on_standin();
    settle();
    let pool = DecoderPool::new(PoolConfig::default());
    pool.prewarm(spec(Codec::H264), 1).expect("prewarm");
    let mut pooled = pool.checkout(spec(Codec::H264)).expect("checkout");
    let _untaken = pooled.decode(PACKET, 1).expect("decode");
    let parsers = s.calls("cuvidCreateVideoParser");

    let holder = hold_lock_elsewhere(Duration::from_millis(1500));
    let t = Instant::now();
    drop(pooled);
    let took = t.elapsed();
    assert!(
        took < Duration::from_millis(200),
        "dropping a pooled decoder waited {took:?} for the lock"
    );
    let stats = pool.stats();
    assert_eq!(
        (stats.idle, stats.in_use),
        (0, 1),
        "until its reset ran it is not idle: {stats:?}"
    );
    holder.join().expect("holder");
    settle();
    assert_eq!(
        s.calls("cuvidCreateVideoParser"),
        parsers + 1,
        "the parser was renewed in a window after the holder let go"
    );
    let stats = pool.stats();
    assert_eq!((stats.idle, stats.in_use), (1, 0), "{stats:?}");
    let mut again = pool.checkout(spec(Codec::H264)).expect("checkout again");
    assert_eq!(pool.stats().hits, 2, "{:?}", pool.stats());
    assert_eq!(again.queued_frames(), 0);
    assert_eq!(
        decode_pts(&mut again, 100),
        [100],
        "only the new stream's frame"
    );
    drop(again);
    drop(pool);
    settle();
    assert_eq!(s.overlaps(), 0, "{}", diagnostics(s));
    assert_eq!(s.misuse(), 0, "{}", diagnostics(s));
}

/// A `tracing` subscriber that panics in every call made on the teardown thread.
struct PanicsOnTheReaper;

fn on_the_reaper() -> bool {
    std::thread::current().name() == Some("nvcodec-guard-reaper")
}

impl tracing::Subscriber for PanicsOnTheReaper {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        assert!(
            !on_the_reaper(),
            "deliberate panic in new_span on the reaper (expected)"
        );
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {
        assert!(
            !on_the_reaper(),
            "deliberate panic in record on the reaper (expected)"
        );
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {
        assert!(
            !on_the_reaper(),
            "deliberate panic in event on the reaper (expected)"
        );
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A subscriber that panics in the teardown thread's own tracing calls does not stop
/// deferred teardowns: each one still runs, and `wait_for_teardowns` returns true.
fn reaper_survives_a_panicking_subscriber() {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    tracing::subscriber::set_global_default(PanicsOnTheReaper).expect("the only subscriber");
    for round in 0..3 {
        let decoder = build(ContextMode::SharedPrimary).expect("decoder");
        let holder = hold_lock_elsewhere(Duration::from_millis(300));
        drop(decoder); // the lock is held: deferred to the reaper
        holder.join().expect("holder");
        assert!(
            wait_for_teardowns(Duration::from_secs(5)),
            "round {round}: the deferred teardown never ran"
        );
        assert_live(s, &baseline, &format!("round {round}"));
    }
    lock_is_free();
}

/// A `Decoder` swapped into a `PooledDecoder` is not taken into the pool on drop (it is
/// destroyed), so a later checkout never gets a decoder of another context or configuration.
fn pool_refuses_a_swapped_in_decoder() {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    let pool = DecoderPool::new(PoolConfig::default());
    let mut pooled = pool.checkout(spec(Codec::H264)).expect("checkout");
    let mut foreign = build(ContextMode::Dedicated).expect("a decoder of its own context");
    std::mem::swap(&mut *pooled, &mut foreign);
    drop(pooled);
    settle();
    let stats = pool.stats();
    assert_eq!(
        (stats.idle, stats.in_use, stats.discarded),
        (0, 0, 1),
        "the stranger was not pooled: {stats:?}"
    );
    let next = pool.checkout(spec(Codec::H264)).expect("checkout");
    assert_eq!(
        next.context().mode(),
        ContextMode::SharedPrimary,
        "the pool handed out the swapped-in decoder"
    );
    drop(next);
    drop(foreign); // the pool's first decoder, destroyed by whoever took it
    drop(pool);
    settle();
    assert_live(s, &baseline, "after the pool and both decoders are gone");
}

/// `checkout_timeout(spec, ZERO)` is a checkout: it hits an idle decoder, evicts to make
/// room, and is counted.
fn pool_zero_timeout_checkout_is_a_checkout() {
    let _s = on_standin();
    settle();
    let pool = DecoderPool::new(PoolConfig::default().with_max_total(1));
    pool.prewarm(spec(Codec::H264), 1).expect("prewarm");
    let hit = pool
        .checkout_timeout(spec(Codec::H264), Duration::ZERO)
        .expect("a zero-timeout checkout");
    let stats = pool.stats();
    assert_eq!(
        (stats.checkouts, stats.hits, stats.creations),
        (1, 1, 1),
        "it hit the idle decoder and was counted: {stats:?}"
    );
    drop(hit);
    settle();
    let other = pool
        .checkout_timeout(spec(Codec::Hevc), Duration::ZERO)
        .expect("a zero-timeout checkout evicts the idle H.264 to make room");
    let stats = pool.stats();
    assert_eq!(
        (stats.checkouts, stats.misses, stats.evictions),
        (2, 1, 1),
        "{stats:?}"
    );
    drop(other);
    drop(pool);
    settle();
}

/// The pool's estimate of one 640×360 H.264 decoder, and of one at `width`×`height`.
fn pool_estimate(width: u32, height: u32) -> u64 {
    let probe = DecoderPool::new(PoolConfig::default());
    probe
        .prewarm(DecoderSpec::new(Codec::H264, width, height), 1)
        .expect("probe");
    let bytes = probe.stats().memory_held;
    drop(probe);
    settle();
    bytes
}

/// A decoder that grew while checked out (a larger stream re-created it) is accounted at
/// its new size when it comes back, and idle decoders are evicted to stay within the budget.
fn pool_budget_holds_after_a_decoder_grew() {
    let s = on_standin();
    settle();
    let small = pool_estimate(640, 360);
    let large = pool_estimate(1280, 720);
    let budget = small * 2 + small / 2;
    assert!(large <= budget && small + large > budget, "{small} {large}");
    let pool = DecoderPool::new(PoolConfig::default().with_memory_budget(Some(budget)));
    pool.prewarm(spec(Codec::H264), 2).expect("two fit");
    let mut pooled = pool.checkout(spec(Codec::H264)).expect("checkout");
    stream_size(s, 1280, 720);
    let _frames = decode_pts(&mut pooled, 1);
    assert!(pooled.max_coded_size().0 >= 1280, "it grew");
    drop(pooled);
    settle();
    s.reset();
    let stats = pool.stats();
    assert!(
        stats.memory_held <= budget,
        "budget {budget} exceeded after check-in: {stats:?}"
    );
    assert_eq!(stats.evictions, 1, "{stats:?}");
    drop(pool);
    settle();
}

/// `MultiGpuDecoderPool::checkout` goes to the device with an idle decoder that fits, not to one
/// whose idle decoders do not.
fn pools_prefer_a_device_with_an_idle_fit() {
    let _s = on_standin();
    settle();
    // The stand-in has one GPU: two pools on device 0 stand for two devices.
    let pools = nvcodec_guard::decode::MultiGpuDecoderPool::new(&[0, 0], PoolConfig::default());
    pools.pools()[0]
        .prewarm(spec(Codec::Hevc), 1)
        .expect("an HEVC decoder idle on the first");
    pools.pools()[1]
        .prewarm(spec(Codec::H264), 1)
        .expect("an H.264 decoder idle on the second");
    let pooled = pools.checkout(spec(Codec::H264)).expect("checkout");
    let (first, second) = (pools.pools()[0].stats(), pools.pools()[1].stats());
    assert_eq!(
        (first.checkouts, second.hits),
        (0, 1),
        "checked out where an idle decoder fits: {first:?} {second:?}"
    );
    drop(pooled);
    drop(pools);
    settle();
}

/// Idle decoders evicted to make room are destroyed before the checkout waits for a
/// return, not kept alive for the whole wait.
fn evicted_decoders_are_destroyed_before_a_checkout_waits() {
    let s = on_standin();
    settle();
    let baseline = s.live("decoder");
    let small = pool_estimate(640, 360);
    let budget = small * 2 + small / 2;
    let pool = DecoderPool::new(PoolConfig::default().with_memory_budget(Some(budget)));
    pool.prewarm(spec(Codec::H264), 1).expect("an idle H.264");
    let busy = pool.checkout(spec(Codec::Hevc)).expect("a busy HEVC");
    assert_eq!(s.live("decoder"), baseline + 2);
    let waiter = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            // Evicting the idle H.264 is not enough room: it waits, then gives up.
            pool.checkout_timeout(
                DecoderSpec::new(Codec::Vp9, 1280, 720),
                Duration::from_millis(1500),
            )
            .map(drop)
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    settle();
    assert_eq!(
        s.live("decoder"),
        baseline + 1,
        "the evicted decoder is still alive while the checkout waits"
    );
    let waited = waiter.join().expect("the waiter");
    assert!(
        matches!(waited, Err(Error::PoolExhausted { .. })),
        "{waited:?}"
    );
    drop(busy);
    drop(pool);
    settle();
}

/// One packet carrying many pictures queues at most `MAX_QUEUED_FRAMES`; the excess is
/// dropped with an error, the queued frames stay takeable, and decoding goes on afterwards.
fn one_packet_with_many_pictures_is_bounded() {
    let s = on_standin();
    let r = runtime_control();
    settle();
    let allocs = s.live("alloc");
    let mut decoder = build(ContextMode::SharedPrimary).expect("decoder");
    r.set_pictures_per_packet(200);
    let result = decoder.decode(PACKET, 5).map(|frames| frames.remaining());
    r.set_pictures_per_packet(1);
    assert!(
        matches!(
            result,
            Err(Error::FramesDropped { limit, .. })
                if limit == nvcodec_guard::decode::MAX_QUEUED_FRAMES
        ),
        "{result:?}"
    );
    let max = nvcodec_guard::decode::MAX_QUEUED_FRAMES;
    assert_eq!(decoder.queued_frames(), max, "queued beyond the bound");
    assert!(
        s.live("alloc") - allocs <= max as i64 + 4,
        "{} device buffers for one packet",
        s.live("alloc") - allocs
    );
    let taken = decoder.take_queued().filter(|f| f.is_ok()).count();
    assert_eq!(taken, max);
    assert_eq!(decode_pts(&mut decoder, 9), [9], "decoding goes on");
    drop(decoder);
    settle();
}

/// A `DeviceFramePool` that saw five frame sizes keeps free buffers of the most recent
/// `KEPT_SIZES` only.
fn frame_pool_keeps_recent_sizes_only() {
    let s = on_standin();
    settle();
    let allocs = s.live("alloc");
    let mut decoder = build(ContextMode::SharedPrimary).expect("decoder");
    let pool = nvcodec_guard::decode::DeviceFramePool::new(decoder.context());
    let sizes = [(640, 360), (320, 180), (480, 270), (160, 90), (256, 144)];
    for (n, (w, h)) in sizes.into_iter().enumerate() {
        stream_size(s, w, h);
        let owned: Vec<_> = decoder
            .decode(PACKET, n as i64)
            .expect("decode")
            .map(|f| f.expect("frame").copy_to_pool(&pool).expect("copy"))
            .collect();
        assert_eq!(owned.len(), 1);
        assert_eq!(owned[0].width(), w as u32);
        drop(owned);
    }
    s.reset();
    let kept = nvcodec_guard::decode::DeviceFramePool::KEPT_SIZES;
    assert!(pool.free() <= kept, "{} free buffers kept", pool.free());
    assert_eq!(pool.allocated(), sizes.len() as u64);
    drop(decoder);
    settle();
    assert!(
        s.live("alloc") - allocs <= kept as i64,
        "{} device buffers alive for the pool",
        s.live("alloc") - allocs
    );
    drop(pool);
    settle();
    assert_eq!(s.live("alloc"), allocs);
}

/// Destroys deferred while the lock was busy wait behind creators that queued after them:
/// with `cuvidDestroyDecoder` widened to 100 ms, six creations that queue behind four deferred
/// teardowns all finish before the first destroy runs.
fn teardowns_wait_behind_creations() {
    let s = on_standin();
    let r = runtime_control();
    settle();
    let baseline = s.live_all();
    r.set_call_delay_us("cuvidDestroyDecoder", 100_000);
    let ending: Vec<Decoder> = (0..4)
        .map(|_| build(ContextMode::SharedPrimary).expect("decoder"))
        .collect();
    let destroys = s.calls("cuvidDestroyDecoder");
    let holder = hold_lock_elsewhere(Duration::from_millis(400));
    drop(ending); // the lock is held: four teardowns deferred to the reaper
    std::thread::sleep(Duration::from_millis(50)); // the reaper is waiting for the lock now
    let creators: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(move || {
                let guard = CudaInitGuard::acquire().expect("a creation's window");
                let open = DecoderBuilder::new(h264(ContextMode::SharedPrimary))
                    .create_context(guard)
                    .and_then(|ready| ready.open_session())
                    .expect("a creation");
                // Read inside the creation's window, so no destroy can race the reading.
                let destroyed_before = standin().calls("cuvidDestroyDecoder");
                (open.finish(), destroyed_before)
            })
        })
        .collect();
    let mut started = Vec::new();
    for creator in creators {
        let (decoder, destroyed_before) = creator.join().expect("creator");
        assert_eq!(
            destroyed_before,
            destroys,
            "a creation waited behind {} destroy(s) deferred before it",
            destroyed_before - destroys
        );
        eprintln!("creation waited {:?}", decoder.init_window().wait);
        started.push(decoder);
    }
    holder.join().expect("holder");
    settle();
    assert_eq!(
        s.calls("cuvidDestroyDecoder"),
        destroys + 4,
        "all ran after"
    );
    r.set_call_delay_us("cuvidDestroyDecoder", 0);
    drop(started);
    settle();
    assert_live(s, &baseline, "after the creations are dropped");
    assert_eq!(s.overlaps(), 0, "{}", diagnostics(s));
}

/// Yielding to creators does not let teardowns pile up: eight threads creating, decoding
/// and dropping decoders for 2.5 s (the lock always wanted) never have more than
/// `MAX_YIELDING_TEARDOWNS` teardowns queued, plus two drops per thread (one while the reaper
/// waits its turn in arrival order, one while it runs); and every one runs.
fn queued_teardowns_stay_bounded_under_churn() {
    let s = on_standin();
    let r = runtime_control();
    settle();
    let baseline = s.live_all();
    r.set_call_delay_us("cuvidDestroyDecoder", 20_000);
    r.set_call_delay_us("cuvidCreateDecoder", 5_000);
    let threads = 8;
    let deadline = Instant::now() + Duration::from_millis(2500);
    let max_pending = AtomicU64::new(0);
    let rounds = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let rounds = &rounds;
            scope.spawn(move || {
                let mut n = 0i64;
                while Instant::now() < deadline {
                    let mut decoder = build(ContextMode::SharedPrimary).expect("a creation");
                    assert_eq!(decode_pts(&mut decoder, t * 1000 + n), [t * 1000 + n]);
                    drop(decoder);
                    n += 1;
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let max_pending = &max_pending;
        scope.spawn(move || {
            while Instant::now() < deadline {
                let pending = nvcodec_guard::init::pending_teardowns() as u64;
                max_pending.fetch_max(pending, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
    });
    let max_pending = max_pending.load(Ordering::Relaxed);
    let bound = (nvcodec_guard::init::MAX_YIELDING_TEARDOWNS + 2 * threads as usize) as u64;
    eprintln!(
        "churn: {} rounds, at most {max_pending} teardowns queued (bound {bound}), {:?} deferred",
        rounds.load(Ordering::Relaxed),
        init_lock_stats().deferred_teardowns
    );
    assert!(
        max_pending <= bound,
        "{max_pending} teardowns queued, more than {bound}"
    );
    assert!(
        rounds.load(Ordering::Relaxed) >= threads as u64,
        "creations starved"
    );
    r.set_call_delay_us("cuvidDestroyDecoder", 0);
    r.set_call_delay_us("cuvidCreateDecoder", 0);
    settle();
    assert_live(s, &baseline, "after the churn");
    assert_eq!(s.overlaps(), 0, "{}", diagnostics(s));
}

/// A decoder returned while another thread holds the lock (its reset deferred to the reaper)
/// serves the very next checkout of its key: the checkout waits for that reset instead of
/// building a second decoder.
fn pool_checkout_waits_for_a_decoder_being_reset() {
    let s = on_standin();
    settle();
    let baseline = s.live("decoder");
    let pool = DecoderPool::new(PoolConfig::default().with_reset_wait(Duration::from_secs(3)));
    pool.prewarm(spec(Codec::H264), 1).expect("prewarm");
    let mut pooled = pool.checkout(spec(Codec::H264)).expect("checkout");
    assert_eq!(decode_pts(&mut pooled, 1), [1]);
    let creations = s.calls("cuvidCreateDecoder");
    let parsers = s.calls("cuvidCreateVideoParser");
    let holder = hold_lock_elsewhere(Duration::from_millis(200));
    drop(pooled); // the lock is held: the reset is deferred to the reaper
    assert_eq!(pool.stats().in_use, 1, "not idle before its reset ran");
    let t = Instant::now();
    let mut again = pool.checkout(spec(Codec::H264)).expect("the next checkout");
    let waited = t.elapsed();
    let stats = pool.stats();
    assert_eq!(
        s.calls("cuvidCreateDecoder"),
        creations,
        "a new decoder was built instead of waiting for the one being reset: {stats:?}"
    );
    assert_eq!(
        s.calls("cuvidCreateVideoParser"),
        parsers + 1,
        "handed out after its reset"
    );
    assert_eq!(s.live("decoder"), baseline + 1, "the same decoder");
    assert_eq!(
        (
            stats.hits,
            stats.misses,
            stats.creations,
            stats.waited_for_reset
        ),
        (2, 0, 1, 1),
        "{stats:?}"
    );
    assert!(
        waited >= Duration::from_millis(100) && waited < Duration::from_secs(2),
        "served when the holder let go and the reset ran, after {waited:?}"
    );
    assert_eq!(
        decode_pts(&mut again, 100),
        [100],
        "only the new stream's frame"
    );
    holder.join().expect("holder");
    drop(again);
    drop(pool);
    settle();
    assert_eq!(s.live("decoder"), baseline);
    assert_eq!(s.overlaps(), 0, "{}", diagnostics(s));
    assert_eq!(s.misuse(), 0, "{}", diagnostics(s));
}

/// The wait for a decoder being reset is bounded: with the lock held for 600 ms and a 40 ms
/// reset wait, the checkout stops waiting and builds (queued for the lock long before the
/// holder lets go, so it waited about 40 ms, not 600, before it queued). And a reset that
/// fails ends the wait at once: with a 5 s reset wait, the waiter builds as soon as the
/// failed reset is counted, and the failed decoder is destroyed, not handed out.
fn pool_reset_wait_is_bounded_and_a_failed_reset_ends_it() {
    let s = on_standin();
    settle();
    let baseline = s.live("decoder");
    // Bounded: the checkout waits 40 ms, then builds.
    let pool = DecoderPool::new(PoolConfig::default().with_reset_wait(Duration::from_millis(40)));
    pool.prewarm(spec(Codec::H264), 1).expect("prewarm");
    let pooled = pool.checkout(spec(Codec::H264)).expect("checkout");
    let creations = s.calls("cuvidCreateDecoder");
    let holder = hold_lock_elsewhere(Duration::from_millis(600));
    let t = Instant::now();
    drop(pooled); // reset deferred
    let built = pool
        .checkout(spec(Codec::H264))
        .expect("a checkout that builds");
    let took = t.elapsed();
    let queued_for = built.init_window().wait;
    let stats = pool.stats();
    assert_eq!(s.calls("cuvidCreateDecoder"), creations + 1, "{stats:?}");
    assert_eq!((stats.misses, stats.waited_for_reset), (1, 1), "{stats:?}");
    assert!(
        took.saturating_sub(queued_for) < Duration::from_millis(300),
        "waited {:?} before queueing for the lock (bound 40 ms)",
        took.saturating_sub(queued_for)
    );
    holder.join().expect("holder");
    settle();
    let stats = pool.stats();
    assert_eq!(
        (stats.idle, stats.in_use),
        (1, 1),
        "the reset decoder came back: {stats:?}"
    );
    drop(built);
    drop(pool);
    settle();
    assert_eq!(s.live("decoder"), baseline);

    // A failed reset: the waiter builds as soon as it is counted, long before 5 s.
    let pool = DecoderPool::new(PoolConfig::default().with_reset_wait(Duration::from_secs(5)));
    pool.prewarm(spec(Codec::H264), 1).expect("prewarm");
    let pooled = pool.checkout(spec(Codec::H264)).expect("checkout");
    let creations = s.calls("cuvidCreateDecoder");
    let holder = hold_lock_elsewhere(Duration::from_millis(150));
    // The next parser creation is the deferred reset's, which fails.
    s.fail_nth("cuvidCreateVideoParser", 1, 2);
    let t = Instant::now();
    drop(pooled);
    let built = pool
        .checkout(spec(Codec::H264))
        .expect("a checkout after a failed reset");
    let took = t.elapsed();
    let stats = pool.stats();
    assert_eq!(s.calls("cuvidCreateDecoder"), creations + 1, "{stats:?}");
    assert_eq!(
        (stats.discarded, stats.waited_for_reset, stats.misses),
        (1, 1, 1),
        "{stats:?}"
    );
    assert!(
        took < Duration::from_secs(2),
        "the failed reset did not end the wait: {took:?}"
    );
    holder.join().expect("holder");
    drop(built);
    drop(pool);
    settle();
    s.fail_nth("cuvidCreateVideoParser", 0, 0);
    assert_eq!(s.live("decoder"), baseline);
    assert_eq!(s.overlaps(), 0, "{}", diagnostics(s));
    assert_eq!(s.misuse(), 0, "{}", diagnostics(s));
}

/// Threads that each return their decoder and check out the next at once (a per-clip loop),
/// the lock contended by the resets themselves (parser creation widened to 2 ms), never grow
/// the pool: a checkout that finds no idle decoder waits for one on its way back. With as
/// many decoders as threads, one is always idle or on its way back unclaimed.
fn pool_return_and_checkout_loop_never_grows_the_pool() {
    let s = on_standin();
    let r = runtime_control();
    settle();
    let baseline = s.live("decoder");
    r.set_call_delay_us("cuvidCreateVideoParser", 2_000);
    let (threads, rounds) = (4usize, 25usize);
    let pool = DecoderPool::new(PoolConfig::default().with_reset_wait(Duration::from_secs(5)));
    pool.prewarm(spec(Codec::H264), threads).expect("prewarm");
    let creations = s.calls("cuvidCreateDecoder");
    std::thread::scope(|scope| {
        for t in 0..threads {
            let pool = &pool;
            scope.spawn(move || {
                for n in 0..rounds {
                    let mut decoder = pool.checkout(spec(Codec::H264)).expect("checkout");
                    let pts = (t * 1000 + n) as i64;
                    assert_eq!(decode_pts(&mut decoder, pts), [pts], "only this stream's");
                }
            });
        }
    });
    let stats = pool.stats();
    eprintln!("{stats:?}");
    r.set_call_delay_us("cuvidCreateVideoParser", 0);
    assert_eq!(
        s.calls("cuvidCreateDecoder"),
        creations,
        "the pool grew: {stats:?}"
    );
    assert_eq!(
        (stats.misses, stats.hits),
        (0, (threads * rounds) as u64),
        "{stats:?}"
    );
    drop(pool);
    settle();
    assert_eq!(s.live("decoder"), baseline);
    assert_eq!(s.overlaps(), 0, "{}", diagnostics(s));
    assert_eq!(s.misuse(), 0, "{}", diagnostics(s));
}

// =======================================================================================
// User code inside a window: a subscriber that ends the guard its thread keeps, and
// subscribers that panic while a window opens or closes.

fn window_scenarios() -> Vec<&'static str> {
    vec![
        "subscriber_ending_a_kept_guard_during_a_stream_change",
        "subscriber_ending_a_kept_guard_during_a_teardown",
        "subscriber_panicking_in_record_and_event_on_the_reaper",
        "subscriber_panicking_in_record_and_event_in_a_runtime_window",
        "drops_while_unwinding_with_a_subscriber_panicking_everywhere",
    ]
}

/// Runs `name` if it is one of [`window_scenarios`]; false otherwise.
fn run_window_scenario(name: &str) -> bool {
    match name {
        "subscriber_ending_a_kept_guard_during_a_stream_change" => {
            subscriber_ending_a_kept_guard_during_a_stream_change()
        }
        "subscriber_ending_a_kept_guard_during_a_teardown" => {
            subscriber_ending_a_kept_guard_during_a_teardown()
        }
        "subscriber_panicking_in_record_and_event_on_the_reaper" => {
            subscriber_panicking_in_record_and_event_on_the_reaper()
        }
        "subscriber_panicking_in_record_and_event_in_a_runtime_window" => {
            subscriber_panicking_in_record_and_event_in_a_runtime_window()
        }
        "drops_while_unwinding_with_a_subscriber_panicking_everywhere" => {
            drops_while_unwinding_with_a_subscriber_panicking_everywhere()
        }
        _ => return false,
    }
    true
}

thread_local! {
    /// A guard kept in a thread-local, as an application might keep one.
    static KEPT: std::cell::RefCell<Option<CudaInitGuard>> = const { std::cell::RefCell::new(None) };
}

/// A subscriber that, at the first warning or error on its thread while `KEPT` holds a guard,
/// drops that guard, lets another thread open a window and start building a decoder, and only
/// then returns: user code ending a window under the crate's feet.
struct EndsTheKeptWindow {
    go: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    inside: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl tracing::Subscriber for EndsTheKeptWindow {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() > tracing::Level::WARN {
            return;
        }
        let Some(guard) = KEPT.with(|kept| kept.borrow_mut().take()) else {
            return;
        };
        drop(guard);
        let go = self.go.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(go) = go {
            let _ = go.send(());
            let inside = self.inside.lock().unwrap_or_else(|p| p.into_inner());
            let _ = inside.recv_timeout(Duration::from_secs(2));
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Starts the other thread: at the subscriber's signal it opens a window and builds a
/// decoder there (its lifecycle calls slowed by the stand-in's delay). Returns the subscriber
/// for this thread and the other thread's handle.
fn other_builder() -> (EndsTheKeptWindow, std::thread::JoinHandle<()>) {
    let (go, started) = std::sync::mpsc::channel::<()>();
    let (inside_tx, inside) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        if started.recv().is_err() {
            return; // the subscriber never fired
        }
        let guard = CudaInitGuard::acquire().expect("the other thread's window");
        let _ = inside_tx.send(());
        let built = DecoderBuilder::new(h264(ContextMode::SharedPrimary))
            .create_context(guard)
            .and_then(|ready| ready.open_session())
            .map(|open| open.finish());
        drop(built);
    });
    let subscriber = EndsTheKeptWindow {
        go: std::sync::Mutex::new(Some(go)),
        inside: std::sync::Mutex::new(inside),
    };
    (subscriber, other)
}

/// Checks that no two lifecycle calls overlapped, after the other thread is done.
fn no_overlap(s: &Control, other: std::thread::JoinHandle<()>, what: &str) {
    other.join().expect("the other thread");
    KEPT.with(|kept| kept.borrow_mut().take());
    settle();
    s.set_delay_us(0);
    assert_eq!(s.overlaps(), 0, "{what}: overlaps ({})", diagnostics(s));
    let stats = init_lock_stats();
    assert_eq!(stats.max_concurrent_lifecycle_calls, 1, "{what}: {stats:?}");
}

/// A thread keeps a guard in a thread-local and decodes a stream whose size changes; the
/// reconfiguration fails, and the crate's warning about it reaches a subscriber that drops
/// the kept guard and lets another thread build a decoder. The re-creation that follows must
/// not run beside the other thread's lifecycle calls.
fn subscriber_ending_a_kept_guard_during_a_stream_change() {
    let s = on_standin();
    settle();
    s.reset();
    let mut decoder = build(ContextMode::SharedPrimary).expect("decoder");
    assert_eq!(decode_pts(&mut decoder, 1), [1]);
    stream_size(s, 320, 240);
    s.set_status("cuvidReconfigureDecoder", 999);
    s.set_delay_us(50_000);
    let (subscriber, other) = other_builder();
    KEPT.with(|kept| *kept.borrow_mut() = Some(CudaInitGuard::acquire().expect("kept guard")));
    let decoded = tracing::subscriber::with_default(subscriber, || {
        decoder.decode(PACKET, 2).map(|frames| frames.count())
    });
    s.set_status("cuvidReconfigureDecoder", 0);
    no_overlap(s, other, "stream change");
    assert!(
        matches!(decoded, Err(Error::InitLockHeld)),
        "a stream change on a thread that keeps a guard is refused: {decoded:?}"
    );
    drop(decoder);
    stream_size(s, 640, 360);
    s.set_format("coded_height", 368);
    settle();
}

/// A thread keeps a guard and drops an encoder, so its teardown runs in that window; the
/// first buffer destroy fails, and the crate's error about it reaches a subscriber that drops
/// the kept guard and lets another thread build a decoder. The teardown's later lifecycle
/// calls must not run beside the other thread's.
fn subscriber_ending_a_kept_guard_during_a_teardown() {
    let (s, _baseline) = nvenc_working();
    let encoder = EncoderBuilder::new(enc_config()).build().expect("encoder");
    s.fail_nth("nvEncDestroyInputBuffer", 1, 8);
    s.set_delay_us(50_000);
    let (subscriber, other) = other_builder();
    KEPT.with(|kept| *kept.borrow_mut() = Some(CudaInitGuard::acquire().expect("kept guard")));
    let refused = init_lock_stats().refused_lifecycle_calls;
    tracing::subscriber::with_default(subscriber, || drop(encoder));
    no_overlap(s, other, "teardown");
    assert!(
        init_lock_stats().refused_lifecycle_calls > refused,
        "the teardown's calls after the window ended were refused"
    );
    s.set_nvenc_working(false);
}

/// A `tracing` subscriber that panics in `record` and `event` on `panicking_thread`, and
/// nowhere else (span creation succeeds, so windows open and the panic comes inside them).
struct PanicsInRecordAndEvent {
    on: fn() -> bool,
}

impl tracing::Subscriber for PanicsInRecordAndEvent {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {
        assert!(!(self.on)(), "deliberate panic in record (expected)");
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {
        assert!(!(self.on)(), "deliberate panic in event (expected)");
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A subscriber panicking in `record` and `event` on the teardown thread: no abort (a guard
/// dropped while unwinding logs nothing that can panic again), every deferred teardown still
/// runs, and the lock is free after.
fn subscriber_panicking_in_record_and_event_on_the_reaper() {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    tracing::subscriber::set_global_default(PanicsInRecordAndEvent { on: on_the_reaper })
        .expect("the only subscriber");
    for round in 0..3 {
        let decoder = build(ContextMode::SharedPrimary).expect("decoder");
        let holder = hold_lock_elsewhere(Duration::from_millis(300));
        drop(decoder); // the lock is held: deferred to the reaper
        holder.join().expect("holder");
        assert!(
            wait_for_teardowns(Duration::from_secs(5)),
            "round {round}: the deferred teardown never ran"
        );
        assert_live(s, &baseline, &format!("round {round}"));
    }
    lock_is_free();
}

fn on_a_runtime_window_thread() -> bool {
    std::thread::current().name() == Some("runtime-window")
}

/// The same subscriber on a thread whose stream change opens a window at run time: the panic
/// reaches the caller as a decode error or a panic of its own, never an abort, and the lock is
/// free after.
fn subscriber_panicking_in_record_and_event_in_a_runtime_window() {
    let s = on_standin();
    settle();
    tracing::subscriber::set_global_default(PanicsInRecordAndEvent {
        on: on_a_runtime_window_thread,
    })
    .expect("the only subscriber");
    let mut decoder = build(ContextMode::SharedPrimary).expect("decoder");
    assert_eq!(decode_pts(&mut decoder, 1), [1]);
    stream_size(s, 320, 240);
    let worker = std::thread::Builder::new()
        .name("runtime-window".into())
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                decoder.decode(PACKET, 2).map(|frames| frames.count())
            }));
            drop(catch_unwind(AssertUnwindSafe(move || drop(decoder))));
            outcome.is_ok()
        })
        .expect("a thread");
    let _returned = worker.join().expect("the worker did not abort");
    stream_size(s, 640, 360);
    s.set_format("coded_height", 368);
    settle();
    lock_is_free();
}

/// A `tracing` subscriber that panics in `record`, `event` and `try_close` (a span's end) on a
/// thread named `unwinder`. (`new_span` succeeds, so spans exist to be recorded and ended;
/// `reaper_survives_a_panicking_subscriber` covers a panicking `new_span`.)
struct PanicsEverywhereOnTheUnwinder;

fn on_the_unwinder() -> bool {
    std::thread::current().name() == Some("unwinder")
}

impl tracing::Subscriber for PanicsEverywhereOnTheUnwinder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {
        assert!(!on_the_unwinder(), "deliberate panic in record (expected)");
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {
        assert!(!on_the_unwinder(), "deliberate panic in event (expected)");
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
    fn try_close(&self, _: tracing::span::Id) -> bool {
        assert!(
            !on_the_unwinder(),
            "deliberate panic in try_close (expected)"
        );
        true
    }
}

/// Two decoders (one with a leaked frame, one with a dedicated context) dropped while their
/// thread unwinds from a panic, with a subscriber that panics in `record`, `event` and
/// `try_close` on that thread, once with the lock free (inline teardown) and once held
/// elsewhere (deferred): the thread unwinds to its end, no abort, and every teardown runs.
fn drops_while_unwinding_with_a_subscriber_panicking_everywhere() {
    let s = on_standin();
    settle();
    let baseline = s.live_all();
    tracing::subscriber::set_global_default(PanicsEverywhereOnTheUnwinder)
        .expect("the only subscriber");
    for lock_held in [false, true] {
        let mut decoder = build(ContextMode::SharedPrimary).expect("decoder");
        let mut frames = decoder.decode(PACKET, 1).expect("decode");
        let frame = frames.next().expect("a frame").expect("mapped");
        std::mem::forget(frame);
        drop(frames);
        let other = build(ContextMode::Dedicated).expect("decoder");
        let holder = lock_held.then(|| hold_lock_elsewhere(Duration::from_millis(300)));
        let unwinder = std::thread::Builder::new()
            .name("unwinder".into())
            .spawn(move || {
                let _decoder = decoder;
                let _other = other;
                panic!("deliberate panic with decoders alive (expected)");
            })
            .expect("a thread");
        assert!(unwinder.join().is_err(), "the thread unwound to its end");
        if let Some(holder) = holder {
            holder.join().expect("holder");
        }
        settle();
        assert_live(s, &baseline, &format!("lock held elsewhere: {lock_held}"));
    }
    lock_is_free();
}
