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
//!   was given to the pictures it shows, smallest first (observed: decode indices fed as
//!   timestamps came back sorted, on other pictures). So each packet of a shown sample
//!   is fed with its **display index** as timestamp — unique, and increasing in the order the
//!   decoder outputs pictures — which then names its frame; pictures that are never shown are
//!   fed without one, and the leading pictures of a run's first sync sample, which reference
//!   the GOP before it, are not fed at all, so every timestamp given belongs to a picture that
//!   is shown. VP8, VP9 and AV1 frames are named by place instead, since their hidden frames
//!   (alt-ref frames inside a VP9 superframe) upset NVDEC's timestamps (observed: frames
//!   after a superframe came out under other frames' timestamps): the k-th frame out of
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

#[cfg(any(test, fuzzing))]
pub(crate) mod model;
mod order;

use std::collections::{BTreeSet, VecDeque};

use super::{DecodedFrames, Decoder, DeviceFramePool, Frame, OwnedFrame};
use crate::Codec;
use crate::error::{Error, Result};
use crate::input::annexb::Disposable;
use crate::input::{RandomAccessSource, SampleIndex};
pub use order::DisplayOrder;

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

impl Decoder {
    /// Decodes the frames at `display_indices` (display order, 0-based: line `i` of ffmpeg's
    /// framemd5 of the whole stream), in any order and with repeats, and returns copies of
    /// them in `pool`, in request order.
    ///
    /// Display index `i` is the `i`-th frame a whole decode of the stream outputs, found
    /// from the bitstream where the codec allows rather than from the container's timestamps
    /// ([`DisplayOrder::of`]; see the module docs). Each GOP is decoded at most once per
    /// call, in decode order; the decoder's current stream, if any, is discarded first (as by
    /// [`reset`](Self::reset)) and the decoder is ready for another stream afterwards.
    /// Frames handed out carry their sample's pts from the index (which may repeat).
    ///
    /// # Errors
    /// - [`Error::FrameOutOfRange`] for an index past the last frame (nothing is decoded).
    /// - [`Error::FrameNotDecoded`] when the decoder outputs no picture for a requested
    ///   sample (an undecodable picture, e.g. a leading picture at the very start).
    /// - [`Error::FramesNotAddressable`] when the stream's frames cannot be told apart: its
    ///   timestamps repeat and the source gives no bitstream order
    ///   ([`DisplayOrder::for_codec`]), or the decoder output a frame no sample fed accounts
    ///   for (nothing is handed out then).
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
        let plan = Plan::for_source(source, self.config().codec, display_indices)?;
        let mut got = plan.empty_results();
        self.decode_runs(source, &plan, &plan.runs, &mut keep, &mut got)?;
        plan.in_request_order(got)
    }

    /// Feeds `runs` of `plan` and keeps the wanted frames in `got` (by display index).
    fn decode_runs<T>(
        &mut self,
        source: &mut impl RandomAccessSource,
        plan: &Plan,
        runs: &[RunNames],
        keep: &mut impl FnMut(&Frame<'_>) -> Result<T>,
        got: &mut [Vec<T>],
    ) -> Result<()> {
        let codec = self.config().codec;
        let by_order = names_frames_by_order(codec);
        self.reset()?;
        let mut packet = Vec::new();
        for run in runs {
            source.seek_to_sample(run.run.start)?;
            let mut feed = RunFeed::new(plan, run, by_order);
            let mut disposable = Disposable::new(codec);
            while let Some(sample) = source.read_sample(&mut packet)? {
                // Every sample is looked at, so that the parameter sets are seen.
                let droppable = !by_order && disposable.check(&packet);
                match feed.sample(sample, droppable) {
                    SampleAction::Outside => break, // the source did not follow the seek
                    SampleAction::LeftOut => {}
                    SampleAction::Feed(timestamp) => {
                        let frames = self.decode_packet(&packet, timestamp)?;
                        take_wanted(frames, &mut feed, keep, got)?;
                    }
                }
                if sample >= run.run.end {
                    break;
                }
            }
            let frames = self.flush()?;
            take_wanted(frames, &mut feed, keep, got)?;
            feed.finish()?;
        }
        Ok(())
    }

    /// Decodes the frame shown at or first after `pts` (in the track's time base), as
    /// [`frames_at`](Self::frames_at) does for its display index.
    ///
    /// # Errors
    /// [`Error::FrameOutOfRange`] when no frame is shown at or after `pts`;
    /// [`Error::FramesNotAddressable`] when the stream's timestamps do not follow its display
    /// order ([`DisplayOrder::pts_follow_display`]); otherwise as
    /// [`frames_at`](Self::frames_at).
    pub fn frame_at_time(
        &mut self,
        source: &mut impl RandomAccessSource,
        pts: i64,
        pool: &DeviceFramePool,
    ) -> Result<OwnedFrame> {
        let order = DisplayOrder::of(source, self.config().codec)?;
        if !order.pts_follow_display() {
            return Err(Error::FramesNotAddressable {
                reason: format!(
                    "a time (pts {pts}) names no one frame: the timestamps do not follow the \
                     frames' display order"
                ),
            });
        }
        let index = source.sample_index()?;
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
/// for) into `got` and drops the others without mapping them; `feed` names each frame.
fn take_wanted<T>(
    mut frames: DecodedFrames<'_>,
    feed: &mut RunFeed<'_>,
    keep: &mut impl FnMut(&Frame<'_>) -> Result<T>,
    got: &mut [Vec<T>],
) -> Result<()> {
    while let Some(timestamp) = frames.peek_pts() {
        match feed.output(timestamp)? {
            Some(wanted) if got[wanted.slot].len() < wanted.copies => {
                let Some(frame) = frames.next() else { break };
                let frame = frame?.named(wanted.pts);
                while got[wanted.slot].len() < wanted.copies {
                    got[wanted.slot].push(keep(&frame)?);
                }
            }
            _ => {
                frames.discard_next();
            }
        }
    }
    Ok(())
}

/// What to do with one sample of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SampleAction {
    /// Feed it, with this timestamp (its display index) or none (a sample not shown).
    Feed(Option<i64>),
    /// Leave it out (a leading picture of the run's start, or a disposable one nobody wants).
    LeftOut,
    /// Not a sample of the run: stop.
    Outside,
}

/// A wanted frame that came out: where it goes, how many copies, the pts it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handout {
    pub(crate) slot: usize,
    pub(crate) copies: usize,
    pub(crate) pts: i64,
}

/// The feeding and naming of one run: which samples are fed with which timestamp, and which
/// display index each frame out of the decoder is. Pure, so the planning can be checked
/// against a model decoder (`model`).
///
/// Invariant: with `by_order`, `names` holds the display indices of the shown samples fed and
/// not yet matched to a frame, in decode order; otherwise `pending` holds the display indices
/// given as timestamps and not yet seen on a frame. A frame is named only from these.
#[derive(Debug)]
pub(crate) struct RunFeed<'a> {
    plan: &'a Plan,
    run: &'a RunNames,
    by_order: bool,
    names: VecDeque<u32>,
    pending: BTreeSet<u32>,
}

