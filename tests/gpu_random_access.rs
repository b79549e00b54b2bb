//! Exact random access on real hardware: the frame `Decoder::frames_at` hands out for display
//! index `i` is bit-exact with line `i` of ffmpeg's framemd5 of the whole file, for clips whose
//! structure breaks naive seeking (open GOP with leading pictures, B-pyramids, interlacing, a
//! resolution change, VP9 hidden frames, fragmented MP4, raw Annex-B streams, remuxes whose
//! timestamps repeat or contradict the pictures' order), for indices in any order, with
//! repeats, and through a pooled decoder; a seek by time lands on the frame shown at that
//! time, and is refused where timestamps do not follow display order.
//!
//! Run: `cargo test --release --test gpu_random_access -- --include-ignored`.

mod common;

use common::{data, md5_hex};
use nvcodec_guard::decode::{
    DecoderBuilder, DecoderConfig, DecoderPool, DecoderSpec, DeviceFramePool, DisplayOrder,
    PoolConfig, RandomAccessSource, frames_at_parallel,
};
use nvcodec_guard::input::{ElementaryStream, SampleIndex};

const CLIPS: [&str; 15] = [
    "access/h264_bpyramid_opengop.mp4",
    "access/hevc_opengop.mkv",
    "access/h264_interlaced.mkv",
    "access/h264_reschange.mkv",
    // VP9 with alt-ref (hidden) frames inside superframes, in WebM and the same packets in IVF;
    // VP8 with alt-ref frames as packets of their own, never shown; VP9 with show_existing_frame.
    "access/vp9_altref.webm",
    "access/vp9_altref.ivf",
    "access/vp8_altref.ivf",
    "vp9_640x360_p0.ivf",
    "access/h264_gop30_frag.mp4",
    // Raw streams, indexed by one scan (display ranks from picture order counts).
    "h264_640x360_b3.h264",
    "hevc_640x360_main.hevc",
    // Remuxes whose timestamps do not name the frames: pts = dts with B-frames, ctts giving
    // pairs of frames one pts, IVF frames in pairs at one pts and the first at i64::MIN.
    "access/h264_ptsdts.mp4",
    "access/hevc_ptsdts.mkv",
    "access/h264_dup_pts.mp4",
    "access/vp8_altref_pts.ivf",
];

/// The MD5 column of `clip.nv12.framemd5` (or, for the raw clips, `clip.framemd5`), in display
/// order.
fn reference(clip: &str) -> Vec<String> {
    let nv12 = data(&format!("{clip}.nv12.framemd5"));
    let path = if nv12.exists() {
        nv12
    } else {
        data(&format!("{clip}.framemd5"))
    };
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(',').nth(5).unwrap().trim().to_owned())
        .collect()
}

