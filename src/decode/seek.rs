//! Exact random access: frames at display indices or times, from a source with a sample index.
//!
//! Invariant: the frame handed out for display index `d` is the `d`-th frame the decoder
//! outputs when the whole stream is decoded from its start — the frame ffmpeg's framemd5 lists
//! at line `d` — whatever the GOP structure and whatever the file's timestamps say, or the call
//! fails with [`Error::FramesNotAddressable`] saying why; never another frame. Each GOP is
//! decoded at most once per call.
//!
//! How (the plan is pure and tested on the CPU, against a model decoder too; the decode loop
//! follows it):
//! - **Display order** is the order a whole decode outputs frames, found without trusting a
//!   container's timestamps wherever the codec allows ([`DisplayOrder::of`]):
//!   - VP8, VP9 and AV1 do not reorder: a decoder outputs one frame per packet that shows one,
//!     in decode order. Display index `i` is the `i`-th shown sample in decode order, whatever
//!     the timestamps are (repeated, out of order, saturated).
//!   - H.264 and HEVC output pictures by coded video sequence and picture order count. Where
//!     the source knows that order ([`RandomAccessSource::display_ranks`]: raw streams from
//!     their index scan, MP4 and Matroska/WebM from one pass over the samples' headers), it is
//!     the display order; container timestamps only label the frames handed out. A muxer that
//!     wrote pts = dts for a stream with B-frames, repeated or saturated timestamps and laced
//!     blocks then address the frames a whole decode shows.
//!   - Otherwise (MPEG-2, a source of one's own without display ranks) the index's timestamps
//!     give the order, ties refused: two shown samples with one pts make the call fail, since
//!     nothing tells which is shown first.
//!
//!   Samples the index marks not shown ([`SampleIndex::is_shown`], a bit of its own: pictures
//!   a decoder outputs no frame for, such as hidden VP8/VP9 frames or RASL pictures at a
//!   stream's start) are fed but have no display index, as in ffmpeg's output. 8 bytes per
//!   sample.
//! - **Where to start** for target sample `s`: the last sync sample `k ≤ s` in decode order
//!   shown no later than `s`. A target earlier in display than the sync sample before it is a
//!   leading picture of that GOP (open GOP: HEVC RASL, H.264 open-GOP B-frames), which may
//!   reference the GOP before, so decoding starts one sync sample further back. Where no such
//!   sync sample exists, decoding starts at the first sample.
//! - **Runs**: targets are grouped by start sample and merged into runs `[start, last target]`
//!   in decode order; a run that starts at or before the previous run's end is merged into it,
//!   so no GOP is decoded twice and no backward seek happens that another order avoids. Each
//!   run: seek the source to its start, discard the decoder's state (a flush; the parser is
//!   renewed in an init window, as every parser renewal), feed samples through the run's last
//!   target, flush, and keep the target frames.
//! - **Which frame is which**: by display index, never by a file's timestamp. NVDEC's parser
//!   does not carry a packet's timestamp to that packet's picture: it hands the timestamps it
//!   was given to the pictures it shows, smallest first (decode indices fed as timestamps
//!   come back sorted, on other pictures). So each packet of a shown sample
//!   is fed with its **display index** as timestamp — unique, and increasing in the order the
//!   decoder outputs pictures — which then names its frame; pictures that are never shown are
//!   fed without one, and the leading pictures of a run's first sync sample, which reference
//!   the GOP before it, are not fed at all, so every timestamp given belongs to a picture that
//!   is shown. VP8, VP9 and AV1 frames are named by place instead, since their hidden frames
//!   (alt-ref frames inside a VP9 superframe) upset NVDEC's timestamps (frames after a
//!   superframe come out under other frames' timestamps): the k-th frame out of
//!   a run is the run's k-th sample that shows a frame. Either way a frame out of the decoder
//!   whose name was not given in its run (one frame more than the run's shown samples), or a
//!   shown sample fed that gives no frame by the run's end, ends the call with
//!   [`Error::FramesNotAddressable`] (a frame too many and one too few in one run cancel out:
//!   counting cannot see that). Frames handed out carry the index's pts of their sample.
//! - **What is not decoded**: a sample nobody asked for whose pictures no other picture
//!   references (H.264 `nal_ref_idc` 0, HEVC sub-layer non-reference pictures of the top
//!   sub-layer; see [`Disposable`]) is not fed, and frames nobody asked for are dropped without
//!   being mapped, so NVDEC's post-processing never runs for them. With x264's two B-frames a
//!   third of the pictures between a key frame and a target are left out.
//! - **By time** ([`Decoder::frame_at_time`]): the first frame in display order whose pts is at
//!   or after the time asked for, for streams whose shown samples' pts never decrease along
//!   display order; for others a time names no one frame, and the call fails.
//!
//! Trade-offs: a flush per run costs the frames held back for reordering and one parser
//! renewal (an init window, microseconds of lock hold) per run; keeping the parser across runs
//! would need NVDEC's discontinuity handling, whose behaviour with queued reference frames
//! NVIDIA does not document. The bitstream's order for H.264/HEVC in a container costs one read
//! of the track's bytes at the first random access on a stream (headers parsed only, 4 bytes a
//! sample kept): container timestamps alone cannot be checked against the pictures, and
//! trusting them hands out other frames for files a whole decode plays correctly; refusing
//! such files instead of using the bitstream's order would fail them for no reason. That order
//! has the raw index's documented limits (H.264 MMCO 5 and HEVC `no_output_of_prior_pics_flag`
//! are not followed; see [`annexb::index`](crate::input::annexb::index)).
//!
//! [`Error::FramesNotAddressable`]: crate::Error::FramesNotAddressable
//! [`RandomAccessSource::display_ranks`]: crate::input::RandomAccessSource::display_ranks
//! [`Disposable`]: crate::input::annexb::Disposable
//! [`Decoder::frame_at_time`]: crate::decode::Decoder::frame_at_time

