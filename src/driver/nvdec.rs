//! RAII owners of the raw NVDEC objects a decoder is made of: its CUDA stream, the cuvid
//! context lock and the `cuvidCreateDecoder` handle (the parser and its callbacks are in
//! [`super::nvdec_parser`]).
//!
//! Invariant: each handle is created and destroyed inside an init window (creation takes a
//! [`WindowToken`]; `Drop` goes through [`destroy_in_window`], which runs at once inside a
//! window or hands the handle to the teardown thread), exactly once, in the context it was
//! created in; destruction failures are logged, never panicked on. Declaring them as separate
//! owners means a failure half-way through construction releases exactly what was built so
//! far, in reverse order. A decoder drops all of them inside one teardown, so their order
//! holds across threads too.
//!
//! A [`DecoderObject`] also keeps the list of surfaces it has mapped: it unmaps only what it
//! mapped, and refuses to reconfigure while anything is mapped, so no safe caller can unmap a
//! foreign pointer or reshape surfaces a frame still reads.

use std::cell::RefCell;

use cudarc::driver::sys::CUstream;
use nvidia_video_codec_sdk::sys::cuviddec::{
    CUVIDDECODECREATEINFO, CUVIDPROCPARAMS, CUVIDRECONFIGUREDECODERINFO, CUvideoctxlock,
    CUvideodecoder,
};

use super::nvdec_parser::ParsedPicture;
use crate::cuda::Context;
use crate::error::{Error, Result};
use crate::ffi::nvcuvid::Nvcuvid;
use crate::init::{WindowToken, destroy_in_window};
use crate::unwind::contained;

/// A raw handle on its way to destruction, possibly on the teardown thread.
struct Doomed<T>(T);
// SAFETY: NVDEC and CUDA handles are not tied to the thread that made them; a doomed handle
// is used by nothing but its teardown.
unsafe impl<T> Send for Doomed<T> {}

/// A CUDA stream owned by one decoder, for its maps and copies.
pub(crate) struct OwnedStream {
    raw: CUstream,
    context: Context,
}

// SAFETY: a CUDA stream handle is not tied to the thread that made it; the stream is owned
// here and destroyed once, in `Drop`.
unsafe impl Send for OwnedStream {}

impl OwnedStream {
    pub(crate) fn create(context: &Context) -> Result<Self> {
        let _current = context.make_current()?;
        let raw = context.driver().stream_create()?;
        Ok(OwnedStream {
            raw,
            context: context.clone(),
        })
    }

    pub(crate) fn raw(&self) -> CUstream {
        self.raw
    }

    /// Waits for all work queued on the stream.
    pub(crate) fn synchronize(&self) -> Result<()> {
        // SAFETY: the stream is live while `self` exists.
        unsafe { self.context.driver().stream_synchronize(self.raw) }
    }
}

impl Drop for OwnedStream {
    fn drop(&mut self) {
        let destroyed = self.context.make_current().and_then(|_current| {
            // SAFETY: we created the stream and nothing uses it after its decoder is gone.
            unsafe { self.context.driver().stream_destroy(self.raw) }
        });
        if let Err(error) = destroyed {
            contained(|| tracing::error!(%error, "destroying a decoder stream failed"));
        }
    }
}

/// A CUDA stream a decoder's frames are *ordered on* instead of waited for.
///
/// By default a frame is handed out only after NVDEC's post-processing into its surface has
/// finished (the decoder waits on a stream of its own), so any reader on any stream sees the
/// whole picture. With a `FrameStream`, the post-processing (and the decoder's copies) are
/// queued on this stream and not waited for: work you queue on the same stream after the
/// frame is handed out sees the whole picture, with no host wait per frame. Work on any
/// other stream must first wait for this one (an event), or it may read a half-written
/// surface. [`Frame::stream`](crate::decode::Frame::stream) says which stream a frame is
/// ordered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStream(CUstream);

