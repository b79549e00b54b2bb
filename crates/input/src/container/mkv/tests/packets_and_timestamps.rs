//! The test clips give the whole-file packet table's packets whole and in any chunking; block
//! timestamps are clamped or refused, never wrapped.

use super::*;

#[test]
fn the_clips_give_the_packet_table_s_packets_whole_and_in_random_chunks() {
    for (k, name) in CLIPS.iter().enumerate() {
        let file = clip(name);
        // The packet table (checked against ffmpeg by crates/input/tests/input_containers.rs).
        let table = demux(&file).unwrap();
        assert!(table.error.is_none(), "{name}: {:?}", table.error);
        let reference: Vec<(&[u8], i64)> = table
            .entries
            .iter()
            .map(|e| (table.bytes(&file, e), e.pts))
            .collect();
        assert_eq!(reference.len(), 12, "{name}");

        let mut rng = Rng(0x51_7cc1_b727_220a ^ k as u64);
        for max_chunk in [1u64, 7, 100, 4096, u64::MAX] {
            let run = drive(&mut MkvDemux::new(), &file, &mut || {
                (rng.next() % max_chunk.min(1 << 20)) as usize + 1
            });
            assert_eq!(run.error, None, "{name} chunks ≤ {max_chunk}");
            let got: Vec<(&[u8], i64)> = run
                .packets
                .iter()
                .map(|(d, i)| (d.as_slice(), i.pts))
                .collect();
            assert_eq!(got, reference, "{name} chunks ≤ {max_chunk}");
            let indices: Vec<u64> = run.packets.iter().map(|(_, i)| i.index).collect();
            assert_eq!(indices, (0..12).collect::<Vec<_>>(), "{name}");
            assert!(
                run.packets[0].1.key,
                "{name}: the first frame is a key frame"
            );
            // The window never holds more than the largest block plus a chunk.
            let largest = reference.iter().map(|(d, _)| d.len()).max().unwrap();
            if max_chunk <= 4096 {
                assert!(
                    run.peak_window <= largest + 64 + max_chunk as usize,
                    "{name}: window {} for frames ≤ {largest}",
                    run.peak_window
                );
            }
        }
    }
}

#[test]
fn a_webm_with_relative_timestamp_minus_32768_does_not_panic_or_wrap() {
    // Cluster at 0 with a SimpleBlock at −32768 (negating it overflows: "attempt to negate
    // with overflow"), then a cluster at 40,000 with the same relative timestamp.
    let mut file = webm(&[
        cluster(0, &[simple_block(1, i16::MIN, true, &[0x10, 0x02, 0x00])]),
        cluster(
            40_000,
            &[simple_block(1, i16::MIN, false, &[0x31, 0x02, 0x00])],
        ),
    ]);
    // Padded with a Void element to 308 bytes.
    let rest = 308 - file.len();
    let pad = if rest - 2 < 127 { rest - 2 } else { rest - 9 };
    file.extend(el(0xEC, &vec![0; pad]));
    assert_eq!(file.len(), 308);

    let run = whole(&file);
    assert_eq!(run.error, None);
    let pts: Vec<i64> = run.packets.iter().map(|(_, i)| i.pts).collect();
    // Below 0 is clamped to 0, as matroska-demuxer's saturating subtraction did.
    assert_eq!(pts, [0, 40_000 - 32_768]);
    assert_eq!(run.packets[1].0, [0x31, 0x02, 0x00]);
    // Through the public whole-file path too.
    let mut es = crate::ElementaryStream::from_bytes(file, crate::FormatHint::Unknown).unwrap();
    let pts: Vec<i64> = es.packets().map(|p| p.unwrap().pts).collect();
    assert_eq!(pts, [0, 7232]);
}

#[test]
fn a_timestamp_past_i64_is_an_error_naming_it_not_a_wrap() {
    let file = webm(&[cluster(u64::MAX, &[simple_block(1, 1, true, &[1])])]);
    let run = whole(&file);
    let err = run.error.unwrap();
    assert!(
        err.contains("does not fit") && err.contains("18446744073709551615"),
        "{err}"
    );
    assert!(run.packets.is_empty());
    // i64::MAX itself is fine; one more is not.
    let file = webm(&[cluster(i64::MAX as u64, &[simple_block(1, 0, true, &[1])])]);
    assert_eq!(whole(&file).packets[0].1.pts, i64::MAX);
    let file = webm(&[cluster(i64::MAX as u64, &[simple_block(1, 1, true, &[1])])]);
    assert!(whole(&file).error.is_some());
}
