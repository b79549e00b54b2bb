//! The foundation on real hardware: contexts are created only through the guard, the shared
//! primary context is created once, dedicated contexts come and go without leaking, and
//! racing threads never overlap their init windows.
//!
//! Run: `cargo test --test gpu_foundation -- --include-ignored`.

use std::sync::{Arc, Barrier};
use std::thread;

use nvcodec_guard::cuda::{Context, ContextMode};
use nvcodec_guard::init::{CudaInitGuard, init_lock_stats};

const MIB: usize = 1 << 20;

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn the_shared_primary_context_is_created_once_per_device() {
    let guard = CudaInitGuard::acquire().unwrap();
    let a = Context::acquire(&guard, 0, ContextMode::SharedPrimary).unwrap();
    let b = Context::acquire(&guard, 0, ContextMode::SharedPrimary).unwrap();
    drop(guard);
    assert_eq!(a.raw(), b.raw(), "one primary context per device");
    assert!(!a.raw().is_null());
    assert!(a.device_name().contains("NVIDIA"), "{}", a.device_name());
    let (free, total) = a.memory_info().unwrap();
    assert!(
        total > 1 << 30 && free <= total,
        "free {free} total {total}"
    );
    eprintln!("device 0: {} ({} MiB total)", a.device_name(), total / MIB);
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn a_missing_device_is_a_clear_error() {
    let guard = CudaInitGuard::acquire().unwrap();
    let err = Context::acquire(&guard, 999, ContextMode::SharedPrimary).unwrap_err();
    assert!(err.to_string().contains("999"), "{err}");
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn dedicated_contexts_are_created_and_destroyed_without_leaking() {
    let guard = CudaInitGuard::acquire().unwrap();
    let primary = Context::acquire(&guard, 0, ContextMode::SharedPrimary).unwrap();
    drop(guard);
    let (baseline, _) = primary.memory_info().unwrap();
    for _ in 0..20 {
        let guard = CudaInitGuard::acquire().unwrap();
        let ctx = Context::acquire(&guard, 0, ContextMode::Dedicated).unwrap();
        assert_ne!(ctx.raw(), primary.raw());
        assert_eq!(ctx.mode(), ContextMode::Dedicated);
        // Destroyed inside this window (the policy sees the thread already holds it).
        drop(ctx);
        drop(guard);
    }
    let (after, _) = primary.memory_info().unwrap();
    let leaked = baseline.saturating_sub(after);
    assert!(
        leaked < 16 * MIB,
        "{} MiB not returned after 20 dedicated contexts",
        leaked / MIB
    );
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn sixty_four_threads_racing_to_build_contexts_never_overlap_windows() {
    let threads = 64;
    let barrier = Arc::new(Barrier::new(threads));
    let before = init_lock_stats();
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let guard = CudaInitGuard::acquire().unwrap();
                let mode = if i % 4 == 0 {
                    ContextMode::Dedicated
                } else {
                    ContextMode::SharedPrimary
                };
                let ctx = Context::acquire(&guard, 0, mode).unwrap();
                let timing = guard.release();
                (ctx.raw() as usize, timing)
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let after = init_lock_stats();
    assert_eq!(after.max_concurrent_windows, 1, "{after:?}");
    assert!(after.windows_opened >= before.windows_opened + threads as u64);
    assert!(
        after.contended_acquires > before.contended_acquires,
        "the race really contended"
    );
    let max_hold = results.iter().map(|(_, t)| t.hold).max().unwrap();
    eprintln!("64 racing windows: max hold {max_hold:?}, stats {after:?}");
}
