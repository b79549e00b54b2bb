// Sharing `&CudaInitGuard` with another thread (`CudaInitGuard: Sync`) is impossible.
use nvcodec_guard::init::CudaInitGuard;

fn share_guard(guard: &CudaInitGuard) {
    std::thread::scope(|scope| {
        scope.spawn(|| guard.held_for());
    });
}

fn main() {
    let _ = share_guard;
}
