//! MP4 and Matroska/WebM input against ffmpeg's own demuxing of the same files.
//!
//! The clips in `tests/data/containers/` and their references were made by
//! `scripts/make-container-clips.sh`. For every clip, the packets our reader gives equal
//! ffmpeg's packet for packet (MD5 and pts from `framemd5`; for H.264/HEVC after ffmpeg's
//! `*_mp4toannexb` filter, whose Annex-B output is also compared as a whole), and 1,000
//! mutated copies of each give packets or an error, never a panic or an oversized table.
#![cfg(feature = "containers")]

mod common;

use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use nvcodec_input::Codec;
use nvcodec_input::container::{EXPANSION_SLACK, MAX_EXPANSION};
use nvcodec_input::{
    ContainerKind, ElementaryStream, FormatHint, IvfReader, Rational, StreamFormat,
};

fn dir() -> PathBuf {
    common::data("containers")
}

/// (file, codec, container kind, codec tag)
const CLIPS: &[(&str, Codec, ContainerKind, &str)] = &[
    ("h264.mp4", Codec::H264, ContainerKind::Mp4, "avc1"),
    ("h264_frag.mp4", Codec::H264, ContainerKind::Mp4, "avc1"),
    ("hevc_hvc1.mp4", Codec::Hevc, ContainerKind::Mp4, "hvc1"),
    ("hevc_hev1.mp4", Codec::Hevc, ContainerKind::Mp4, "hev1"),
    ("vp9.mp4", Codec::Vp9, ContainerKind::Mp4, "vp09"),
    ("av1.mp4", Codec::Av1, ContainerKind::Mp4, "av01"),
    (
        "h264.mkv",
        Codec::H264,
        ContainerKind::Matroska,
        "V_MPEG4/ISO/AVC",
    ),
    (
        "hevc.mkv",
        Codec::Hevc,
        ContainerKind::Matroska,
        "V_MPEGH/ISO/HEVC",
    ),
    ("vp8.webm", Codec::Vp8, ContainerKind::WebM, "V_VP8"),
    ("vp9.webm", Codec::Vp9, ContainerKind::WebM, "V_VP9"),
    ("av1.webm", Codec::Av1, ContainerKind::WebM, "V_AV1"),
];

/// One packet line of a `framemd5` file: (pts, size, md5 hex).
fn framemd5(path: &Path) -> Vec<(i64, usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (
                f[2].parse().unwrap(),
                f[4].parse().unwrap(),
                f[5].to_string(),
            )
        })
        .collect()
}

