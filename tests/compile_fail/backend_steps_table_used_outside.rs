// The build-step table every backend carries is opaque outside the crate: its steps cannot
// be called from it.
use nvcodec_guard::Codec;
use nvcodec_guard::cuda::{Context, ContextMode};
use nvcodec_guard::decode::{Decoder, DecoderConfig};
use nvcodec_guard::init::CudaInitGuard;
use nvcodec_guard::phase::Backend;

fn main() -> nvcodec_guard::Result<()> {
    let guard = CudaInitGuard::acquire()?;
    let config = DecoderConfig::new(Codec::H264);
    let context = Context::acquire(&guard, 0, ContextMode::SharedPrimary)?;
    let _session = (<Decoder as Backend>::STEPS.open)(&config, &context, &guard)?;
    Ok(())
}