// SAFETY: a CUDA stream handle may be used from any thread; `FrameStream` only carries it.
unsafe impl Send for FrameStream {}
// SAFETY: as above; the handle is never mutated through `&FrameStream`.
unsafe impl Sync for FrameStream {}

impl FrameStream {
    /// Wraps a raw `CUstream`.
    ///
    /// # Safety
    /// `raw` must be a stream of the CUDA context the decoder is built in (a stream you
    /// created there, or the legacy default stream, null), and stay valid for as long as any
    /// decoder configured with it exists.
    pub unsafe fn from_raw(raw: CUstream) -> Self {
        FrameStream(raw)
    }

    /// The raw `CUstream`.
    pub fn raw(&self) -> CUstream {
        self.0
    }
}

/// The stream a decoder maps and copies on: its own, waited for at every map, or the
/// caller's [`FrameStream`], never waited for at a map.
pub(crate) enum WorkStream {
    Owned(OwnedStream),
    Given {
        stream: FrameStream,
        context: Context,
    },
}

impl WorkStream {
    pub(crate) fn raw(&self) -> CUstream {
        match self {
            WorkStream::Owned(owned) => owned.raw(),
            WorkStream::Given { stream, .. } => stream.raw(),
        }
    }

    /// Whether maps are waited for before a frame is handed out.
    pub(crate) fn waits_at_map(&self) -> bool {
        matches!(self, WorkStream::Owned(_))
    }

    /// Waits for all work queued on the stream.
    pub(crate) fn synchronize(&self) -> Result<()> {
        match self {
            WorkStream::Owned(owned) => owned.synchronize(),
            // SAFETY: the caller of `FrameStream::from_raw` guarantees the stream is valid in
            // this context for the decoder's life.
            WorkStream::Given { stream, context } => unsafe {
                context.driver().stream_synchronize(stream.raw())
            },
        }
    }
}

/// The cuvid context lock shared by a decoder and its parser.
pub(crate) struct CtxLock {
    raw: CUvideoctxlock,
    api: &'static Nvcuvid,
}

// SAFETY: a cuvid context lock is not tied to the thread that made it; it is owned here and
// destroyed once, in `Drop`.
unsafe impl Send for CtxLock {}

impl CtxLock {
    pub(crate) fn create(
        window: WindowToken<'_>,
        api: &'static Nvcuvid,
        context: &Context,
    ) -> Result<Self> {
        // SAFETY: the context is live (held by the caller).
        let raw = unsafe { api.ctx_lock_create(window, context.raw()) }?;
        Ok(CtxLock { raw, api })
    }

    /// The raw lock, for a decoder's `vidLock`.
    pub(crate) fn raw(&self) -> CUvideoctxlock {
        self.raw
    }
}

impl Drop for CtxLock {
    fn drop(&mut self) {
        let (raw, api) = (Doomed(self.raw), self.api);
        destroy_in_window("cuvid context lock", move |window| {
            let raw = raw;
            // SAFETY: the decoder that used this lock has been destroyed before (field order
            // of `DecoderState`, dropped inside one teardown).
            if let Err(error) = unsafe { api.ctx_lock_destroy(window, raw.0) } {
                tracing::error!(%error, "destroying a cuvid context lock failed");
            }
        });
    }
}

/// One `cuvidCreateDecoder` handle and the output surfaces mapped from it now.
pub(crate) struct DecoderObject {
    raw: CUvideodecoder,
    api: &'static Nvcuvid,
    context: Context,
    /// Device pointers of the surfaces mapped and not yet unmapped.
    mapped: RefCell<Vec<u64>>,
}

// SAFETY: a decoder handle is not tied to the thread that made it (every call makes its
// context current); it is owned here and destroyed once, in `Drop`. Not `Sync` (`RefCell`).
unsafe impl Send for DecoderObject {}

impl DecoderObject {
    /// `cuvidCreateDecoder` with `info`. Needs `context` current.
    pub(crate) fn create(
        window: WindowToken<'_>,
        api: &'static Nvcuvid,
        context: &Context,
        info: &mut CUVIDDECODECREATEINFO,
    ) -> Result<Self> {
        let raw = api.create_decoder(window, info)?;
        Ok(DecoderObject {
            raw,
            api,
            context: context.clone(),
            mapped: RefCell::new(Vec::new()),
        })
    }

