//! The bytes the containers hand to the decoder grow linearly with the bytes read: crafted
//! MP4 and Matroska files whose H.264 parameter sets are as large as a reader allows, before
//! thousands of tiny key frames, give at most `MAX_EXPANSION` × their size plus one copy of
//! the parameter sets (`input::container`, "Output bound"). Before that bound, each of these
//! files gave the record once per key frame: megabytes per kilobyte read.

mod common;

use nvcodec_input::container::{MAX_CONFIG_RECORD, MAX_EXPANSION};
use nvcodec_input::{ElementaryStream, FormatHint, InputError};

/// Key frames in each crafted file.
const KEY_FRAMES: usize = 2000;

/// An `AVCDecoderConfigurationRecord` of about `size` bytes: one SPS filling it, one PPS.
fn avcc(size: usize) -> Vec<u8> {
    let sps_len = size - 13;
    let mut r = vec![1, 0x64, 0, 0x1f, 0xff, 0xe1];
    r.extend_from_slice(&(sps_len as u16).to_be_bytes());
    r.push(0x67);
    r.extend(std::iter::repeat_n(0x42, sps_len - 1));
    r.extend_from_slice(&[1, 0, 2, 0x68, 0xce]);
    assert_eq!(r.len(), size);
    r
}

/// One IDR slice NAL unit behind a 4-byte length.
const IDR: [u8; 6] = [0, 0, 0, 2, 0x65, 0x88];

/// Total packet bytes of a whole read, and the error that ended it, if any.
fn read_all(file: Vec<u8>) -> (usize, usize, Option<String>) {
    let mut stream = match ElementaryStream::from_bytes(file, FormatHint::Unknown) {
        Ok(s) => s,
        Err(e) => return (0, 0, Some(e.to_string())),
    };
    let (mut bytes, mut packets) = (0usize, 0usize);
    loop {
        match stream.next_packet() {
            Ok(Some(p)) => {
                bytes += p.data.len();
                packets += 1;
            }
            Ok(None) => return (bytes, packets, None),
            Err(e) => return (bytes, packets, Some(e.to_string())),
        }
    }
}

fn bound(file_len: usize) -> usize {
    MAX_EXPANSION * file_len + 2 * MAX_CONFIG_RECORD
}

// ---- MP4 ----------------------------------------------------------------------------------

