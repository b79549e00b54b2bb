// Using a builder after `finish` consumed it (e.g. to reach its guard) is impossible.
use nvcodec_guard::decode::DecoderBuilder;
use nvcodec_guard::phase::SessionOpen;

fn use_after_finish(builder: DecoderBuilder<SessionOpen>) {
    let _decoder = builder.finish();
    let _ = builder.guard();
}

fn main() {
    let _ = use_after_finish;
}
