//! Live decoding on real hardware: low-latency decoders, created with the live default of
//! decode surfaces and one output surface, decode bit-exact with ffmpeg, alone (growing when a
//! stream needs more surfaces) and when one pooled decoder moves between streams that need
//! different surface counts.
//!
//! Run: `cargo test --release --test gpu_live -- --include-ignored --nocapture`.

mod common;

use common::{Decoded, assert_bit_exact, config_for, data, decode_stream};
use nvcodec_guard::decode::{DecoderBuilder, DecoderPool, DecoderSpec, PoolConfig};
use nvcodec_guard::input::ElementaryStream;

/// Clips of `tests/data/ts/`: two as a live encoder makes them (no B-frames) and two with
/// B-frames, which need more surfaces.
const CLIPS: [&str; 4] = [
    "h264_live.ts",
    "hevc_live.ts",
    "h264_b3.ts",
    "hevc_main10.ts",
];

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn low_latency_decoders_decode_bit_exact() {
    for clip in CLIPS {
        for low_latency in [true, false] {
            let mut stream = ElementaryStream::open(data(&format!("ts/{clip}"))).unwrap();
            let config = config_for(stream.codec(), &stream).with_low_latency(low_latency);
            let mut decoder = DecoderBuilder::new(config).build().unwrap();
            let created = decoder.decode_surfaces();
            let mut got = Decoded::default();
            decode_stream(&mut decoder, &mut stream, false, &mut got);
            assert_bit_exact(&format!("ts/{clip}.nv12"), &got);
            eprintln!(
                "{clip} (low latency {low_latency}): {} frames bit-exact; decode surfaces \
                 {created} created, {} at the end; {:?}",
                got.frames.len(),
                decoder.decode_surfaces(),
                decoder.stats()
            );
            assert!(decoder.decode_surfaces() >= created);
        }
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn one_pooled_low_latency_decoder_moves_between_streams() {
    let pool = DecoderPool::new(
        PoolConfig::default()
            .with_max_per_key(1)
            .with_low_latency(true)
            .with_output_surfaces(1),
    );
    let mut surfaces = Vec::new();
    for clip in ["h264_b3.ts", "h264_live.ts", "h264_b3.ts", "h264_live.ts"] {
        let mut stream = ElementaryStream::open(data(&format!("ts/{clip}"))).unwrap();
        let spec = DecoderSpec::new(stream.codec(), 1920, 1088);
        let mut decoder = pool.checkout(spec).unwrap();
        let mut got = Decoded::default();
        decode_stream(&mut decoder, &mut stream, false, &mut got);
        assert_bit_exact(&format!("ts/{clip}.nv12"), &got);
        surfaces.push((clip, decoder.decode_surfaces()));
    }
    let stats = pool.stats();
    eprintln!("surfaces per checkout: {surfaces:?}; {stats:?}");
    assert_eq!(
        surfaces[0].1, surfaces[2].1,
        "the same stream fits the same surfaces"
    );
    assert_eq!(surfaces[1].1, surfaces[3].1);
    assert_eq!((stats.checkouts, stats.creations), (4, 1));
}
