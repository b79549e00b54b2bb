// Forging a `CudaInitGuard` with a struct literal (a guard without taking the lock) is impossible.
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use nvcodec_guard::init::CudaInitGuard;

fn forge() -> CudaInitGuard {
    CudaInitGuard {
        acquired_at: Instant::now(),
        waited: Duration::ZERO,
        span: tracing::Span::none(),
        _one_thread: PhantomData,
    }
}

fn main() {
    let _ = forge;
}
