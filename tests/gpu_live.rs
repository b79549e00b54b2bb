//! Live decoding on real hardware: low-latency decoders, created with the live default of
//! decode surfaces and one output surface, decode bit-exact with ffmpeg, alone (growing when a
//! stream needs more surfaces) and when one pooled decoder moves between streams that need
//! different surface counts; and MPEG-TS received over UDP on loopback decodes bit-exact.
//!
//! Run: `cargo test --release --test gpu_live -- --include-ignored --nocapture`.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::{Decoded, RefFrame, assert_bit_exact, config_for, data, decode_stream, md5_hex};
use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig, DecoderPool, DecoderSpec, PoolConfig};
use nvcodec_guard::input::{ElementaryStream, FormatHint, TsSelect, UdpSource, UdpUrl};

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

/// Each clip sent as MPEG-TS over UDP on loopback (seven 188-byte packets a datagram, paced),
/// received by `UdpSource` and decoded by a low-latency decoder: ffmpeg's frames of the file.
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn ts_over_udp_decodes_bit_exact() {
    for (clip, port) in [
        ("h264_live.ts", 23_901),
        ("hevc_live.ts", 23_902),
        ("h264_b3.ts", 23_903),
    ] {
        let bytes = std::fs::read(data(&format!("ts/{clip}"))).unwrap();
        let url = UdpUrl::parse(&format!("udp://127.0.0.1:{port}?timeout=500000")).unwrap();
        let mut source = UdpSource::open(&url, FormatHint::MpegTs(TsSelect::default())).unwrap();
        let sender = std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            for datagram in bytes.chunks(7 * 188) {
                socket.send_to(datagram, ("127.0.0.1", port)).unwrap();
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let codec = ElementaryStream::open(data(&format!("ts/{clip}")))
            .unwrap()
            .codec();
        let config = DecoderConfig::new(codec).with_low_latency(true);
        let mut decoder = DecoderBuilder::new(config).build().unwrap();
        let mut got = Decoded::default();
        let keep = |frame: nvcodec_guard::decode::Frame<'_>, got: &mut Decoded| {
            let bytes = frame.to_vec().unwrap();
            got.frames.push(RefFrame {
                size: bytes.len(),
                md5: md5_hex(&bytes),
            });
        };
        sender.join().unwrap();
        loop {
            match source.next_packet() {
                Ok(Some(packet)) => {
                    for frame in decoder.decode(packet.data, packet.pts).unwrap() {
                        keep(frame.unwrap(), &mut got);
                    }
                }
                Ok(None) => break,
                // Everything was sent: the quiet after it is the end.
                Err(nvcodec_guard::input::ReadError::Network(_)) => {
                    source.finish();
                }
                Err(e) => panic!("{clip}: {e}"),
            }
        }
        for frame in decoder.flush().unwrap() {
            keep(frame.unwrap(), &mut got);
        }
        assert_bit_exact(&format!("ts/{clip}.nv12"), &got);
        eprintln!(
            "{clip} over UDP: {} frames bit-exact; {:?}; {:?}",
            got.frames.len(),
            source.stats(),
            source.transport_stats()
        );
    }
}
