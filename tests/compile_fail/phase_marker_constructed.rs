// Constructing a phase marker outside the crate (`Uninit { _sealed: () }`) is impossible.
use nvcodec_guard::phase::Uninit;

fn make_marker() -> Uninit {
    Uninit { _sealed: () }
}

fn main() {
    let _ = make_marker;
}
