//! [`DecoderSession`] (what exists inside the init window) and [`Decoder`] (what has the
//! frame methods, after the window closed).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use nvidia_video_codec_sdk::sys::cuviddec::CUvideodecoder;
use nvidia_video_codec_sdk::sys::nvcuvid::CUvideopacketflags;

use super::caps::{self, cuvid_codec};
use super::config::{DecoderConfig, MAX_QUEUED_FRAMES, OutputGeometry};
use super::frame::Frame;
use super::geometry::{Geometry, Shape};
use super::nvdec_objects::{CtxLock, DecoderHandle, OwnedStream, WorkStream};
use super::state::{Backing, DecoderState, DecoderStats, StreamInfo, initial_format};
use crate::cuda::Context;
use crate::driver::drop_with::DropWith;
use crate::driver::nvdec_parser::{MAX_PAYLOAD as MAX_PACKET_LEN, ParserCore, ParserSettings};
use crate::error::{Error, Result, SessionKind};
use crate::ffi::nvcuvid::Nvcuvid;
use crate::init::{CudaInitGuard, WindowTiming, WindowToken, destroy_in_window, in_runtime_window};
use crate::unwind::contained;

/// The decoder as it exists inside the init window: parser and `cuvidCreateDecoder` handle
/// created, no frame decoded yet. Reach it with
/// [`Builder::session`](crate::phase::Builder::session).
pub struct DecoderSession {
    /// The parser and the state its callbacks reach (parser dropped first).
    core: ParserCore<DecoderState>,
}

impl DecoderSession {
    /// The raw `CUvideodecoder`, for your own init work under the same guard.
    pub fn raw_decoder(&self) -> CUvideodecoder {
        self.core.decoder.borrow().raw()
    }
}

impl std::fmt::Debug for DecoderSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecoderSession")
            .field("shape", &self.core.decoder.borrow().shape())
            .finish()
    }
}

/// The parser's settings for `core`'s configuration and current decoder.
fn parser_settings(core: &DecoderState) -> Result<ParserSettings> {
    Ok(ParserSettings {
        codec: cuvid_codec(core.config.codec)?,
        max_decode_surfaces: core.decoder.borrow().shape().surfaces,
        max_display_delay: core.config.effective_display_delay(),
        sei: core.config.sei,
    })
}

/// Builds everything inside the init window. Called by the builder's `open_session`.
pub(crate) fn open(
    config: &DecoderConfig,
    context: &Context,
    guard: &CudaInitGuard,
) -> Result<DecoderSession> {
    let window = guard.token(); // the builder already validated `config`
    let api = Nvcuvid::get()?;
    let _current = context.make_current()?;
    let shape = Shape {
        codec: config.codec,
        bit_depth: config.bit_depth,
        format: initial_format(config),
        max_width: config.aligned_max_width(),
        max_height: config.aligned_max_height(),
        surfaces: config.effective_decode_surfaces(),
    };
    let caps = caps::require(
        window,
        api,
        context,
        shape.codec,
        shape.bit_depth,
        shape.format.is_444(),
        shape.max_width,
        shape.max_height,
    )?;
    if !caps.outputs(shape.format) {
        return Err(Error::Unsupported {
            what: format!(
                "{:?} output for {} {}-bit",
                shape.format, shape.codec, shape.bit_depth
            ),
            supported: format!("NV12: {}, P016: {}", caps.nv12_output, caps.p016_output),
        });
    }
    let stream = match config.frame_stream {
        None => WorkStream::Owned(OwnedStream::create(context)?),
        Some(stream) => WorkStream::Given {
            stream,
            context: context.clone(),
        },
    };
    let lock = CtxLock::create(window, api, context)?;
    let decoder = DecoderHandle::create(
        window,
        api,
        context,
        &lock,
        shape,
        Geometry::full(shape.max_width, shape.max_height),
        config.output_surfaces,
    )?;
    let state = DecoderState {
        decoder: RefCell::new(decoder),
        lock,
        stream,
        context: context.clone(),
        api,
        config: config.clone(),
        geometry: Cell::new(None),
        layout: Cell::new(None),
        stream_info: Cell::new(None),
        pending: RefCell::new(VecDeque::new()),
        error: RefCell::new(None),
        fatal: Cell::new(false),
        mapped: RefCell::new(Vec::new()),
        stats: Cell::new(DecoderStats::default()),
        output: Cell::new(config.output),
        sei: RefCell::new(Vec::new()),
    };
    let settings = parser_settings(&state)?;
    let core = ParserCore::create(window, api, state, settings)?;
    Ok(DecoderSession { core })
}

