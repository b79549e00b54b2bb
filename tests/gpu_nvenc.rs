//! Real NVENC output, checked by decoding it back with NVDEC; fails by design on GPUs without
//! NVENC (some data-centre GPUs have none).
//!
//! Synthetic NV12 frames (a moving gradient) are encoded with H.264 and HEVC, the packets
//! decoded with the crate's decoder, and every frame compared with its input (PSNR ≥ 40 dB),
//! with the frame count, timestamps and keyframes checked on the way. A device-memory test
//! re-encodes frames decoded from a test clip straight from GPU memory.
//!
//! Run: `cargo test --test gpu_nvenc -- --include-ignored --test-threads=1`.

mod common;

use std::collections::BTreeMap;

use nvcodec_guard::Codec;
use nvcodec_guard::decode::{Decoder, DecoderBuilder, DecoderConfig};
use nvcodec_guard::encode::{
    EncodedPacket, Encoder, EncoderBuilder, EncoderConfig, HostPlane, InputFrame, PictureType,
    RateControl,
};
use nvcodec_guard::input::ElementaryStream;

const W: u32 = 640;
const H: u32 = 360;
const FRAMES: i64 = 30;
const MIN_PSNR: f64 = 40.0;

/// A packed NV12 frame: smooth gradients that move by `i`.
fn gradient(i: i64) -> Vec<u8> {
    let (w, h) = (W as i64, H as i64);
    let mut frame = Vec::with_capacity((w * h * 3 / 2) as usize);
    for y in 0..h {
        for x in 0..w {
            frame.push((32 + (x + 3 * i) * 96 / w + (y + 2 * i) * 96 / h) as u8);
        }
    }
    for y in 0..h / 2 {
        for x in 0..w / 2 {
            frame.push((96 + (x + i) * 64 / w) as u8); // U
            frame.push((160 - (y + i) * 64 / h) as u8); // V
        }
    }
    frame
}

fn config(codec: Codec, b_frames: u32) -> EncoderConfig {
    EncoderConfig::new(codec, W, H)
        .with_rate_control(RateControl::Cqp {
            qp_i: 18,
            qp_p: 20,
            qp_b: 22,
        })
        .with_b_frames(b_frames)
        .with_gop_length(15)
}

fn build(config: EncoderConfig) -> Encoder {
    EncoderBuilder::new(config)
        .build()
        .expect("build the encoder (fails on GPUs without NVENC, by design)")
}

/// Decodes packets (in decode order) and returns the frames by pts.
fn decode_all(codec: Codec, packets: &[EncodedPacket]) -> BTreeMap<i64, Vec<u8>> {
    let mut decoder: Decoder = DecoderBuilder::new(DecoderConfig::new(codec).with_max_size(W, H))
        .build()
        .expect("build the decoder");
    let mut out = BTreeMap::new();
    for packet in packets {
        for frame in decoder.decode(&packet.data, packet.pts).expect("decode") {
            let frame = frame.expect("frame");
            assert_eq!((frame.width(), frame.height()), (W, H));
            assert!(
                out.insert(frame.pts(), frame.to_vec().expect("copy"))
                    .is_none()
            );
        }
    }
    for frame in decoder.flush().expect("flush") {
        let frame = frame.expect("frame");
        assert!(
            out.insert(frame.pts(), frame.to_vec().expect("copy"))
                .is_none()
        );
    }
    out
}

fn check_packets(packets: &[EncodedPacket], b_frames: u32) {
    assert_eq!(packets.len() as i64, FRAMES, "one packet per frame");
    assert!(packets[0].keyframe, "the stream starts with an IDR");
    assert_eq!(packets[0].picture_type, PictureType::Idr);
    let mut last_dts = i64::MIN;
    for p in packets {
        assert!(!p.data.is_empty());
        assert!(p.dts <= p.pts, "dts {} after pts {}", p.dts, p.pts);
        assert!(p.dts > last_dts, "dts not increasing");
        last_dts = p.dts;
    }
    let mut pts: Vec<i64> = packets.iter().map(|p| p.pts).collect();
    if b_frames == 0 {
        assert!(
            pts.windows(2).all(|w| w[0] < w[1]),
            "no reordering without B-frames"
        );
    }
    pts.sort_unstable();
    assert_eq!(pts, (0..FRAMES).collect::<Vec<_>>());
    // GOP of 15: IDRs at 0 and 15 (with B-frames NVENC may close the GOP a frame or two
    // off, so only the count is checked then).
    let keys: Vec<i64> = packets
        .iter()
        .filter(|p| p.keyframe)
        .map(|p| p.pts)
        .collect();
    if b_frames == 0 {
        assert_eq!(keys, [0, 15], "IDR frames");
    } else {
        assert_eq!((keys.len(), keys[0]), (2, 0), "IDR frames {keys:?}");
    }
}

