// A walk-around of the typestate: calling the backend's steps directly, skipping `validate` and
// getting a `Decoder` while the guard is still held, does not compile: `Backend` has no steps.
use nvcodec_guard::Codec;
use nvcodec_guard::cuda::{Context, ContextMode};
use nvcodec_guard::decode::{Decoder, DecoderConfig};
use nvcodec_guard::init::{CudaInitGuard, WindowTiming};
use nvcodec_guard::phase::Backend;

fn main() -> nvcodec_guard::Result<()> {
    let guard = CudaInitGuard::acquire()?;
    let config = DecoderConfig::new(Codec::H264);
    let context = Context::acquire(&guard, 0, ContextMode::SharedPrimary)?;
    let session = <Decoder as Backend>::open(&config, &context, &guard)?;
    let mut decoder =
        <Decoder as Backend>::finish(config, context, session, WindowTiming::default());
    decoder.decode(&[0, 0, 1], 0)?;
    Ok(())
}
