//! Colour conversion on the GPU, against the CPU reference (`convert_reference`) applied to
//! the same decoded NV12 / P016 frames: `u8` within ±1, `f16`/`f32` within 1e-3 on the 0–1
//! scale, for every clip, layout and value type; batches, pitches, normalisation and the
//! stream's colour description.
//!
//! Run on a machine with an NVIDIA GPU: `cargo test --release --test gpu_convert -- --include-ignored`.

mod common;
mod convert_reference;

use common::*;
use convert_reference::{Coding, Picture, half_to_f64};
use nvcodec_guard::convert::{
    ColourRange, ConvertSpec, Converter, MatrixCoefficients, RgbBatch, RgbFramePool, RgbLayout,
    SampleType,
};
use nvcodec_guard::cuda::DeviceBuffer;
use nvcodec_guard::decode::{DecoderBuilder, Frame, PixelFormat};
use nvcodec_guard::input::ElementaryStream;

const LAYOUTS: [RgbLayout; 5] = [
    RgbLayout::Rgb,
    RgbLayout::Bgr,
    RgbLayout::Rgba,
    RgbLayout::Bgra,
    RgbLayout::PlanarRgb,
];
const SAMPLES: [SampleType; 3] = [SampleType::U8, SampleType::F16, SampleType::F32];

/// The reference's coding for a frame: the matrix the crate resolves (stated, or the
/// BT.601/BT.709 rule), the stream's range, the frame's depth and storage.
fn coding_of(frame: &Frame<'_>, spec: &ConvertSpec) -> Coding {
    let colour = frame.colour();
    let matrix = spec
        .matrix
        .or_else(|| colour.conversion_matrix(frame.stream_height()))
        .expect("a convertible matrix");
    let range = spec.range.unwrap_or(colour.range);
    let (bits, storage) = match frame.pixel_format() {
        PixelFormat::Nv12 => (8, 8),
        _ => (u32::from(frame.bit_depth()), 16),
    };
    Coding {
        matrix: matrix.code(),
        full: range == ColourRange::Full,
        bits,
        storage,
    }
}

fn reference_rgb(frame: &Frame<'_>, spec: &ConvertSpec) -> Vec<[f64; 3]> {
    let bytes = frame.to_vec().expect("frame to host");
    let bps = frame.pixel_format().bytes_per_sample();
    let picture =
        Picture::from_packed(&bytes, frame.width() as usize, frame.height() as usize, bps);
    picture.to_rgb(&coding_of(frame, spec), 0.0)
}

/// The largest difference between a packed GPU output and the reference, in output units
/// (u8: code values; floats: the normalised value), and whether alpha is exact.
fn max_error(out: &[u8], reference: &[[f64; 3]], spec: &ConvertSpec, w: usize, h: usize) -> f64 {
    let c = spec.layout.channels();
    let e = spec.sample.bytes();
    let read = |i: usize| -> f64 {
        let b = &out[i * e..(i + 1) * e];
        match spec.sample {
            SampleType::U8 => f64::from(b[0]),
            SampleType::F16 => half_to_f64(u16::from_le_bytes([b[0], b[1]])),
            SampleType::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        }
    };
    let want = |v: f64, ch: usize| -> f64 {
        match spec.sample {
            SampleType::U8 => (v * 255.0 + 0.5).floor(),
            _ => (v - f64::from(spec.mean[ch])) / f64::from(spec.std[ch]),
        }
    };
    let order: [usize; 3] = match spec.layout {
        RgbLayout::Bgr | RgbLayout::Bgra => [2, 1, 0],
        _ => [0, 1, 2],
    };
    let mut worst: f64 = 0.0;
    for y in 0..h {
        for x in 0..w {
            let rgb = reference[y * w + x];
            for ch in 0..3 {
                let index = if spec.layout.is_planar() {
                    ch * w * h + y * w + x
                } else {
                    (y * w + x) * c + order[ch]
                };
                let got = read(index);
                let diff = (got - want(rgb[ch], ch)).abs();
                // Floats compare on the 0–1 scale: scale a normalised difference back.
                let diff = match spec.sample {
                    SampleType::U8 => diff,
                    _ => diff * f64::from(spec.std[ch]).abs(),
                };
                assert!(!diff.is_nan(), "NaN at ({x}, {y})");
                worst = worst.max(diff);
            }
            if c == 4 {
                let alpha = read((y * w + x) * 4 + 3);
                let full = if spec.sample == SampleType::U8 {
                    255.0
                } else {
                    1.0
                };
                assert_eq!(alpha, full, "alpha at ({x}, {y})");
            }
        }
    }
    worst
}

