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
use nvcodec_guard::Codec;
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
        PixelFormat::Nv12 | PixelFormat::Yuv444 => (8, 8),
        PixelFormat::P016 | PixelFormat::Yuv444P16 => (u32::from(frame.bit_depth()), 16),
        other => panic!("no reference conversion for {other}"),
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
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let picture = if frame.pixel_format().is_444() {
        Picture::from_packed_444(&bytes, w, h, bps)
    } else {
        Picture::from_packed(&bytes, w, h, bps)
    };
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
            other => unimplemented!("reading {other:?} samples"),
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
    let mut stream = ElementaryStream::open(data(clip)).expect("open clip");
    let config = config_for(stream.codec(), &stream);
    let mut decoder = DecoderBuilder::new(config).build().expect("decoder");
    let converter = Converter::new(decoder.context()).expect("converter");
    let pool = RgbFramePool::new(decoder.context());
    let mut frames = 0usize;
    let mut worst = [0f64; 3];
    decoder
        .decode_stream(&mut stream, |frame| {
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
                assert_eq!(
                    out.len(),
                    spec.packed_size(frame.width(), frame.height()).unwrap()
                );
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
                    other => unimplemented!("tolerance slot of {other:?}"),
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
    hevc_444_8bit_converts_without_upsampling_like_the_reference => "hevc_320x240_444.hevc",
    hevc_444_10bit_converts_without_upsampling_like_the_reference => "hevc_320x240_444_10bit.hevc",
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
    let mut stream = ElementaryStream::open(data("hevc_640x360_main10.hevc")).expect("open");
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
        .decode_stream(&mut stream, |frame| {
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
    for (s, (decoder, stream)) in decoders.iter_mut().zip(&mut streams).enumerate() {
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
    streams[0].rewind().unwrap();
    let mut decoder = DecoderBuilder::new(config_for(streams[0].codec(), &streams[0]))
        .build()
        .unwrap();
    decoder
        .decode_stream(&mut streams[0], |frame| {
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
    let mut stream = ElementaryStream::open(data("h264_642x362.h264")).expect("open");
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
        .decode_stream(&mut stream, |frame| {
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

// ---- Hardware crop and resize (NVDEC post-processing) ----

use nvcodec_guard::decode::{
    CropRect, DecoderConfig, DecoderPool, DecoderSpec, OutputGeometry, PoolConfig,
};

/// Every frame of `clip` decoded with `config`, as packed NV12 (8-bit clips only here).
fn frames_of(
    clip: &str,
    config: DecoderConfig,
) -> (Vec<(u32, u32, Vec<u8>)>, nvcodec_guard::decode::Decoder) {
    let mut stream = ElementaryStream::open(data(clip)).expect("open");
    let mut decoder = DecoderBuilder::new(config).build().expect("decoder");
    let mut out = Vec::new();
    decoder
        .decode_stream(&mut stream, |frame| {
            out.push((frame.width(), frame.height(), frame.to_vec()?));
            Ok(())
        })
        .expect("decode");
    (out, decoder)
}

fn luma_psnr(a: &[f64], b: &[f64]) -> f64 {
    let mse = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64.powi(2) / mse).log10()
    }
}

/// Software scalers of a luma plane `w × h` (row-major) to `ow × oh`.
fn scale(src: &[u8], w: usize, h: usize, ow: usize, oh: usize, filter: &str) -> Vec<f64> {
    let at = |x: i64, y: i64| {
        f64::from(src[(y.clamp(0, h as i64 - 1) as usize) * w + x.clamp(0, w as i64 - 1) as usize])
    };
    let (sx, sy) = (w as f64 / ow as f64, h as f64 / oh as f64);
    let mut out = Vec::with_capacity(ow * oh);
    for oy in 0..oh {
        for ox in 0..ow {
            let (cx, cy) = ((ox as f64 + 0.5) * sx - 0.5, (oy as f64 + 0.5) * sy - 0.5);
            let v = match filter {
                "nearest" => at(
                    ((ox as f64 + 0.5) * sx).floor() as i64,
                    ((oy as f64 + 0.5) * sy).floor() as i64,
                ),
                "bilinear" => {
                    let (x0, y0) = (cx.floor(), cy.floor());
                    let (fx, fy) = (cx - x0, cy - y0);
                    let (x0, y0) = (x0 as i64, y0 as i64);
                    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
                    let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
                    top * (1.0 - fy) + bottom * fy
                }
                _ => {
                    // area: mean of the source pixels the output pixel covers
                    let (x0, x1) = (
                        (ox as f64 * sx).floor() as i64,
                        (((ox + 1) as f64 * sx).ceil() as i64).max(1),
                    );
                    let (y0, y1) = (
                        (oy as f64 * sy).floor() as i64,
                        (((oy + 1) as f64 * sy).ceil() as i64).max(1),
                    );
                    let mut sum = 0.0;
                    let mut n = 0.0;
                    for y in y0..y1 {
                        for x in x0..x1 {
                            sum += at(x, y);
                            n += 1.0;
                        }
                    }
                    sum / n
                }
            };
            out.push(v);
        }
    }
    out
}

fn crop_luma(frame: &[u8], w: usize, rect: (usize, usize, usize, usize)) -> Vec<u8> {
    let (x, y, cw, ch) = rect;
    (0..ch)
        .flat_map(|row| {
            frame[(y + row) * w + x..(y + row) * w + x + cw]
                .iter()
                .copied()
        })
        .collect()
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn a_hardware_crop_is_the_same_pixels_at_the_same_origin() {
    let clip = "h264_640x360_b3.h264";
    let (full, _) = frames_of(
        clip,
        DecoderConfig::new(Codec::H264).with_max_size(640, 360),
    );
    let rect = CropRect::new(100, 60, 320, 200);
    let (cropped, _) = frames_of(
        clip,
        DecoderConfig::new(Codec::H264)
            .with_max_size(640, 360)
            .with_crop(rect),
    );
    assert_eq!(cropped.len(), full.len());
    for (i, ((fw, _, f), (cw, ch, c))) in full.iter().zip(&cropped).enumerate() {
        assert_eq!((*cw, *ch), (320, 200), "frame {i} size");
        let got = &c[..320 * 200];
        // Where in the full frame do these pixels come from? Search ±4 px.
        let mut best = (f64::NEG_INFINITY, 0i64, 0i64);
        for dy in -4i64..=4 {
            for dx in -4i64..=4 {
                let want = crop_luma(
                    f,
                    *fw as usize,
                    ((100 + dx) as usize, (60 + dy) as usize, 320, 200),
                );
                let p = luma_psnr(
                    &want.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
                    &got.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
                );
                if p > best.0 {
                    best = (p, dx, dy);
                }
            }
        }
        if i == 0 {
            println!(
                "crop 320x200 at (100, 60): best match at offset ({}, {}), luma PSNR {:.1} dB",
                best.1, best.2, best.0
            );
        }
        assert_eq!(
            (best.1, best.2),
            (0, 0),
            "frame {i}: crop origin off by ({}, {})",
            best.1,
            best.2
        );
        assert!(
            best.0.is_infinite(),
            "frame {i}: cropped luma differs (PSNR {:.1} dB)",
            best.0
        );
        // Chroma: rows of the cropped UV plane equal the full frame's at (50, 30) in UV pairs.
        let full_uv = &f[640 * 360..];
        let crop_uv = &c[320 * 200..];
        for row in 0..100 {
            let want = &full_uv[(30 + row) * 640 + 100..(30 + row) * 640 + 100 + 320];
            assert_eq!(
                &crop_uv[row * 320..row * 320 + 320],
                want,
                "frame {i} chroma row {row}"
            );
        }
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn hardware_scaling_gives_the_exact_size_and_compares_with_a_software_scale() {
    let clip = "h264_1920x1080.h264";
    let (full, _) = frames_of(clip, DecoderConfig::new(Codec::H264));
    let cases = [
        (
            "1080p -> 640x360",
            OutputGeometry::new().with_size(640, 360),
            (0, 0, 1920, 1080),
            (640, 360),
        ),
        (
            "1080p centre 1080x1080 -> 224x224",
            OutputGeometry::new()
                .with_crop(CropRect::new(420, 0, 1080, 1080))
                .with_size(224, 224),
            (420, 0, 1080, 1080),
            (224, 224),
        ),
    ];
    for (name, output, rect, (ow, oh)) in cases {
        let mut config = DecoderConfig::new(Codec::H264);
        config.output = output;
        let (scaled, decoder) = frames_of(clip, config);
        let info = decoder.stream_info().unwrap();
        assert_eq!(
            (info.display_width, info.display_height),
            (1920, 1080),
            "stream info stays the stream's"
        );
        assert_eq!(scaled.len(), full.len());
        let mut psnr = std::collections::BTreeMap::new();
        for ((_, _, f), (w, h, s)) in full.iter().zip(&scaled) {
            assert_eq!((*w, *h), (ow, oh), "{name}: frame size");
            assert_eq!(s.len(), (ow * oh * 3 / 2) as usize);
            let src = crop_luma(f, 1920, rect);
            let got: Vec<f64> = s[..(ow * oh) as usize]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            for filter in ["nearest", "bilinear", "area"] {
                let want = scale(&src, rect.2, rect.3, ow as usize, oh as usize, filter);
                *psnr.entry(filter).or_insert(f64::INFINITY) =
                    luma_psnr(&want, &got).min(psnr.get(filter).copied().unwrap_or(f64::INFINITY));
            }
        }
        println!(
            "{name}: lowest luma PSNR over {} frames vs software scale: {psnr:?}",
            full.len()
        );
        let best = psnr.values().cloned().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            best >= 30.0,
            "{name}: NVDEC's scale is far from every software filter: {psnr:?}"
        );
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn a_pooled_decoder_changes_its_output_geometry_between_streams_by_reconfiguring() {
    let pool = DecoderPool::new(PoolConfig::default().with_max_total(1));
    let clip = "h264_640x360_b3.h264";
    let mut stream = ElementaryStream::open(data(clip)).expect("open");
    let small = DecoderSpec::new(Codec::H264, 640, 360)
        .with_output(OutputGeometry::new().with_size(320, 180));
    {
        let mut decoder = pool.checkout(small).expect("checkout");
        let mut sizes = Vec::new();
        decoder
            .decode_stream(&mut stream, |f| {
                sizes.push((f.width(), f.height()));
                Ok(())
            })
            .unwrap();
        assert!(
            !sizes.is_empty() && sizes.iter().all(|&s| s == (320, 180)),
            "{sizes:?}"
        );
    }
    let mut decoder = pool
        .checkout(DecoderSpec::new(Codec::H264, 640, 360))
        .expect("checkout");
    let before = decoder.stats().reconfigurations;
    let mut got = Decoded::default();
    decode_stream(&mut decoder, &mut stream, false, &mut got);
    assert!(got.sizes.iter().all(|&s| s == (640, 360)));
    assert_bit_exact(clip, &got);
    assert!(
        decoder.stats().reconfigurations > before,
        "the output change went through cuvidReconfigureDecoder"
    );
    assert_eq!(pool.stats().creations, 1, "one decoder served both streams");
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn scaled_frames_convert_like_the_reference_too() {
    let mut stream = ElementaryStream::open(data("h264_1920x1080.h264")).expect("open");
    let config = DecoderConfig::new(Codec::H264).with_output_size(640, 360);
    let mut decoder = DecoderBuilder::new(config).build().expect("decoder");
    let converter = Converter::new(decoder.context()).expect("converter");
    let pool = RgbFramePool::new(decoder.context());
    let spec = ConvertSpec::new(RgbLayout::PlanarRgb, SampleType::F32);
    decoder
        .decode_stream(&mut stream, |frame| {
            assert_eq!(
                (frame.width(), frame.height(), frame.stream_height()),
                (640, 360, 1080)
            );
            // The matrix follows the stream's 1080 rows (BT.709), not the 360-row output.
            assert_eq!(coding_of(&frame, &spec).matrix, 1);
            let reference = reference_rgb(&frame, &spec);
            let out = converter.convert_to_pool(&frame, &spec, &pool)?.to_vec()?;
            assert!(max_error(&out, &reference, &spec, 640, 360) <= 1e-3);
            Ok(())
        })
        .expect("decode");
}

// ---- 4:4:4 decoding ----

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn hevc_444_8bit_decodes_to_yuv444_bit_exact() {
    let clip = "hevc_320x240_444.hevc";
    let (got, decoder) = decode_clip(clip, None, false);
    let info = decoder.stream_info().expect("stream info");
    assert_eq!(
        (info.pixel_format, info.bit_depth),
        (PixelFormat::Yuv444, 8)
    );
    assert!(got.sizes.iter().all(|&s| s == (320, 240)));
    assert_bit_exact(clip, &got); // ffmpeg -pix_fmt yuv444p
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn hevc_444_10bit_decodes_to_yuv444_16bit_with_samples_in_the_high_bits_bit_exact() {
    let clip = "hevc_320x240_444_10bit.hevc";
    let (got, decoder) = decode_clip(clip, None, true);
    let info = decoder.stream_info().expect("stream info");
    assert_eq!(
        (info.pixel_format, info.bit_depth),
        (PixelFormat::Yuv444P16, 10)
    );
    // ffmpeg's reference is yuv444p10le (value in the low bits): shift ours down by 6, and
    // require the 6 low bits to be zero (NVDEC's YUV444_16Bit, like P016).
    let shifted = Decoded {
        frames: got
            .pixels
            .iter()
            .map(|bytes| {
                let low: Vec<u8> = bytes
                    .chunks_exact(2)
                    .flat_map(|s| {
                        let v = u16::from_le_bytes([s[0], s[1]]);
                        assert_eq!(v & 0x3f, 0, "a sample with low bits set: {v:#x}");
                        (v >> 6).to_le_bytes()
                    })
                    .collect();
                RefFrame {
                    size: low.len(),
                    md5: md5_hex(&low),
                }
            })
            .collect(),
        ..Decoded::default()
    };
    assert_bit_exact(clip, &shifted);
}

// ---- SEI with the frame (written, not yet run on a GPU) ----

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn hdr10_and_user_data_sei_arrive_with_the_first_displayed_frame() {
    use nvcodec_guard::decode::SEI_MASTERING_DISPLAY;
    let read = |clip: &str, sei: bool| {
        let mut stream = ElementaryStream::open(data(clip)).expect("open");
        let config = config_for(stream.codec(), &stream).with_sei(sei);
        let mut decoder = DecoderBuilder::new(config).build().expect("decoder");
        let mut per_frame = Vec::new();
        decoder
            .decode_stream(&mut stream, |frame| {
                per_frame.push(frame.sei().to_vec());
                Ok(())
            })
            .expect("decode");
        assert_eq!(decoder.stats().sei_dropped, 0);
        per_frame
    };
    let hdr = read("hevc_320x240_hdr10_sei.hevc", true);
    assert_eq!(hdr.len(), 5);
    let first = &hdr[0];
    println!(
        "HDR10 clip, first frame SEI types: {:?}",
        first.iter().map(|m| m.payload_type()).collect::<Vec<_>>()
    );
    let md = first
        .iter()
        .find_map(|m| m.mastering_display())
        .expect("mastering display SEI");
    assert_eq!(md.primaries, [(13250, 34500), (7500, 3000), (34000, 16000)]);
    assert_eq!(md.white_point, (15635, 16450));
    assert_eq!((md.max_luminance, md.min_luminance), (10_000_000, 1));
    let cll = first
        .iter()
        .find_map(|m| m.content_light_level())
        .expect("light level SEI");
    assert_eq!((cll.max_content, cll.max_frame_average), (1000, 400));
    assert!(
        hdr[1..]
            .iter()
            .all(|f| f.iter().all(|m| m.payload_type() != SEI_MASTERING_DISPLAY)),
        "mastering display SEI only on the IDR it came with"
    );
    // x264 writes its version as user data (UUID dc45e9bd-e6d9-48b7-962c-d820d923eeef) in
    // the first access unit only.
    let h264 = read("h264_640x360_b3.h264", true);
    let (uuid, text) = h264[0]
        .iter()
        .find_map(|m| m.user_data_unregistered().map(|(u, t)| (u, t.to_vec())))
        .expect("x264 user data");
    assert_eq!(uuid[..4], [0xdc, 0x45, 0xe9, 0xbd]);
    assert!(
        text.starts_with(b"x264 - core"),
        "{:?}",
        String::from_utf8_lossy(&text[..20])
    );
    assert!(
        h264[1..]
            .iter()
            .all(|f| f.iter().all(|m| m.user_data_unregistered().is_none()))
    );
    // Off by default: no messages.
    assert!(
        read("hevc_320x240_hdr10_sei.hevc", false)
            .iter()
            .all(Vec::is_empty)
    );
}
