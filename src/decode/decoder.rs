//! [`DecoderSession`] (what exists inside the init window) and [`Decoder`] (what has the
//! frame methods, after the window closed).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;

use nvidia_video_codec_sdk::sys::cuviddec::CUvideodecoder;
use nvidia_video_codec_sdk::sys::nvcuvid::{
    CUVIDPARSERPARAMS, CUVIDSOURCEDATAPACKET, CUvideopacketflags,
};

use super::callbacks;
use super::caps::{self, cuvid_codec};
use super::config::DecoderConfig;
use super::core::{Backing, Core, DecoderStats, initial_format};
use super::frame::Frame;
use super::geometry::{Geometry, Shape};
use super::handles::{CtxLock, DecoderHandle, OwnedStream, ParserHandle};
use crate::cuda::Context;
use crate::error::{Error, Result};
use crate::ffi::nvcuvid::Nvcuvid;
use crate::init::{CudaInitGuard, WindowTiming};

/// The decoder as it exists inside the init window: parser and `cuvidCreateDecoder` handle
/// created, no frame decoded yet. Reach it with
/// [`Builder::session`](crate::phase::Builder::session).
pub struct DecoderSession {
    parser: ParserHandle,
    core: Box<Core>,
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

fn create_parser(api: &'static Nvcuvid, core: &Core) -> Result<ParserHandle> {
    let mut params = CUVIDPARSERPARAMS {
        CodecType: cuvid_codec(core.config.codec),
        ulMaxNumDecodeSurfaces: core.decoder.borrow().shape().surfaces,
        ulClockRate: 0,
        ulErrorThreshold: 100,
        ulMaxDisplayDelay: core.config.display_delay,
        pUserData: core as *const Core as *mut c_void,
        pfnSequenceCallback: Some(callbacks::on_sequence),
        pfnDecodePicture: Some(callbacks::on_decode),
        pfnDisplayPicture: Some(callbacks::on_display),
        ..Default::default()
    };
    // SAFETY: the callbacks are `extern "C"` functions that never unwind; `pUserData` points
    // into a `Box<Core>` that is dropped only after this parser (Decoder's field order).
    let raw = unsafe { api.create_parser(&mut params) }?;
    Ok(ParserHandle { raw, api })
}

/// Builds everything inside the init window. Called by the builder's `open_session`.
pub(crate) fn open(
    config: &DecoderConfig,
    context: &Context,
    guard: &CudaInitGuard,
) -> Result<DecoderSession> {
    let _ = guard; // proof of being inside the window; the builder already validated `config`
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
        api,
        context.ordinal(),
        context.device_name(),
        shape.codec,
        shape.bit_depth,
        shape.max_width,
        shape.max_height,
    )?;
    let format_ok = match shape.format {
        super::config::PixelFormat::Nv12 => caps.nv12_output,
        super::config::PixelFormat::P016 => caps.p016_output,
    };
    if !format_ok {
        return Err(Error::Unsupported {
            what: format!(
                "{:?} output for {} {}-bit",
                shape.format, shape.codec, shape.bit_depth
            ),
            supported: format!("NV12: {}, P016: {}", caps.nv12_output, caps.p016_output),
        });
    }
    let stream = OwnedStream::create(context)?;
    let lock = CtxLock::create(api, context)?;
    let decoder = DecoderHandle::create(
        api,
        context,
        &lock,
        shape,
        Geometry::full(shape.max_width, shape.max_height),
        config.output_surfaces,
    )?;
    let core = Box::new(Core {
        decoder: RefCell::new(decoder),
        lock,
        stream,
        context: context.clone(),
        api,
        config: config.clone(),
        geometry: Cell::new(None),
        pending: RefCell::new(VecDeque::new()),
        error: RefCell::new(None),
        fatal: Cell::new(false),
        mapped: Cell::new(0),
        stats: Cell::new(DecoderStats::default()),
    });
    let parser = create_parser(api, &core)?;
    Ok(DecoderSession { parser, core })
}

/// An NVDEC decoder with frame methods. Built only through
/// [`DecoderBuilder`](super::DecoderBuilder), so it exists only after its init window
/// closed.
///
/// `Send` (move it to a worker thread) but not `Sync` (one thread feeds it at a time).
/// Frames borrow the decoder: take them, use them, drop them before the next
/// [`decode`](Self::decode).
pub struct Decoder {
    /// Dropped first: the parser calls into `core`.
    parser: ParserHandle,
    core: Box<Core>,
    window: WindowTiming,
    /// After `flush` the parser is re-created (in an init window) before more data.
    needs_new_parser: bool,
}

// SAFETY: the decoder owns every handle it points to (parser, decoder, lock, stream) and
// nothing else references its core, so moving the whole to another thread is sound; NVDEC
// handles are not tied to the thread that created them. It is not `Sync` (Cell/RefCell).
unsafe impl Send for Decoder {}

