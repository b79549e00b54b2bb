//! NVDEC decoding, proven on the GPU: every frame of every clip equals ffmpeg's software
//! decode (MPEG-2: PSNR ≥ 50 dB, since its IDCT is not bit-exact by standard).
//!
//! Run on a machine with an NVIDIA GPU: `cargo test --test gpu_decode -- --include-ignored`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig, PixelFormat};
use nvcodec_guard::init::{CudaInitGuard, init_lock_stats};
use nvcodec_guard::input::ElementaryStream;
use nvcodec_guard::{Codec, Error};

fn bit_exact(clip: &str) {
    let (got, decoder) = decode_clip(clip, None, false);
    assert_bit_exact(clip, &got);
    assert!(init_lock_stats().max_concurrent_windows <= 1);
    drop(decoder);
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn h264_with_b_frames_is_bit_exact() {
    bit_exact("h264_640x360_b3.h264");
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn h264_1080p_is_cropped_from_1088_and_bit_exact() {
    let (got, _decoder) = decode_clip("h264_1920x1080.h264", None, false);
    assert!(
        got.sizes.iter().all(|&s| s == (1920, 1080)),
        "{:?}",
        got.sizes
    );
    assert_bit_exact("h264_1920x1080.h264", &got);
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn h264_size_not_a_multiple_of_16_is_bit_exact() {
    let (got, _decoder) = decode_clip("h264_642x362.h264", None, false);
    assert!(
        got.sizes.iter().all(|&s| s == (642, 362)),
        "{:?}",
        got.sizes
    );
    assert_bit_exact("h264_642x362.h264", &got);
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn hevc_8bit_is_bit_exact() {
    bit_exact("hevc_640x360_main.hevc");
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn hevc_10bit_is_bit_exact_as_p016() {
    // Built for 8-bit: the first sequence header re-creates the decoder for 10-bit.
    let (got, decoder) = decode_clip("hevc_640x360_main10.hevc", None, false);
    assert_bit_exact("hevc_640x360_main10.hevc", &got);
    assert_eq!(decoder.stats().recreations, 1, "{:?}", decoder.stats());
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn hevc_10bit_configured_up_front_needs_no_recreation() {
    let config = DecoderConfig::new(Codec::Hevc)
        .with_max_size(640, 360)
        .with_bit_depth(10);
    let (got, decoder) = decode_clip("hevc_640x360_main10.hevc", Some(config), false);
    assert_bit_exact("hevc_640x360_main10.hevc", &got);
    assert_eq!(decoder.stats().recreations, 0, "{:?}", decoder.stats());
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn vp8_is_bit_exact() {
    bit_exact("vp8_640x360.ivf");
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn vp9_8bit_with_hidden_frames_is_bit_exact() {
    bit_exact("vp9_640x360_p0.ivf");
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn vp9_10bit_is_bit_exact_as_p016() {
    let config = DecoderConfig::new(Codec::Vp9)
        .with_max_size(640, 360)
        .with_bit_depth(10);
    let (got, _decoder) = decode_clip("vp9_640x360_p2.ivf", Some(config), false);
    assert_bit_exact("vp9_640x360_p2.ivf", &got);
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn mpeg2_is_within_50_db_of_ffmpeg() {
    let (got, _decoder) = decode_clip("mpeg2_320x176.m2v", None, true);
    let reference = std::fs::read(data("mpeg2_320x176.nv12")).unwrap();
    let frame_bytes = 320 * 176 * 3 / 2;
    assert_eq!(
        got.pixels.len(),
        reference.len() / frame_bytes,
        "frame count"
    );
    for (i, (ours, theirs)) in got
        .pixels
        .iter()
        .zip(reference.chunks(frame_bytes))
        .enumerate()
    {
        let db = psnr(ours, theirs);
        assert!(db >= 50.0, "frame {i}: PSNR {db:.2} dB < 50");
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn resolution_changes_reconfigure_down_and_recreate_up() {
    // Max 640x360: 320x180 fits (reconfigure, no lock), 1280x720 does not (re-create in
    // a run-time init window).
    let before = init_lock_stats().windows_opened;
    let config = DecoderConfig::new(Codec::H264).with_max_size(640, 360);
    let (got, decoder) = decode_clip("h264_reschange.h264", Some(config), false);
    assert_bit_exact("h264_reschange.h264", &got);
    let sizes: Vec<(u32, u32)> = got.sizes.to_vec();
    assert_eq!(&sizes[..10], &[(640, 360); 10]);
    assert_eq!(&sizes[10..20], &[(320, 180); 10]);
    assert_eq!(&sizes[20..30], &[(1280, 720); 10]);
    assert_eq!(&sizes[30..], &[(640, 360); 5]);
    let stats = decoder.stats();
    assert_eq!(stats.recreations, 1, "{stats:?}");
    assert!(stats.reconfigurations >= 2, "{stats:?}");
    assert!(
        init_lock_stats().windows_opened >= before + 2,
        "build + re-creation windows"
    );
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn vp9_resolution_changes_are_bit_exact() {
    let config = DecoderConfig::new(Codec::Vp9).with_max_size(640, 360);
    let (got, decoder) = decode_clip("vp9_reschange.ivf", Some(config), false);
    assert_bit_exact("vp9_reschange.ivf", &got);
    assert!(decoder.stats().recreations >= 1, "{:?}", decoder.stats());
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn av1_is_reported_unsupported_on_a_gpu_without_av1_decode() {
    // Some data-centre GPUs have no AV1 NVDEC. On GPUs that have it this test decodes
    // instead, and checks the frame count, so it verifies something either way.
    let started = Instant::now();
    let result =
        DecoderBuilder::new(DecoderConfig::new(Codec::Av1).with_max_size(320, 240)).build();
    match result {
        Err(Error::Unsupported { what, supported }) => {
            assert!(what.contains("av1"), "{what}");
            assert!(supported.contains("h264"), "{supported}");
            assert!(started.elapsed() < Duration::from_secs(5));
            eprintln!("AV1 unsupported as expected: {what}; supported: {supported}");
        }
        Ok(mut decoder) => {
            let mut stream = ElementaryStream::open(data("av1_320x240.ivf")).unwrap();
            let mut out = Decoded::default();
            decode_stream(&mut decoder, &mut stream, false, &mut out);
            assert_eq!(out.frames.len(), 10);
        }
        Err(other) => panic!("expected Unsupported, got {other}"),
    }
    // The lock is free afterwards.
    let guard = CudaInitGuard::acquire_timeout(Duration::from_secs(1)).expect("lock free");
    drop(guard);
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn frames_are_zero_copy_and_device_copies_match_host_copies() {
    let mut stream = ElementaryStream::open(data("h264_640x360_b3.h264")).unwrap();
    let mut decoder = DecoderBuilder::new(config_for(Codec::H264, &stream))
        .build()
        .unwrap();
    let want = framemd5("h264_640x360_b3.h264");
    let mut n = 0;
    for packet in stream.packets() {
        let packet = packet.unwrap();
        for frame in decoder.decode(&packet.data, packet.pts).unwrap() {
            let frame = frame.unwrap();
            assert!(frame.is_zero_copy());
            assert_eq!(frame.pixel_format(), PixelFormat::Nv12);
            assert!(frame.pitch() >= 640);
            assert!(frame.chroma_offset() >= frame.pitch() * 360);
            let owned = frame.copy_to_device().unwrap();
            assert_eq!(md5_hex(&owned.to_vec().unwrap()), want[n].md5);
            n += 1;
        }
    }
    for frame in decoder.flush().unwrap() {
        let _ = frame.unwrap();
        n += 1;
    }
    assert_eq!(n, want.len());
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn a_decoder_decodes_a_second_stream_after_flush() {
    let mut stream = ElementaryStream::open(data("h264_640x360_b3.h264")).unwrap();
    let mut decoder = DecoderBuilder::new(config_for(Codec::H264, &stream))
        .build()
        .unwrap();
    for _ in 0..2 {
        let mut out = Decoded::default();
        decode_stream(&mut decoder, &mut stream, false, &mut out);
        assert_bit_exact("h264_640x360_b3.h264", &out);
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn frames_left_queued_survive_surface_reuse_and_stay_in_order() {
    // Take no frames until the end: the decoder must copy queued frames out before their
    // surfaces are decoded into again, and still deliver every frame bit-exact.
    let mut stream = ElementaryStream::open(data("h264_640x360_b3.h264")).unwrap();
    let mut decoder = DecoderBuilder::new(config_for(Codec::H264, &stream))
        .build()
        .unwrap();
    // Take nothing until the decoder refuses more input (MAX_QUEUED_FRAMES), then take the
    // queue and go on.
    let mut out = Decoded::default();
    let mut refusals = 0;
    for packet in stream.packets() {
        let packet = packet.unwrap();
        loop {
            match decoder.decode(&packet.data, packet.pts) {
                Ok(_untaken) => break,
                Err(nvcodec_guard::Error::FramesNotTaken { queued }) => {
                    assert_eq!(queued, nvcodec_guard::decode::MAX_QUEUED_FRAMES);
                    refusals += 1;
                    for frame in decoder.take_queued() {
                        let bytes = frame.unwrap().to_vec().unwrap();
                        out.frames.push(RefFrame {
                            size: bytes.len(),
                            md5: md5_hex(&bytes),
                        });
                    }
                }
                Err(other) => panic!("decode: {other}"),
            }
        }
    }
    assert!(refusals >= 1, "60 frames queued: refused at 32");
    for frame in decoder.flush().unwrap() {
        let frame = frame.unwrap();
        let bytes = frame.to_vec().unwrap();
        out.frames.push(RefFrame {
            size: bytes.len(),
            md5: md5_hex(&bytes),
        });
    }
    assert_bit_exact("h264_640x360_b3.h264", &out);
    assert!(
        decoder.stats().materialized_frames > 0,
        "{:?}",
        decoder.stats()
    );
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn mapping_more_frames_than_output_surfaces_is_an_error_not_a_hang() {
    // A display delay of 4 leaves several frames in decode surfaces at the flush; taking
    // them without dropping maps one output surface each.
    let mut stream = ElementaryStream::open(data("h264_640x360_b3.h264")).unwrap();
    let config = config_for(Codec::H264, &stream)
        .with_output_surfaces(2)
        .with_display_delay(4);
    let mut decoder = DecoderBuilder::new(config).build().unwrap();
    for packet in stream.packets() {
        let packet = packet.unwrap();
        for frame in decoder.decode(&packet.data, packet.pts).unwrap() {
            drop(frame.unwrap());
        }
    }
    let mut frames = decoder.flush().unwrap();
    assert!(
        frames.remaining() >= 3,
        "need 3 queued frames, have {}",
        frames.remaining()
    );
    let a = frames.next().unwrap().unwrap();
    let b = frames.next().unwrap().unwrap();
    assert!(a.is_zero_copy() && b.is_zero_copy());
    match frames.next() {
        Some(Err(Error::TooManyMappedFrames {
            mapped: 2,
            surfaces: 2,
        })) => {}
        other => panic!("expected TooManyMappedFrames, got {other:?}"),
    }
    assert!(
        frames.next().is_none(),
        "the iterator ends after that error"
    );
    let left = frames.remaining();
    drop((a, b));
    assert_eq!(decoder.queued_frames(), left, "the frame stayed queued");
    let rest = decoder
        .decode(&[], 0)
        .unwrap()
        .map(|f| f.map(drop))
        .collect::<Result<Vec<()>, _>>()
        .unwrap();
    assert_eq!(rest.len(), left, "and comes with the next call");
}
