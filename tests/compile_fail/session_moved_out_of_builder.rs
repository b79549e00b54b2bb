// The builder only lends its session: it cannot be moved out and finished another way.
use nvcodec_guard::decode::{DecoderBuilder, DecoderSession};
use nvcodec_guard::phase::SessionOpen;

fn take(builder: DecoderBuilder<SessionOpen>) -> DecoderSession {
    *builder.session()
}

fn main() {
    let _ = take;
}
