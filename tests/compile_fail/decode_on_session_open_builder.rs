// Calling a frame method (`decode`) on a builder still inside the init window (`SessionOpen`) is impossible.
use nvcodec_guard::decode::DecoderBuilder;
use nvcodec_guard::phase::SessionOpen;

fn decode_inside_the_window(builder: DecoderBuilder<SessionOpen>) {
    let _ = builder.decode(&[], 0);
}

fn main() {
    let _ = decode_inside_the_window;
}