impl<'a> RunFeed<'a> {
    pub(crate) fn new(plan: &'a Plan, run: &'a RunNames, by_order: bool) -> Self {
        Self {
            plan,
            run,
            by_order,
            names: VecDeque::new(),
            pending: BTreeSet::new(),
        }
    }

    /// Sample `sample` was read; `droppable`: no other picture references it.
    pub(crate) fn sample(&mut self, sample: usize, droppable: bool) -> SampleAction {
        let Some(&name) = sample
            .checked_sub(self.run.run.start)
            .and_then(|i| self.run.names.get(i))
        else {
            return SampleAction::Outside;
        };
        if self.by_order {
            // Nothing is left out: each shown sample is one frame out, in decode order.
            self.names.extend(name);
            return SampleAction::Feed(name.map(i64::from));
        }
        let start = self.run.names.first().copied().flatten();
        // Leading pictures of the run's first sync sample reference the GOP before it, which
        // was not decoded: none is asked for (see `start_for` and `plan`), so none is fed.
        let leading = sample > self.run.run.start
            && is_leading(name.map(|n| n as usize), start.map(|s| s as usize));
        let unwanted = name.is_some_and(|n| self.plan.slot(n).is_none());
        if leading || (droppable && unwanted) {
            return SampleAction::LeftOut;
        }
        self.pending.extend(name);
        SampleAction::Feed(name.map(i64::from))
    }

    /// A frame came out of the decoder under `timestamp`: the wanted frame it is, if any.
    ///
    /// # Errors
    /// [`Error::FramesNotAddressable`] for a frame no fed sample accounts for.
    pub(crate) fn output(&mut self, timestamp: i64) -> Result<Option<Handout>> {
        let name = if self.by_order {
            self.names.pop_front()
        } else {
            u32::try_from(timestamp)
                .ok()
                .filter(|n| self.pending.remove(n))
        };
        let Some(name) = name else {
            return Err(Error::FramesNotAddressable {
                reason: format!(
                    "decoding samples {}..={} gave a frame (timestamp {timestamp}) that no \
                     sample fed accounts for, so frames cannot be told apart",
                    self.run.run.start, self.run.run.end
                ),
            });
        };
        Ok(self.plan.slot(name).map(|slot| Handout {
            slot,
            copies: self.plan.wanted[slot].copies,
            pts: self.plan.wanted[slot].pts,
        }))
    }
}

