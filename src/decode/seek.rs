//! Exact random access: frames at display indices or times, from a source with a sample index.
//!
//! Invariant: the frame handed out for display index `d` is the `d`-th frame the decoder
//! outputs when the whole stream is decoded from its start — the frame ffmpeg's framemd5 lists
//! at line `d` — whatever the GOP structure, and each GOP is decoded at most once per call.
//!
//! How (the plan is pure and tested on the CPU; the decode loop follows it):
//! - **Display order** comes from the sample index: samples sorted by presentation timestamp
//!   (the container's, or for raw streams the display rank a scan found), ties kept in decode
//!   order ([`DisplayOrder`]); samples marked [`SampleIndex::NOT_SHOWN`] (pictures a decoder
//!   outputs no frame for, such as RASL pictures at a stream's start) are fed but have no
//!   display index, as in ffmpeg's output. 4 bytes per sample.
//! - **Where to start** for target sample `s`: the last sync sample `k ≤ s` in decode order whose
//!   pts is not after `s`'s. A target earlier in display than the sync sample before it is a
//!   leading picture of that GOP (open GOP: HEVC RASL, H.264 open-GOP B-frames), which may
//!   reference the GOP before, so decoding starts one sync sample further back. Where no such
//!   sync sample exists, decoding starts at the first sample.
//! - **Runs**: targets are grouped by start sample and merged into runs `[start, last target]`
//!   in decode order; a run that starts at or before the previous run's end is merged into it,
//!   so no GOP is decoded twice and no backward seek happens that another order avoids. Each
//!   run: seek the source to its start, discard the decoder's state (a flush; the parser is
//!   renewed in an init window, as every parser renewal), feed samples through the run's last
//!   target, flush, and keep the target frames.
//! - **Which frame is which**: by timestamp. NVDEC's parser does not carry a packet's
//!   timestamp to that packet's picture: it hands the timestamps it was given to the pictures
//!   it shows, smallest first (seen on an H200, R580: decode indices fed as timestamps came
//!   back sorted, on other pictures). So each packet is fed with its presentation timestamp,
//!   which then names its frame; pictures that are never shown are fed without one, and the
//!   leading pictures of a run's first sync sample, which reference the GOP before it, are
//!   not fed at all, so every timestamp given belongs to a picture that is shown. Where a
//!   container repeats a timestamp, frames of equal timestamps are told apart only by order.
//!   VP8, VP9 and AV1 do not reorder, but their hidden frames (alt-ref frames inside a VP9
//!   superframe) upset NVDEC's timestamps (seen on an H200, R580: frames after a superframe
//!   came out under other frames' timestamps), so their frames are named by place instead: the
//!   k-th frame out of a run is the run's k-th sample that shows a frame (packets of hidden
//!   frames only are [`SampleIndex::NOT_SHOWN`] in the index).
//! - **What is not decoded**: a sample nobody asked for whose pictures no other picture
//!   references (H.264 `nal_ref_idc` 0, HEVC sub-layer non-reference pictures of the top
//!   sub-layer; see [`Disposable`]) is not fed, and frames nobody asked for are dropped without
//!   being mapped, so NVDEC's post-processing never runs for them. With x264's two B-frames a
//!   third of the pictures between a key frame and a target are left out.
//!
//! Trade-off: a flush per run costs the frames held back for reordering and one parser renewal
//! (an init window, microseconds of lock hold) per run; keeping the parser across runs would
//! need NVDEC's discontinuity handling, whose behaviour with queued reference frames NVIDIA
//! does not document.

use std::collections::VecDeque;

use super::{DecodedFrames, Decoder, DeviceFramePool, Frame, OwnedFrame};
use crate::Codec;
use crate::error::{Error, Result};
use crate::input::annexb::Disposable;
use crate::input::{InputError, RandomAccessSource, SampleIndex};

/// Display order of a track: display index → sample (decode) index.
///
/// Invariant: the samples not marked [`SampleIndex::NOT_SHOWN`], each once, sorted by
/// (pts, decode index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayOrder {
    samples: Vec<u32>,
}

