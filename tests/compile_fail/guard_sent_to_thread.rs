// Sending a `CudaInitGuard` to another thread (the window belongs to the thread that opened it) is impossible.
use nvcodec_guard::init::CudaInitGuard;

fn send_guard(guard: CudaInitGuard) {
    std::thread::spawn(move || drop(guard));
}

fn main() {
    let _ = send_guard;
}
