//! MPEG-TS / M2TS input against ffmpeg's demux of the same files (`tests/data/ts/`, made by
//! `scripts/make-ts-clips.sh`): the same access units, byte for byte, with the same pts
//! (unwrapped past 2^33), from a file, a plain `Read`, a `LiveStream` fed in any chunks,
//! and after `build_index`; PMT changes followed; losses counted and no torn access unit
//! handed out.

mod common;

use std::collections::HashMap;

use md5::{Digest, Md5};
use nvcodec_input::{
    Codec, ElementaryStream, FormatHint, InputError, LiveStream, OwnedPacket, ReadError,
    StreamFormat, TsSelect,
};

/// One packet line of ffmpeg's `-c:v copy -f framemd5`: (dts, pts, size, md5).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RefPacket {
    pts: i64,
    size: usize,
    md5: String,
}

fn reference(clip: &str) -> Vec<RefPacket> {
    let text = std::fs::read_to_string(common::data(&format!("ts/{clip}.framemd5"))).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split(',').map(str::trim).collect();
            RefPacket {
                pts: cols[2].parse().unwrap(),
                size: cols[4].parse().unwrap(),
                md5: cols[5].to_owned(),
            }
        })
        .collect()
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn as_ref_packets(packets: &[OwnedPacket]) -> Vec<RefPacket> {
    packets
        .iter()
        .map(|p| RefPacket {
            pts: p.pts,
            size: p.data.len(),
            md5: md5_hex(&p.data),
        })
        .collect()
}

/// Our packets as ffmpeg's HEVC parser cuts them: it ends an access unit at the next one's
/// `00 00 01`, so the zero byte of a 4-byte start code stays with the access unit before
/// (ours keeps the start code whole, as the Annex-B reader does). The bytes are the same.
fn as_ffmpeg_hevc(packets: &[OwnedPacket]) -> Vec<OwnedPacket> {
    let mut out: Vec<OwnedPacket> = packets.to_vec();
    for i in 1..out.len() {
        if out[i].data.starts_with(&[0, 0, 0, 1]) {
            out[i].data.remove(0);
            out[i - 1].data.push(0);
        }
    }
    out
}

fn read_all(stream: &mut ElementaryStream) -> Vec<OwnedPacket> {
    stream.packets().map(|p| p.unwrap()).collect()
}

fn clip_path(clip: &str) -> std::path::PathBuf {
    common::data(&format!("ts/{clip}"))
}

/// (clip, codec, pts offset from ffmpeg's: ffmpeg unwraps a wrapping PTS downwards, we
/// upwards).
const CLIPS: [(&str, Codec, i64); 6] = [
    ("h264_b3.ts", Codec::H264, 0),
    ("h264_b3.m2ts", Codec::H264, 0),
    ("hevc_main10.ts", Codec::Hevc, 0),
    ("mpeg2.ts", Codec::Mpeg2, 0),
    ("h264_wrap.ts", Codec::H264, 1 << 33),
    ("h264_pmt.ts", Codec::H264, 0),
];

#[test]
fn every_clip_gives_ffmpegs_packets_and_pts() {
    for (clip, codec, offset) in CLIPS {
        let mut stream = ElementaryStream::open(clip_path(clip)).unwrap();
        assert_eq!(stream.format(), StreamFormat::MpegTs, "{clip}");
        assert_eq!(stream.codec(), codec, "{clip}");
        assert_eq!(
            stream.time_base().map(|r| (r.num, r.den)),
            Some((1, 90_000))
        );
        let mut packets = read_all(&mut stream);
        if codec == Codec::Hevc {
            packets = as_ffmpeg_hevc(&packets);
        }
        let got = as_ref_packets(&packets);
        let want: Vec<RefPacket> = reference(clip)
            .into_iter()
            .map(|p| RefPacket {
                pts: p.pts + offset,
                ..p
            })
            .collect();
        assert_eq!(got.len(), want.len(), "{clip}: packet count");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{clip}: packet {i}");
        }
        let stats = stream.transport_stats().unwrap();
        assert_eq!(
            (stats.gaps, stats.lost_packets, stats.dropped_access_units),
            (0, 0, 0),
            "{clip}: {stats:?}"
        );
    }
}

#[test]
fn a_wrapping_pts_keeps_increasing_past_two_to_the_33() {
    let mut stream = ElementaryStream::open(clip_path("h264_wrap.ts")).unwrap();
    let mut pts: Vec<i64> = read_all(&mut stream).iter().map(|p| p.pts).collect();
    assert!(
        pts[0] < 1 << 33 && *pts.last().unwrap() > 1 << 33,
        "{pts:?}"
    );
    pts.sort_unstable();
    assert!(pts.windows(2).all(|w| w[1] - w[0] == 3000), "{pts:?}");
}

#[test]
fn a_pmt_change_moves_to_the_new_pid_and_is_counted() {
    let mut stream = ElementaryStream::open(clip_path("h264_pmt.ts")).unwrap();
    assert_eq!(stream.container().unwrap().track_id, 0x100);
    let packets = read_all(&mut stream);
    assert_eq!(packets.len(), 120);
    assert_eq!(stream.container().unwrap().track_id, 0x200);
    assert_eq!(stream.transport_stats().unwrap().pmt_changes, 1);
}

