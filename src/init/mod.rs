//! The process-wide CUDA init lock.
//!
//! NVIDIA's driver does not tolerate one thread creating a CUDA context or an NVDEC/NVENC
//! session while another does the same on the same GPU: its session table can be corrupted
//! and the process segfaults, even when each pipeline is single-threaded. The cure is one
//! process-wide lock held for the short *init window* — context creation and the first codec
//! calls (`cuvidCreateDecoder`, `NvEncOpenEncodeSessionEx`, `NvEncInitializeEncoder`) — and
//! never during per-frame work, which stays fully concurrent.
//!
//! [`CudaInitGuard`] is that lock's RAII guard. The typed builders in [`crate::phase`] can only
//! advance while holding one, so forgetting the lock does not compile.
//!
//! # Why poisoning is recoverable
//! The lock guards no data: it serializes calls into the driver, nothing in Rust memory. A
//! panic inside a window leaves no half-updated Rust state behind, so the guard's `Drop`
//! (which runs during unwinding) simply releases the lock and counts the event in
//! [`InitLockStats::windows_ended_by_panic`]. Later windows proceed normally.
//!
//! # Teardown
//! Destroying a context or a codec session also mutates the driver's session table, so by
//! default ([`TeardownPolicy::Locked`]) destruction takes the lock too. It is not free:
//! `cuvidDestroyDecoder` takes ~230 ms on an H100, during which no other pipeline can start.
//! [`TeardownPolicy::Unlocked`] opts out, for workloads that have measured it safe on
//! their driver.

mod guard;
mod lock;
mod stats;

pub use guard::{CudaInitGuard, WindowTiming, held_by_current_thread};
pub use stats::InitLockStats;

/// A snapshot of the process-wide init-lock counters.
pub fn init_lock_stats() -> InitLockStats {
    stats::COUNTERS.snapshot()
}

/// Whether destroying contexts and codec sessions takes the init lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TeardownPolicy {
    /// Destroy inside an init window (the safe default).
    #[default]
    Locked,
    /// Destroy without the lock: faster teardown, at the driver's mercy.
    Unlocked,
}

impl TeardownPolicy {
    /// Opens a window for a teardown if the policy asks for one and this thread is not
    /// already inside one. Waits at most `TEARDOWN_LOCK_TIMEOUT`: a destructor must not
    /// hang forever behind a wedged window; past that it destroys unlocked and says so.
    pub(crate) fn enter(self) -> Option<CudaInitGuard> {
        match self {
            TeardownPolicy::Unlocked => None,
            TeardownPolicy::Locked if held_by_current_thread() => None,
            TeardownPolicy::Locked => match CudaInitGuard::acquire_timeout(TEARDOWN_LOCK_TIMEOUT) {
                Ok(guard) => Some(guard),
                Err(error) => {
                    tracing::error!(%error, "teardown proceeds without the init lock");
                    None
                }
            },
        }
    }
}

/// How long a destructor waits for the init lock before destroying without it.
pub const TEARDOWN_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
