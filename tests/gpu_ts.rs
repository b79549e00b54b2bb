//! MPEG-TS / M2TS input on real hardware: every clip of `tests/data/ts/` (made by
//! `scripts/make-ts-clips.sh`) decodes bit-exact with ffmpeg's decode of the same file (MPEG-2,
//! whose IDCT is not bit-exact across decoders: bit-exact with NVDEC's decode of the
//! elementary stream ffmpeg's demuxer takes out of the file), its frames carrying the
//! stream's pts (unwrapped past 2^33, where ffmpeg unwraps downwards);
//! and the clip with packets lost decodes to ffmpeg's frames wherever the lost packets
//! cannot reach (every group of pictures the reader handed out whole), with the losses
//! counted.
//!
//! Run: `cargo test --release --test gpu_ts -- --include-ignored`.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::{Decoded, RefFrame, assert_bit_exact, config_for, data, decode_clip, decode_stream};
use nvcodec_guard::decode::DecoderBuilder;
use nvcodec_guard::input::ElementaryStream;

/// (clip, offset of our pts from ffmpeg's).
const CLIPS: [(&str, i64); 6] = [
    ("h264_b3.ts", 0),
    ("h264_b3.m2ts", 0),
    ("hevc_main10.ts", 0),
    ("mpeg2.ts", 0),
    ("h264_wrap.ts", 1 << 33),
    ("h264_pmt.ts", 0),
];

/// ffmpeg's decoded frames of `clip`: (pts in 1/90000, frame).
fn reference(clip: &str) -> Vec<(i64, RefFrame)> {
    let text = std::fs::read_to_string(data(&format!("ts/{clip}.nv12.framemd5"))).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split(',').map(str::trim).collect();
            (
                cols[2].parse().unwrap(),
                RefFrame {
                    size: cols[4].parse().unwrap(),
                    md5: cols[5].to_owned(),
                },
            )
        })
        .collect()
}

fn decode(clip: &str) -> (ElementaryStream, Decoded) {
    let mut stream = ElementaryStream::open(data(&format!("ts/{clip}"))).unwrap();
    let mut decoder = DecoderBuilder::new(config_for(stream.codec(), &stream))
        .build()
        .unwrap();
    let mut got = Decoded::default();
    decode_stream(&mut decoder, &mut stream, false, &mut got);
    (stream, got)
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn every_ts_clip_decodes_bit_exact_with_the_streams_pts() {
    for (clip, offset) in CLIPS {
        let (stream, got) = decode(clip);
        if clip == "mpeg2.ts" {
            let (es, _decoder) = decode_clip(&format!("ts/{clip}.m2v"), None, false);
            assert_eq!(
                es.frames.len(),
                60,
                "{clip}: frames of the elementary stream"
            );
            assert_eq!(
                got.frames, es.frames,
                "{clip}: frames equal to NVDEC's decode of ffmpeg's demux"
            );
        } else {
            assert_bit_exact(&format!("ts/{clip}.nv12"), &got);
        }
        let want: Vec<i64> = reference(clip)
            .iter()
            .map(|(pts, _)| pts + offset)
            .collect();
        assert_eq!(got.pts, want, "{clip}: frame pts");
        eprintln!(
            "{clip}: {} frames bit-exact, pts {:?}.., {:?}",
            got.frames.len(),
            &got.pts[..3],
            stream.transport_stats()
        );
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn a_clip_with_lost_packets_decodes_to_ffmpegs_frames_where_no_loss_reaches() {
    let clip = "h264_lossy.ts";
    let (mut stream, got) = decode(clip);
    let stats = stream.transport_stats().unwrap();
    assert!(
        stats.gaps >= 2 && stats.dropped_access_units >= 1,
        "{stats:?}"
    );
    // Groups of pictures (key frame to key frame, decode order) the reader handed out
    // whole: as many packets as the first, which precedes every loss.
    let index = stream.build_index().unwrap();
    let mut gops: Vec<Vec<i64>> = Vec::new();
    for i in 0..index.len() {
        if index.is_key(i) || gops.is_empty() {
            gops.push(Vec::new());
        }
        gops.last_mut().unwrap().push(index.pts(i).unwrap());
    }
    let full = gops[0].len();
    let whole: Vec<i64> = gops
        .iter()
        .filter(|g| g.len() == full)
        .flatten()
        .copied()
        .collect();
    assert!(
        whole.len() >= full * 3,
        "{} whole groups",
        whole.len() / full
    );
    let ours: HashMap<i64, &RefFrame> = got.pts.iter().copied().zip(&got.frames).collect();
    let theirs: BTreeMap<i64, RefFrame> = reference(clip).into_iter().collect();
    let mut differ = Vec::new();
    for pts in &whole {
        match (ours.get(pts), theirs.get(pts)) {
            (Some(a), Some(b)) if *a == b => {}
            other => differ.push((*pts, format!("{other:?}"))),
        }
    }
    let both = ours.keys().filter(|p| theirs.contains_key(p)).count();
    let equal = ours
        .iter()
        .filter(|(p, f)| theirs.get(p) == Some(**f))
        .count();
    eprintln!(
        "{clip}: {stats:?}; we decode {} frames, ffmpeg {}; {both} at the same pts, {equal} \
         equal; {} frames in whole groups",
        got.frames.len(),
        theirs.len(),
        whole.len()
    );
    assert!(
        differ.is_empty(),
        "{clip}: frames of whole groups differ: {differ:?}"
    );
}
