//! Each shape of file whose timestamps do not name its frames, planned and handed out against
//! the model decoder (`model`): the frames handed out are those a whole decode shows at the
//! indices asked for, or the call fails saying why.

use super::model::{Case, check, frames_at};
use super::*;
use crate::Codec;
use crate::error::{Error, Result};
use crate::input::DisplayRanks;

/// An index from (pts, key, shown) in decode order.
fn index(samples: &[(i64, bool, bool)]) -> SampleIndex {
    let mut index = SampleIndex::new();
    for (i, &(pts, key, shown)) in samples.iter().enumerate() {
        index.push_sample(i as u64 * 10, 10, pts, key, shown);
    }
    index
}

/// Display ranks in decode order (`None`: not shown), as a bitstream scan gives them.
fn ranks(ranks: &[Option<i64>]) -> DisplayRanks {
    let mut raw = SampleIndex::new();
    for r in ranks {
        raw.push_sample(
            0,
            1,
            r.unwrap_or(SampleIndex::NOT_SHOWN),
            false,
            r.is_some(),
        );
    }
    DisplayRanks::from_rank_index(&raw).unwrap()
}

fn case(index: SampleIndex, codec: Codec, ranks: Option<DisplayRanks>) -> Case {
    let n = index.len();
    Case {
        index,
        codec,
        ranks,
        droppable: vec![false; n],
        requests: Vec::new(),
        extra_frame: None,
        dropped_frame: None,
    }
}

/// The samples handed out for `requests`.
fn samples(case: &mut Case, requests: &[usize]) -> Result<Vec<usize>> {
    case.requests = requests.to_vec();
    check(case);
    Ok(frames_at(case)?.into_iter().map(|f| f.0).collect())
}

#[test]
fn two_ivf_frames_at_pts_0_are_two_frames() {
    let idx = index(&[(0, true, true), (0, false, true), (1, false, true)]);
    let mut c = case(idx, Codec::Vp9, None);
    assert_eq!(samples(&mut c, &[1, 0, 1, 2]).unwrap(), vec![1, 0, 1, 2]);
}

#[test]
fn an_ivf_frame_whose_pts_is_the_placeholder_is_shown_and_shifts_nothing() {
    let nothing = SampleIndex::NOT_SHOWN;
    let idx = index(&[(nothing, true, true), (5, false, false), (1, false, true)]);
    let order = DisplayOrder::for_codec(&idx, Codec::Vp9, None).unwrap();
    assert_eq!(
        (order.len(), order.sample(0), order.sample(1)),
        (2, Some(0), Some(2))
    );
    let mut c = case(idx, Codec::Vp9, None);
    assert_eq!(samples(&mut c, &[1, 0]).unwrap(), vec![2, 0]);
}

#[test]
fn vp9_frames_are_in_decode_order_whatever_their_timestamps() {
    // Out of order and saturated: a VP9 decoder shows its frames in decode order.
    let idx = index(&[
        (i64::MAX, true, true),
        (3, false, true),
        (i64::MIN, false, true),
        (1, false, true),
    ]);
    let mut c = case(idx, Codec::Vp9, None);
    assert_eq!(samples(&mut c, &[3, 2, 1, 0]).unwrap(), vec![3, 2, 1, 0]);
}

/// I0 P3 B1 B2 | I4 P7 B5 B6: decode order, ranks from the pictures' order counts.
fn b_frame_ranks() -> DisplayRanks {
    ranks(&[0, 3, 1, 2, 4, 7, 5, 6].map(Some))
}

#[test]
fn pts_written_as_dts_for_b_frames_give_the_bitstreams_order() {
    // The muxer wrote pts = dts: the timestamps claim decode order.
    let keys = [true, false, false, false, true, false, false, false];
    let samples_at: Vec<(i64, bool, bool)> =
        (0..8).map(|i| (i as i64 * 512, keys[i], true)).collect();
    let idx = index(&samples_at);
    let claimed = DisplayOrder::new(&idx).unwrap();
    assert_eq!(
        claimed.sample(1),
        Some(1),
        "the timestamps name the P frame"
    );
    let mut c = case(idx.clone(), Codec::H264, Some(b_frame_ranks()));
    // A whole decode shows I0 B2 B3 P1 | I4 B6 B7 P5.
    assert_eq!(
        samples(&mut c, &[1, 3, 0, 6, 7, 5]).unwrap(),
        vec![2, 1, 0, 7, 5, 6]
    );
    let order = DisplayOrder::for_codec(&idx, Codec::H264, Some(&b_frame_ranks())).unwrap();
    assert!(
        !order.pts_follow_display(),
        "a time names no one frame here"
    );
}

