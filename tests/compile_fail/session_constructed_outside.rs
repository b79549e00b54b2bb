// A `DecoderSession` (what exists inside the window) cannot be made outside the builder.
use nvcodec_guard::decode::DecoderSession;

fn main() {
    let _session = DecoderSession {};
}