    /// `cuvidReconfigureDecoder` with `info`.
    ///
    /// # Errors
    /// [`Error::Internal`] while a surface of this decoder is mapped (callers unmap leaked
    /// frames and materialize queued ones first); driver failures.
    pub(crate) fn reconfigure(
        &mut self,
        window: WindowToken<'_>,
        info: &mut CUVIDRECONFIGUREDECODERINFO,
    ) -> Result<()> {
        if !self.mapped.borrow().is_empty() {
            return Err(Error::Internal {
                what: "cuvidReconfigureDecoder with a surface still mapped",
            });
        }
        // SAFETY: the handle is live; no surface is mapped (checked above).
        unsafe { self.api.reconfigure_decoder(window, self.raw, info) }
    }

    /// `cuvidMapVideoFrame64` of the picture at `index`, its post-processing queued on
    /// `stream`: the output surface's device pointer and pitch. Needs the context current.
    pub(crate) fn map_frame(
        &self,
        index: i32,
        progressive: bool,
        top_field_first: bool,
        stream: &WorkStream,
    ) -> Result<(u64, u32)> {
        let mut params = CUVIDPROCPARAMS {
            progressive_frame: i32::from(progressive),
            top_field_first: i32::from(top_field_first),
            second_field: 0,
            unpaired_field: 0,
            output_stream: stream.raw(),
            ..Default::default()
        };
        // SAFETY: the decoder is live; `output_stream` is a stream of this decoder's context
        // (`WorkStream`: its own, or a `FrameStream` promised for the decoder's life); the
        // driver checks `index` against its surfaces.
        let (ptr, pitch) = unsafe { self.api.map_frame(self.raw, index, &mut params) }?;
        self.mapped.borrow_mut().push(ptr);
        Ok((ptr, pitch))
    }

    /// `cuvidUnmapVideoFrame64` of a pointer from [`map_frame`](Self::map_frame). Needs
    /// the context current.
    ///
    /// # Errors
    /// [`Error::Internal`] for a pointer this decoder has not mapped; driver failures.
    pub(crate) fn unmap_frame(&self, ptr: u64) -> Result<()> {
        {
            let mut mapped = self.mapped.borrow_mut();
            let Some(at) = mapped.iter().position(|&p| p == ptr) else {
                return Err(Error::Internal {
                    what: "cuvidUnmapVideoFrame64 of a surface this decoder did not map",
                });
            };
            mapped.swap_remove(at);
        }
        // SAFETY: `ptr` was mapped on this live decoder and not unmapped since (the list).
        unsafe { self.api.unmap_frame(self.raw, ptr) }
    }

    /// `cuvidDecodePicture` of the picture the parser handed to the decode callback.
    pub(crate) fn decode_picture(&self, picture: &mut ParsedPicture<'_>) -> Result<()> {
        // SAFETY: the decoder is live; `picture` is the parser's, valid during the callback
        // (`ParsedPicture`'s invariant).
        unsafe { self.api.decode_picture(self.raw, picture.as_mut_ptr()) }
    }

    pub(crate) fn raw(&self) -> CUvideodecoder {
        self.raw
    }
}

impl Drop for DecoderObject {
    fn drop(&mut self) {
        let (raw, api, context) = (Doomed(self.raw), self.api, self.context.clone());
        destroy_in_window("NVDEC decoder", move |window| {
            let raw = raw;
            let destroyed = context.make_current().and_then(|_current| {
                // SAFETY: the handle is live, no frame is mapped (the decoder unmaps leaked
                // frames before it drops; frames borrow it), and nothing uses it afterwards.
                unsafe { api.destroy_decoder(window, raw.0) }
            });
            if let Err(error) = destroyed {
                tracing::error!(%error, "cuvidDestroyDecoder failed");
            }
        });
    }
}
