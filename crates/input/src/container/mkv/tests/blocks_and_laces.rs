//! Blocks and laces: one packet per laced frame, bad laces named, key frames, indexed pts.

use super::*;

#[test]
fn laced_frames_come_out_one_packet_each_and_empty_ones_not_at_all() {
    // Xiph lace: 3 frames of 2, 0 and 3 bytes.
    let mut xiph = vec![0x81, 0, 5, 0x82, 2, 2, 0];
    xiph.extend([1, 1, 3, 3, 3]);
    // Fixed lace of 256 empty frames: nothing to hand out.
    let empty = vec![0x81, 0, 6, 0x84, 255];
    // EBML lace: 2, 3 (+1), rest 1.
    let mut ebml_lace = vec![0x81, 0, 7, 0x86, 2, 0x82, 0xc0];
    ebml_lace.extend([4, 4, 5, 5, 5, 6]);
    let file = webm(&[cluster(
        100,
        &[
            el(ids::SIMPLE_BLOCK, &xiph),
            el(ids::SIMPLE_BLOCK, &empty),
            el(ids::SIMPLE_BLOCK, &ebml_lace),
        ],
    )]);
    for max in [1usize, 3, usize::MAX] {
        let mut parser = MkvDemux::new();
        let run = drive(&mut parser, &file, &mut || max);
        assert_eq!(run.error, None);
        let got: Vec<(Vec<u8>, i64, bool)> = run
            .packets
            .iter()
            .map(|(d, i)| (d.clone(), i.pts, i.key))
            .collect();
        assert_eq!(
            got,
            [
                (vec![1, 1], 105, true),
                (vec![3, 3, 3], 105, true),
                (vec![4, 4], 107, true),
                (vec![5, 5, 5], 107, true),
                (vec![6], 107, true),
            ]
        );
        let index = parser.index().unwrap();
        assert_eq!(index.len(), 5);
        assert_eq!(index.size(1), Some(3));
        assert_eq!(&file[index.offset(4).unwrap() as usize..][..1], [6]);
        assert!(run.peak_parser < 4096, "{}", run.peak_parser);
    }
}

#[test]
fn a_thousand_blocks_of_256_empty_laced_frames_cost_no_index_and_no_time() {
    let block = el(ids::SIMPLE_BLOCK, &[0x81, 0, 0, 0x84, 255]);
    let file = webm(&[cluster(0, &vec![block; 1000])]);
    let mut parser = MkvDemux::new();
    let run = drive(&mut parser, &file, &mut || 1000);
    assert_eq!((run.error, run.packets.len()), (None, 0));
    assert_eq!(parser.index().map(SampleIndex::len), Some(0));
    assert!(run.peak_parser < 4096);
}

#[test]
fn bad_laces_are_errors_naming_the_block() {
    // Xiph sizes that exceed the block.
    let file = webm(&[cluster(
        0,
        &[el(ids::SIMPLE_BLOCK, &[0x81, 0, 0, 0x82, 1, 200, 1])],
    )]);
    let err = whole(&file).error.unwrap();
    assert!(
        err.contains("SimpleBlock") && err.contains("exceed"),
        "{err}"
    );
}

#[test]
fn block_groups_are_key_frames_unless_they_reference_another_block() {
    let group = |data: u8, reference: bool| {
        let mut body = el(ids::BLOCK, &[0x81, 0, data, 0, data]);
        if reference {
            body.extend(el(ids::REFERENCE_BLOCK, &[0xff]));
        }
        el(ids::BLOCK_GROUP, &body)
    };
    let file = webm(&[cluster(0, &[group(1, false), group(2, true)])]);
    let run = whole(&file);
    assert_eq!(run.error, None);
    let got: Vec<(Vec<u8>, i64, bool)> = run
        .packets
        .iter()
        .map(|(d, i)| (d.clone(), i.pts, i.key))
        .collect();
    assert_eq!(got, [(vec![1], 1, true), (vec![2], 2, false)]);
}

#[test]
fn laced_and_clamped_blocks_index_shown_frames_with_repeated_pts() {
    use crate::{ElementaryStream, FormatHint, RandomAccessSource};
    // A fixed lace of four shown VP8 frames (a key frame, then inter frames) at pts 0, then two
    // blocks whose timestamps fall below 0 and are clamped to it, then one at 40.
    let mut laced = vec![0x81, 0, 0, 0x84, 3];
    laced.extend([
        0x10, 0x02, 0x00, 0x31, 0x02, 0x01, 0x31, 0x02, 0x02, 0x31, 0x02, 0x03,
    ]);
    let file = webm(&[
        cluster(0, &[el(ids::SIMPLE_BLOCK, &laced)]),
        cluster(
            10,
            &[
                simple_block(1, -20, false, &[0x31, 0x02, 0x04]),
                simple_block(1, -15, false, &[0x31, 0x02, 0x05]),
                simple_block(1, 30, false, &[0x31, 0x02, 0x06]),
            ],
        ),
    ]);
    let mut stream = ElementaryStream::from_bytes(file, FormatHint::Unknown).unwrap();
    let index = stream.sample_index().unwrap().clone();
    let pts: Vec<_> = (0..index.len()).map(|i| index.pts(i).unwrap()).collect();
    assert_eq!(pts, [0, 0, 0, 0, 0, 0, 40]);
    assert!((0..index.len()).all(|i| index.is_shown(i)));
    // Random access tells them apart by decode order (VP8/VP9/AV1) or by the bitstream's
    // picture order, never by these timestamps.
}
