// A backend of one's own (steps that skip the window) cannot be plugged into the builder.
use nvcodec_guard::phase::{Backend, BuildSteps};

#[derive(Debug)]
struct Mine;

impl Backend for Mine {
    type Config = Mine;
    type Session = Mine;
    const NAME: &'static str = "mine";
    const STEPS: BuildSteps<Mine> = panic!();
}

fn main() {}
