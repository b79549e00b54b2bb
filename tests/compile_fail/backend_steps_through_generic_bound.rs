// A generic bound `B: Backend` reaches no build step either (a supertrait's methods would be
// reachable this way, however private its module; `Backend` has none).
use nvcodec_guard::cuda::Context;
use nvcodec_guard::init::CudaInitGuard;
use nvcodec_guard::phase::Backend;

fn sneak<B: Backend>(config: &B::Config, context: &Context, guard: &CudaInitGuard) {
    let _session = B::open(config, context, guard);
}

fn main() {
    let _ = sneak::<nvcodec_guard::decode::Decoder>;
}