impl RunFeed<'_> {
    /// The run is over (the decoder flushed and its frames taken).
    ///
    /// # Errors
    /// [`Error::FramesNotAddressable`] when a sample fed as shown gave no frame: the frames
    /// after it may have come out under its name.
    pub(crate) fn finish(&self) -> Result<()> {
        let missing = if self.by_order {
            self.names.front()
        } else {
            self.pending.first()
        };
        match missing {
            None => Ok(()),
            Some(display) => Err(Error::FramesNotAddressable {
                reason: format!(
                    "decoding samples {}..={} gave no frame for display index {display}, so \
                     the frames after it cannot be told apart",
                    self.run.run.start, self.run.run.end
                ),
            }),
        }
    }
}

/// A run with the display index of each of its samples (`None`: not shown), since the index
/// is not at hand while reading.
#[derive(Debug, Clone)]
pub(crate) struct RunNames {
    pub(crate) run: Run,
    pub(crate) names: Vec<Option<u32>>,
}

/// A frame one `frames_at` call wants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted {
    /// Its display index.
    pub(crate) display: u32,
    /// Copies to make (requests for it).
    pub(crate) copies: usize,
    /// The index's pts of its sample, which the frame handed out carries.
    pub(crate) pts: i64,
}

/// What one `frames_at` call decodes: its runs, and the frames it wants, by display index.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) runs: Vec<RunNames>,
    /// Sorted by display index, each once.
    pub(crate) wanted: Vec<Wanted>,
    /// Per request: (display index, sample).
    pub(crate) requests: Vec<(usize, usize)>,
}

impl Plan {
    /// The plan for `display_indices` of `source`, decoded as `codec`.
    fn for_source(
        source: &mut impl RandomAccessSource,
        codec: Codec,
        display_indices: &[usize],
    ) -> Result<Self> {
        let order = DisplayOrder::of(source, codec)?;
        Self::new(source.sample_index()?, &order, display_indices)
    }

    pub(crate) fn new(
        index: &SampleIndex,
        order: &DisplayOrder,
        display_indices: &[usize],
    ) -> Result<Self> {
        let requests = display_indices
            .iter()
            .map(|&d| {
                let s = order.sample(d).ok_or(Error::FrameOutOfRange {
                    index: d,
                    frames: order.len(),
                })?;
                Ok((d, s))
            })
            .collect::<Result<Vec<_>>>()?;
        let targets: Vec<usize> = requests.iter().map(|r| r.1).collect();
        // Display indices are below the sample count, itself at most u32::MAX.
        let name = |s: usize| order.display_index(s).and_then(|d| u32::try_from(d).ok());
        let runs = plan(order, &sync_samples(index), &targets)
            .into_iter()
            .map(|run| RunNames {
                names: (run.start..=run.end).map(name).collect(),
                run,
            })
            .collect();
        let mut sorted: Vec<(usize, usize)> = requests.clone();
        sorted.sort_unstable();
        let mut wanted: Vec<Wanted> = Vec::with_capacity(sorted.len());
        for (_, s) in sorted {
            let Some(display) = name(s) else { continue };
            match wanted.last_mut() {
                Some(last) if last.display == display => last.copies += 1,
                _ => wanted.push(Wanted {
                    display,
                    copies: 1,
                    pts: index.pts(s).unwrap_or(0),
                }),
            }
        }
        Ok(Self {
            runs,
            wanted,
            requests,
        })
    }

    /// Where frames of display index `display` go in the results, if they are wanted.
    pub(crate) fn slot(&self, display: u32) -> Option<usize> {
        self.wanted
            .binary_search_by_key(&display, |w| w.display)
            .ok()
    }

    pub(crate) fn empty_results<T>(&self) -> Vec<Vec<T>> {
        (0..self.wanted.len()).map(|_| Vec::new()).collect()
    }

    /// The frames in request order; repeats take the copies made for them.
    pub(crate) fn in_request_order<T>(&self, mut got: Vec<Vec<T>>) -> Result<Vec<T>> {
        self.requests
            .iter()
            .map(|&(index, sample)| {
                u32::try_from(index)
                    .ok()
                    .and_then(|d| self.slot(d))
                    .and_then(|at| got[at].pop())
                    .ok_or(Error::FrameNotDecoded { index, sample })
            })
            .collect()
    }

    /// The runs split among `n` decoders, longest first to the least loaded (by samples).
    fn split(&self, n: usize) -> Vec<Vec<RunNames>> {
        let mut order: Vec<&RunNames> = self.runs.iter().collect();
        order.sort_by_key(|r| std::cmp::Reverse(r.names.len()));
        let mut shares: Vec<(usize, Vec<RunNames>)> =
            (0..n.max(1)).map(|_| (0, Vec::new())).collect();
        for run in order {
            if let Some(least) = shares.iter_mut().min_by_key(|s| s.0) {
                least.0 += run.names.len();
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
    let codec = decoders
        .first()
        .map_or(Codec::H264, |decoder| decoder.config().codec);
    let plan = Plan::for_source(&mut first, codec, display_indices)?;
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