mod decoder;
mod feed;
#[cfg(any(test, fuzzing))]
pub(crate) mod model;
mod order;
mod parallel;

use crate::input::SampleIndex;
pub(crate) use decoder::names_frames_by_order;
pub(crate) use feed::{Plan, RunFeed, RunNames, SampleAction};
pub use order::DisplayOrder;
pub use parallel::{frames_at_parallel, frames_at_parallel_with};

/// One stretch of decoding: from `start` through `end` (decode indices, inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    /// The sample decoding starts at (a sync sample, or 0).
    pub(crate) start: usize,
    /// The last sample fed (the run's last target in decode order).
    pub(crate) end: usize,
}

/// The sample decoding must start at to output sample `target` correctly. A sync sample not
/// shown is no later in display than anything.
pub(crate) fn start_for(order: &DisplayOrder, keys: &[u32], target: usize) -> usize {
    let shown_at = |s: usize| order.display_index(s);
    let target_at = shown_at(target);
    // Sync samples at or before the target in decode order, latest first.
    let before = keys.partition_point(|&k| k as usize <= target);
    keys[..before]
        .iter()
        .rev()
        .map(|&k| k as usize)
        .find(|&k| match (shown_at(k), target_at) {
            (Some(k), Some(t)) => k <= t,
            (None, _) => true,
            (Some(_), None) => false,
        })
        .unwrap_or(0)
}

/// Whether a picture shown at `at` is a leading picture of a run starting at a sample shown
/// at `start`: shown before it (a sample not shown leads nothing and is led by nothing).
fn is_leading(at: Option<usize>, start: Option<usize>) -> bool {
    matches!((at, start), (Some(at), Some(start)) if at < start)
}

/// The sync samples of `index`, in decode order.
pub(crate) fn sync_samples(index: &SampleIndex) -> Vec<u32> {
    (0..index.len())
        .filter(|&i| index.is_key(i))
        .filter_map(|i| u32::try_from(i).ok())
        .collect()
}

