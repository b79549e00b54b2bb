//! Inputs cut short: every committed container clip (IVF, Matroska/WebM, fragmented and
//! progressive MP4), cut at many points, still gives random access over the samples that are
//! complete, with the loss reported (`SampleIndex::truncated`).
//!
//! Checked for each cut, from bytes in memory and from a `Read + Seek` source:
//! - the index is the whole file's index up to the samples a plain pass reads before its
//!   error (progressive MP4: up to the first sample whose bytes run past the end), each
//!   sample lying wholly inside the cut file;
//! - the cut is reported exactly when a plain pass ends in `InputError::Truncated`, at the
//!   offset that error names (progressive MP4: at the first sample left out, with the count
//!   of samples left out), and the bytes unused are those from there to the end;
//! - a seek to any sample reads the whole file's packet there, and reading on past the last
//!   sample ends quietly (`None`), the loss having been reported;
//! - a cut before the first complete sample is still an error.

mod common;

use std::io::Cursor;

use nvcodec_input::Codec;
use nvcodec_input::{ElementaryStream, FormatHint, InputError, RandomAccessSource, SampleIndex};

fn clip(name: &str) -> Vec<u8> {
    std::fs::read(common::data_dir().join(name)).unwrap()
}

const CLIPS: [&str; 12] = [
    "vp9_640x360_p0.ivf",
    "vp8_640x360.ivf",
    "av1_320x240.ivf",
    "containers/h264.mkv",
    "containers/hevc.mkv",
    "containers/av1.webm",
    "containers/h264_frag.mp4",
    "containers/h264.mp4",
    "containers/av1.mp4",
    "vp9_reschange.ivf",
    "containers/hevc_hvc1.mp4",
    "containers/vp9.mp4",
];

/// The top-level boxes of an MP4: (type, start, size).
fn boxes(data: &[u8], from: usize, to: usize) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = from;
    while at + 8 <= to {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = data[at + 4..at + 8].try_into().unwrap();
        assert!(
            size >= 8 && at + size <= to,
            "the committed clips have plain box sizes"
        );
        out.push((kind, at, size));
        at += size;
    }
    out
}

/// Adds `delta` to every chunk offset (`stco`/`co64`) inside the container box at `at`.
fn shift_chunk_offsets(data: &mut [u8], at: usize, size: usize, delta: u64) {
    for (kind, start, len) in boxes(data, at + 8, at + size) {
        match &kind {
            b"trak" | b"mdia" | b"minf" | b"stbl" => shift_chunk_offsets(data, start, len, delta),
            b"stco" | b"co64" => {
                let wide = &kind == b"co64";
                let count = u32::from_be_bytes(data[start + 12..start + 16].try_into().unwrap());
                for i in 0..count as usize {
                    if wide {
                        let f = start + 16 + 8 * i;
                        let v = u64::from_be_bytes(data[f..f + 8].try_into().unwrap()) + delta;
                        data[f..f + 8].copy_from_slice(&v.to_be_bytes());
                    } else {
                        let f = start + 16 + 4 * i;
                        let v = u32::from_be_bytes(data[f..f + 4].try_into().unwrap());
                        let v = u32::try_from(u64::from(v) + delta).unwrap();
                        data[f..f + 4].copy_from_slice(&v.to_be_bytes());
                    }
                }
            }
            _ => {}
        }
    }
}

/// A progressive MP4 with its `moov` moved before `mdat` (as `-movflags +faststart` writes
/// it), so that a cut inside `mdat` leaves the sample table whole.
fn faststart(file: &[u8]) -> Vec<u8> {
    let top = boxes(file, 0, file.len());
    let (_, moov_at, moov_len) = *top.iter().find(|b| &b.0 == b"moov").unwrap();
    let (_, mdat_at, _) = *top.iter().find(|b| &b.0 == b"mdat").unwrap();
    assert!(mdat_at < moov_at);
    let mut moov = file[moov_at..moov_at + moov_len].to_vec();
    shift_chunk_offsets(&mut moov, 0, moov_len, moov_len as u64);
    let mut out = file[..mdat_at].to_vec();
    out.extend_from_slice(&moov);
    out.extend_from_slice(&file[mdat_at..moov_at]);
    out.extend_from_slice(&file[moov_at + moov_len..]);
    out
}

