// The right way compiles: acquire -> context -> open_session -> finish -> decode, and the decoder moves to a worker.
use nvcodec_guard::Codec;
use nvcodec_guard::decode::{Decoder, DecoderBuilder, DecoderConfig};
use nvcodec_guard::init::CudaInitGuard;

fn build() -> nvcodec_guard::Result<Decoder> {
    let guard = CudaInitGuard::acquire()?;
    let builder = DecoderBuilder::new(DecoderConfig::new(Codec::H264)).create_context(guard)?;
    let builder = builder.open_session()?;
    Ok(builder.finish())
}

fn decode_on_a_worker(mut decoder: Decoder, packet: Vec<u8>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut taken = 0;
        for frame in decoder.decode(&packet, 0).unwrap() {
            let _ = frame.unwrap();
            taken += 1;
        }
        taken
    })
}

fn build_in_one_call() -> nvcodec_guard::Result<Decoder> {
    DecoderBuilder::new(DecoderConfig::new(Codec::H264)).build()
}

fn main() {
    // Type-checked only: calling these would need an NVIDIA GPU.
    let _ = build;
    let _ = decode_on_a_worker;
    let _ = build_in_one_call;
}
