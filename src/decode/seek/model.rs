//! A model of a whole decode and of NVDEC's frame naming, against which the random-access plan
//! (display order, runs, feeding, hand-out) is checked on the CPU: by the unit tests below, a
//! proptest, and the `seek_plan` fuzz target (`--cfg fuzzing`, as `cargo fuzz` builds).
//!
//! Invariant: every check here is an `assert!`, on purpose — this code exists to turn a frame
//! handed out for the wrong display index into a crash the fuzzer reports. It is compiled only
//! for tests and fuzzing builds, never into the library proper.
//!
//! The model: a whole decode outputs the shown samples in decode order (VP8/VP9/AV1), or by
//! the bitstream's display ranks (H.264/HEVC, when the source reports them), or, for a source
//! that reports none, in the order of its timestamps when they are unique (else no order is
//! known, and the call must fail). The model decoder outputs a reordering codec's pictures at
//! the end of each run in that order, each under the smallest timestamp fed and not yet handed
//! out (what NVDEC does); a codec without reordering outputs each shown frame as it
//! is fed, under a timestamp that means nothing. A lying decoder outputs a frame for one sample
//! the index says is not shown, or none for one it says is shown.

use std::collections::BTreeMap;

use super::{DisplayOrder, Plan, RunFeed, SampleAction, names_frames_by_order};
use crate::Codec;
use crate::error::{Error, Result};
use crate::input::{DisplayRanks, SampleIndex};

/// One case: a track as its source describes it, and the requests.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) index: SampleIndex,
    pub(crate) codec: Codec,
    /// The bitstream's order, as the source reports it.
    pub(crate) ranks: Option<DisplayRanks>,
    /// Samples no other picture references.
    pub(crate) droppable: Vec<bool>,
    /// Display indices asked for.
    pub(crate) requests: Vec<usize>,
    /// The decoder outputs a frame for this sample although it is not shown.
    pub(crate) extra_frame: Option<usize>,
    /// The decoder outputs no frame for this sample although it is shown.
    pub(crate) dropped_frame: Option<usize>,
}

impl Case {
    /// Whether a whole decode outputs a frame for `sample`.
    fn shown(&self, sample: usize) -> bool {
        match (&self.ranks, names_frames_by_order(self.codec)) {
            (Some(ranks), false) => ranks.rank(sample).is_some(),
            _ => self.index.is_shown(sample),
        }
    }

    /// The samples a whole decode outputs, in output order; `None` when nothing orders them.
    fn whole_decode(&self) -> Option<Vec<usize>> {
        let shown: Vec<usize> = (0..self.index.len()).filter(|&s| self.shown(s)).collect();
        if names_frames_by_order(self.codec) {
            return Some(shown);
        }
        if let Some(ranks) = &self.ranks {
            let mut by_rank = shown;
            by_rank.sort_by_key(|&s| ranks.rank(s));
            return Some(by_rank);
        }
        let mut by_pts = shown;
        by_pts.sort_by_key(|&s| (self.index.pts(s), s));
        let pts = |s: &usize| self.index.pts(*s);
        let unique = by_pts.windows(2).all(|w| pts(&w[0]) != pts(&w[1]));
        unique.then_some(by_pts)
    }
}

/// The model decoder of one run.
struct ModelDecoder {
    by_order: bool,
    /// Frames out, not taken yet: (sample, timestamp).
    out: Vec<(usize, i64)>,
    /// Reordering codecs: pictures waiting for the end of the run, with their output place.
    waiting: Vec<(usize, usize)>,
    /// Timestamps fed and not handed out yet, with their counts.
    timestamps: BTreeMap<i64, usize>,
}

impl ModelDecoder {
    fn feed(&mut self, sample: usize, timestamp: Option<i64>, place: Option<usize>) {
        if let Some(t) = timestamp {
            *self.timestamps.entry(t).or_default() += 1;
        }
        let Some(place) = place else { return };
        if self.by_order {
            // The timestamps of codecs without reordering mean nothing (hidden frames).
            self.out.push((sample, place as i64 * 7 - 3));
        } else {
            self.waiting.push((place, sample));
        }
    }

    fn flush(&mut self) {
        self.waiting.sort_unstable();
        for (_, sample) in std::mem::take(&mut self.waiting) {
            let t = match self.timestamps.first_entry() {
                Some(mut e) => {
                    let t = *e.key();
                    *e.get_mut() -= 1;
                    if *e.get() == 0 {
                        e.remove();
                    }
                    t
                }
                None => 0,
            };
            self.out.push((sample, t));
        }
    }
}