#[test]
fn duplicated_ctts_offsets_are_ordered_by_the_bitstream_or_refused() {
    // ctts gave the two B-frames one offset: pts 0 1024 512 512.
    let idx = index(&[
        (0, true, true),
        (1024, false, true),
        (512, false, true),
        (512, false, true),
    ]);
    let r = ranks(&[Some(0), Some(3), Some(1), Some(2)]);
    let mut c = case(idx.clone(), Codec::H264, Some(r));
    assert_eq!(samples(&mut c, &[2, 1, 3]).unwrap(), vec![3, 2, 1]);
    // Without the bitstream's order nothing tells the two B-frames apart.
    let mut c = case(idx, Codec::H264, None);
    let err = samples(&mut c, &[1]).unwrap_err();
    assert!(
        matches!(&err, Error::FramesNotAddressable { reason } if reason.contains("samples 2 and 3")),
        "{err}"
    );
}

#[test]
fn an_edit_list_saturating_every_pts_is_ordered_by_the_bitstream_or_refused() {
    let idx = index(&[(i64::MAX, true, true); 4]);
    let r = ranks(&[Some(0), Some(3), Some(1), Some(2)]);
    let mut c = case(idx.clone(), Codec::Hevc, Some(r));
    assert_eq!(samples(&mut c, &[3, 0, 1]).unwrap(), vec![1, 0, 2]);
    let mut c = case(idx.clone(), Codec::Av1, None);
    assert_eq!(samples(&mut c, &[3, 0]).unwrap(), vec![3, 0]);
    let err = DisplayOrder::for_codec(&idx, Codec::Mpeg2, None).unwrap_err();
    assert!(matches!(err, Error::FramesNotAddressable { .. }), "{err}");
}

#[test]
fn laced_matroska_frames_at_one_timestamp_are_four_frames() {
    // One laced block of four frames: all at the block's pts.
    let idx = index(&[
        (0, true, true),
        (0, false, true),
        (0, false, true),
        (0, false, true),
        (40, true, true),
    ]);
    let mut c = case(idx.clone(), Codec::Vp8, None);
    assert_eq!(samples(&mut c, &[3, 2, 4, 1]).unwrap(), vec![3, 2, 4, 1]);
    let r = ranks(&[Some(0), Some(2), Some(1), Some(3), Some(4)]);
    let mut c = case(idx, Codec::H264, Some(r));
    assert_eq!(samples(&mut c, &[1, 2, 4]).unwrap(), vec![2, 1, 4]);
}

#[test]
fn matroska_timestamps_clamped_to_0_are_ordered_by_the_bitstream() {
    // Negative block timestamps clamped to 0: the first three frames share pts 0.
    let idx = index(&[
        (0, true, true),
        (0, false, true),
        (0, false, true),
        (33, false, true),
        (66, false, true),
    ]);
    let r = ranks(&[Some(0), Some(2), Some(1), Some(4), Some(3)]);
    let mut c = case(idx, Codec::Hevc, Some(r));
    assert_eq!(
        samples(&mut c, &[0, 1, 2, 3, 4]).unwrap(),
        vec![0, 2, 1, 4, 3]
    );
}

#[test]
fn a_decoder_that_outputs_a_frame_nobody_fed_ends_the_call() {
    // Sample 1 is marked not shown but the decoder shows it: the names would shift.
    let idx = index(&[
        (0, true, true),
        (1, false, false),
        (2, false, true),
        (3, false, true),
    ]);
    let mut c = case(idx, Codec::Vp9, None);
    c.extra_frame = Some(1);
    c.requests = vec![1, 2];
    let err = frames_at(&c).unwrap_err();
    assert!(matches!(err, Error::FramesNotAddressable { .. }), "{err}");
}

#[test]
fn a_decoder_that_outputs_no_frame_for_a_shown_sample_ends_the_call() {
    // Frames after the missing one would come out under its name.
    let idx = index(&[
        (0, true, true),
        (1, false, true),
        (2, false, true),
        (3, false, true),
    ]);
    for codec in [Codec::Vp9, Codec::H264] {
        let mut c = case(idx.clone(), codec, None);
        c.dropped_frame = Some(1);
        c.requests = vec![2, 3];
        let err = frames_at(&c).unwrap_err();
        assert!(matches!(err, Error::FramesNotAddressable { .. }), "{err}");
    }
}
