// Finishing a builder before its codec session exists (`finish` on `ContextReady`) is impossible.
use nvcodec_guard::decode::DecoderBuilder;
use nvcodec_guard::phase::ContextReady;

fn finish_without_session(builder: DecoderBuilder<ContextReady>) {
    let _ = builder.finish();
}

fn main() {
    let _ = finish_without_session;
}
