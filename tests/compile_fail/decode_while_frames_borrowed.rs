// Calling `decode` again while frames of the previous call are still alive is impossible.
use nvcodec_guard::decode::Decoder;

fn decode_twice(decoder: &mut Decoder) {
    let frames = decoder.decode(&[], 0).unwrap();
    let _ = decoder.decode(&[], 1);
    drop(frames);
}

fn main() {
    let _ = decode_twice;
}
