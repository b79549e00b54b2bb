// Entering the window with a borrowed guard (keeping the guard for a second builder) is impossible.
use nvcodec_guard::decode::DecoderBuilder;
use nvcodec_guard::init::CudaInitGuard;
use nvcodec_guard::phase::Uninit;

fn enter_with_borrowed_guard(builder: DecoderBuilder<Uninit>, guard: &CudaInitGuard) {
    let _ = builder.create_context(guard);
}

fn main() {
    let _ = enter_with_borrowed_guard;
}