/// The runs that decode every sample of `targets` (decode indices, any order, repeats
/// allowed): sorted by start, overlapping runs merged.
pub(crate) fn plan(order: &DisplayOrder, keys: &[u32], targets: &[usize]) -> Vec<Run> {
    let mut runs: Vec<Run> = targets
        .iter()
        .map(|&t| Run {
            start: start_for(order, keys, t),
            end: t,
        })
        .collect();
    runs.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Run> = Vec::with_capacity(runs.len());
    for run in runs {
        // Before merging, a run's end is its target.
        let target_at = order.display_index(run.end);
        match merged.last_mut() {
            // Starts inside (or right where) the previous run decodes: extend it instead of
            // decoding that GOP a second time — unless the target would be a leading picture
            // of that run's start, which is left out (never so in a stream whose sync samples
            // are shown in decode order).
            Some(last)
                if run.start <= last.end
                    && !is_leading(target_at, order.display_index(last.start)) =>
            {
                last.end = last.end.max(run.end);
            }
            _ => merged.push(run),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The display order the timestamps of `index` claim.
    fn order(index: &SampleIndex) -> DisplayOrder {
        DisplayOrder::new(index).unwrap()
    }

    /// An index from (pts, key) pairs in decode order.
    fn index(samples: &[(i64, bool)]) -> SampleIndex {
        let mut index = SampleIndex::new();
        for (i, &(pts, key)) in samples.iter().enumerate() {
            index.push(i as u64 * 100, 100, pts, key);
        }
        index
    }

    /// I0 P3 B1 B2 P6 B4 B5 | I9 P12 B10 B11 (closed GOPs, pts in frame units).
    fn closed_gops() -> SampleIndex {
        index(&[
            (0, true),
            (3, false),
            (1, false),
            (2, false),
            (6, false),
            (4, false),
            (5, false),
            (9, true),
            (12, false),
            (10, false),
            (11, false),
            (7, false),
            (8, false),
        ])
    }

    #[test]
    fn display_order_sorts_by_pts_and_keeps_decode_order_for_equal_pts() {
        let order = DisplayOrder::new(&closed_gops()).unwrap();
        let shown: Vec<usize> = (0..order.len()).map(|d| order.sample(d).unwrap()).collect();
        assert_eq!(shown, vec![0, 2, 3, 1, 5, 6, 4, 11, 12, 7, 9, 10, 8]);
        let dup = index(&[(0, true), (5, false), (5, false), (3, false)]);
        let order = DisplayOrder::new(&dup).unwrap();
        let shown: Vec<usize> = (0..4).map(|d| order.sample(d).unwrap()).collect();
        assert_eq!(shown, vec![0, 3, 1, 2]);
    }

    #[test]
    fn a_frame_starts_at_the_sync_sample_before_it() {
        let idx = closed_gops();
        let keys = sync_samples(&idx);
        assert_eq!(keys, vec![0, 7]);
        assert_eq!(start_for(&order(&idx), &keys, 5), 0);
        assert_eq!(start_for(&order(&idx), &keys, 9), 7);
        assert_eq!(start_for(&order(&idx), &keys, 7), 7);
    }

    #[test]
    fn a_leading_picture_of_an_open_gop_starts_one_gop_earlier() {
        // Samples 11 and 12 (pts 7, 8) follow the sync sample 7 (pts 9) in decode order
        // but precede it in display: leading pictures, which may reference the first GOP.
        let idx = closed_gops();
        let keys = sync_samples(&idx);
        assert_eq!(start_for(&order(&idx), &keys, 11), 0);
        assert_eq!(start_for(&order(&idx), &keys, 12), 0);
    }

    #[test]
    fn without_a_usable_sync_sample_decoding_starts_at_the_first_sample() {
        let idx = index(&[(1, false), (0, false), (2, true), (3, false)]);
        let keys = sync_samples(&idx);
        assert_eq!(start_for(&order(&idx), &keys, 1), 0);
        assert_eq!(start_for(&order(&idx), &keys, 3), 2);
    }

    #[test]
    fn targets_in_one_gop_share_one_run_and_repeats_cost_nothing() {
        let idx = closed_gops();
        let keys = sync_samples(&idx);
        let runs = plan(&order(&idx), &keys, &[5, 2, 5, 1]);
        assert_eq!(runs, vec![Run { start: 0, end: 5 }]);
    }

    #[test]
    fn runs_come_in_decode_order_whatever_the_request_order() {
        let idx = closed_gops();
        let keys = sync_samples(&idx);
        let runs = plan(&order(&idx), &keys, &[9, 2]);
        assert_eq!(
            runs,
            vec![Run { start: 0, end: 2 }, Run { start: 7, end: 9 }]
        );
    }

    #[test]
    fn a_run_that_starts_inside_another_is_merged_so_no_gop_is_decoded_twice() {
        let idx = closed_gops();
        let keys = sync_samples(&idx);
        // Sample 11 is a leading picture: it starts at 0 and ends past sync sample 7, so the
        // run for sample 9 (starting at 7) lies inside it.
        let runs = plan(&order(&idx), &keys, &[9, 11]);
        assert_eq!(runs, vec![Run { start: 0, end: 11 }]);
    }

    #[test]
    fn runs_are_shared_among_decoders_each_reading_in_file_order() {
        let idx = closed_gops();
        // Display 0 (GOP 1) and display 9 and 12 (GOP 2): two runs for two decoders.
        let plan = Plan::new(&idx, &order(&idx), &[12, 0, 9]).unwrap();
        assert_eq!(plan.runs.len(), 2);
        let shares = plan.split(2);
        assert_eq!(shares.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1]);
        let one = plan.split(1);
        let starts: Vec<usize> = one[0].iter().map(|r| r.run.start).collect();
        assert_eq!(
            starts,
            vec![0, 7],
            "one decoder reads its runs in file order"
        );
        assert_eq!(plan.split(5).iter().filter(|s| !s.is_empty()).count(), 2);
    }

    #[test]
    fn a_time_finds_the_first_frame_at_or_after_it() {
        let idx = closed_gops();
        let order = DisplayOrder::new(&idx).unwrap();
        assert_eq!(order.at_or_after(&idx, 4), Some(4));
        assert_eq!(order.at_or_after(&idx, -5), Some(0));
        assert_eq!(order.at_or_after(&idx, 13), None);
    }
}

#[cfg(test)]
mod crafted;