impl DisplayOrder {
    /// The display order of `index`'s samples.
    ///
    /// # Errors
    /// [`InputError::LimitExceeded`](crate::input::InputError::LimitExceeded) for an index of
    /// more than `u32::MAX` samples.
    pub fn new(index: &SampleIndex) -> Result<Self> {
        let n = u32::try_from(index.len()).map_err(|_| InputError::LimitExceeded {
            what: "samples for random access".into(),
            limit: u64::from(u32::MAX),
        })?;
        let mut samples: Vec<u32> = (0..n)
            .filter(|&s| index.pts(s as usize) != Some(SampleIndex::NOT_SHOWN))
            .collect();
        samples.sort_by_key(|&s| (index.pts(s as usize).unwrap_or(i64::MAX), s));
        Ok(Self { samples })
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The sample shown at display index `display`.
    pub fn sample(&self, display: usize) -> Option<usize> {
        self.samples.get(display).map(|&s| s as usize)
    }

    /// The display index of the first frame presented at or after `pts`, if any.
    pub fn at_or_after(&self, index: &SampleIndex, pts: i64) -> Option<usize> {
        let first = self
            .samples
            .partition_point(|&s| index.pts(s as usize).unwrap_or(i64::MAX) < pts);
        (first < self.samples.len()).then_some(first)
    }
}

/// One stretch of decoding: from `start` through `end` (decode indices, inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    /// The sample decoding starts at (a sync sample, or 0).
    pub(crate) start: usize,
    /// The last sample fed (the run's last target in decode order).
    pub(crate) end: usize,
}