/// Hands the frames `decoder` output to the plan, as `take_wanted` does.
fn take(
    decoder: &mut ModelDecoder,
    feed: &mut RunFeed<'_>,
    got: &mut [Vec<(usize, i64)>],
) -> Result<()> {
    for (sample, timestamp) in std::mem::take(&mut decoder.out) {
        if let Some(w) = feed.output(timestamp)? {
            while got[w.slot].len() < w.copies {
                got[w.slot].push((sample, w.pts));
            }
        }
    }
    Ok(())
}

/// What `frames_at` hands out for `case` with the model decoder: (sample, pts) per request.
pub(crate) fn frames_at(case: &Case) -> Result<Vec<(usize, i64)>> {
    let order = DisplayOrder::for_codec(&case.index, case.codec, case.ranks.as_ref())?;
    let plan = Plan::new(&case.index, &order, &case.requests)?;
    let by_order = names_frames_by_order(case.codec);
    // Output place of each sample in a whole decode (the decoder's own order).
    let truth = case.whole_decode().unwrap_or_default();
    let mut place = vec![None; case.index.len()];
    for (p, &s) in truth.iter().enumerate() {
        place[s] = Some(p);
    }
    let mut got = plan.empty_results();
    for run in &plan.runs {
        let mut feed = RunFeed::new(&plan, run, by_order);
        let mut decoder = ModelDecoder {
            by_order,
            out: Vec::new(),
            waiting: Vec::new(),
            timestamps: BTreeMap::new(),
        };
        for sample in run.run.start..=run.run.end {
            let droppable = case.droppable.get(sample).copied().unwrap_or(false);
            match feed.sample(sample, droppable) {
                SampleAction::Outside => break,
                SampleAction::LeftOut => {}
                SampleAction::Feed(timestamp) => {
                    let extra = (case.extra_frame == Some(sample)).then_some(usize::MAX);
                    let place = place.get(sample).copied().flatten();
                    let place = place.filter(|_| case.dropped_frame != Some(sample));
                    decoder.feed(sample, timestamp, place.or(extra));
                    take(&mut decoder, &mut feed, &mut got)?;
                }
            }
        }
        decoder.flush();
        take(&mut decoder, &mut feed, &mut got)?;
        feed.finish()?;
    }
    plan.in_request_order(got)
}

/// Checks `frames_at` on `case` against the model: every frame handed out is the frame a
/// whole decode shows at the index asked for, carrying its sample's pts, or the call fails
/// for a reason the case gives.
///
/// # Panics
/// When it is not so.
pub(crate) fn check(case: &Case) {
    let truth = case.whole_decode();
    let extra = case
        .extra_frame
        .is_some_and(|s| s < case.index.len() && !case.shown(s));
    let dropped = case.dropped_frame.is_some_and(|s| case.shown(s));
    match (truth, frames_at(case)) {
        (Some(truth), Ok(frames)) => {
            assert_eq!(frames.len(), case.requests.len());
            for (&d, &(sample, pts)) in case.requests.iter().zip(&frames) {
                assert_eq!(Some(&sample), truth.get(d), "display index {d}: {case:?}");
                assert_eq!(Some(pts), case.index.pts(sample), "pts of {d}");
            }
        }
        (Some(truth), Err(Error::FrameOutOfRange { index, frames })) => {
            assert_eq!(frames, truth.len());
            assert!(index >= frames && case.requests.contains(&index));
        }
        (Some(_), Err(Error::FramesNotAddressable { .. })) if extra || dropped => {}
        // Its references precede the stream: no sync sample at or before it in decode order
        // is shown no later than it.
        (Some(truth), Err(Error::FrameNotDecoded { index, sample })) => {
            assert_eq!(truth.get(index), Some(&sample));
            let place = |s: usize| truth.iter().position(|&t| t == s);
            let usable = (0..=sample)
                .filter(|&k| case.index.is_key(k))
                .any(|k| place(k).is_none_or(|p| p <= index));
            assert!(
                !usable,
                "frame {index} (sample {sample}) not decoded: {case:?}"
            );
        }
        (None, Err(Error::FramesNotAddressable { .. })) => {}
        (None, Ok(_)) => panic!("an unknown order was addressed: {case:?}"),
        (_, Err(e)) => panic!("{e}: {case:?}"),
    }
}

