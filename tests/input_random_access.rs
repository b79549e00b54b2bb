//! Random access on the CPU: for every clip the decoder-side random access reads, the index
//! `RandomAccessSource::sample_index` gives lists every sample, its display order has exactly
//! as many frames as ffmpeg outputs (one framemd5 line each), and a seek to any sample reads
//! the very picture a whole pass reads there (the first packet after a seek may carry the
//! stream's parameter sets besides, which a decoder starting there needs). (That the frames are the right ones is checked on
//! the GPU by `gpu_random_access`.)

use std::path::{Path, PathBuf};

use nvcodec_guard::Codec;
use nvcodec_guard::decode::DisplayOrder;
use nvcodec_guard::input::{ElementaryStream, RandomAccessSource};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The packet without parameter sets (and, for HEVC, SEI, which `hvcC` also carries), as NAL
/// unit payloads (H.264/HEVC), or as it is.
fn pictures(codec: Codec, packet: &[u8]) -> Vec<Vec<u8>> {
    let parameter_set = |nal: &[u8]| match codec {
        Codec::H264 => matches!(nal.first().map(|b| b & 31), Some(7 | 8)),
        Codec::Hevc => matches!(nal.first().map(|b| (b >> 1) & 63), Some(32..=34 | 39 | 40)),
        _ => false,
    };
    if !matches!(codec, Codec::H264 | Codec::Hevc) {
        return vec![packet.to_vec()];
    }
    let mut nals = Vec::new();
    let mut rest = packet;
    while let Some(at) = rest.windows(3).position(|w| w == [0, 0, 1]) {
        rest = &rest[at + 3..];
        let end = rest
            .windows(3)
            .position(|w| w == [0, 0, 1])
            .unwrap_or(rest.len());
        let mut nal = &rest[..end];
        while let Some(shorter) = nal.strip_suffix(&[0u8][..]) {
            nal = shorter;
        }
        if !parameter_set(nal) {
            nals.push(nal.to_vec());
        }
        rest = &rest[end..];
    }
    nals
}

/// Frames ffmpeg outputs for `clip` (lines of its framemd5 reference).
fn frames_in_reference(reference: &str) -> usize {
    std::fs::read_to_string(data(reference))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count()
}

const CLIPS: [(&str, &str); 15] = [
    (
        "access/h264_bpyramid_opengop.mp4",
        "access/h264_bpyramid_opengop.mp4.nv12.framemd5",
    ),
    (
        "access/hevc_opengop.mkv",
        "access/hevc_opengop.mkv.nv12.framemd5",
    ),
    (
        "access/h264_interlaced.mkv",
        "access/h264_interlaced.mkv.nv12.framemd5",
    ),
    (
        "access/h264_reschange.mkv",
        "access/h264_reschange.mkv.nv12.framemd5",
    ),
    (
        "access/vp9_altref.webm",
        "access/vp9_altref.webm.nv12.framemd5",
    ),
    (
        "access/h264_gop30_frag.mp4",
        "access/h264_gop30_frag.mp4.nv12.framemd5",
    ),
    ("containers/h264.mp4", "containers/h264.mp4.nv12.framemd5"),
    ("containers/hevc.mkv", "containers/hevc.mkv.nv12.framemd5"),
    ("h264_640x360_b3.h264", "h264_640x360_b3.h264.framemd5"),
    ("hevc_640x360_main.hevc", "hevc_640x360_main.hevc.framemd5"),
    ("h264_reschange.h264", "h264_reschange.h264.framemd5"),
    // IVF, indexed by one scan; packets of hidden frames only get no display index.
    (
        "access/vp9_altref.ivf",
        "access/vp9_altref.ivf.nv12.framemd5",
    ),
    (
        "access/vp8_altref.ivf",
        "access/vp8_altref.ivf.nv12.framemd5",
    ),
    ("vp9_640x360_p0.ivf", "vp9_640x360_p0.ivf.framemd5"),
    ("vp8_640x360.ivf", "vp8_640x360.ivf.framemd5"),
];

