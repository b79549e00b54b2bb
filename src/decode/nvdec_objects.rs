//! RAII owners of the raw NVDEC objects a decoder is made of.
//!
//! Invariant: each handle is created and destroyed inside an init window (creation takes a
//! [`WindowToken`]; `Drop` goes through [`destroy_in_window`], which runs at once inside a
//! window or hands the handle to the teardown thread), exactly once, in the context it was
//! created in; destruction failures are logged, never panicked on. Declaring them as separate
//! owners means a failure half-way through construction releases exactly what was built so
//! far, in reverse order. A decoder drops all of them inside one teardown, so their order
//! holds across threads too.

use nvcodec_media::PixelFormat;
use nvidia_video_codec_sdk::sys::cuviddec::{
    CUVIDDECODECREATEINFO, CUVIDRECONFIGUREDECODERINFO, CUvideoctxlock, CUvideodecoder,
    cudaVideoChromaFormat, cudaVideoCreateFlags, cudaVideoDeinterlaceMode, cudaVideoSurfaceFormat,
};
use nvidia_video_codec_sdk::sys::nvcuvid::CUvideoparser;

use cudarc::driver::sys::CUstream;

use super::caps::cuvid_codec;

use super::geometry::{Geometry, Shape};
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

/// The stream a decoder maps and copies on: its own, waited for at every map, or the
/// caller's [`FrameStream`](super::FrameStream), never waited for at a map.
pub(crate) enum WorkStream {
    Owned(OwnedStream),
    Given {
        stream: super::FrameStream,
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

/// One `cuvidCreateDecoder` handle and the geometry it is configured for now.
pub(crate) struct DecoderHandle {
    raw: CUvideodecoder,
    shape: Shape,
    configured: Geometry,
    api: &'static Nvcuvid,
    context: Context,
}

fn surface_format(format: PixelFormat) -> Result<cudaVideoSurfaceFormat> {
    Ok(match format {
        PixelFormat::Nv12 => cudaVideoSurfaceFormat::cudaVideoSurfaceFormat_NV12,
        PixelFormat::P016 => cudaVideoSurfaceFormat::cudaVideoSurfaceFormat_P016,
        PixelFormat::Yuv444 => cudaVideoSurfaceFormat::cudaVideoSurfaceFormat_YUV444,
        PixelFormat::Yuv444P16 => cudaVideoSurfaceFormat::cudaVideoSurfaceFormat_YUV444_16Bit,
        other => {
            return Err(Error::Unsupported {
                what: format!("{other} decoder output"),
                supported: "NV12, P016, YUV444, YUV444_16Bit".into(),
            });
        }
    })
}

impl DecoderHandle {
    /// `cuvidCreateDecoder` for `shape`, initially configured for `geometry`. Needs `context`
    /// current.
    pub(crate) fn create(
        window: WindowToken<'_>,
        api: &'static Nvcuvid,
        context: &Context,
        lock: &CtxLock,
        shape: Shape,
        geometry: Geometry,
        output_surfaces: u32,
    ) -> Result<Self> {
        let mut info = CUVIDDECODECREATEINFO {
            ulWidth: geometry.coded_width.into(),
            ulHeight: geometry.coded_height.into(),
            ulNumDecodeSurfaces: shape.surfaces.into(),
            CodecType: cuvid_codec(shape.codec)?,
            ChromaFormat: if shape.format.is_444() {
                cudaVideoChromaFormat::cudaVideoChromaFormat_444
            } else {
                cudaVideoChromaFormat::cudaVideoChromaFormat_420
            },
            ulCreationFlags: cudaVideoCreateFlags::cudaVideoCreate_PreferCUVID as _,
            bitDepthMinus8: u32::from(shape.bit_depth.saturating_sub(8)).into(),
            ulIntraDecodeOnly: 0,
            ulMaxWidth: shape.max_width.into(),
            ulMaxHeight: shape.max_height.into(),
            OutputFormat: surface_format(shape.format)?,
            DeinterlaceMode: cudaVideoDeinterlaceMode::cudaVideoDeinterlaceMode_Weave,
            ulTargetWidth: geometry.target_width().into(),
            ulTargetHeight: geometry.target_height().into(),
            ulNumOutputSurfaces: output_surfaces.into(),
            vidLock: lock.raw,
            ..Default::default()
        };
        let area = geometry.display_area_i16();
        info.display_area.left = area.0;
        info.display_area.top = area.1;
        info.display_area.right = area.2;
        info.display_area.bottom = area.3;
        let raw = api.create_decoder(window, &mut info)?;
        tracing::debug!(?shape, ?geometry, "cuvidCreateDecoder");
        Ok(DecoderHandle {
            raw,
            shape,
            configured: geometry,
            api,
            context: context.clone(),
        })
    }

    /// `cuvidReconfigureDecoder` to a new geometry within this handle's shape. No frame of
    /// this decoder may be mapped (callers unmap leaked ones and materialize queued ones).
    pub(crate) fn reconfigure(
        &mut self,
        window: WindowToken<'_>,
        geometry: Geometry,
    ) -> Result<()> {
        // SAFETY: all-zero is a valid CUVIDRECONFIGUREDECODERINFO (plain integers).
        let mut info: CUVIDRECONFIGUREDECODERINFO = unsafe { std::mem::zeroed() };
        info.ulWidth = geometry.coded_width;
        info.ulHeight = geometry.coded_height;
        info.ulTargetWidth = geometry.target_width();
        info.ulTargetHeight = geometry.target_height();
        info.ulNumDecodeSurfaces = self.shape.surfaces;
        let area = geometry.display_area_i16();
        info.display_area.left = area.0;
        info.display_area.top = area.1;
        info.display_area.right = area.2;
        info.display_area.bottom = area.3;
        // SAFETY: the handle is live; no frame is mapped (the caller's contract).
        unsafe { self.api.reconfigure_decoder(window, self.raw, &mut info) }?;
        self.configured = geometry;
        Ok(())
    }

    pub(crate) fn raw(&self) -> CUvideodecoder {
        self.raw
    }

    pub(crate) fn shape(&self) -> Shape {
        self.shape
    }

    /// The geometry the output surfaces are configured for.
    pub(crate) fn configured(&self) -> Geometry {
        self.configured
    }
}

impl Drop for DecoderHandle {
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

/// One `cuvidCreateVideoParser` handle.
pub(crate) struct ParserHandle {
    pub(crate) raw: CUvideoparser,
    pub(crate) api: &'static Nvcuvid,
}

impl Drop for ParserHandle {
    fn drop(&mut self) {
        let (raw, api) = (Doomed(self.raw), self.api);
        destroy_in_window("NVDEC parser", move |window| {
            let raw = raw;
            // SAFETY: the parser is live and its callbacks' user data outlives it (the
            // decoder drops its parser before its core).
            if let Err(error) = unsafe { api.destroy_parser(window, raw.0) } {
                tracing::error!(%error, "cuvidDestroyVideoParser failed");
            }
        });
    }
}
