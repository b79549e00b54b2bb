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

use std::collections::BTreeMap;
use std::ffi::{CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nvcodec_guard::cuda::{Context, ContextMode};
use nvcodec_guard::decode::{Decoder, DecoderBuilder, DecoderConfig};
use nvcodec_guard::encode::{EncoderBuilder, EncoderConfig};
use nvcodec_guard::init::{CudaInitGuard, init_lock_stats, wait_for_teardowns};
use nvcodec_guard::{Codec, Error};

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
    _lib: libloading::Library,
}

const KINDS: [&str; 12] = [
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
        Err(Error::Cuda { call, code, name }) => {
            assert_eq!(call, "cuInit");
            assert_eq!(code, status);
            assert_truthful_name(status, &name);
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
        Err(Error::Cuda {
            call: failed,
            code,
            name,
        }) => {
            assert_eq!(*failed, call);
            assert_eq!(*code, status);
            assert_truthful_name(status, name);
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
            Error::Cuda { call, name, .. } => format!("{call}: {name}"),
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
                            Ok(_) => note(&Error::Codec("encoder built on the stand-in".into())),
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
        Err(e @ (Error::InvalidInput(_) | Error::Unsupported { .. })) => {
            let text = e.to_string();
            assert!(
                text.contains(&value.to_string()),
                "the error does not name {value}: {text}"
            );
        }
        other => panic!("expected Err(InvalidInput | Unsupported) naming {value}, got {other:?}"),
    }
}

/// A coded size near u32::MAX is an error.
fn huge_coded_size(field: &str) {
    let s = on_standin();
    let mut decoder = build(ContextMode::SharedPrimary).expect("build");
    s.set_format(field, i64::from(u32::MAX - 3));
    let result = decoder.decode(PACKET, 1).map(|frames| frames.count());
    s.reset();
    eprintln!("{field} = u32::MAX - 3: {result:?}");
    match result {
        Err(e) => assert!(
            !e.to_string().contains("panic"),
            "the error comes from a caught panic: {e}"
        ),
        Ok(n) => panic!("expected Err, got Ok({n} frames)"),
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
// Harness

/// Which library directory a scenario runs against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driver {
    Current,
    Old,
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
        "forgotten_frame_is_unmapped",
        "ignored_frames_are_bounded",
        "map_failure_keeps_the_frame",
        "dedicated_pop_failure_does_not_leak",
    ] {
        list.push((name.into(), Driver::Current));
    }
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
        ["forgotten_frame_is_unmapped"] => forgotten_frame_is_unmapped(),
        ["ignored_frames_are_bounded"] => ignored_frames_are_bounded(),
        ["map_failure_keeps_the_frame"] => map_failure_keeps_the_frame(),
        ["dedicated_pop_failure_does_not_leak"] => dedicated_pop_failure_does_not_leak(),
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
