// Opening a codec session before entering the init window (`open_session` on `Uninit`) is impossible.
use nvcodec_guard::decode::DecoderBuilder;
use nvcodec_guard::phase::Uninit;

fn open_without_context(builder: DecoderBuilder<Uninit>) {
    let _ = builder.open_session();
}

fn main() {
    let _ = open_without_context;
}
