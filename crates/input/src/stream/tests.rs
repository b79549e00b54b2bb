//! `ElementaryStream` over hand-made IVF, Annex-B and MPEG-2 bytes and files.

use super::*;
use crate::OwnedPacket;

fn ivf(fourcc: &[u8; 4], frames: &[(i64, &[u8])]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(b"DKIF");
    f.extend_from_slice(&0u16.to_le_bytes());
    f.extend_from_slice(&32u16.to_le_bytes());
    f.extend_from_slice(fourcc);
    f.extend_from_slice(&640u16.to_le_bytes());
    f.extend_from_slice(&360u16.to_le_bytes());
    f.extend_from_slice(&[30, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    for (pts, data) in frames {
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(&pts.to_le_bytes());
        f.extend_from_slice(data);
    }
    f
}

#[test]
fn ivf_bytes_are_detected_by_magic_with_codec_dimensions_and_pts() {
    let mut es = ElementaryStream::from_bytes(
        ivf(b"VP90", &[(10, &[1, 2]), (20, &[3])]),
        FormatHint::Unknown,
    )
    .unwrap();
    assert_eq!(es.codec(), Codec::Vp9);
    assert_eq!(es.format(), StreamFormat::Ivf);
    assert_eq!(es.dimensions(), Some((640, 360)));
    let packets: Vec<_> = es.packets().map(|p| p.unwrap()).collect();
    assert_eq!(
        packets,
        vec![
            OwnedPacket {
                data: vec![1, 2],
                pts: 10
            },
            OwnedPacket {
                data: vec![3],
                pts: 20
            }
        ]
    );
}

#[test]
fn raw_annex_b_packets_are_numbered_in_stream_order() {
    let h264 = [
        0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x41, 0x9a,
    ];
    let mut es = ElementaryStream::from_bytes(&h264[..], FormatHint::Codec(Codec::H264)).unwrap();
    assert_eq!(es.dimensions(), None);
    let pts: Vec<i64> = es.packets().map(|p| p.unwrap().pts).collect();
    assert_eq!(pts, vec![0, 1, 2]);
}

#[test]
fn mpeg2_packets_are_numbered_in_stream_order() {
    let m2v = [
        0, 0, 1, 0xb3, 9, 0, 0, 1, 0, 9, 0, 0, 1, 1, 9, 0, 0, 1, 0, 9,
    ];
    let mut es = ElementaryStream::from_bytes(&m2v[..], FormatHint::from_extension("m2v")).unwrap();
    assert_eq!(es.codec(), Codec::Mpeg2);
    let packets: Vec<_> = es.packets().map(|p| p.unwrap()).collect();
    assert_eq!(packets.len(), 2);
    assert_eq!(
        packets[1],
        OwnedPacket {
            data: m2v[15..].to_vec(),
            pts: 1
        }
    );
}

#[test]
fn a_codec_hint_that_contradicts_the_ivf_fourcc_is_an_error() {
    let err =
        ElementaryStream::from_bytes(ivf(b"AV01", &[]), FormatHint::Codec(Codec::Vp8)).unwrap_err();
    assert!(err.to_string().contains("AV01"), "{err}");
}

#[test]
fn an_ivf_hint_without_magic_reports_the_bad_magic() {
    let err = ElementaryStream::from_bytes(vec![0; 40], FormatHint::Ivf).unwrap_err();
    assert!(err.to_string().contains("DKIF"), "{err}");
}

#[test]
fn opening_a_file_with_an_unknown_extension_names_the_file_and_supported_formats() {
    let path = std::env::temp_dir().join(format!("nvcg-input-{}.xyz", std::process::id()));
    std::fs::write(&path, [0, 0, 1, 0x65, 0x88]).unwrap();
    let err = ElementaryStream::open(&path).unwrap_err().to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(err.contains(".xyz") && err.contains(".h264"), "{err}");
}

#[test]
fn rewinding_starts_again_from_the_first_packet_and_a_plain_reader_cannot() {
    let file = ivf(b"VP80", &[(1, &[1]), (2, &[2, 2])]);
    let mut es = ElementaryStream::from_bytes(file.clone(), FormatHint::Unknown).unwrap();
    let first: Vec<_> = es.packets().map(|p| p.unwrap()).collect();
    es.rewind().unwrap();
    let again: Vec<_> = es.packets().map(|p| p.unwrap()).collect();
    assert_eq!((first.len(), &first), (2, &again));
    let mut piped =
        ElementaryStream::from_stream(std::io::Cursor::new(file), FormatHint::Unknown).unwrap();
    let err = piped.rewind().unwrap_err();
    assert!(
        matches!(err, ReadError::Input(InputError::NeedsSeek { .. })),
        "{err}"
    );
    assert_eq!(
        piped.packets().map(|p| p.unwrap()).collect::<Vec<_>>(),
        first
    );
}

#[test]
fn a_file_is_read_incrementally_not_whole() {
    // 40 frames of 100 KiB: the window holds about one frame plus a read, never the file.
    let frames: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 100 << 10]).collect();
    let refs: Vec<(i64, &[u8])> = frames.iter().map(|f| (0, &f[..])).collect();
    let file = ivf(b"VP90", &refs);
    let path = std::env::temp_dir().join(format!("nvcg-incremental-{}.ivf", std::process::id()));
    std::fs::write(&path, &file).unwrap();
    let mut es = ElementaryStream::open(&path).unwrap();
    let mut count = 0;
    let mut peak = 0;
    while let Some(p) = es.next_packet().unwrap() {
        assert_eq!(p.data, &frames[count][..]);
        count += 1;
        peak = peak.max(es.memory_footprint());
    }
    std::fs::remove_file(&path).unwrap();
    assert_eq!(count, 40);
    assert!(
        peak < 4 * (100 << 10) + (64 << 10) * 2,
        "{peak} bytes held for {} bytes",
        file.len()
    );
}

#[test]
fn opening_a_missing_file_is_an_io_error_naming_the_path() {
    let err = ElementaryStream::open("/nonexistent/clip.h264").unwrap_err();
    assert!(matches!(err, ReadError::Io(_)));
    assert!(err.to_string().contains("/nonexistent/clip.h264"), "{err}");
}