fn round_trip(codec: Codec, b_frames: u32) {
    let mut encoder = build(config(codec, b_frames));
    let headers = encoder.sequence_headers().expect("sequence headers");
    assert!(
        headers.starts_with(&[0, 0, 0, 1]) || headers.starts_with(&[0, 0, 1]),
        "{headers:02x?}"
    );

    let inputs: Vec<Vec<u8>> = (0..FRAMES).map(gradient).collect();
    let mut packets = Vec::new();
    for (i, frame) in inputs.iter().enumerate() {
        let i = i as i64;
        let frame = if i % 2 == 0 {
            InputFrame::packed(frame)
        } else {
            // Odd frames as pitched planes, to exercise the pitch path.
            let pitch = W as usize + 64;
            let (y, uv) = frame.split_at((W * H) as usize);
            let pad = |plane: &[u8], rows: usize| -> Vec<u8> {
                plane
                    .chunks(W as usize)
                    .take(rows)
                    .flat_map(|row| row.iter().copied().chain(std::iter::repeat_n(0xAB, 64)))
                    .collect()
            };
            let (y, uv) = (pad(y, H as usize), pad(uv, H as usize / 2));
            let planes = [
                HostPlane { data: &y, pitch },
                HostPlane { data: &uv, pitch },
            ];
            let out = encoder
                .encode(InputFrame::planes(planes), i)
                .expect("encode");
            packets.extend(out);
            continue;
        };
        packets.extend(encoder.encode(frame, i).expect("encode"));
    }
    packets.extend(encoder.flush().expect("flush"));
    assert_eq!(encoder.frames_in_flight(), 0);
    check_packets(&packets, b_frames);

    let decoded = decode_all(codec, &packets);
    assert_eq!(decoded.len() as i64, FRAMES, "decoded frame count");
    for (pts, pixels) in &decoded {
        let psnr = common::psnr(&inputs[*pts as usize], pixels);
        assert!(psnr >= MIN_PSNR, "{codec} frame {pts}: PSNR {psnr:.1} dB");
    }
    eprintln!(
        "{codec} ({b_frames} B-frames): {} bytes for {FRAMES} frames, min PSNR {:.1} dB",
        packets.iter().map(|p| p.data.len()).sum::<usize>(),
        decoded
            .iter()
            .map(|(pts, px)| common::psnr(&inputs[*pts as usize], px))
            .fold(f64::INFINITY, f64::min)
    );
}

#[test]
#[ignore = "needs an NVIDIA GPU with NVENC"]
fn h264_round_trip_with_b_frames() {
    round_trip(Codec::H264, 2);
}

#[test]
#[ignore = "needs an NVIDIA GPU with NVENC"]
fn hevc_round_trip() {
    round_trip(Codec::Hevc, 0);
}

#[test]
#[ignore = "needs an NVIDIA GPU with NVENC"]
fn forced_idr_and_restart_after_flush() {
    let mut encoder =
        build(config(Codec::Hevc, 0).with_gop_length(nvcodec_guard::encode::INFINITE_GOP));
    let mut packets = Vec::new();
    for i in 0..10 {
        let frame = gradient(i);
        let input = InputFrame::packed(&frame).with_force_idr(i == 6);
        packets.extend(encoder.encode(input, i).expect("encode"));
    }
    packets.extend(encoder.flush().expect("flush"));
    let keys: Vec<i64> = packets
        .iter()
        .filter(|p| p.keyframe)
        .map(|p| p.pts)
        .collect();
    assert_eq!(keys, [0, 6]);
    // A new segment after flush starts with an IDR.
    let frame = gradient(10);
    let mut next = encoder
        .encode(InputFrame::packed(&frame), 10)
        .expect("encode");
    next.extend(encoder.flush().expect("flush"));
    assert_eq!(next.len(), 1);
    assert!(next[0].keyframe);
}

#[test]
#[ignore = "needs an NVIDIA GPU with NVENC"]
fn device_frames_from_the_decoder_are_encoded_in_place() {
    let mut stream = ElementaryStream::open(common::data("h264_640x360_b3.h264")).expect("clip");
    let mut decoder = DecoderBuilder::new(DecoderConfig::new(Codec::H264).with_max_size(W, H))
        .build()
        .expect("decoder");
    let mut encoder = build(config(Codec::Hevc, 2));
    let mut reference = BTreeMap::new();
    let mut packets = Vec::new();
    for packet in stream.packets().take(FRAMES as usize) {
        let packet = packet.expect("packet");
        for frame in decoder.decode(&packet.data, packet.pts).expect("decode") {
            let frame = frame.expect("frame");
            let on_gpu = frame.copy_to_device().expect("device copy");
            reference.insert(frame.pts(), frame.to_vec().expect("host copy"));
            let input = InputFrame::device(&on_gpu, W as usize);
            packets.extend(
                encoder
                    .encode(input, frame.pts())
                    .expect("encode device frame"),
            );
            // `on_gpu` is freed here, while NVENC may still hold the picture: the encoder
            // copied it into its own surface.
        }
    }
    packets.extend(encoder.flush().expect("flush"));
    assert_eq!(packets.len(), reference.len());
    let decoded = decode_all(Codec::Hevc, &packets);
    assert_eq!(decoded.len(), reference.len());
    for (pts, pixels) in &decoded {
        let psnr = common::psnr(&reference[pts], pixels);
        assert!(psnr >= MIN_PSNR, "frame {pts}: PSNR {psnr:.1} dB");
    }
}
