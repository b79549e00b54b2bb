//! Cues read first or in file order, full scans and seeking to any frame.

use super::*;

#[test]
fn cues_read_first_give_a_key_frame_index_before_the_first_packet() {
    let (file, c1, c2) = file_with_cues();
    let mut parser = MkvDemux::new().with_cues_first();
    let run = drive_from(&mut parser, &file, 0, &mut || 5, 1);
    assert_eq!(run.error, None);
    assert_eq!(run.backward_seeks, 1, "jumped to the Cues and back");
    assert_eq!(run.packets[0].0, [1]);
    let index = parser.index().expect("the Cues index");
    assert_eq!(index.len(), 2);
    assert_eq!(
        (index.offset(0), index.pts(0), index.is_key(0)),
        (Some(c1), Some(0), true)
    );
    assert_eq!((index.offset(1), index.pts(1)), (Some(c2), Some(120)));

    // Seek to cue 1: the cluster at c2, its frames before the key frame skipped.
    let at = parser.seek_to_sample(1).unwrap();
    assert_eq!(at, c2);
    let run = drive_from(&mut parser, &file, at, &mut || 5, usize::MAX);
    assert_eq!(run.error, None);
    let got: Vec<(Vec<u8>, i64, bool)> = run
        .packets
        .iter()
        .map(|(d, i)| (d.clone(), i.pts, i.key))
        .collect();
    assert_eq!(got, [(vec![4], 120, true), (vec![5], 160, false)]);
    assert!(parser.seek_to_sample(2).is_err());
}

#[test]
fn without_cues_first_the_cues_are_read_in_file_order_and_a_full_scan_wins() {
    let (file, ..) = file_with_cues();
    let mut parser = MkvDemux::new();
    assert!(parser.seek_to_sample(0).is_err(), "no index yet");
    let run = drive(&mut parser, &file, &mut || 3);
    assert_eq!(
        (run.error, run.backward_seeks, run.packets.len()),
        (None, 0, 5)
    );
    // The full scan's index: every frame, offsets of its stored bytes.
    let index = parser.index().unwrap();
    assert_eq!(index.len(), 5);
    for (i, (data, info)) in run.packets.iter().enumerate() {
        let (at, size) = (
            index.offset(i).unwrap() as usize,
            index.size(i).unwrap() as usize,
        );
        assert_eq!(&file[at..at + size], data.as_slice());
        assert_eq!((index.pts(i), index.is_key(i)), (Some(info.pts), info.key));
    }
}

#[test]
fn after_a_full_scan_seeking_to_any_frame_gives_exactly_that_frame() {
    for name in CLIPS {
        let file = clip(name);
        let mut parser = MkvDemux::new();
        let all = whole(&file).packets;
        let run = drive(&mut parser, &file, &mut || 1000);
        assert_eq!(run.packets.len(), all.len());
        let n = parser.index().unwrap().len();
        assert_eq!(n, all.len(), "{name}");
        for target in [n - 1, 0, 5, 3] {
            let key = parser.index().unwrap().key_at_or_before(target).unwrap();
            let at = parser.seek_to_sample(key).unwrap();
            let run = drive_from(&mut parser, &file, at, &mut || 1000, target - key + 1);
            assert_eq!(run.error, None, "{name}");
            let (data, info) = run.packets.last().unwrap();
            assert_eq!(info.index, target as u64, "{name}");
            assert_eq!(info.pts, all[target].1.pts, "{name} {target}");
            // H.264/HEVC included: after a seek the parameter sets go before the key frame
            // again, so the packets are those of the sequential run.
            assert_eq!(data, &all[target].0, "{name} {target}");
        }
    }
}

#[test]
fn broken_cues_are_dropped_and_the_frames_still_read() {
    let (file, ..) = file_with_cues();
    let cues_at = file
        .windows(4)
        .rposition(|w| w == id_bytes(ids::CUES).as_slice())
        .unwrap();
    // A CuePoint of unknown size, read in file order and read first.
    let mut broken = file.clone();
    assert_eq!(broken[cues_at + 5], 0xbb);
    broken[cues_at + 6] = 0xff; // the first CuePoint's size: unknown
    for first in [false, true] {
        let mut parser = if first {
            MkvDemux::new().with_cues_first()
        } else {
            MkvDemux::new()
        };
        let run = drive(&mut parser, &broken, &mut || 9);
        assert_eq!(
            (run.error, run.packets.len()),
            (None, 5),
            "cues first: {first}"
        );
        // The full scan's index is there; the Cues one is not.
        assert_eq!(parser.index().map(SampleIndex::len), Some(5));
    }
    // SeekHead pointing into the middle of a cluster: jump, find no Cues, jump back.
    let mut wrong = file.clone();
    let position = wrong.windows(2).position(|w| w == [0x53, 0xac]).unwrap();
    wrong[position + 10] ^= 0x04; // the low byte of the 8-byte SeekPosition
    let mut parser = MkvDemux::new().with_cues_first();
    let run = drive(&mut parser, &wrong, &mut || 9);
    assert_eq!((run.error, run.packets.len()), (None, 5));
    assert_eq!(run.backward_seeks, 1);
}
