// Leaving `Uninit` without handing over a guard (`.create_context()` with no argument) is impossible.
use nvcodec_guard::decode::DecoderBuilder;
use nvcodec_guard::phase::Uninit;

fn enter_without_guard(builder: DecoderBuilder<Uninit>) {
    let _ = builder.create_context();
}

fn main() {
    let _ = enter_without_guard;
}