/// The sample decoding must start at to output sample `target` correctly.
pub(crate) fn start_for(index: &SampleIndex, keys: &[u32], target: usize) -> usize {
    let target_pts = index.pts(target).unwrap_or(i64::MIN);
    // Sync samples at or before the target in decode order, latest first.
    let before = keys.partition_point(|&k| k as usize <= target);
    keys[..before]
        .iter()
        .rev()
        .map(|&k| k as usize)
        .find(|&k| index.pts(k).unwrap_or(i64::MAX) <= target_pts)
        .unwrap_or(0)
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
pub(crate) fn plan(index: &SampleIndex, keys: &[u32], targets: &[usize]) -> Vec<Run> {
    let mut runs: Vec<Run> = targets
        .iter()
        .map(|&t| Run {
            start: start_for(index, keys, t),
            end: t,
        })
        .collect();
    runs.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Run> = Vec::with_capacity(runs.len());
    for run in runs {
        match merged.last_mut() {
            // Starts inside (or right where) the previous run decodes: extend it instead of
            // decoding that GOP a second time.
            Some(last) if run.start <= last.end => last.end = last.end.max(run.end),
            _ => merged.push(run),
        }
    }
    merged
}

impl Decoder {
    /// Decodes the frames at `display_indices` (display order, 0-based: line `i` of ffmpeg's
    /// framemd5 of the whole stream), in any order and with repeats, and returns copies of
    /// them in `pool`, in request order.
    ///
    /// Each GOP is decoded at most once per call, in decode order (see the module docs for
    /// the plan); the decoder's current stream, if any, is discarded first (as by
    /// [`reset`](Self::reset)) and the decoder is ready for another stream afterwards.
    /// Frames handed out carry the container's pts.
    ///
    /// # Errors
    /// - [`Error::FrameOutOfRange`] for an index past the last frame (nothing is decoded).
    /// - [`Error::FrameNotDecoded`] when the decoder outputs no picture for a requested
    ///   sample (an undecodable picture, e.g. a leading picture at the very start).
    /// - What the source's [`RandomAccessSource`] methods, [`decode`](Self::decode),
    ///   [`flush`](Self::flush), [`reset`](Self::reset) and
    ///   [`Frame::copy_to_pool`](super::Frame::copy_to_pool) return.
    ///
    /// # Examples
    /// ```no_run
    /// use nvcodec_guard::decode::{
    ///     DecoderBuilder, DecoderConfig, DeviceFramePool, RandomAccessSource,
    /// };
    /// use nvcodec_guard::Codec;
    ///
    /// # fn demo(stream: &mut impl RandomAccessSource) -> nvcodec_guard::Result<()> {
    /// let mut decoder = DecoderBuilder::new(DecoderConfig::new(Codec::H264)).build()?;
    /// let pool = DeviceFramePool::new(decoder.context());
    /// let frames = decoder.frames_at(stream, &[120, 3, 120, 0], &pool)?;
    /// assert_eq!(frames.len(), 4);
    /// # Ok(()) }
    /// ```
    pub fn frames_at(
        &mut self,
        source: &mut impl RandomAccessSource,
        display_indices: &[usize],
        pool: &DeviceFramePool,
    ) -> Result<Vec<OwnedFrame>> {
        self.frames_at_with(source, display_indices, |frame| frame.copy_to_pool(pool))
    }

    /// [`frames_at`](Self::frames_at), handing each wanted frame to `keep` while it is mapped
    /// instead of copying it: convert it to RGB, copy it into a batch, or anything a
    /// [`Frame`] allows. `keep` is called once per requested index (a repeated index, once per
    /// repeat), as the frames come out of the decoder (display order within each stretch of
    /// GOPs, stretches in file order), and what it returns comes back in request order.
    /// Frames carry the container's pts, as with `frames_at`.
    ///
    /// # Errors
    /// As [`frames_at`](Self::frames_at); the first error `keep` returns (decoding stops).
    ///
    /// # Examples
    /// Frames at indices as normalised planar RGB, converted on the GPU as they are decoded:
    /// ```no_run
    /// use nvcodec_guard::convert::{ConvertSpec, Converter, RgbFramePool, RgbLayout, SampleType};
    /// use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig, RandomAccessSource};
    ///
    /// # fn demo(stream: &mut impl RandomAccessSource, codec: nvcodec_guard::Codec) -> nvcodec_guard::Result<()> {
    /// let mut decoder = DecoderBuilder::new(DecoderConfig::new(codec)).build()?;
    /// let converter = Converter::new(decoder.context())?;
    /// let rgb_pool = RgbFramePool::new(decoder.context());
    /// let spec = ConvertSpec::new(RgbLayout::PlanarRgb, SampleType::F32);
    /// let rgb = decoder.frames_at_with(stream, &[120, 3], |frame| {
    ///     converter.convert_to_pool(frame, &spec, &rgb_pool)
    /// })?;
    /// assert_eq!(rgb.len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn frames_at_with<T>(
        &mut self,
        source: &mut impl RandomAccessSource,
        display_indices: &[usize],
        mut keep: impl FnMut(&Frame<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let plan = Plan::new(source.sample_index()?, display_indices)?;
        let mut got = plan.empty_results();
        self.decode_runs(source, &plan, &plan.runs, &mut keep, &mut got)?;
        plan.in_request_order(got)
    }

    /// Feeds `runs` of `plan` and keeps the wanted frames in `got` (by wanted timestamp).
    fn decode_runs<T>(
        &mut self,
        source: &mut impl RandomAccessSource,
        plan: &Plan,
        runs: &[RunPts],
        keep: &mut impl FnMut(&Frame<'_>) -> Result<T>,
        got: &mut [Vec<T>],
    ) -> Result<()> {
        let codec = self.config().codec;
        let by_order = names_frames_by_order(codec);
        self.reset()?;
        let mut packet = Vec::new();
        for RunPts { run, pts } in runs {
            source.seek_to_sample(run.start)?;
            let start_pts = pts.first().copied().unwrap_or(SampleIndex::NOT_SHOWN);
            // Without reordering, the k-th frame out of a run is its k-th shown sample.
            let mut names: VecDeque<i64> = if by_order {
                pts.iter()
                    .copied()
                    .filter(|&p| p != SampleIndex::NOT_SHOWN)
                    .collect()
            } else {
                VecDeque::new()
            };
            let mut disposable = Disposable::new(codec);
            while let Some(sample) = source.read_sample(&mut packet)? {
                let Some(&p) = sample.checked_sub(run.start).and_then(|i| pts.get(i)) else {
                    break; // outside the run: the source did not follow the seek
                };
                let shown = p != SampleIndex::NOT_SHOWN;
                // Leading pictures of the run's first sync sample reference the GOP before it,
                // which was not decoded: none is asked for (see `start_for`), so none is fed.
                let leading = !by_order && sample > run.start && shown && p < start_pts;
                // Every sample is looked at, so that the parameter sets are seen.
                let droppable = !by_order && disposable.check(&packet);
                let unwanted = shown && plan.slot(p).is_none();
                let left_out = leading || (droppable && unwanted);
                if !left_out {
                    let timestamp = shown.then_some(p);
                    let frames = self.decode_packet(&packet, timestamp)?;
                    take_wanted(frames, by_order.then_some(&mut names), plan, keep, got)?;
                }
                if sample >= run.end {
                    break;
                }
            }
            let frames = self.flush()?;
            take_wanted(frames, by_order.then_some(&mut names), plan, keep, got)?;
        }
        Ok(())
    }

    /// Decodes the frame shown at or first after `pts` (in the track's time base), as
    /// [`frames_at`](Self::frames_at) does for its display index.
    ///
    /// # Errors
    /// [`Error::FrameOutOfRange`] when no frame is shown at or after `pts`; otherwise as
    /// [`frames_at`](Self::frames_at).
    pub fn frame_at_time(
        &mut self,
        source: &mut impl RandomAccessSource,
        pts: i64,
        pool: &DeviceFramePool,
    ) -> Result<OwnedFrame> {
        let index = source.sample_index()?;
        let order = DisplayOrder::new(index)?;
        let display = order
            .at_or_after(index, pts)
            .ok_or(Error::FrameOutOfRange {
                index: order.len(),
                frames: order.len(),
            })?;
        let mut frames = self.frames_at(source, &[display], pool)?;
        frames.pop().ok_or(Error::FrameNotDecoded {
            index: display,
            sample: order.sample(display).unwrap_or(0),
        })
    }
}

/// Whether frames of `codec` are named by their place in the decoder's output rather than by
/// timestamp: codecs without frame reordering, whose hidden frames (VP8/VP9 alt-ref frames
/// inside a packet that shows another) make NVDEC's timestamps unreliable — on an H200 (R580)
/// frames after a VP9 superframe came out under other frames' timestamps. Their frames come
/// out in decode order, one for each packet that shows a frame.
fn names_frames_by_order(codec: Codec) -> bool {
    matches!(codec, Codec::Vp8 | Codec::Vp9 | Codec::Av1)
}

/// Takes the frames `frames` holds: hands the wanted ones to `keep` (as many times as asked
/// for) into `got` and drops the others without mapping them. A frame's name is its timestamp, or with
/// `names`, the next name in that queue (see [`names_frames_by_order`]).
fn take_wanted<T>(
    mut frames: DecodedFrames<'_>,
    mut names: Option<&mut VecDeque<i64>>,
    plan: &Plan,
    keep: &mut impl FnMut(&Frame<'_>) -> Result<T>,
    got: &mut [Vec<T>],
) -> Result<()> {
    while let Some(timestamp) = frames.peek_pts() {
        let name = match names.as_deref_mut() {
            Some(names) => names.pop_front(),
            None => Some(timestamp),
        };
        let slot = name.and_then(|n| Some((plan.slot(n)?, n)));
        match slot {
            Some((at, name)) if got[at].len() < plan.wanted[at].1 => {
                let Some(frame) = frames.next() else { break };
                let frame = frame?.named(name);
                while got[at].len() < plan.wanted[at].1 {
                    got[at].push(keep(&frame)?);
                }
            }
            _ => {
                frames.discard_next();
            }
        }
    }
    Ok(())
}

/// A run with the timestamps of its samples (the index is not at hand while reading).
#[derive(Debug, Clone)]
struct RunPts {
    run: Run,
    pts: Vec<i64>,
}

/// What one `frames_at` call decodes: its runs, and the frames it wants, by timestamp.
#[derive(Debug)]
struct Plan {
    runs: Vec<RunPts>,
    /// Wanted timestamps → copies to make, sorted by timestamp.
    wanted: Vec<(i64, usize)>,
    /// Per request: (display index, sample, timestamp).
    requests: Vec<(usize, usize, i64)>,
}

impl Plan {
    fn new(index: &SampleIndex, display_indices: &[usize]) -> Result<Self> {
        let order = DisplayOrder::new(index)?;
        let pts_of = |s: usize| index.pts(s).unwrap_or(SampleIndex::NOT_SHOWN);
        let requests = display_indices
            .iter()
            .map(|&d| {
                let s = order.sample(d).ok_or(Error::FrameOutOfRange {
                    index: d,
                    frames: order.len(),
                })?;
                Ok((d, s, pts_of(s)))
            })
            .collect::<Result<Vec<_>>>()?;
        let targets: Vec<usize> = requests.iter().map(|r| r.1).collect();
        let runs = plan(index, &sync_samples(index), &targets)
            .into_iter()
            .map(|run| RunPts {
                pts: (run.start..=run.end).map(pts_of).collect(),
                run,
            })
            .collect();
        let mut sorted: Vec<i64> = requests.iter().map(|r| r.2).collect();
        sorted.sort_unstable();
        let mut wanted: Vec<(i64, usize)> = Vec::with_capacity(sorted.len());
        for pts in sorted {
            match wanted.last_mut() {
                Some(last) if last.0 == pts => last.1 += 1,
                _ => wanted.push((pts, 1)),
            }
        }
        Ok(Self {
            runs,
            wanted,
            requests,
        })
    }

    /// Where frames named `pts` go in the results, if they are wanted.
    fn slot(&self, pts: i64) -> Option<usize> {
        self.wanted.binary_search_by_key(&pts, |w| w.0).ok()
    }

    fn empty_results<T>(&self) -> Vec<Vec<T>> {
        (0..self.wanted.len()).map(|_| Vec::new()).collect()
    }

    /// The frames in request order; repeats take the copies made for them.
    fn in_request_order<T>(&self, mut got: Vec<Vec<T>>) -> Result<Vec<T>> {
        self.requests
            .iter()
            .map(|&(index, sample, pts)| {
                self.wanted
                    .binary_search_by_key(&pts, |w| w.0)
                    .ok()
                    .and_then(|at| got[at].pop())
                    .ok_or(Error::FrameNotDecoded { index, sample })
            })
            .collect()
    }

    /// The runs split among `n` decoders, longest first to the least loaded (by samples).
    fn split(&self, n: usize) -> Vec<Vec<RunPts>> {
        let mut order: Vec<&RunPts> = self.runs.iter().collect();
        order.sort_by_key(|r| std::cmp::Reverse(r.pts.len()));
        let mut shares: Vec<(usize, Vec<RunPts>)> =
            (0..n.max(1)).map(|_| (0, Vec::new())).collect();
        for run in order {
            if let Some(least) = shares.iter_mut().min_by_key(|s| s.0) {
                least.0 += run.pts.len();
                least.1.push(run.clone());
            }
        }
        // Each decoder reads its runs in file order.
        shares
            .into_iter()
            .map(|(_, mut runs)| {
                runs.sort_by_key(|r| r.run.start);
                runs
            })
            .collect()
    }
}

/// [`Decoder::frames_at`] on several decoders at once: the runs (GOP stretches) are shared
/// among `decoders`, each reading its own source from `open_source`, one thread each. NVDEC
/// has several engines (7 on an H100/H200) and one decoder keeps one busy, so with that many
/// decoders a request spanning many GOPs takes about that many times less; each GOP is still
/// decoded once. Frames come back in request order, as from `frames_at`.
///
/// # Errors
/// As [`Decoder::frames_at`]; the first error of any decoder (the others finish their runs).
///
/// # Examples
/// ```no_run
/// use nvcodec_guard::decode::{frames_at_parallel, DecoderBuilder, DecoderConfig, DeviceFramePool};
/// use nvcodec_guard::input::ElementaryStream;
///
/// let open = || ElementaryStream::open("clip.mp4");
/// let codec = open()?.codec();
/// let mut decoders = (0..7)
///     .map(|_| DecoderBuilder::new(DecoderConfig::new(codec)).build())
///     .collect::<Result<Vec<_>, _>>()?;
/// let pool = DeviceFramePool::new(decoders[0].context());
/// let frames = frames_at_parallel(&mut decoders, open, &[4000, 17, 8990], &pool)?;
/// # Ok::<(), nvcodec_guard::Error>(())
/// ```
pub fn frames_at_parallel<S: RandomAccessSource + Send, E: Into<Error>>(
    decoders: &mut [Decoder],
    open_source: impl Fn() -> std::result::Result<S, E> + Sync,
    display_indices: &[usize],
    pool: &DeviceFramePool,
) -> Result<Vec<OwnedFrame>> {
    frames_at_parallel_with(decoders, open_source, display_indices, |frame| {
        frame.copy_to_pool(pool)
    })
}

/// [`frames_at_parallel`], handing each wanted frame to `keep` while it is mapped, as
/// [`Decoder::frames_at_with`] does; `keep` runs on the decoders' threads, several at once.
///
/// # Errors
/// As [`frames_at_parallel`]; the first error `keep` returns.
pub fn frames_at_parallel_with<S: RandomAccessSource + Send, T: Send, E: Into<Error>>(
    decoders: &mut [Decoder],
    open_source: impl Fn() -> std::result::Result<S, E> + Sync,
    display_indices: &[usize],
    keep: impl Fn(&Frame<'_>) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let mut first = open_source().map_err(Into::into)?;
    let plan = Plan::new(first.sample_index()?, display_indices)?;
    let shares = plan.split(decoders.len());
    let mut sources = vec![Some(first)];
    let (plan_ref, open_ref, keep_ref) = (&plan, &open_source, &keep);
    let results: Vec<Result<Vec<Vec<T>>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = decoders
            .iter_mut()
            .zip(shares)
            .filter(|(_, runs)| !runs.is_empty())
            .map(|(decoder, runs)| {
                let source = sources.pop().flatten();
                scope.spawn(move || {
                    let mut source = match source {
                        Some(source) => source,
                        None => {
                            let mut source = open_ref().map_err(Into::into)?;
                            source.sample_index()?;
                            source
                        }
                    };
                    let mut got = plan_ref.empty_results();
                    let mut keep = |frame: &Frame<'_>| keep_ref(frame);
                    decoder.decode_runs(&mut source, plan_ref, &runs, &mut keep, &mut got)?;
                    Ok(got)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Internal {
                        what: "a frames_at_parallel thread panicked",
                    })
                })
            })
            .collect()
    });
    let mut got = plan.empty_results();
    for result in results {
        for (slot, frames) in got.iter_mut().zip(result?) {
            slot.extend(frames);
        }
    }
    plan.in_request_order(got)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(start_for(&idx, &keys, 5), 0);
        assert_eq!(start_for(&idx, &keys, 9), 7);
        assert_eq!(start_for(&idx, &keys, 7), 7);
    }

    #[test]
    fn a_leading_picture_of_an_open_gop_starts_one_gop_earlier() {
        // Samples 11 and 12 (pts 7, 8) follow the sync sample 7 (pts 9) in decode order
        // but precede it in display: leading pictures, which may reference the first GOP.
        let idx = closed_gops();
        let keys = sync_samples(&idx);
        assert_eq!(start_for(&idx, &keys, 11), 0);
        assert_eq!(start_for(&idx, &keys, 12), 0);
    }

    #[test]
    fn without_a_usable_sync_sample_decoding_starts_at_the_first_sample() {
        let idx = index(&[(1, false), (0, false), (2, true), (3, false)]);
        let keys = sync_samples(&idx);
        assert_eq!(start_for(&idx, &keys, 1), 0);
        assert_eq!(start_for(&idx, &keys, 3), 2);
    }

    #[test]
    fn targets_in_one_gop_share_one_run_and_repeats_cost_nothing() {
        let idx = closed_gops();
        let keys = sync_samples(&idx);
        let runs = plan(&idx, &keys, &[5, 2, 5, 1]);
        assert_eq!(runs, vec![Run { start: 0, end: 5 }]);
    }

    #[test]
    fn runs_come_in_decode_order_whatever_the_request_order() {
        let idx = closed_gops();
        let keys = sync_samples(&idx);
        let runs = plan(&idx, &keys, &[9, 2]);
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
        let runs = plan(&idx, &keys, &[9, 11]);
        assert_eq!(runs, vec![Run { start: 0, end: 11 }]);
    }

    #[test]
    fn runs_are_shared_among_decoders_each_reading_in_file_order() {
        let idx = closed_gops();
        // Display 0 (GOP 1) and display 9 and 12 (GOP 2): two runs for two decoders.
        let plan = Plan::new(&idx, &[12, 0, 9]).unwrap();
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
