// Implementing the sealed `Phase` trait for a user type (a phase of one's own) is impossible.
use nvcodec_guard::phase::{Backend, Phase};

struct Skipped;

impl Phase for Skipped {
    type State<B: Backend> = ();
}

fn main() {
    let _ = Skipped;
}
