//! [`Decoder::frames_at`] and its kin: the decode loop that follows a [`Plan`], feeding each
//! run's samples and handing out the frames [`RunFeed`] names.

use super::{DisplayOrder, Plan, RunFeed, RunNames, SampleAction};
use crate::Codec;
use crate::decode::{DecodedFrames, Decoder, DeviceFramePool, Frame, OwnedFrame};
use crate::error::{Error, Result};
use crate::input::RandomAccessSource;
use crate::input::annexb::Disposable;

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
    ///   [`Frame::copy_to_pool`](crate::decode::Frame::copy_to_pool) return.
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
    pub(super) fn decode_runs<T>(
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
/// inside a packet that shows another) make NVDEC's timestamps unreliable: frames after a VP9
/// superframe come out under other frames' timestamps. Their frames come out in decode order,
/// one for each packet that shows a frame.
pub(crate) fn names_frames_by_order(codec: Codec) -> bool {
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