fn tolerance(sample: SampleType) -> f64 {
    match sample {
        SampleType::U8 => 1.0,
        _ => 1e-3,
    }
}

/// Decodes `clip` and converts every frame with every layout × value type (rotating
/// through them, plus planar f32 and RGB u8 on every frame), checking each against the
/// reference. Returns the frames checked.
fn every_frame_matches_the_reference(clip: &str) -> usize {
    let stream = ElementaryStream::open(data(clip)).expect("open clip");
    let config = config_for(stream.codec(), &stream);
    let mut decoder = DecoderBuilder::new(config).build().expect("decoder");
    let converter = Converter::new(decoder.context()).expect("converter");
    let pool = RgbFramePool::new(decoder.context());
    let mut frames = 0usize;
    let mut worst = [0f64; 3];
    decoder
        .decode_stream(&stream, |frame| {
            let base = ConvertSpec::new(RgbLayout::Rgb, SampleType::U8);
            let reference = reference_rgb(&frame, &base);
            let rotating = (LAYOUTS[frames % 5], SAMPLES[(frames / 5) % 3]);
            let mut specs = vec![
                (RgbLayout::PlanarRgb, SampleType::F32),
                (RgbLayout::Rgb, SampleType::U8),
                rotating,
            ];
            if frames == 0 {
                specs = LAYOUTS
                    .iter()
                    .flat_map(|&l| SAMPLES.iter().map(move |&s| (l, s)))
                    .collect();
            }
            for (layout, sample) in specs {
                let spec = ConvertSpec::new(layout, sample);
                let rgb = converter.convert_to_pool(&frame, &spec, &pool)?;
                assert_eq!((rgb.width(), rgb.height()), (frame.width(), frame.height()));
                let out = rgb.to_vec()?;
                assert_eq!(out.len(), spec.packed_size(frame.width(), frame.height()));
                let err = max_error(
                    &out,
                    &reference,
                    &spec,
                    frame.width() as usize,
                    frame.height() as usize,
                );
                let slot = match sample {
                    SampleType::U8 => 0,
                    SampleType::F16 => 1,
                    SampleType::F32 => 2,
                };
                worst[slot] = worst[slot].max(err);
                assert!(
                    err <= tolerance(sample),
                    "{clip} frame {frames} {layout} {sample}: max error {err}"
                );
            }
            frames += 1;
            Ok(())
        })
        .expect("decode and convert");
    let info = decoder.stream_info().expect("stream info");
    println!(
        "{clip}: {frames} frames, {} {}-bit, colour {} -> matrix {:?}; max error u8 {} f16 {:.2e} f32 {:.2e}; pool allocated {}",
        info.pixel_format,
        info.bit_depth,
        info.colour,
        info.colour.conversion_matrix(info.display_height),
        worst[0],
        worst[1],
        worst[2],
        pool.allocated()
    );
    assert!(frames > 0, "{clip}: no frames");
    assert!(
        pool.allocated() <= 20,
        "{clip}: pool allocated {}",
        pool.allocated()
    );
    frames
}

macro_rules! clip_tests {
    ($($name:ident => $clip:literal,)*) => {$(
        #[test]
        #[ignore = "needs an NVIDIA GPU"]
        fn $name() {
            every_frame_matches_the_reference($clip);
        }
    )*};
}