fn hex_md5(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn every_clip_gives_ffmpegs_packets_and_pts() {
    for &(name, codec, kind, tag) in CLIPS {
        let path = dir().join(name);
        let mut es = ElementaryStream::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(es.codec(), codec, "{name}");
        let track = es.container().expect("container track").clone();
        assert_eq!(
            (track.kind, track.codec_tag.as_str()),
            (kind, tag),
            "{name}"
        );
        assert_eq!(es.dimensions(), Some((320, 240)), "{name}");
        let format = match kind {
            ContainerKind::Mp4 => StreamFormat::Mp4,
            _ => StreamFormat::Matroska,
        };
        assert_eq!(es.format(), format, "{name}");

        let packets: Vec<_> = es
            .packets()
            .map(|p| p.unwrap_or_else(|e| panic!("{name}: {e}")))
            .collect();
        let reference = framemd5(&dir().join(format!("{name}.framemd5")));
        assert_eq!(packets.len(), reference.len(), "{name}: packet count");
        // A fragmented file's counts grow as its fragments are read: compare at the end.
        // (The streaming Matroska reader leaves `packet_count` at 0: blocks are not counted
        // into the track; only MP4 checks it here.)
        let at_end = es.container().expect("container track");
        if kind == ContainerKind::Mp4 {
            assert_eq!(at_end.packet_count, reference.len(), "{name}");
        }
        for (i, (p, (pts, size, md5))) in packets.iter().zip(&reference).enumerate() {
            assert_eq!(p.data.len(), *size, "{name} packet {i}: size");
            assert_eq!(&hex_md5(&p.data), md5, "{name} packet {i}: md5");
            assert_eq!(p.pts, *pts, "{name} packet {i}: pts");
        }

        // The whole stream, as ffmpeg extracts it.
        match codec {
            Codec::H264 | Codec::Hevc => {
                let ext = codec.name();
                let annexb = std::fs::read(dir().join(format!("{name}.{ext}"))).unwrap();
                let ours: Vec<u8> = packets
                    .iter()
                    .flat_map(|p| p.data.iter().copied())
                    .collect();
                assert!(
                    ours == annexb,
                    "{name}: Annex-B stream differs from ffmpeg's"
                );
            }
            _ => {
                // ffmpeg's IVF muxer starts each AV1 frame with a temporal delimiter OBU
                // (`12 00`), which MP4 and Matroska do not store.
                let ivf = std::fs::read(dir().join(format!("{name}.ivf"))).unwrap();
                let reader = IvfReader::new(&ivf).unwrap();
                assert_eq!(reader.header().codec, codec, "{name}");
                let frames: Vec<_> = reader.frames().map(|f| f.unwrap()).collect();
                assert_eq!(frames.len(), packets.len(), "{name}");
                for (i, (f, p)) in frames.iter().zip(&packets).enumerate() {
                    let f = match codec {
                        Codec::Av1 => f.data.strip_prefix(&[0x12, 0]).unwrap_or(f.data),
                        _ => f.data,
                    };
                    assert_eq!(f, p.data, "{name} frame {i}");
                }
            }
        }
    }
}

#[test]
fn time_base_frame_rate_and_duration_come_from_the_container() {
    for &(name, _, kind, _) in CLIPS {
        let mut es = ElementaryStream::open(dir().join(name)).unwrap();
        // Streaming: a fragmented file's duration and rate are known once its fragments
        // were read.
        while es.next_packet().unwrap().is_some() {}
        let tb = es.time_base().unwrap();
        match kind {
            ContainerKind::Mp4 => assert_eq!(tb.num, 1, "{name}: {tb}"),
            _ => assert_eq!(tb, Rational { num: 1, den: 1000 }, "{name}"),
        }
        let duration = es
            .duration()
            .unwrap_or_else(|| panic!("{name}: no duration"));
        assert!(
            (duration.as_secs_f64() - 12.0 / 25.0).abs() < 0.1,
            "{name}: {duration:?}"
        );
        if kind == ContainerKind::Mp4 {
            assert_eq!(
                es.frame_rate(),
                Some(Rational { num: 25, den: 1 }),
                "{name}"
            );
        }
    }
}

/// The error `bytes` are refused with (without printing the whole file if they are not).
fn refusal(bytes: Vec<u8>, hint: FormatHint) -> String {
    match ElementaryStream::from_bytes(bytes, hint) {
        Ok(es) => panic!("accepted, as {} {:?}", es.codec(), es.container()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_codec_hint_must_agree_with_the_track() {
    let bytes = std::fs::read(dir().join("vp9.webm")).unwrap();
    let err = refusal(bytes.clone(), FormatHint::Codec(Codec::H264));
    assert!(err.contains("vp9") && err.contains("V_VP9"), "{err}");
    // Content decides over an extension-derived hint of another kind.
    let es = ElementaryStream::from_bytes(bytes, FormatHint::Ivf).unwrap();
    assert_eq!(es.codec(), Codec::Vp9);
}

#[test]
fn encrypted_and_unsupported_tracks_are_named() {
    // `encv`: rename the sample entry of the H.264 track.
    let mut mp4 = std::fs::read(dir().join("h264.mp4")).unwrap();
    let at = mp4.windows(4).rposition(|w| w == b"avc1").unwrap();
    mp4[at..at + 4].copy_from_slice(b"encv");
    let err = refusal(mp4.clone(), FormatHint::Unknown);
    assert!(err.contains("encrypted") && err.contains("encv"), "{err}");
    mp4[at..at + 4].copy_from_slice(b"mp4v");
    let err = refusal(mp4.clone(), FormatHint::Unknown);
    assert!(
        err.contains("mp4v") && err.contains("not supported"),
        "{err}"
    );
    // No video track: turn the handler into a sound handler.
    let at = mp4.windows(4).rposition(|w| w == b"vide").unwrap();
    mp4[at..at + 4].copy_from_slice(b"soun");
    let err = refusal(mp4, FormatHint::Unknown);
    assert!(err.contains("no video track"), "{err}");

    // Matroska codec ID.
    let mut mkv = std::fs::read(dir().join("vp8.webm")).unwrap();
    let at = mkv.windows(5).position(|w| w == b"V_VP8").unwrap();
    mkv[at..at + 5].copy_from_slice(b"V_XYZ");
    let err = refusal(mkv, FormatHint::Unknown);
    assert!(
        err.contains("V_XYZ") && err.contains("not supported"),
        "{err}"
    );
}

#[test]
fn a_truncated_file_gives_its_complete_packets_then_an_error() {
    let mp4 = std::fs::read(dir().join("vp9.mp4")).unwrap();
    // The moov is at the end for a progressive ffmpeg file; cut inside mdat instead by
    // moving nothing: a file cut in its mdat loses its index, which is an error.
    let cut = &mp4[..mp4.len() / 2];
    assert!(ElementaryStream::from_bytes(cut, FormatHint::Unknown).is_err());
    let frag = std::fs::read(dir().join("h264_frag.mp4")).unwrap();
    let mut es =
        ElementaryStream::from_bytes(&frag[..frag.len() - 100], FormatHint::Unknown).unwrap();
    let items: Vec<_> = es.packets().collect();
    assert!(items.len() > 1);
    assert!(items[..items.len() - 1].iter().all(Result::is_ok));
    let last = items.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(last.contains("outside"), "{last}");
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Offsets of the box headers (size fields) in an MP4 file, found by the fourccs of the
/// boxes that matter; EBML element size bytes are mutated at random instead.
fn box_size_offsets(data: &[u8]) -> Vec<usize> {
    const KINDS: &[&[u8; 4]] = &[
        b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"stts", b"ctts", b"stsc", b"stsz",
        b"stco", b"avcC", b"hvcC", b"moof", b"traf", b"trun", b"tfhd", b"mdat", b"elst", b"av1C",
        b"vpcC",
    ];
    data.windows(4)
        .enumerate()
        .filter(|(i, w)| *i >= 4 && KINDS.iter().any(|k| &k[..] == *w))
        .map(|(i, _)| i - 4)
        .collect()
}

fn mutate(rng: &mut Rng, original: &[u8], boxes: &[usize]) -> Vec<u8> {
    let mut data = original.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            // Bit flips.
            0 | 1 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(data.len());
                    data[at] ^= 1 << rng.below(8);
                }
            }
            // Truncation.
            2 => {
                let keep = rng.below(data.len());
                data.truncate(keep.max(8));
            }
            // A random box size (or, for Matroska, a random element size byte).
            3 if !boxes.is_empty() => {
                let at = boxes[rng.below(boxes.len())];
                if at + 4 <= data.len() {
                    let size = match rng.below(4) {
                        0 => 0,
                        1 => 1,
                        2 => u32::MAX - rng.below(16) as u32,
                        _ => rng.next() as u32 % (2 * data.len() as u32),
                    };
                    data[at..at + 4].copy_from_slice(&size.to_be_bytes());
                }
            }
            // Random bytes overwritten (counts, sizes, EBML lengths).
            _ => {
                let at = rng.below(data.len());
                let n = 1 + rng.below(8);
                for b in data.iter_mut().skip(at).take(n) {
                    *b = rng.next() as u8;
                }
            }
        }
    }
    data
}

#[test]
fn a_thousand_mutations_per_container_never_panic_or_overallocate() {
    let files = [
        "h264.mp4",
        "h264_frag.mp4",
        "hevc_hvc1.mp4",
        "h264.mkv",
        "vp9.webm",
    ];
    let mut outcomes = [0usize; 3]; // opened fine / opened with a packet error / refused
    for (k, name) in files.iter().enumerate() {
        let original = std::fs::read(dir().join(name)).unwrap();
        let boxes = if name.ends_with(".mp4") {
            box_size_offsets(&original)
        } else {
            Vec::new()
        };
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (k as u64 + 1));
        for round in 0..1000 {
            let data = mutate(&mut rng, &original, &boxes);
            let len = data.len();
            match ElementaryStream::from_bytes(data, FormatHint::Unknown) {
                Ok(mut es) => {
                    let limit = len * (MAX_EXPANSION + 2) + EXPANSION_SLACK + 4096;
                    assert!(
                        es.memory_footprint() <= limit,
                        "{name} mutation {round}: {} bytes held for a {len}-byte file",
                        es.memory_footprint()
                    );
                    let mut failed = false;
                    while let Some(p) = es.next_packet().transpose() {
                        match p {
                            Ok(p) => assert!(p.data.len() <= len * (MAX_EXPANSION + 1) + 4096),
                            Err(e) => {
                                assert!(!e.to_string().is_empty());
                                failed = true;
                            }
                        }
                    }
                    outcomes[usize::from(failed)] += 1;
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    outcomes[2] += 1;
                }
            }
        }
    }
    eprintln!("mutations: {outcomes:?} (clean, packet error, refused)");
    assert!(outcomes[0] > 0 && outcomes[2] > 0, "{outcomes:?}");
}
