// Handing one guard to two builders (two sessions in one window, the second unguarded) is impossible.
use nvcodec_guard::decode::DecoderBuilder;
use nvcodec_guard::init::CudaInitGuard;
use nvcodec_guard::phase::Uninit;

fn one_guard_two_builders(
    first: DecoderBuilder<Uninit>,
    second: DecoderBuilder<Uninit>,
    guard: CudaInitGuard,
) {
    let _ = first.create_context(guard);
    let _ = second.create_context(guard);
}

fn main() {
    let _ = one_guard_two_builders;
}