fn bx(kind: &[u8; 4], parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut b = ((8 + len) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    for p in parts {
        b.extend_from_slice(p);
    }
    b
}

fn full(kind: &[u8; 4], fields: &[u32]) -> Vec<u8> {
    let mut body = 0u32.to_be_bytes().to_vec();
    for f in fields {
        body.extend_from_slice(&f.to_be_bytes());
    }
    bx(kind, &[&body])
}

/// A progressive H.264 MP4 (`moov` first): `samples` samples of `sample` bytes, all key
/// frames, in one chunk, with `record` as its `avcC`.
pub fn mp4(record: &[u8], sample: &[u8], samples: usize) -> Vec<u8> {
    let mut entry = vec![0u8; 78];
    entry[7] = 1;
    entry[24..26].copy_from_slice(&320u16.to_be_bytes());
    entry[26..28].copy_from_slice(&240u16.to_be_bytes());
    let avc1 = bx(b"avc1", &[&entry, &bx(b"avcC", &[record])]);
    let stsd = bx(b"stsd", &[&0u32.to_be_bytes(), &1u32.to_be_bytes(), &avc1]);
    let n = samples as u32;
    let stts = full(b"stts", &[1, n, 1]);
    let stsc = full(b"stsc", &[1, 1, n, 1]);
    let stsz = full(b"stsz", &[sample.len() as u32, n]);
    let build = |offset: u32| {
        let stco = full(b"stco", &[1, offset]);
        let stbl = bx(b"stbl", &[&stsd, &stts, &stsc, &stsz, &stco]);
        let minf = bx(b"minf", &[&stbl]);
        let mdhd = full(b"mdhd", &[0, 0, 1000, 0]);
        let hdlr = full(b"hdlr", &[0, u32::from_be_bytes(*b"vide"), 0, 0, 0]);
        let mdia = bx(b"mdia", &[&mdhd, &hdlr, &minf]);
        let trak = bx(b"trak", &[&full(b"tkhd", &[0, 0, 1]), &mdia]);
        let mut file = bx(b"ftyp", &[b"isom", &[0, 0, 2, 0], b"isomiso6"]);
        file.extend(bx(b"moov", &[&full(b"mvhd", &[0, 0, 1000, 0]), &trak]));
        file
    };
    let head = build(0).len() as u32 + 8;
    let mut file = build(head);
    file.extend(bx(b"mdat", &[&sample.repeat(samples)]));
    file
}

#[test]
fn an_mp4_of_tiny_key_frames_behind_the_largest_record_outputs_linear_bytes() {
    let file = mp4(&avcc(MAX_CONFIG_RECORD), &IDR, KEY_FRAMES);
    let len = file.len();
    let (bytes, packets, error) = read_all(file);
    assert_eq!(error, None);
    assert_eq!(packets, KEY_FRAMES);
    assert!(
        bytes <= bound(len),
        "{bytes} bytes handed out for a {len}-byte file (bound {})",
        bound(len)
    );
}

#[test]
fn an_mp4_record_over_the_cap_is_refused() {
    let file = mp4(&avcc(MAX_CONFIG_RECORD + 1), &IDR, 4);
    let err = ElementaryStream::from_bytes(file, FormatHint::Unknown)
        .and_then(|mut s| s.next_packet().map(|_| ()))
        .unwrap_err();
    assert!(
        matches!(
            err,
            nvcodec_input::ReadError::Input(InputError::LimitExceeded { .. })
        ),
        "{err}"
    );
}

#[test]
fn real_key_frames_still_get_their_parameter_sets_every_time() {
    // Key frames larger than the record: every one carries the parameter sets, as ffmpeg
    // writes them.
    let mut sample = vec![0, 0, 0, 200, 0x65, 0x88];
    sample.extend([0x11; 198]);
    let file = mp4(&avcc(64), &sample, 10);
    let mut stream = ElementaryStream::from_bytes(file, FormatHint::Unknown).unwrap();
    let mut n = 0;
    while let Some(p) = stream.next_packet().unwrap() {
        assert!(p.data.starts_with(&[0, 0, 0, 1, 0x67]), "packet {n}");
        n += 1;
    }
    assert_eq!(n, 10);
}

// ---- Matroska -----------------------------------------------------------------------------

fn id_bytes(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().position(|&x| x != 0).unwrap_or(3);
    b[skip..].to_vec()
}

/// An element with an 8-byte size field.
fn el(id: u32, data: &[u8]) -> Vec<u8> {
    let mut v = id_bytes(id);
    v.push(0x01);
    v.extend_from_slice(&(data.len() as u64).to_be_bytes()[1..]);
    v.extend_from_slice(data);
    v
}

fn uint(id: u32, value: u64) -> Vec<u8> {
    el(id, &value.to_be_bytes())
}

/// A Matroska H.264 file: `blocks` key-frame `SimpleBlock`s of `frame` in one cluster, with
/// `private` as `CodecPrivate`.
pub fn mkv(private: &[u8], frame: &[u8], blocks: usize) -> Vec<u8> {
    let mut f = el(0x1A45_DFA3, &el(0x4282, b"matroska"));
    let track = el(
        0xAE,
        &[
            uint(0xD7, 1),
            uint(0x83, 1),
            el(0x86, b"V_MPEG4/ISO/AVC"),
            el(0x63A2, private),
            el(0xE0, &[uint(0xB0, 320), uint(0xBA, 240)].concat()),
        ]
        .concat(),
    );
    let mut cluster = uint(0xE7, 0);
    for i in 0..blocks {
        let mut body = vec![0x81];
        body.extend_from_slice(&((i % 30000) as i16).to_be_bytes());
        body.push(0x80);
        body.extend_from_slice(frame);
        cluster.extend(el(0xA3, &body));
    }
    let segment = [
        el(0x1549_A966, &uint(0x2A_D7B1, 1_000_000)),
        el(0x1654_AE6B, &track),
        el(0x1F43_B675, &cluster),
    ]
    .concat();
    f.extend(el(0x1853_8067, &segment));
    f
}

#[test]
fn a_matroska_file_of_tiny_key_frames_behind_the_largest_record_outputs_linear_bytes() {
    let file = mkv(&avcc(MAX_CONFIG_RECORD), &IDR, KEY_FRAMES);
    let len = file.len();
    let (bytes, packets, error) = read_all(file);
    assert_eq!(error, None);
    assert_eq!(packets, KEY_FRAMES);
    assert!(
        bytes <= bound(len),
        "{bytes} bytes handed out for a {len}-byte file (bound {})",
        bound(len)
    );
}

#[test]
fn a_matroska_codec_private_over_the_cap_is_refused() {
    let file = mkv(&avcc(MAX_CONFIG_RECORD + 1), &IDR, 4);
    let err = ElementaryStream::from_bytes(file, FormatHint::Unknown)
        .and_then(|mut s| s.next_packet().map(|_| ()))
        .unwrap_err();
    assert!(
        matches!(
            err,
            nvcodec_input::ReadError::Input(InputError::LimitExceeded { .. })
        ),
        "{err}"
    );
}

#[test]
fn after_a_seek_the_parameter_sets_come_again() {
    let file = mkv(&avcc(MAX_CONFIG_RECORD), &IDR, 50);
    let mut stream = ElementaryStream::from_bytes(file, FormatHint::Unknown).unwrap();
    while stream.next_packet().unwrap().is_some() {}
    stream.seek_to_sample(30).unwrap();
    let p = stream.next_packet().unwrap().unwrap();
    assert!(p.data.starts_with(&[0, 0, 0, 1, 0x67]));
    assert!(p.data.len() > MAX_CONFIG_RECORD - 16);
}

/// Writes the two crafted shapes (500 key frames) as fuzz regression inputs, so the fuzzers
/// start from them and `tests/input_fuzz_regressions.rs` replays them:
/// `cargo test --test input_output_bound -- --ignored write_seeds`.
#[test]
#[ignore]
fn write_seeds() {
    let root = common::data("fuzz-regressions");
    let record = avcc(MAX_CONFIG_RECORD);
    std::fs::write(
        root.join("mp4/output-bound-param-sets.mp4"),
        mp4(&record, &IDR, 500),
    )
    .unwrap();
    std::fs::write(
        root.join("mkv/output-bound-param-sets.mkv"),
        mkv(&record, &IDR, 500),
    )
    .unwrap();
}
