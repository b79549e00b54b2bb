// Sending a builder that holds the guard (`DecoderBuilder<ContextReady>`) to another thread is impossible.
use nvcodec_guard::decode::DecoderBuilder;
use nvcodec_guard::phase::ContextReady;

fn send_builder(builder: DecoderBuilder<ContextReady>) {
    std::thread::spawn(move || drop(builder));
}

fn main() {
    let _ = send_builder;
}