clip_tests! {
    h264_b_frames_convert_like_the_reference => "h264_640x360_b3.h264",
    h264_1080p_converts_like_the_reference => "h264_1920x1080.h264",
    h264_642x362_converts_like_the_reference => "h264_642x362.h264",
    h264_640x364_converts_like_the_reference => "h264_640x364.h264",
    h264_resolution_change_converts_like_the_reference => "h264_reschange.h264",
    h264_bt709_full_range_converts_like_the_reference => "h264_320x240_bt709_full.h264",
    h264_bt601_720p_converts_like_the_reference => "h264_1280x720_bt601.h264",
    hevc_main_converts_like_the_reference => "hevc_640x360_main.hevc",
    hevc_main10_converts_like_the_reference => "hevc_640x360_main10.hevc",
    hevc_bt2020_pq_10bit_converts_like_the_reference => "hevc_320x240_bt2020_pq_10bit.hevc",
    vp8_converts_like_the_reference => "vp8_640x360.ivf",
    vp9_profile0_converts_like_the_reference => "vp9_640x360_p0.ivf",
    vp9_profile2_converts_like_the_reference => "vp9_640x360_p2.ivf",
    mpeg2_converts_like_the_reference => "mpeg2_320x176.m2v",
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn the_stream_colour_description_is_read_as_tagged() {
    let read = |clip: &str| {
        let (_, decoder) = decode_clip(clip, None, false);
        decoder.stream_info().expect("stream info").colour
    };
    let full = read("h264_320x240_bt709_full.h264");
    assert_eq!(full.to_string(), "bt709/bt709/bt709, pc");
    let sd = read("h264_1280x720_bt601.h264");
    assert_eq!(sd.to_string(), "smpte170m/smpte170m/smpte170m, tv");
    // Stated BT.601 wins over the HD rule at 720 rows.
    assert_eq!(
        sd.conversion_matrix(720),
        Some(MatrixCoefficients::Smpte170M)
    );
    let hdr = read("hevc_320x240_bt2020_pq_10bit.hevc");
    assert_eq!(hdr.to_string(), "bt2020nc/bt2020/smpte2084, tv");
    let untagged = read("h264_640x360_b3.h264");
    println!("untagged H.264 reads as {untagged}");
    assert_eq!(untagged.range, ColourRange::Limited);
    assert_eq!(
        untagged.conversion_matrix(360),
        Some(MatrixCoefficients::Smpte170M)
    );
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn normalised_planar_f32_and_overrides_match_the_reference() {
    let stream = ElementaryStream::open(data("hevc_640x360_main10.hevc")).expect("open");
    let mut decoder = DecoderBuilder::new(config_for(stream.codec(), &stream))
        .build()
        .expect("decoder");
    let converter = Converter::new(decoder.context()).expect("converter");
    let pool = RgbFramePool::new(decoder.context());
    let specs = [
        ConvertSpec::new(RgbLayout::PlanarRgb, SampleType::F32)
            .with_normalization([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ConvertSpec::new(RgbLayout::PlanarRgb, SampleType::F16)
            .with_normalization([0.5; 3], [0.5; 3]),
        ConvertSpec::new(RgbLayout::Rgb, SampleType::U8)
            .with_matrix(MatrixCoefficients::Bt2020Ncl)
            .with_range(ColourRange::Full),
        ConvertSpec::new(RgbLayout::Bgr, SampleType::F32).with_matrix(MatrixCoefficients::Bt709),
    ];
    let mut checked = 0;
    decoder
        .decode_stream(&stream, |frame| {
            for spec in &specs {
                let reference = reference_rgb(&frame, spec);
                let out = converter.convert_to_pool(&frame, spec, &pool)?.to_vec()?;
                let err = max_error(
                    &out,
                    &reference,
                    spec,
                    frame.width() as usize,
                    frame.height() as usize,
                );
                assert!(err <= tolerance(spec.sample), "{spec:?}: {err}");
                checked += 1;
            }
            Ok(())
        })
        .expect("decode");
    assert_eq!(checked, 30 * specs.len());
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn a_batch_holds_frames_of_two_streams_each_in_its_own_colours() {
    let clips = ["h264_640x360_b3.h264", "hevc_640x360_main10.hevc"];
    let mut decoders = Vec::new();
    let mut streams = Vec::new();
    for clip in clips {
        let stream = ElementaryStream::open(data(clip)).expect("open");
        decoders.push(
            DecoderBuilder::new(config_for(stream.codec(), &stream))
                .build()
                .expect("decoder"),
        );
        streams.push(stream);
    }
    let context = decoders[0].context().clone();
    assert_eq!(
        context.raw(),
        decoders[1].context().raw(),
        "shared primary context"
    );
    let converter = Converter::new(&context).expect("converter");
    const PER_STREAM: usize = 4;
    let mut batch = RgbBatch::new(
        &context,
        2 * PER_STREAM,
        640,
        360,
        RgbLayout::PlanarRgb,
        SampleType::F32,
    )
    .expect("batch");
    let spec = ConvertSpec::new(RgbLayout::PlanarRgb, SampleType::F32);
    let mut references: Vec<Vec<[f64; 3]>> = vec![Vec::new(); 2 * PER_STREAM];
    for (s, (decoder, stream)) in decoders.iter_mut().zip(&streams).enumerate() {
        let mut n = 0;
        decoder
            .decode_stream(stream, |frame| {
                if n < PER_STREAM {
                    let slot = s * PER_STREAM + n;
                    converter.convert_into_batch(&frame, &spec, &mut batch, slot)?;
                    references[slot] = reference_rgb(&frame, &spec);
                }
                n += 1;
                Ok(())
            })
            .expect("decode");
    }
    let host = batch.to_vec().expect("batch to host");
    let picture = batch.picture_size();
    assert_eq!(host.len(), picture * 2 * PER_STREAM);
    for (slot, reference) in references.iter().enumerate() {
        let err = max_error(
            &host[slot * picture..(slot + 1) * picture],
            reference,
            &spec,
            640,
            360,
        );
        assert!(err <= 1e-3, "slot {slot}: {err}");
    }
    // Out of range and wrong-size requests are refused before any launch.
    let mut decoder = DecoderBuilder::new(config_for(streams[0].codec(), &streams[0]))
        .build()
        .unwrap();
    decoder
        .decode_stream(&streams[0], |frame| {
            assert!(
                converter
                    .convert_into_batch(&frame, &spec, &mut batch, 2 * PER_STREAM)
                    .is_err()
            );
            let other = ConvertSpec::new(RgbLayout::Rgb, SampleType::F32);
            assert!(
                converter
                    .convert_into_batch(&frame, &other, &mut batch, 0)
                    .is_err()
            );
            Ok(())
        })
        .unwrap();
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn a_caller_buffer_with_a_pitch_and_an_offset_gets_exactly_the_picture() {
    let stream = ElementaryStream::open(data("h264_642x362.h264")).expect("open");
    let mut decoder = DecoderBuilder::new(config_for(stream.codec(), &stream))
        .build()
        .expect("decoder");
    let converter = Converter::new(decoder.context()).expect("converter");
    let spec = ConvertSpec::new(RgbLayout::Bgra, SampleType::U8);
    let (w, h) = (642usize, 362usize);
    let pitch = 4096usize;
    let offset = 256usize;
    let mut buffer = DeviceBuffer::alloc(decoder.context(), offset + pitch * h).expect("alloc");
    let mut first = true;
    decoder
        .decode_stream(&stream, |frame| {
            if !first {
                return Ok(());
            }
            first = false;
            // Too small by one byte: refused, nothing launched.
            let mut small = DeviceBuffer::alloc(frame.context(), pitch * (h - 1) + w * 4 - 1)?;
            assert!(
                converter
                    .convert_into(&frame, &spec, &mut small, 0, pitch)
                    .is_err()
            );
            converter.convert_into(&frame, &spec, &mut buffer, offset, pitch)?;
            let host = buffer.to_vec()?;
            let mut packed = Vec::with_capacity(w * h * 4);
            for row in 0..h {
                let start = offset + row * pitch;
                packed.extend_from_slice(&host[start..start + w * 4]);
            }
            let reference = reference_rgb(&frame, &spec);
            let err = max_error(&packed, &reference, &spec, w, h);
            assert!(err <= 1.0, "{err}");
            Ok(())
        })
        .expect("decode");
}