impl Decoder {
    pub(crate) fn from_session(session: DecoderSession, window: WindowTiming) -> Decoder {
        Decoder {
            parser: session.parser,
            core: session.core,
            window,
            needs_new_parser: false,
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &DecoderConfig {
        &self.core.config
    }

    /// The CUDA context it decodes in.
    pub fn context(&self) -> &Context {
        &self.core.context
    }

    /// How long its init window waited for the lock and was held.
    pub fn init_window(&self) -> WindowTiming {
        self.window
    }

    /// Stream-change counters.
    pub fn stats(&self) -> DecoderStats {
        self.core.stats.get()
    }

    /// Decode surfaces the current decoder handle has (the configured or default number,
    /// raised if the stream needed more).
    pub fn decode_surfaces(&self) -> u32 {
        self.core.decoder.borrow().shape().surfaces
    }

    /// Frames decoded and waiting to be taken.
    pub fn queued_frames(&self) -> usize {
        self.core.pending.borrow().len()
    }

    fn check_usable(&self) -> Result<()> {
        if self.core.fatal.get() {
            return Err(Error::Poisoned(
                "an earlier stream change could not be applied; build a new decoder".into(),
            ));
        }
        Ok(())
    }

    fn parse(&mut self, packet: &mut CUVIDSOURCEDATAPACKET) -> Result<()> {
        let _current = self.core.context.make_current()?;
        // SAFETY: the parser is live; the packet's payload is valid for its size for the
        // duration of the call (the parser copies what it keeps).
        let parsed = unsafe { self.core.api.parse(self.parser.raw, packet) };
        let stored = self.core.error.borrow_mut().take();
        match (stored, parsed) {
            (Some(error), _) => Err(error),
            (None, Err(error)) => Err(error),
            (None, Ok(())) => Ok(()),
        }
    }

    fn renew_parser(&mut self) -> Result<()> {
        let window = match CudaInitGuard::acquire_timeout(self.core.config.runtime_lock_timeout) {
            Ok(guard) => Some(guard),
            Err(Error::InitLockHeld) => None,
            Err(error) => return Err(error),
        };
        let parser = create_parser(self.core.api, &self.core)?;
        drop(window);
        self.parser = parser; // the old parser is destroyed here
        self.core.geometry.set(None);
        self.needs_new_parser = false;
        Ok(())
    }

    /// Feeds one packet (an access unit / a frame) with its timestamp and returns the frames
    /// that became ready, in display order.
    ///
    /// Errors from the parser's callbacks (a stream the decoder cannot handle, a failed
    /// picture) surface here. Empty packets are ignored; use [`flush`](Self::flush) at the end.
    pub fn decode(&mut self, packet: &[u8], pts: i64) -> Result<DecodedFrames<'_>> {
        self.check_usable()?;
        if self.needs_new_parser {
            self.renew_parser()?;
        }
        if !packet.is_empty() {
            let size = std::ffi::c_ulong::try_from(packet.len()).map_err(|_| {
                Error::InvalidInput(format!("packet of {} bytes is too large", packet.len()))
            })?;
            let mut raw = CUVIDSOURCEDATAPACKET {
                flags: CUvideopacketflags::CUVID_PKT_TIMESTAMP as _,
                payload_size: size,
                payload: packet.as_ptr(),
                timestamp: pts,
            };
            self.parse(&mut raw)?;
        }
        Ok(DecodedFrames {
            core: &self.core,
            stopped: false,
        })
    }

    /// Signals end of stream and returns every frame still held back. Afterwards the decoder
    /// accepts a new stream (the parser is re-created on the next `decode`).
    pub fn flush(&mut self) -> Result<DecodedFrames<'_>> {
        self.check_usable()?;
        if !self.needs_new_parser {
            let mut raw = CUVIDSOURCEDATAPACKET {
                flags: (CUvideopacketflags::CUVID_PKT_ENDOFSTREAM as u32
                    | CUvideopacketflags::CUVID_PKT_NOTIFY_EOS as u32) as _,
                payload_size: 0,
                payload: std::ptr::null(),
                timestamp: 0,
            };
            self.needs_new_parser = true;
            self.parse(&mut raw)?;
        }
        Ok(DecodedFrames {
            core: &self.core,
            stopped: false,
        })
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("codec", &self.core.config.codec)
            .field("geometry", &self.core.geometry.get())
            .field("stats", &self.core.stats.get())
            .finish()
    }
}

/// The frames that became ready, taken one by one in display order.
///
/// Each [`Frame`] is mapped when taken; at most
/// [`output_surfaces`](DecoderConfig::output_surfaces) can be alive at once. Frames not
/// taken stay queued and come with the next `decode`.
pub struct DecodedFrames<'a> {
    core: &'a Core,
    /// Set after a `TooManyMappedFrames` error: the iterator ends (so a loop that ignores
    /// errors cannot spin) and the frame stays queued for the next call.
    stopped: bool,
}

impl<'a> DecodedFrames<'a> {
    /// Frames left to take.
    pub fn remaining(&self) -> usize {
        self.core.pending.borrow().len()
    }

    fn take(&mut self) -> Option<Result<Frame<'a>>> {
        if self.stopped {
            return None;
        }
        let core = self.core;
        let next = core.pending.borrow_mut().pop_front()?;
        match next.backing {
            Backing::Owned(buffer) => Some(Ok(Frame::owned(core, buffer, next.pts, next.layout))),
            Backing::Surface {
                index,
                progressive,
                top_field_first,
            } => {
                let surfaces = core.config.output_surfaces;
                let mapped = core.mapped.get();
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
                    Ok((ptr, pitch)) => {
                        core.mapped.set(mapped + 1);
                        Some(Ok(Frame::mapped(core, ptr, pitch, next.pts, next.layout)))
                    }
                    Err(error) => Some(Err(error)),
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
