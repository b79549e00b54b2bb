//! Element sizes (absurd, unknown) and file structure (segments, doc types, track order,
//! truncation).

use super::*;

#[test]
fn absurd_sizes_are_skipped_by_seeking_or_refused_before_allocating() {
    // A Void of 2^56 − 2 bytes: skipped with one SeekTo, not read.
    let mut file = webm(&[cluster(0, &[simple_block(1, 0, true, &[1, 2])])]);
    file.extend(el_header(0xEC, (1 << 56) - 2));
    file.extend([0u8; 64]);
    let run = whole(&file);
    assert_eq!((run.error, run.packets.len()), (None, 1));
    assert!(run.peak_window <= file.len());

    // A 1 TiB Tracks: refused by the header limit, nothing allocated for it.
    let mut file = ebml_header("webm");
    file.extend(unknown(ids::SEGMENT));
    file.extend(el_header(ids::TRACKS, 1 << 40));
    file.extend([0u8; 100]);
    let run = drive(&mut MkvDemux::new(), &file, &mut || 16);
    let err = run.error.unwrap();
    assert!(err.contains("Tracks") && err.contains("limit"), "{err}");
    assert!(run.peak_window < 200, "{}", run.peak_window);

    // A 1 GiB SimpleBlock of the video track: refused; of another track: skipped.
    for (track, refused) in [(1u8, true), (2, false)] {
        let mut file = webm(&[]);
        file.extend(unknown(ids::CLUSTER));
        file.extend(el_header(ids::SIMPLE_BLOCK, 1 << 30));
        file.extend([0x80 | track, 0, 0, 0x80, 1, 2, 3]);
        let run = drive(&mut MkvDemux::new(), &file, &mut || 16);
        assert_eq!(
            run.error.is_some(),
            refused,
            "track {track}: {:?}",
            run.error
        );
        if let Some(err) = run.error {
            assert!(
                err.contains("SimpleBlock") && err.contains("limit"),
                "{err}"
            );
        }
        assert!(run.peak_window < 64, "{}", run.peak_window);
        assert!(run.peak_parser < 4096, "{}", run.peak_parser);
    }

    // Sizes whose end passes 2^64 are errors, not wraps.
    let mut parser = primed();
    let err = parser
        .step(
            &el_header(0xEC, (1 << 56) - 2),
            u64::MAX - 20,
            false,
            &mut Vec::new(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("2^64"), "{err}");
}

#[test]
fn only_segment_and_cluster_may_have_an_unknown_size() {
    // 10,000 nested unknown-size clusters: each new Cluster closes the last; no growth.
    let mut file = webm(&[]);
    for _ in 0..10_000 {
        file.extend(unknown(ids::CLUSTER));
        file.extend(uint(ids::TIMESTAMP, 5));
    }
    file.extend(simple_block(1, 0, true, &[9]));
    let run = drive(&mut MkvDemux::new(), &file, &mut || 37);
    assert_eq!(run.error, None);
    assert_eq!(run.packets.len(), 1);
    // The largest element read whole is Tracks (< 100 bytes), plus one chunk.
    assert!(run.peak_window < 100 + 37, "{}", run.peak_window);
    assert!(run.peak_parser < 4096, "{}", run.peak_parser);

    // Unknown sizes anywhere else are refused with the element named.
    for (inner, what) in [
        (unknown(ids::BLOCK_GROUP), "BlockGroup"),
        (unknown(ids::TAGS), "0x1254c367"),
        (unknown(0xEC), "0xec"),
    ] {
        let mut file = webm(&[]);
        file.extend(unknown(ids::CLUSTER));
        file.extend(inner);
        file.extend([0u8; 16]);
        let err = whole(&file).error.unwrap();
        assert!(err.contains(what) && err.contains("unknown size"), "{err}");
    }
    // Inside an element read whole, too.
    let mut file = ebml_header("webm");
    file.extend(unknown(ids::SEGMENT));
    let mut entry = unknown(ids::TRACK_ENTRY);
    entry.extend(uint(ids::TRACK_NUMBER, 1));
    file.extend(tracks(&[entry]));
    let err = whole(&file).error.unwrap();
    assert!(err.contains("unknown size inside a sized parent"), "{err}");
}

#[test]
fn a_second_segment_ends_the_stream_and_other_doc_types_are_refused() {
    let one = webm(&[cluster(0, &[simple_block(1, 0, true, &[1])])]);
    let mut two = one.clone();
    two.extend(&one);
    let run = whole(&two);
    assert_eq!((run.error, run.packets.len()), (None, 1));

    let mut file = ebml_header("mkvx");
    file.extend(&one[ebml_header("webm").len()..]);
    let err = whole(&file).error.unwrap();
    assert!(err.contains("DocType 'mkvx'"), "{err}");
    let err = whole(b"RIFF\0\0\0\0WAVE").error.unwrap();
    assert!(err.contains("not an EBML file"), "{err}");
    let err = whole(&one[..3]).error.unwrap();
    assert!(err.contains("ends inside"), "{err}");
}

#[test]
fn clusters_before_tracks_and_files_without_video_are_refused() {
    let mut file = ebml_header("webm");
    file.extend(unknown(ids::SEGMENT));
    file.extend(cluster(0, &[simple_block(1, 0, true, &[1])]));
    let err = whole(&file).error.unwrap();
    assert!(err.contains("before the Tracks"), "{err}");

    let mut file = ebml_header("webm");
    file.extend(unknown(ids::SEGMENT));
    file.extend(tracks(&[track_entry(1, 2, "A_OPUS")]));
    let err = whole(&file).error.unwrap();
    assert!(
        err.contains("no video track") && err.contains("Audio A_OPUS"),
        "{err}"
    );
}

#[test]
fn truncation_inside_a_block_is_an_error_after_the_complete_packets() {
    let file = webm(&[cluster(
        0,
        &[
            simple_block(1, 0, true, &[1; 10]),
            simple_block(1, 40, false, &[2; 10]),
        ],
    )]);
    let run = whole(&file[..file.len() - 3]);
    assert_eq!(run.packets.len(), 1);
    let err = run.error.unwrap();
    assert!(err.contains("ends inside SimpleBlock"), "{err}");
}