#[test]
fn every_clip_indexes_every_sample_and_shows_as_many_frames_as_ffmpeg() {
    for (clip, reference) in CLIPS {
        let mut whole = ElementaryStream::open(data(clip)).unwrap();
        let mut packets = Vec::new();
        while let Some(p) = whole.next_packet().unwrap() {
            packets.push(p.data.to_vec());
        }
        let mut stream = ElementaryStream::open(data(clip)).unwrap();
        let index = stream.sample_index().unwrap().clone();
        assert_eq!(index.len(), packets.len(), "{clip}: one sample per packet");
        assert!(index.is_key(0), "{clip}: the first sample is a key frame");
        let order = DisplayOrder::new(&index).unwrap();
        assert_eq!(
            order.len(),
            frames_in_reference(reference),
            "{clip}: frames shown"
        );
        let mut buf = Vec::new();
        for s in (0..index.len())
            .rev()
            .step_by(7)
            .chain([0, index.len() - 1])
        {
            stream.seek_to_sample(s).unwrap();
            let got = stream.read_sample(&mut buf).unwrap();
            assert_eq!(got, Some(s), "{clip}: the sample read after seeking to {s}");
            // The first packet after a seek may carry the stream's parameter sets besides (a
            // decoder starting there needs them); the picture itself is unchanged.
            assert_eq!(
                pictures(stream.codec(), &buf),
                pictures(stream.codec(), &packets[s]),
                "{clip}: packet {s} after a seek"
            );
            // The packets after it follow in decode order, each naming its own sample.
            for (next, packet) in packets.iter().enumerate().skip(s + 1).take(11) {
                let got = stream.read_sample(&mut buf).unwrap();
                assert_eq!(
                    got,
                    Some(next),
                    "{clip}: sample {next}, read after a seek to {s}"
                );
                assert_eq!(
                    pictures(stream.codec(), &buf),
                    pictures(stream.codec(), packet),
                    "{clip}: packet {next} after a seek to {s}"
                );
            }
        }
    }
}

#[test]
fn vp8_alt_ref_packets_are_indexed_as_never_shown() {
    let mut stream = ElementaryStream::open(data("access/vp8_altref.ivf")).unwrap();
    let index = stream.sample_index().unwrap().clone();
    let mut hidden = Vec::new();
    let mut buf = Vec::new();
    stream.seek_to_sample(0).unwrap();
    while let Some(s) = stream.read_sample(&mut buf).unwrap() {
        // VP8's frame tag: bit 4 of the first byte is show_frame.
        if buf[0] & 0x10 == 0 {
            hidden.push(s);
        }
    }
    assert!(!hidden.is_empty(), "the clip has alt-ref packets");
    let not_shown: Vec<usize> = (0..index.len()).filter(|&s| !index.is_shown(s)).collect();
    assert_eq!(not_shown, hidden);
}

#[test]
fn vp9_superframes_with_a_hidden_frame_are_shown_frames() {
    // Every packet of the clip shows one frame (its alt-ref frames travel inside superframes
    // with a shown one), so ffmpeg's frame count equals the packet count.
    let mut stream = ElementaryStream::open(data("access/vp9_altref.webm")).unwrap();
    let index = stream.sample_index().unwrap().clone();
    assert!((0..index.len()).all(|s| index.is_shown(s)));
    // ...and it does have superframes (a last byte 0b110xxxxx), which hold the hidden frames.
    let (mut superframes, mut buf) = (0, Vec::new());
    stream.seek_to_sample(0).unwrap();
    while stream.read_sample(&mut buf).unwrap().is_some() {
        superframes += usize::from(buf.last().is_some_and(|b| b & 0xe0 == 0xc0));
    }
    assert!(superframes >= 3, "{superframes} superframes");
    assert_eq!(
        index.len(),
        frames_in_reference("access/vp9_altref.webm.nv12.framemd5")
    );
}

