// Leaving `Uninit` with something that is not a `CudaInitGuard` (here `()`) is impossible.
use nvcodec_guard::decode::DecoderBuilder;
use nvcodec_guard::phase::Uninit;

fn enter_with_unit(builder: DecoderBuilder<Uninit>) {
    let _ = builder.create_context(());
}

fn main() {
    let _ = enter_with_unit;
}