/// An NVDEC decoder with frame methods. Built only through
/// [`DecoderBuilder`](super::DecoderBuilder), so it exists only after its init window
/// closed.
///
/// `Send` (move it to a worker thread) but not `Sync` (one thread feeds it at a time).
/// Frames borrow the decoder: take them, use them, drop them before the next
/// [`decode`](Self::decode).
pub struct Decoder {
    /// Unique in the process: lets a pool recognise its own decoders (see `PooledDecoder`).
    id: u64,
    /// Handed, when the decoder drops, to one teardown inside an init window.
    session: DropWith<DecoderSession>,
    window: WindowTiming,
    /// After `flush` the parser is re-created (in an init window) before more data.
    needs_new_parser: bool,
}

impl Drop for Decoder {
    /// Unmaps frames leaked with `mem::forget`; then the session field drops, which
    /// destroys parser, decoder, context lock and stream, in that order, inside one init
    /// window: at once if the lock is free, otherwise on the teardown thread (see
    /// [`crate::init::wait_for_teardowns`]).
    fn drop(&mut self) {
        // Contained: `unmap_leaked` logs (user code), and the teardown below must run anyway
        // (the session field drops after this, inside one init window).
        contained(|| {
            if let Err(error) = self.session.core.unmap_leaked() {
                tracing::error!(%error, "unmapping leaked frames before teardown failed");
            }
        });
    }
}

impl Decoder {
    pub(crate) fn from_session(session: DecoderSession, window: WindowTiming) -> Decoder {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Decoder {
            id: NEXT_ID.fetch_add(1, Relaxed),
            session: DropWith::new(session, |session| {
                destroy_in_window("NVDEC decoder", move |_window| drop(session));
            }),
            window,
            needs_new_parser: false,
        }
    }