/// Deterministic pseudo-random indices below `n` (xorshift64*).
fn random_indices(seed: u64, count: usize, n: usize) -> Vec<usize> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..count)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
        })
        .collect()
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn frames_at_random_indices_equal_ffmpegs_frames_at_those_indices() {
    for clip in CLIPS {
        let want = reference(clip);
        let mut stream = ElementaryStream::open(data(clip)).unwrap();
        let config = DecoderConfig::new(stream.codec()).with_max_size(1920, 1088);
        let mut decoder = DecoderBuilder::new(config).build().unwrap();
        let pool = DeviceFramePool::new(decoder.context());
        let mut checked = 0;
        // Many small requests (each a seek), then one large one with repeats, in any order.
        for seed in 0..60u64 {
            let indices = random_indices(seed, 1 + (seed % 5) as usize, want.len());
            let frames = decoder.frames_at(&mut stream, &indices, &pool).unwrap();
            assert_eq!(frames.len(), indices.len(), "{clip}");
            for (&i, frame) in indices.iter().zip(&frames) {
                let got = md5_hex(&frame.to_vec().unwrap());
                assert_eq!(
                    got, want[i],
                    "{clip}: frame at display index {i} (seed {seed})"
                );
                checked += 1;
            }
        }
        let mut indices = random_indices(99, 120, want.len());
        indices.extend([0, want.len() - 1, 0]);
        let frames = decoder.frames_at(&mut stream, &indices, &pool).unwrap();
        for (&i, frame) in indices.iter().zip(&frames) {
            assert_eq!(
                md5_hex(&frame.to_vec().unwrap()),
                want[i],
                "{clip}: index {i}"
            );
            checked += 1;
        }
        eprintln!("{clip}: {checked} frames at random indices bit-exact");
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn every_frame_asked_for_one_by_one_backwards_is_exact() {
    // Backwards, one index a call: every call seeks back, the worst order for a decoder.
    for clip in [
        "access/hevc_opengop.mkv",
        "access/h264_bpyramid_opengop.mp4",
        "access/vp9_altref.ivf",
        "access/vp8_altref.ivf",
    ] {
        let want = reference(clip);
        let mut stream = ElementaryStream::open(data(clip)).unwrap();
        let index = stream.sample_index().unwrap().clone();
        let order = DisplayOrder::new(&index).unwrap();
        let mut decoder = DecoderBuilder::new(DecoderConfig::new(stream.codec()))
            .build()
            .unwrap();
        let pool = DeviceFramePool::new(decoder.context());
        for i in (0..want.len()).rev() {
            let frame = decoder
                .frames_at(&mut stream, &[i], &pool)
                .unwrap()
                .remove(0);
            assert_eq!(
                md5_hex(&frame.to_vec().unwrap()),
                want[i],
                "{clip}: index {i}"
            );
            // Named by the container's pts of the sample shown there.
            let sample = order.sample(i).unwrap();
            assert_eq!(Some(frame.pts()), index.pts(sample), "{clip}: pts of {i}");
        }
        eprintln!(
            "{clip}: all {} frames exact, asked for backwards",
            want.len()
        );
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn a_seek_by_time_lands_on_the_frame_shown_at_that_time() {
    let clip = "access/h264_bpyramid_opengop.mp4";
    let want = reference(clip);
    let mut stream = ElementaryStream::open(data(clip)).unwrap();
    let tb = stream.time_base().unwrap();
    let mut decoder = DecoderBuilder::new(DecoderConfig::new(stream.codec()))
        .build()
        .unwrap();
    let pool = DeviceFramePool::new(decoder.context());
    // 30 fps: frame i is shown from i/30 s; a seek to that time finds it exactly.
    for i in [0usize, 1, 23, 24, 25, 77, 149] {
        let ticks = (i as u64 * tb.den / (30 * tb.num)) as i64;
        let frame = decoder.frame_at_time(&mut stream, ticks, &pool).unwrap();
        assert_eq!(frame.pts(), ticks, "{clip}: the frame shown at {ticks}");
        let got = md5_hex(&frame.to_vec().unwrap());
        assert_eq!(got, want[i], "{clip}: time {ticks} should show frame {i}");
        // Just after that time, the next frame is the first shown at or after it.
        if i + 1 < want.len() {
            let frame = decoder
                .frame_at_time(&mut stream, ticks + 1, &pool)
                .unwrap();
            let got = md5_hex(&frame.to_vec().unwrap());
            assert_eq!(
                got,
                want[i + 1],
                "{clip}: time {} shows frame {}",
                ticks + 1,
                i + 1
            );
        }
    }
    let past_end = decoder.frame_at_time(&mut stream, i64::MAX, &pool);
    assert!(matches!(
        past_end,
        Err(nvcodec_guard::Error::FrameOutOfRange { .. })
    ));
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn frames_at_through_a_pooled_decoder_are_exact() {
    let pool = DecoderPool::new(PoolConfig::default());
    for clip in CLIPS {
        let want = reference(clip);
        let mut stream = ElementaryStream::open(data(clip)).unwrap();
        let mut decoder = pool
            .checkout(DecoderSpec::new(stream.codec(), 1920, 1088))
            .unwrap();
        let frames_pool = DeviceFramePool::new(decoder.context());
        let indices = random_indices(7, 16, want.len());
        let frames = decoder
            .frames_at(&mut stream, &indices, &frames_pool)
            .unwrap();
        for (&i, frame) in indices.iter().zip(&frames) {
            assert_eq!(
                md5_hex(&frame.to_vec().unwrap()),
                want[i],
                "{clip}: index {i}"
            );
        }
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn frames_at_on_several_decoders_equal_ffmpegs_frames() {
    for clip in CLIPS {
        let want = reference(clip);
        let codec = ElementaryStream::open(data(clip)).unwrap().codec();
        let mut decoders = (0..4)
            .map(|_| {
                DecoderBuilder::new(DecoderConfig::new(codec).with_max_size(1920, 1088)).build()
            })
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let pool = DeviceFramePool::new(decoders[0].context());
        let mut indices = random_indices(11, 40, want.len());
        indices.push(indices[0]);
        let open = || ElementaryStream::open(data(clip));
        let frames = frames_at_parallel(&mut decoders, open, &indices, &pool).unwrap();
        assert_eq!(frames.len(), indices.len());
        for (&i, frame) in indices.iter().zip(&frames) {
            assert_eq!(
                md5_hex(&frame.to_vec().unwrap()),
                want[i],
                "{clip}: index {i}"
            );
        }
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn frames_at_with_converts_the_frames_shown_at_those_indices() {
    use nvcodec_guard::convert::{ConvertSpec, Converter, RgbFramePool, RgbLayout, SampleType};
    use nvcodec_guard::decode::frames_at_parallel_with;
    // The reference: every frame of a whole decode, converted by the same kernel, in display
    // order. frames_at_with converts each wanted frame while it is mapped: same bytes.
    for clip in ["access/h264_bpyramid_opengop.mp4", "access/vp9_altref.ivf"] {
        let mut stream = ElementaryStream::open(data(clip)).unwrap();
        let config = DecoderConfig::new(stream.codec()).with_max_size(1920, 1088);
        let mut decoder = DecoderBuilder::new(config.clone()).build().unwrap();
        let converter = Converter::new(decoder.context()).unwrap();
        let rgb_pool = RgbFramePool::new(decoder.context());
        let spec = ConvertSpec::new(RgbLayout::Rgb, SampleType::U8);
        let rgb_md5 = |frame: &nvcodec_guard::decode::Frame<'_>| {
            let rgb = converter.convert_to_pool(frame, &spec, &rgb_pool).unwrap();
            md5_hex(&rgb.to_vec().unwrap())
        };
        let mut whole = Vec::new();
        let mut pass = ElementaryStream::open(data(clip)).unwrap();
        while let Some(packet) = pass.next_packet().unwrap() {
            for frame in decoder.decode(packet.data, packet.pts).unwrap() {
                whole.push(rgb_md5(&frame.unwrap()));
            }
        }
        for frame in decoder.flush().unwrap() {
            whole.push(rgb_md5(&frame.unwrap()));
        }
        assert_eq!(whole.len(), reference(clip).len(), "{clip}: frames");
        let indices = random_indices(11, 24, whole.len());
        let got = decoder
            .frames_at_with(&mut stream, &indices, |frame| {
                converter.convert_to_pool(frame, &spec, &rgb_pool)
            })
            .unwrap();
        for (&i, rgb) in indices.iter().zip(&got) {
            assert_eq!(
                md5_hex(&rgb.to_vec().unwrap()),
                whole[i],
                "{clip}: index {i}"
            );
        }
        let mut decoders: Vec<_> = (0..3)
            .map(|_| DecoderBuilder::new(config.clone()).build().unwrap())
            .collect();
        let got = frames_at_parallel_with(
            &mut decoders,
            || ElementaryStream::open(data(clip)),
            &indices,
            |frame| converter.convert_to_pool(frame, &spec, &rgb_pool),
        )
        .unwrap();
        for (&i, rgb) in indices.iter().zip(&got) {
            assert_eq!(
                md5_hex(&rgb.to_vec().unwrap()),
                whole[i],
                "{clip}: index {i} on 3 decoders"
            );
        }
        eprintln!("{clip}: 24 frames at random indices converted, bit-exact with a whole decode");
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn frames_at_with_hardware_resize_equals_a_whole_decode_at_that_size() {
    // NVDEC scales while it maps: frames fetched by random access from a decoder configured
    // for 160x120 output are the frames a whole decode at that size gives, byte for byte.
    for clip in ["access/hevc_opengop.mkv", "access/vp9_altref.ivf"] {
        let mut stream = ElementaryStream::open(data(clip)).unwrap();
        let config = DecoderConfig::new(stream.codec())
            .with_max_size(1920, 1088)
            .with_output_size(160, 120);
        let mut decoder = DecoderBuilder::new(config).build().unwrap();
        let pool = DeviceFramePool::new(decoder.context());
        let mut whole = Vec::new();
        let mut pass = ElementaryStream::open(data(clip)).unwrap();
        while let Some(packet) = pass.next_packet().unwrap() {
            for frame in decoder.decode(packet.data, packet.pts).unwrap() {
                whole.push(md5_hex(&frame.unwrap().to_vec().unwrap()));
            }
        }
        for frame in decoder.flush().unwrap() {
            whole.push(md5_hex(&frame.unwrap().to_vec().unwrap()));
        }
        assert_eq!(whole.len(), reference(clip).len(), "{clip}: frames");
        let indices = random_indices(5, 24, whole.len());
        let frames = decoder.frames_at(&mut stream, &indices, &pool).unwrap();
        for (&i, frame) in indices.iter().zip(&frames) {
            assert_eq!((frame.width(), frame.height()), (160, 120), "{clip}");
            assert_eq!(
                md5_hex(&frame.to_vec().unwrap()),
                whole[i],
                "{clip}: index {i}"
            );
        }
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn remuxes_whose_timestamps_mislead_give_every_frame_asked_for_backwards() {
    // Every frame, one index a call, backwards; each carries its own sample's pts, repeated
    // or not.
    for clip in [
        "access/h264_ptsdts.mp4",
        "access/hevc_ptsdts.mkv",
        "access/h264_dup_pts.mp4",
        "access/vp8_altref_pts.ivf",
    ] {
        let want = reference(clip);
        let mut stream = ElementaryStream::open(data(clip)).unwrap();
        let codec = stream.codec();
        let order = DisplayOrder::of(&mut stream, codec).unwrap();
        let index: SampleIndex = stream.sample_index().unwrap().clone();
        assert_eq!(order.len(), want.len(), "{clip}: frames");
        let mut decoder = DecoderBuilder::new(DecoderConfig::new(codec))
            .build()
            .unwrap();
        let pool = DeviceFramePool::new(decoder.context());
        for i in (0..want.len()).rev() {
            let frame = decoder
                .frames_at(&mut stream, &[i], &pool)
                .unwrap()
                .remove(0);
            assert_eq!(
                md5_hex(&frame.to_vec().unwrap()),
                want[i],
                "{clip}: index {i}"
            );
            let sample = order.sample(i).unwrap();
            assert_eq!(Some(frame.pts()), index.pts(sample), "{clip}: pts of {i}");
        }
        eprintln!(
            "{clip}: all {} frames exact, asked for backwards",
            want.len()
        );
    }
    // pts = dts: a time names no one frame there.
    let mut stream = ElementaryStream::open(data("access/h264_ptsdts.mp4")).unwrap();
    let mut decoder = DecoderBuilder::new(DecoderConfig::new(stream.codec()))
        .build()
        .unwrap();
    let pool = DeviceFramePool::new(decoder.context());
    let err = decoder.frame_at_time(&mut stream, 0, &pool).unwrap_err();
    assert!(
        matches!(err, nvcodec_guard::Error::FramesNotAddressable { .. }),
        "{err}"
    );
}
