//! Specifications of the sample index of raw inputs (`ElementaryStream::build_index`):
//! H.264/HEVC Annex-B streams and IVF files, which carry no index of their own.
//!
//! - Every access unit of every raw test clip is one sample, and its pts is the display rank
//!   ffmpeg gives its picture: `tests/data/CLIP.frames.csv` lists, in display order, the byte
//!   offset of the packet each frame was decoded from and its key flag, as
//!   `ffprobe -v error -select_streams v:0 -show_entries frame=pkt_pos,key_frame,pict_type
//!   -of csv=p=0 CLIP` prints them (ffmpeg 5.1).
//! - After `seek_to_sample(k)`, the next packet is the k-th packet of a whole-file pass, bytes
//!   and pts, from memory and from a file.
//! - Any bytes at all: no panic, a sample per access unit at most, display ranks that are a
//!   permutation, memory within the stated bound.

mod common;

use nvcodec_input::annexb::NOT_SHOWN;
use nvcodec_input::{Codec, ReadError};
use nvcodec_input::{ElementaryStream, FormatHint, OwnedPacket, SampleIndex, StreamFormat};
use proptest::prelude::*;

const RAW_CLIPS: [(&str, Codec); 14] = [
    // Open GOP: non-IDR I pictures with a recovery-point SEI, one leading B-frame each.
    ("index/h264_opengop.h264", Codec::H264),
    // No B-frames: pic_order_cnt_type 2.
    ("index/h264_nobframes.h264", Codec::H264),
    // Interlaced (MBAFF): frame_mbs_only_flag 0, delta_pic_order_cnt_bottom.
    ("index/h264_mbaff.h264", Codec::H264),
    // Starts at a recovery-point I picture: its leading B-frame is not output.
    ("index/h264_recovery_start.h264", Codec::H264),
    // Starts at a P picture (SPS/PPS prepended): nothing is output before the first I.
    ("index/h264_p_start.h264", Codec::H264),
    // Open GOP: CRA pictures with RASL pictures, shown mid-stream.
    ("index/hevc_opengop.hevc", Codec::Hevc),
    // Starts at a CRA: its RASL pictures are not output.
    ("index/hevc_cra_start.hevc", Codec::Hevc),
    ("h264_1920x1080.h264", Codec::H264),
    ("h264_640x360_b3.h264", Codec::H264),
    ("h264_640x364.h264", Codec::H264),
    ("h264_642x362.h264", Codec::H264),
    ("h264_reschange.h264", Codec::H264),
    ("hevc_640x360_main.hevc", Codec::Hevc),
    ("hevc_640x360_main10.hevc", Codec::Hevc),
];

const IVF_CLIPS: [&str; 5] = [
    "vp8_640x360.ivf",
    "vp9_640x360_p0.ivf",
    "vp9_640x360_p2.ivf",
    "vp9_reschange.ivf",
    "av1_320x240.ivf",
];

