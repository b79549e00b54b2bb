// Cloning a `CudaInitGuard` (two proofs of one window) is impossible.
use nvcodec_guard::init::CudaInitGuard;

fn clone_guard(guard: CudaInitGuard) -> (CudaInitGuard, CudaInitGuard) {
    (guard.clone(), guard)
}

fn main() {
    let _ = clone_guard;
}