/// The packets of a plain pass, and the error it ends in.
fn plain_pass(bytes: &[u8]) -> (Vec<Vec<u8>>, Option<nvcodec_input::ReadError>) {
    let mut stream = match ElementaryStream::from_bytes(bytes.to_vec(), FormatHint::Unknown) {
        Ok(s) => s,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut packets = Vec::new();
    loop {
        match stream.next_packet() {
            Ok(Some(p)) => packets.push(p.data.to_vec()),
            Ok(None) => return (packets, None),
            Err(e) => return (packets, Some(e)),
        }
    }
}

/// The packet without parameter sets (and, for HEVC, SEI, which `hvcC` also carries), as NAL
/// unit payloads (H.264/HEVC), or as it is: the first packet after a seek may carry the
/// stream's parameter sets besides.
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

fn entries(index: &SampleIndex) -> Vec<(u64, u32, i64, bool)> {
    (0..index.len())
        .map(|i| {
            (
                index.offset(i).unwrap(),
                index.size(i).unwrap(),
                index.pts(i).unwrap(),
                index.is_key(i),
            )
        })
        .collect()
}

/// The samples to seek to: the first, the last, and a few between.
fn probes(len: usize) -> Vec<usize> {
    let mut probes: Vec<usize> = (0..len).step_by((len / 4).max(1)).collect();
    probes.extend(len.checked_sub(1));
    probes
}

/// Returns how many of the two sources reported a cut.
fn check_cut(name: &str, full: &[u8], whole: &[(u64, u32, i64, bool)], cut: usize) -> usize {
    let mut reported = 0;
    let bytes = &full[..cut];
    let (packets, error) = plain_pass(bytes);
    let progressive = name.ends_with(".mp4") && !name.ends_with("_frag.mp4");
    let sources: [(&str, nvcodec_input::Result<ElementaryStream>); 2] = [
        (
            "memory",
            ElementaryStream::from_bytes(bytes.to_vec(), FormatHint::Unknown),
        ),
        (
            "reader",
            ElementaryStream::from_reader(Cursor::new(bytes.to_vec()), FormatHint::Unknown),
        ),
    ];
    for (source, stream) in sources {
        let at = format!("{name} cut at {cut} of {} ({source})", full.len());
        let Ok(mut stream) = stream else {
            assert!(packets.is_empty(), "{at}: opening failed after packets");
            continue;
        };
        let index = match stream.sample_index() {
            Ok(index) => index.clone(),
            Err(e) => {
                assert!(
                    packets.is_empty(),
                    "{at}: no random access although {} packets are complete: {e}",
                    packets.len()
                );
                continue;
            }
        };
        let n = index.len();
        assert!(n > 0, "{at}: an empty index");
        assert_eq!(entries(&index), whole[..n], "{at}: the index differs");
        for (offset, size, _, _) in &whole[..n] {
            assert!(
                offset + u64::from(*size) <= cut as u64,
                "{at}: a sample past the cut"
            );
        }
        match (index.truncated(), &error) {
            (None, None) => assert_eq!(n, packets.len(), "{at}"),
            (Some(tail), _) if progressive => {
                assert_eq!(
                    tail.samples_dropped(),
                    Some((whole.len() - n) as u64),
                    "{at}"
                );
                assert_eq!(tail.offset(), whole[n].0, "{at}");
                assert!(whole[n].0 + u64::from(whole[n].1) > cut as u64, "{at}");
                assert_eq!(
                    packets.len(),
                    n,
                    "{at}: a plain pass reads the same samples"
                );
            }
            (
                Some(tail),
                Some(nvcodec_input::ReadError::Input(e @ InputError::Truncated { .. })),
            ) => {
                assert_eq!(n, packets.len(), "{at}: the index and a plain pass differ");
                assert_eq!(Some(tail.offset()), e.offset(), "{at}");
                assert!(matches!(tail.error(), InputError::Truncated { .. }), "{at}");
                assert_eq!(tail.samples_dropped(), None, "{at}");
            }
            (tail, error) => panic!("{at}: reported {tail:?}, a plain pass ended in {error:?}"),
        }
        if let Some(tail) = index.truncated() {
            reported += 1;
            assert_eq!(tail.input_len(), cut as u64, "{at}");
            assert_eq!(
                tail.bytes_unused(),
                (cut as u64).saturating_sub(tail.offset())
            );
            assert!(!tail.error().to_string().is_empty());
        } else {
            assert_eq!(n, whole.len().min(n), "{at}");
        }
        let mut out = Vec::new();
        for k in probes(n) {
            stream.seek_to_sample(k).unwrap();
            assert_eq!(
                stream.read_sample(&mut out).unwrap(),
                Some(k),
                "{at}: sample {k}"
            );
            let codec = stream.codec();
            assert_eq!(
                pictures(codec, &out),
                pictures(codec, &packets[k]),
                "{at}: sample {k}"
            );
        }
        stream.seek_to_sample(n - 1).unwrap();
        assert_eq!(stream.read_sample(&mut out).unwrap(), Some(n - 1), "{at}");
        assert_eq!(
            stream.read_sample(&mut out).unwrap(),
            None,
            "{at}: past the last"
        );
        assert!(
            stream.seek_to_sample(n).is_err(),
            "{at}: a seek past the index"
        );
    }
    reported
}

#[test]
fn a_cut_file_gives_random_access_over_its_complete_samples_and_reports_the_loss() {
    for name in CLIPS {
        let mut full = clip(name);
        if name.ends_with(".mp4") && !name.ends_with("_frag.mp4") {
            full = faststart(&full);
        }
        let mut stream = ElementaryStream::from_bytes(full.clone(), FormatHint::Unknown).unwrap();
        let index = stream.sample_index().unwrap().clone();
        assert!(
            index.truncated().is_none(),
            "{name}: a whole file reported cut"
        );
        let whole = entries(&index);
        // Cuts all over the file, and every byte of the last two samples and after them.
        let tail_from = whole[whole.len().saturating_sub(2)].0.saturating_sub(16) as usize;
        let mut cuts: Vec<usize> = (1..40).map(|i| full.len() * i / 40).collect();
        cuts.extend((tail_from..full.len()).step_by(7));
        cuts.push(full.len() - 1);
        cuts.push(full.len());
        let reported: usize = cuts
            .into_iter()
            .map(|cut| check_cut(name, &full, &whole, cut))
            .sum();
        assert!(reported >= 20, "{name}: only {reported} cuts reported");
    }
}

#[test]
fn a_file_cut_before_its_first_complete_sample_is_still_refused() {
    for name in [
        "vp9_640x360_p0.ivf",
        "containers/h264.mkv",
        "containers/h264_frag.mp4",
    ] {
        let full = clip(name);
        let mut stream = ElementaryStream::from_bytes(full.clone(), FormatHint::Unknown).unwrap();
        let first = stream.sample_index().unwrap().offset(0).unwrap() as usize;
        let mut cut =
            ElementaryStream::from_bytes(full[..first + 1].to_vec(), FormatHint::Unknown).unwrap();
        let e = cut.sample_index().unwrap_err();
        assert!(
            matches!(
                e,
                nvcodec_input::ReadError::Input(InputError::Truncated { .. })
            ),
            "{name}: {e}"
        );
    }
}

#[test]
fn a_fragmented_files_index_stays_known_after_a_seek() {
    let mut stream =
        ElementaryStream::from_bytes(clip("containers/h264_frag.mp4"), FormatHint::Unknown)
            .unwrap();
    let len = stream.sample_index().unwrap().len();
    stream.seek_to_sample(len / 2).unwrap();
    assert_eq!(stream.index().map(SampleIndex::len), Some(len));
}