/// ffprobe's frames of `clip` in display order: (packet byte offset, key frame).
fn ffprobe_frames(clip: &str) -> Vec<(u64, bool)> {
    let path = common::data(&format!("{clip}.frames.csv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    text.lines()
        .map(|line| {
            let mut fields = line.split(',');
            let key = fields.next().unwrap() == "1";
            let pos = fields.next().unwrap().parse().unwrap();
            (pos, key)
        })
        .collect()
}

/// The sample whose bytes hold byte `pos`.
fn sample_at(index: &SampleIndex, pos: u64) -> Option<usize> {
    (0..index.len()).find(|&i| {
        let start = index.offset(i).unwrap();
        pos >= start && pos < start + u64::from(index.size(i).unwrap())
    })
}

fn whole_pass(bytes: &[u8], hint: FormatHint) -> Vec<OwnedPacket> {
    let mut es = ElementaryStream::from_bytes(bytes.to_vec(), hint).unwrap();
    es.packets().map(|p| p.unwrap()).collect()
}

#[test]
fn raw_clips_index_every_access_unit_with_ffmpegs_display_rank_and_key_flag() {
    for (clip, codec) in RAW_CLIPS {
        let mut es = ElementaryStream::open(common::data(clip)).unwrap();
        let packets = {
            let bytes = std::fs::read(common::data(clip)).unwrap();
            whole_pass(&bytes, FormatHint::Codec(codec))
        };
        let index = es.build_index().unwrap().clone();
        assert_eq!(
            index.len(),
            packets.len(),
            "{clip}: one sample per access unit"
        );
        let frames = ffprobe_frames(clip);
        let mut ranked = vec![false; index.len()];
        for (rank, &(pos, key)) in frames.iter().enumerate() {
            let sample = sample_at(&index, pos)
                .unwrap_or_else(|| panic!("{clip}: no sample holds byte {pos}"));
            assert_eq!(
                index.pts(sample),
                Some(rank as i64),
                "{clip}: display rank of sample {sample} (byte {pos})"
            );
            assert_eq!(
                index.is_key(sample),
                key,
                "{clip}: key flag of sample {sample}"
            );
            ranked[sample] = true;
        }
        for (sample, ranked) in ranked.iter().enumerate() {
            if !ranked {
                assert_eq!(
                    index.pts(sample),
                    Some(NOT_SHOWN),
                    "{clip}: sample {sample}"
                );
                assert!(!index.is_shown(sample), "{clip}: sample {sample} shown");
            }
        }
    }
}

#[test]
fn ivf_clips_index_every_frame_with_its_pts_and_ffmpegs_key_flag() {
    for clip in IVF_CLIPS {
        let bytes = std::fs::read(common::data(clip)).unwrap();
        let packets = whole_pass(&bytes, FormatHint::Unknown);
        let mut es = ElementaryStream::open(common::data(clip)).unwrap();
        let index = es.build_index().unwrap().clone();
        assert_eq!(index.len(), packets.len(), "{clip}");
        for (i, packet) in packets.iter().enumerate() {
            let at = index.offset(i).unwrap() as usize;
            assert_eq!(
                &bytes[at..at + index.size(i).unwrap() as usize],
                &packet.data[..]
            );
            assert!(
                pts_agree(true, index.pts(i), packet.pts),
                "{clip}: pts of frame {i}"
            );
        }
        let frames = ffprobe_frames(clip);
        assert_eq!(
            frames.len(),
            index.len(),
            "{clip}: one shown frame per IVF frame"
        );
        for (i, &(pos, key)) in frames.iter().enumerate() {
            assert_eq!(
                index.offset(i),
                Some(pos + 12),
                "{clip}: frame {i} header at {pos}"
            );
            assert_eq!(index.is_key(i), key, "{clip}: key flag of frame {i}");
        }
    }
}

/// Whether a packet's pts agrees with its sample's pts in the index: equal, or for IVF input
/// (whose packets keep the file's pts) `NOT_SHOWN` in the index for a packet of hidden
/// VP8/VP9 frames only.
fn pts_agree(ivf: bool, index_pts: Option<i64>, packet_pts: i64) -> bool {
    index_pts == Some(packet_pts) || (ivf && index_pts == Some(NOT_SHOWN))
}

/// Checks `seek_to_sample(k)` then `next_packet` against the whole-file pass, for every `k`
/// in a scrambled order, and that packets after the scan carry the index's pts.
fn check_seeks(es: &mut ElementaryStream, whole: &[OwnedPacket], what: &str) {
    let ivf = es.format() == StreamFormat::Ivf;
    let index = es.build_index().unwrap().clone();
    assert_eq!(index.len(), whole.len(), "{what}");
    let after_scan: Vec<OwnedPacket> = es.packets().map(|p| p.unwrap()).collect();
    for (i, packet) in after_scan.iter().enumerate() {
        assert_eq!(
            packet.data, whole[i].data,
            "{what}: packet {i} after the scan"
        );
        assert!(
            pts_agree(ivf, index.pts(i), packet.pts),
            "{what}: pts of packet {i}"
        );
    }
    let n = whole.len();
    for step in 0..n {
        let k = (step * 7 + 3) % n;
        es.seek_to_sample(k).unwrap();
        let packet = es.next_packet().unwrap().unwrap().to_owned_packet();
        assert_eq!(
            packet.data, whole[k].data,
            "{what}: packet after seeking to {k}"
        );
        assert!(
            pts_agree(ivf, index.pts(k), packet.pts),
            "{what}: pts after seeking to {k}"
        );
    }
    es.seek_to_sample(n - 1).unwrap();
    es.next_packet().unwrap().unwrap();
    assert!(
        es.next_packet().unwrap().is_none(),
        "{what}: the end after the last sample"
    );
    let err = es.seek_to_sample(n).unwrap_err();
    assert!(err.to_string().contains(&n.to_string()), "{err}");
    es.rewind().unwrap();
    assert_eq!(
        es.index(),
        Some(&index),
        "{what}: rewinding keeps the index"
    );
    assert_eq!(es.next_packet().unwrap().unwrap().data, &whole[0].data[..]);
}

#[test]
fn seeking_to_a_sample_gives_the_packet_a_whole_pass_gives_there() {
    for (clip, codec) in RAW_CLIPS {
        let bytes = std::fs::read(common::data(clip)).unwrap();
        let whole = whole_pass(&bytes, FormatHint::Codec(codec));
        let mut from_file = ElementaryStream::open(common::data(clip)).unwrap();
        check_seeks(&mut from_file, &whole, clip);
        let mut from_memory =
            ElementaryStream::from_bytes(bytes, FormatHint::Codec(codec)).unwrap();
        check_seeks(&mut from_memory, &whole, clip);
    }
    for clip in IVF_CLIPS {
        let bytes = std::fs::read(common::data(clip)).unwrap();
        let whole = whole_pass(&bytes, FormatHint::Unknown);
        let mut from_file = ElementaryStream::open(common::data(clip)).unwrap();
        check_seeks(&mut from_file, &whole, clip);
    }
}

#[test]
fn a_stream_that_cannot_seek_back_is_not_indexed() {
    let bytes = std::fs::read(common::data("h264_642x362.h264")).unwrap();
    let mut piped =
        ElementaryStream::from_stream(std::io::Cursor::new(bytes), FormatHint::Codec(Codec::H264))
            .unwrap();
    let err = piped.build_index().unwrap_err();
    assert!(
        matches!(
            err,
            ReadError::Input(nvcodec_input::InputError::NeedsSeek { .. })
        ),
        "{err}"
    );
    assert!(
        piped.next_packet().unwrap().is_some(),
        "the stream is still readable"
    );
}

/// What `build_index` may hold for `len` input bytes in memory: the bytes, 20 bytes a sample
/// plus 16 a picture of the scan, parameter sets, a packet buffer, slack for doubling growth.
fn bound(len: usize) -> usize {
    let samples = len / 3 + 1;
    2 * len + samples * (2 * SampleIndex::BYTES_PER_SAMPLE + 2 * 16) + (256 << 10)
}

/// Checks the invariants of an index built from arbitrary bytes.
fn check_hostile(bytes: Vec<u8>, hint: FormatHint) {
    let len = bytes.len();
    let es_bytes = bytes.clone();
    let Ok(mut es) = ElementaryStream::from_bytes(bytes, hint) else {
        return;
    };
    let Ok(index) = es.build_index() else {
        return;
    };
    let index = index.clone();
    assert!(
        index.len() <= len / 3 + 1,
        "{} samples from {len} bytes",
        index.len()
    );
    let mut ranks: Vec<i64> = (0..index.len())
        .filter_map(|i| index.pts(i))
        .filter(|&p| p != NOT_SHOWN)
        .collect();
    if hint != FormatHint::Unknown {
        ranks.sort_unstable();
        assert!(
            ranks.iter().enumerate().all(|(i, &r)| r == i as i64),
            "display ranks are not a permutation: {ranks:?}"
        );
    }
    let held = es.memory_footprint();
    assert!(
        held <= bound(len),
        "{held} bytes held for {len} input bytes"
    );
    // Seeking lands on the packet a whole pass gives at that position.
    let mut whole = ElementaryStream::from_bytes(es_bytes, hint).unwrap();
    let whole: Vec<Vec<u8>> = whole
        .packets()
        .map_while(|p| p.ok())
        .map(|p| p.data)
        .collect();
    let ivf = es.format() == StreamFormat::Ivf;
    for k in (0..index.len()).rev().step_by(3) {
        es.seek_to_sample(k).unwrap();
        let packet = es.next_packet().unwrap().unwrap();
        assert_eq!(
            Some(packet.data),
            whole.get(k).map(|d| &d[..]),
            "sample {k}"
        );
        assert!(
            pts_agree(ivf, index.pts(k), packet.pts),
            "pts of sample {k}"
        );
    }
}

/// A real clip with `edits` (position, byte) applied and cut to `cut` bytes.
fn mutated(clip: &str, edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut bytes = std::fs::read(common::data(clip)).unwrap();
    for &(at, byte) in edits {
        let at = at % bytes.len();
        bytes[at] = byte;
    }
    bytes.truncate(cut.max(1) % (bytes.len() + 1));
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_annex_b_bytes_index_without_panic_within_the_bound(
        bytes in proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1u8), Just(3u8), any::<u8>()], 0..4096),
        hevc in any::<bool>(),
    ) {
        let codec = if hevc { Codec::Hevc } else { Codec::H264 };
        check_hostile(bytes, FormatHint::Codec(codec));
    }

    #[test]
    fn mutated_clips_index_without_panic_within_the_bound(
        clip in 0usize..RAW_CLIPS.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..64),
        cut in any::<usize>(),
    ) {
        let (name, codec) = RAW_CLIPS[clip];
        check_hostile(mutated(name, &edits, cut), FormatHint::Codec(codec));
    }

    #[test]
    fn mutated_ivf_files_index_without_panic_within_the_bound(
        clip in 0usize..IVF_CLIPS.len(),
        edits in proptest::collection::vec((32usize..100_000, any::<u8>()), 0..64),
        cut in any::<usize>(),
    ) {
        check_hostile(mutated(IVF_CLIPS[clip], &edits, cut), FormatHint::Unknown);
    }
}