/// Reads bytes as a [`Case`] (up to 48 samples; pts from a small set with repeats, the
/// placeholder `NOT_SHOWN` and both saturations; hidden samples; any display ranks).
pub(crate) fn case_from_bytes(data: &[u8]) -> Option<Case> {
    let (&head, rest) = data.split_first()?;
    let codec = match head % 4 {
        0 => Codec::Vp9,
        1 | 2 => Codec::H264,
        _ => Codec::Mpeg2,
    };
    let with_ranks = head % 4 == 1;
    let specials = head & 0x10 != 0;
    let (rest, samples) = rest.split_at(rest.len().min(13));
    let samples = samples.get(..samples.len().min(48 * 3)).unwrap_or(&[]);
    let mut index = SampleIndex::new();
    let mut droppable = Vec::new();
    let mut keys_by = Vec::new();
    for (i, s) in samples.chunks_exact(3).enumerate() {
        // Mostly distinct, near decode order and sometimes before a neighbour; where the case
        // allows, sometimes repeated, saturated, or the raw placeholder.
        let pts = match (specials && s[2] & 0x0f == 0, s[2] >> 4 & 3) {
            (true, 0) => i64::MIN,
            (true, 1) => i64::MAX,
            (true, 2) => SampleIndex::NOT_SHOWN.wrapping_add(1),
            (true, _) => 7,
            (false, _) => i as i64 * 100 + i64::from(s[0]) - 128,
        };
        let key = i == 0 || s[1] & 0x3 == 0;
        let shown = s[1] & 0x1c != 0x1c;
        index.push_sample(i as u64, 1, pts, key, shown);
        droppable.push(s[1] & 0x20 != 0);
        // Bitstream ranks: mostly decode order, sometimes moved; some samples not shown.
        let moved = if s[1] & 0x40 != 0 {
            i as i64 + i64::from(s[2] % 7) - 3
        } else {
            i as i64
        };
        keys_by.push((s[2] & 0x80 == 0 || i == 0, moved, i));
    }
    let ranks = if with_ranks {
        let mut shown: Vec<(i64, usize)> =
            keys_by.iter().filter(|k| k.0).map(|k| (k.1, k.2)).collect();
        shown.sort_unstable();
        let mut rank = vec![None; index.len()];
        for (r, &(_, s)) in shown.iter().enumerate() {
            rank[s] = Some(r as i64);
        }
        let mut raw = SampleIndex::new();
        for r in rank {
            raw.push_sample(
                0,
                1,
                r.unwrap_or(SampleIndex::NOT_SHOWN),
                false,
                r.is_some(),
            );
        }
        Some(DisplayRanks::from_rank_index(&raw)?)
    } else {
        None
    };
    let mut case = Case {
        index,
        codec,
        ranks,
        droppable,
        requests: Vec::new(),
        extra_frame: None,
        dropped_frame: None,
    };
    // One fault at a time: a frame too many and one too few in one run cancel out, which
    // counting cannot see.
    let fault = rest.first().map(|&b| usize::from(b >> 2));
    if rest.first().is_some_and(|&b| b & 1 == 0) {
        case.extra_frame = fault;
    } else {
        case.dropped_frame = fault;
    }
    // Mostly frames that exist; a byte's top bit may ask for the one past the last.
    let frames = case.whole_decode().map_or(case.index.len(), |t| t.len());
    case.requests = rest
        .iter()
        .skip(1)
        .take(12)
        .map(|&b| {
            if b == 0xff {
                frames
            } else {
                usize::from(b) % frames.max(1)
            }
        })
        .collect();
    Some(case)
}

/// The `seek_plan` fuzz target's body: [`check`] on the case `data` describes.
///
/// # Panics
/// When the plan hands out a frame other than the one a whole decode shows there.
pub fn fuzz_plan(data: &[u8]) {
    if let Some(case) = case_from_bytes(data) {
        check(&case);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn frames_at_hands_out_the_frames_a_whole_decode_shows(
            data in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            fuzz_plan(&data);
        }
    }
}

/// Replays what the `seek_plan` fuzz target found (kept by `scripts/fuzz.sh` under
/// `tests/data/fuzz-regressions/seek_plan/`).
#[cfg(test)]
mod regressions {
    #[test]
    fn inputs_the_fuzzer_found_pass_the_model() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/fuzz-regressions/seek_plan");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            super::fuzz_plan(&std::fs::read(&path).unwrap());
        }
    }
}