#[test]
fn reading_from_a_pipe_or_live_chunks_gives_the_same_packets() {
    for (clip, _, _) in CLIPS {
        let bytes = std::fs::read(clip_path(clip)).unwrap();
        let whole = read_all(&mut ElementaryStream::open(clip_path(clip)).unwrap());
        let mut piped =
            ElementaryStream::from_stream(std::io::Cursor::new(bytes.clone()), FormatHint::Unknown)
                .unwrap();
        assert_eq!(read_all(&mut piped), whole, "{clip}: from a Read");
        for chunk in [1, 7, 188, 1316, 5000] {
            let mut live = LiveStream::new(FormatHint::Unknown);
            let mut got = Vec::new();
            for piece in bytes.chunks(chunk) {
                live.feed(piece).unwrap();
                while let Some(p) = live.next_packet().unwrap() {
                    got.push(p.to_owned_packet());
                }
            }
            live.finish();
            while let Some(p) = live.next_packet().unwrap() {
                got.push(p.to_owned_packet());
            }
            assert!(live.is_ended());
            assert_eq!(got, whole, "{clip}: live in chunks of {chunk}");
        }
    }
}

#[test]
fn the_index_has_every_access_unit_and_seeks_land_on_them() {
    for (clip, _, _) in CLIPS {
        let mut stream = ElementaryStream::open(clip_path(clip)).unwrap();
        let whole = read_all(&mut stream);
        let index = stream.build_index().unwrap().clone();
        assert_eq!(index.len(), whole.len(), "{clip}");
        for (i, p) in whole.iter().enumerate() {
            assert_eq!(index.pts(i), Some(p.pts), "{clip}: sample {i}");
            assert_eq!(
                index.size(i),
                Some(p.data.len() as u32),
                "{clip}: sample {i}"
            );
        }
        assert!(
            index.is_key(0),
            "{clip}: the first access unit is a key frame"
        );
        let keys = (0..index.len()).filter(|&i| index.is_key(i)).count();
        assert!(keys >= 2, "{clip}: {keys} key frames");
        // After the scan the stream is at its first packet again.
        assert_eq!(read_all(&mut stream), whole, "{clip}: after build_index");
        for sample in [whole.len() - 1, whole.len() / 2, 1, 0] {
            stream.seek_to_sample(sample).unwrap();
            let rest = read_all(&mut stream);
            assert_eq!(rest, whole[sample..], "{clip}: from sample {sample}");
        }
    }
}

#[test]
fn packets_lost_are_counted_and_no_torn_access_unit_comes_out() {
    let clip = "h264_lossy.ts";
    let mut stream = ElementaryStream::open(clip_path(clip)).unwrap();
    let got = read_all(&mut stream);
    let stats = stream.transport_stats().unwrap();
    // "packet-number PID" of each packet the script deleted; the video is on PID 256.
    let video_lost = std::fs::read_to_string(clip_path("h264_lossy.ts.dropped"))
        .unwrap()
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("256"))
        .count() as u64;
    eprintln!("{clip}: {} packets, {stats:?}", got.len());
    // Each deleted video packet is one counter gap of one packet.
    assert!(video_lost >= 2);
    assert_eq!(stats.lost_packets, video_lost, "{stats:?}");
    assert_eq!(stats.gaps, video_lost, "{stats:?}");
    assert!(stats.dropped_access_units >= 1, "{stats:?}");
    // Each packet handed out is an access unit ffmpeg's demux of the same file gives
    // intact: same pts and bytes, for the pts where ffmpeg's is undamaged (ffmpeg hands
    // torn ones out; those are the ones we drop).
    let want: HashMap<i64, RefPacket> = reference(clip).into_iter().map(|p| (p.pts, p)).collect();
    for p in as_ref_packets(&got) {
        let w = want
            .get(&p.pts)
            .unwrap_or_else(|| panic!("pts {} not in ffmpeg's", p.pts));
        assert_eq!(&p, w, "pts {}", p.pts);
    }
    let missing = want.len() - got.len();
    assert_eq!(
        missing as u64, stats.dropped_access_units,
        "ffmpeg's packets minus ours are the access units we dropped"
    );
}

#[test]
fn a_chosen_pid_or_codec_is_read_and_a_missing_one_is_unsupported() {
    let path = clip_path("h264_b3.ts");
    let bytes = std::fs::read(&path).unwrap();
    let by_pid = ElementaryStream::from_bytes(
        bytes.clone(),
        FormatHint::MpegTs(TsSelect::default().pid(0x100)),
    )
    .unwrap();
    assert_eq!(by_pid.container().unwrap().track_id, 0x100);
    let h264 = ElementaryStream::from_bytes(bytes.clone(), FormatHint::Codec(Codec::H264)).unwrap();
    assert_eq!(h264.codec(), Codec::H264);
    for hint in [
        FormatHint::MpegTs(TsSelect::default().pid(0x101)),
        FormatHint::MpegTs(TsSelect::default().program(1).codec(Codec::Hevc)),
        FormatHint::Codec(Codec::Mpeg2),
    ] {
        let err = ElementaryStream::from_bytes(bytes.clone(), hint).unwrap_err();
        assert!(
            matches!(err, ReadError::Input(InputError::Unsupported { .. })),
            "{hint:?}: {err}"
        );
    }
}

#[test]
fn ts_extensions_hint_ts_and_bytes_without_a_pat_are_an_error() {
    assert_eq!(
        FormatHint::from_extension("M2TS"),
        FormatHint::MpegTs(TsSelect::default())
    );
    let mut null_packets = Vec::new();
    for _ in 0..10 {
        let mut p = vec![0x47, 0x1f, 0xff, 0x10];
        p.resize(188, 0xff);
        null_packets.extend_from_slice(&p);
    }
    let err = ElementaryStream::from_bytes(null_packets, FormatHint::Unknown).unwrap_err();
    assert!(err.to_string().contains("PAT"), "{err}");
}