    /// This decoder's identity, unique in the process (never reused).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &DecoderConfig {
        &self.session.core.config
    }

    /// The CUDA context it decodes in.
    pub fn context(&self) -> &Context {
        &self.session.core.context
    }

    /// The raw `CUvideodecoder` of the current decoder handle. A stream change may replace
    /// the handle (re-creation for a larger stream), so read it again after each `decode`
    /// rather than keeping it; destroying it is this decoder's job alone.
    pub fn raw_decoder(&self) -> CUvideodecoder {
        self.session.raw_decoder()
    }

    /// How long its init window waited for the lock and was held.
    pub fn init_window(&self) -> WindowTiming {
        self.window
    }

    /// Stream-change counters.
    pub fn stats(&self) -> DecoderStats {
        self.session.core.stats.get()
    }

    /// Decode surfaces the current decoder handle has (the configured or default number,
    /// raised if the stream needed more).
    pub fn decode_surfaces(&self) -> u32 {
        self.session.core.decoder.borrow().shape().surfaces
    }

    /// What the current decoder handle was created for.
    pub(crate) fn shape(&self) -> Shape {
        self.session.core.decoder.borrow().shape()
    }

    /// The largest coded size the current decoder handle is allocated for (the configured
    /// maximum rounded up to 16, or larger after a re-creation for a bigger stream).
    pub fn max_coded_size(&self) -> (u32, u32) {
        let shape = self.session.core.decoder.borrow().shape();
        (shape.max_width, shape.max_height)
    }

    /// Readies the decoder for a new, unrelated stream: frames still queued are discarded,
    /// and the parser is replaced at once (inside an init window), so nothing of the old
    /// stream — queued, held back for reordering or half-parsed — can come out afterwards.
    /// The decoder handle and its surfaces are kept; the next stream's first sequence header
    /// reconfigures them if its size differs. This is what a [`DecoderPool`](super::DecoderPool)
    /// does to a decoder coming back.
    ///
    /// # Errors
    /// [`Error::Poisoned`] if an earlier stream change failed (build a new decoder);
    /// [`Error::InitLockTimeout`] if no init window could be had within
    /// [`DecoderConfig::runtime_lock_timeout`]; [`Error::Driver`] if the new parser could not
    /// be created.
    ///
    /// # Examples
    /// ```no_run
    /// # use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig};
    /// # use nvcodec_guard::Codec;
    /// let mut decoder = DecoderBuilder::new(DecoderConfig::new(Codec::H264)).build()?;
    /// // ... decode part of one stream, then abandon it:
    /// decoder.reset()?;
    /// // ... decode the next stream from its first packet.
    /// # Ok::<(), nvcodec_guard::Error>(())
    /// ```
    pub fn reset(&mut self) -> Result<()> {
        self.discard_stream()?;
        self.renew_parser()
    }

    /// The part of [`reset`](Self::reset) that needs no init window: leaked mappings undone,
    /// queued frames and a stored error discarded.
    pub(crate) fn discard_stream(&mut self) -> Result<()> {
        self.check_usable()?;
        self.session.core.unmap_leaked()?;
        self.session.core.pending.borrow_mut().clear();
        self.session.core.clear_sei();
        self.session.core.error.borrow_mut().take();
        Ok(())
    }

    /// Sets the crop and output size NVDEC applies when mapping frames, from the next
    /// sequence header on (a [`DecoderPool`](super::DecoderPool) sets it at checkout, and the
    /// next stream's first header reconfigures the decoder with `cuvidReconfigureDecoder`
    /// inside an init window, as every reconfiguration). The crop is clamped to each
    /// stream's display area.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for odd or zero values, or an output larger than the
    /// decoder's configured maximum size.
    pub fn set_output_geometry(&mut self, output: OutputGeometry) -> Result<()> {
        output.validate(
            self.session.core.config.max_width,
            self.session.core.config.max_height,
        )?;
        self.session.core.output.set(output);
        Ok(())
    }

    /// The crop and output size in effect for the next sequence.
    pub fn output_geometry(&self) -> OutputGeometry {
        self.session.core.output.get()
    }

    /// The stream being decoded, as its latest sequence header describes it (`None` before
    /// the first one, and again after [`flush`](Self::flush) or [`reset`](Self::reset)).
    pub fn stream_info(&self) -> Option<StreamInfo> {
        self.session.core.stream_info.get()
    }

    /// Feeds every remaining packet of `stream` (read incrementally, each packet lent from
    /// the stream's buffer: no copy), then flushes, calling `on_frame` for each frame in
    /// display order; returns how many frames there were. The decoder is ready for another
    /// stream afterwards.
    ///
    /// # Errors
    /// The first error of reading a packet, of [`decode`](Self::decode) or
    /// [`flush`](Self::flush), or of `on_frame`, which ends the loop.
    ///
    /// # Examples
    /// ```no_run
    /// use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig};
    /// use nvcodec_guard::input::ElementaryStream;
    ///
    /// let mut stream = ElementaryStream::open("clip.mp4")?;
    /// let mut decoder = DecoderBuilder::new(DecoderConfig::new(stream.codec())).build()?;
    /// let frames = decoder.decode_stream(&mut stream, |frame| {
    ///     let _nv12 = frame.to_vec()?;
    ///     Ok(())
    /// })?;
    /// println!("{frames} frames");
    /// # Ok::<(), nvcodec_guard::Error>(())
    /// ```
    pub fn decode_stream(
        &mut self,
        stream: &mut crate::input::ElementaryStream,
        mut on_frame: impl FnMut(Frame<'_>) -> Result<()>,
    ) -> Result<u64> {
        let mut count = 0;
        while let Some(packet) = stream.next_packet()? {
            for frame in self.decode(packet.data, packet.pts)? {
                on_frame(frame?)?;
                count += 1;
            }
        }
        for frame in self.flush()? {
            on_frame(frame?)?;
            count += 1;
        }
        Ok(count)
    }

    /// Frames decoded and waiting to be taken.
    pub fn queued_frames(&self) -> usize {
        self.session.core.pending.borrow().len()
    }

    fn check_usable(&self) -> Result<()> {
        if self.session.core.fatal.get() {
            return Err(Error::Poisoned {
                session: SessionKind::Decoding,
                reason: "an earlier stream change could not be applied".into(),
            });
        }
        Ok(())
    }

    /// One `cuvidParseVideoData` call (see [`ParserCore::parse`]); the first error a
    /// callback stored wins over the call's own.
    fn parse(&self, payload: Option<&[u8]>, flags: u32, timestamp: i64) -> Result<()> {
        let _current = self.session.core.context.make_current()?;
        let parsed = self.session.core.parse(payload, flags, timestamp);
        let stored = self.session.core.error.borrow_mut().take();
        match (stored, parsed) {
            (Some(error), _) => Err(error),
            (None, Err(error)) => Err(error),
            (None, Ok(())) => Ok(()),
        }
    }

    /// Replaces the parser after `flush`: the new one is created and the old one destroyed
    /// inside one init window.
    fn renew_parser(&mut self) -> Result<()> {
        let timeout = self.session.core.config.runtime_lock_timeout;
        let device = self.session.core.context.ordinal();
        in_runtime_window(timeout, device, "nvdec-parser-renewal", |window| {
            self.renew_parser_in(window)
        })
    }

    /// [`renew_parser`](Self::renew_parser) inside the caller's window.
    pub(crate) fn renew_parser_in(&mut self, window: WindowToken<'_>) -> Result<()> {
        let session = &mut *self.session;
        let settings = parser_settings(&session.core)?;
        // The old parser is destroyed here, inside the window.
        session.core.renew(window, settings)?;
        self.session.core.geometry.set(None);
        self.session.core.layout.set(None);
        self.session.core.stream_info.set(None);
        self.needs_new_parser = false;
        Ok(())
    }

    /// Feeds one packet (an access unit / a frame) with its timestamp and returns the frames
    /// that became ready, in display order.
    ///
    /// Take the frames: frames not taken stay queued and come first with the next call, and
    /// at most [`MAX_QUEUED_FRAMES`] may wait before `decode` refuses more input.
    ///
    /// # Errors
    /// - [`Error::FramesNotTaken`] when [`MAX_QUEUED_FRAMES`] frames are queued; the packet
    ///   was not consumed: take the queued frames ([`take_queued`](Self::take_queued)) and call again
    ///   with it.
    /// - [`Error::FramesDropped`] when the packet carried more pictures than the queue had
    ///   room for (up to [`MAX_QUEUED_FRAMES`]): the packet was consumed, the excess frames
    ///   were dropped, the ones queued before are still there ([`take_queued`](Self::take_queued)).
    /// - [`Error::PacketTooLarge`] for a packet longer than NVDEC's parser takes (a C
    ///   `unsigned long`: only where that is 32 bits); the packet was not consumed.
    /// - Errors of the parser's callbacks: [`Error::Bitstream`] (another codec, impossible
    ///   sizes) or [`Error::Unsupported`] for a stream this decoder cannot handle,
    ///   [`Error::Driver`] for a failed picture or stream change (naming the driver call).
    /// - [`Error::InitLockTimeout`] when a stream change (which needs an init window) could
    ///   not get the lock within [`DecoderConfig::runtime_lock_timeout`], or
    ///   [`Error::InitLockHeld`] when it needs one while this thread holds a guard (a
    ///   run-time window is always the call's own; see [`crate::init`]).
    /// - [`Error::Poisoned`] after a stream change could not be applied.
    ///
    /// Empty packets are ignored; use [`flush`](Self::flush) at the end.
    ///
    /// # Examples
    /// ```no_run
    /// # use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig};
    /// # use nvcodec_guard::Codec;
    /// let mut decoder = DecoderBuilder::new(DecoderConfig::new(Codec::H264)).build()?;
    /// # let packet: &[u8] = &[];
    /// for frame in decoder.decode(packet, 0)? {
    ///     let frame = frame?;
    ///     println!("{} {}x{}", frame.pts(), frame.width(), frame.height());
    /// }
    /// # Ok::<(), nvcodec_guard::Error>(())
    /// ```
    pub fn decode(&mut self, packet: &[u8], pts: i64) -> Result<DecodedFrames<'_>> {
        self.decode_packet(packet, Some(pts))
    }

    /// [`decode`](Self::decode), with a timestamp or without one (`None`: the packet carries
    /// none, for pictures that are fed but never shown, so that NVDEC's parser, which hands
    /// the timestamps it was given to the pictures it shows in increasing order, keeps none
    /// for them).
    pub(crate) fn decode_packet(
        &mut self,
        packet: &[u8],
        pts: Option<i64>,
    ) -> Result<DecodedFrames<'_>> {
        self.check_usable()?;
        self.session.core.unmap_leaked()?;
        let queued = self.session.core.pending.borrow().len();
        if queued >= MAX_QUEUED_FRAMES && !packet.is_empty() {
            return Err(Error::FramesNotTaken { queued });
        }
        if self.needs_new_parser {
            self.renew_parser()?;
        }
        if !packet.is_empty() {
            if std::ffi::c_ulong::try_from(packet.len()).is_err() {
                return Err(Error::PacketTooLarge {
                    len: packet.len(),
                    max: MAX_PACKET_LEN,
                });
            }
            let mut flags = if pts.is_some() {
                CUvideopacketflags::CUVID_PKT_TIMESTAMP as u32
            } else {
                0
            };
            if self.session.core.config.low_latency {
                flags |= CUvideopacketflags::CUVID_PKT_ENDOFPICTURE as u32;
            }
            self.parse(Some(packet), flags, pts.unwrap_or(0))?;
        }
        Ok(DecodedFrames {
            core: &self.session.core,
            stopped: false,
        })
    }

    /// Takes the frames decoded and not taken yet, without feeding any input (each one the
    /// iterator yields leaves the queue).
    ///
    /// # Examples
    /// ```no_run
    /// # use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig};
    /// # use nvcodec_guard::{Codec, Error};
    /// # let mut decoder = DecoderBuilder::new(DecoderConfig::new(Codec::H264)).build()?;
    /// # let packet: &[u8] = &[];
    /// if let Err(Error::FramesNotTaken { .. }) = decoder.decode(packet, 0) {
    ///     for frame in decoder.take_queued() {
    ///         let _nv12 = frame?.to_vec()?;
    ///     }
    /// }
    /// # Ok::<(), nvcodec_guard::Error>(())
    /// ```
    pub fn take_queued(&mut self) -> DecodedFrames<'_> {
        if let Err(error) = self.session.core.unmap_leaked() {
            tracing::error!(%error, "unmapping leaked frames failed");
        }
        DecodedFrames {
            core: &self.session.core,
            stopped: false,
        }
    }

    /// Signals end of stream and returns every frame still held back. Afterwards the decoder
    /// accepts a new stream (the parser is re-created, in an init window, on the next
    /// `decode`).
    ///
    /// # Errors
    /// As [`decode`](Self::decode), except that `flush` never refuses for queued frames. The
    /// frames it releases still queue at most up to [`MAX_QUEUED_FRAMES`]: take queued frames
    /// before flushing, or the ones beyond are dropped with [`Error::FramesDropped`].
    ///
    /// # Examples
    /// ```no_run
    /// # use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig};
    /// # use nvcodec_guard::Codec;
    /// # let mut decoder = DecoderBuilder::new(DecoderConfig::new(Codec::H264)).build()?;
    /// for frame in decoder.flush()? {
    ///     let _nv12 = frame?.to_vec()?;
    /// }
    /// # Ok::<(), nvcodec_guard::Error>(())
    /// ```
    pub fn flush(&mut self) -> Result<DecodedFrames<'_>> {
        self.check_usable()?;
        self.session.core.unmap_leaked()?;
        if !self.needs_new_parser {
            let flags = CUvideopacketflags::CUVID_PKT_ENDOFSTREAM as u32
                | CUvideopacketflags::CUVID_PKT_NOTIFY_EOS as u32;
            self.needs_new_parser = true;
            self.parse(None, flags, 0)?;
        }
        Ok(DecodedFrames {
            core: &self.session.core,
            stopped: false,
        })
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("codec", &self.session.core.config.codec)
            .field("geometry", &self.session.core.geometry.get())
            .field("stats", &self.session.core.stats.get())
            .finish()
    }
}