/// On files whose timestamps are right, the display order random access uses (the bitstream's
/// for H.264/HEVC, decode order for VP8/VP9) is the order the timestamps claim: the same
/// frames at the same indices as before it stopped trusting timestamps.
#[test]
fn on_well_muxed_clips_the_order_random_access_uses_is_the_timestamps_order() {
    for (clip, reference) in CLIPS {
        let mut stream = ElementaryStream::open(data(clip)).unwrap();
        let codec = stream.codec();
        let used = DisplayOrder::of(&mut stream, codec).unwrap();
        let index = stream.sample_index().unwrap().clone();
        let claimed = DisplayOrder::new(&index).unwrap();
        assert_eq!(used.len(), frames_in_reference(reference), "{clip}: frames");
        assert_eq!(used, claimed, "{clip}: display order");
        assert!(used.pts_follow_display(), "{clip}");
    }
}

/// Remuxes whose timestamps do not name their frames, beside the clip each comes from (same
/// bitstream, so a whole decode shows the same frames in the same order).
const REMUXES: [(&str, &str); 4] = [
    // pts = dts with B-frames: the timestamps claim decode order.
    ("access/h264_ptsdts.mp4", "access/h264_bpyramid_opengop.mp4"),
    ("access/hevc_ptsdts.mkv", "access/hevc_opengop.mkv"),
    // ctts gives pairs of frames one pts.
    (
        "access/h264_dup_pts.mp4",
        "access/h264_bpyramid_opengop.mp4",
    ),
    // Frame k at pts k/2, frame 0 at i64::MIN (the raw index's placeholder value).
    ("access/vp8_altref_pts.ivf", "access/vp8_altref.ivf"),
];

/// The picture (NAL units without parameter sets, or the frame) at each display index.
fn pictures_in_display_order(clip: &str) -> Vec<Vec<Vec<u8>>> {
    let mut stream = ElementaryStream::open(data(clip)).unwrap();
    let codec = stream.codec();
    let order = DisplayOrder::of(&mut stream, codec).unwrap();
    let mut buf = Vec::new();
    (0..order.len())
        .map(|d| {
            let sample = order.sample(d).unwrap();
            stream.seek_to_sample(sample).unwrap();
            assert_eq!(stream.read_sample(&mut buf).unwrap(), Some(sample));
            pictures(codec, &buf)
        })
        .collect()
}

#[test]
fn remuxes_whose_timestamps_mislead_address_the_frames_a_whole_decode_shows() {
    for (remux, original) in REMUXES {
        let want = pictures_in_display_order(original);
        assert_eq!(
            want.len(),
            frames_in_reference(&format!("{remux}.nv12.framemd5")),
            "{remux}: ffmpeg shows as many frames as the original"
        );
        let got = pictures_in_display_order(remux);
        assert_eq!(got.len(), want.len(), "{remux}: frames");
        for (d, (got, want)) in got.iter().zip(&want).enumerate() {
            assert!(got == want, "{remux}: the picture at display index {d}");
        }
    }
}

#[test]
fn the_timestamps_of_the_remuxes_alone_would_name_other_frames() {
    // What ordering by the files' timestamps gives: other pictures, or no order at all.
    for remux in ["access/h264_ptsdts.mp4", "access/hevc_ptsdts.mkv"] {
        let mut stream = ElementaryStream::open(data(remux)).unwrap();
        let codec = stream.codec();
        let index = stream.sample_index().unwrap().clone();
        let claimed = DisplayOrder::new(&index).unwrap();
        let used = DisplayOrder::of(&mut stream, codec).unwrap();
        let differ = (0..used.len())
            .filter(|&d| claimed.sample(d) != used.sample(d))
            .count();
        assert!(differ > used.len() / 2, "{remux}: {differ} indices differ");
        assert!(
            !used.pts_follow_display(),
            "{remux}: a time names no one frame"
        );
    }
    let mut stream = ElementaryStream::open(data("access/h264_dup_pts.mp4")).unwrap();
    let index = stream.sample_index().unwrap().clone();
    let err = DisplayOrder::for_codec(&index, Codec::H264, None).unwrap_err();
    assert!(
        matches!(err, nvcodec_guard::Error::FramesNotAddressable { .. }),
        "{err}"
    );
    // An IVF frame at i64::MIN is an ordinary, shown frame.
    let mut stream = ElementaryStream::open(data("access/vp8_altref_pts.ivf")).unwrap();
    let index = stream.sample_index().unwrap().clone();
    assert_eq!(index.pts(0), Some(i64::MIN));
    assert!(index.is_shown(0));
}