/// The frames that became ready, taken one by one in display order.
///
/// Each [`Frame`] is mapped when taken; at most
/// [`output_surfaces`](DecoderConfig::output_surfaces) can be alive at once. Frames not
/// taken stay queued and come with the next `decode`.
#[must_use = "decoded frames queue up until they are taken"]
pub struct DecodedFrames<'a> {
    core: &'a DecoderState,
    /// Set after an error taking a frame: the iterator ends (so a loop that ignores errors
    /// cannot spin) and the frame stays queued for the next call.
    stopped: bool,
}

impl<'a> DecodedFrames<'a> {
    /// Frames left to take.
    pub fn remaining(&self) -> usize {
        self.core.pending.borrow().len()
    }

    /// The timestamp of the next frame to take, without taking (mapping) it.
    pub(crate) fn peek_pts(&self) -> Option<i64> {
        if self.stopped {
            return None;
        }
        self.core.pending.borrow().front().map(|p| p.pts)
    }

    /// Drops the next frame without mapping it (a frame nobody asked for: the decoder's
    /// post-processing never runs for it). Returns whether there was one.
    pub(crate) fn discard_next(&mut self) -> bool {
        !self.stopped && self.core.pending.borrow_mut().pop_front().is_some()
    }

    fn take(&mut self) -> Option<Result<Frame<'a>>> {
        if self.stopped {
            return None;
        }
        let core = self.core;
        let next = core.pending.borrow_mut().pop_front()?;
        match next.backing {
            Backing::Owned(buffer) => Some(Ok(Frame::owned(
                core,
                buffer,
                next.pts,
                next.layout,
                next.bit_depth,
            )
            .with_colour(next.colour, next.stream_height)
            .with_sei(next.sei))),
            Backing::Surface {
                index,
                progressive,
                top_field_first,
            } => {
                let surfaces = core.config.output_surfaces;
                let mapped = u32::try_from(core.mapped.borrow().len()).unwrap_or(u32::MAX);
                if mapped >= surfaces {
                    core.pending.borrow_mut().push_front(next);
                    self.stopped = true;
                    return Some(Err(Error::TooManyMappedFrames { mapped, surfaces }));
                }
                let result = core
                    .context
                    .make_current()
                    .and_then(|_current| core.map(index, progressive, top_field_first));
                match result {
                    Ok((ptr, pitch)) => Some(Ok(Frame::mapped(
                        core,
                        ptr,
                        pitch,
                        next.pts,
                        next.layout,
                        next.bit_depth,
                    )
                    .with_colour(next.colour, next.stream_height)
                    .with_sei(next.sei))),
                    Err(error) => {
                        // Not lost: the frame stays first in the queue for the next call.
                        core.pending.borrow_mut().push_front(next);
                        self.stopped = true;
                        Some(Err(error))
                    }
                }
            }
        }
    }
}

impl<'a> Iterator for DecodedFrames<'a> {
    type Item = Result<Frame<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.take()
    }
}

impl std::fmt::Debug for DecodedFrames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedFrames")
            .field("remaining", &self.remaining())
            .finish()
    }
}
