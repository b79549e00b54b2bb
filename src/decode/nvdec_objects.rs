//! The decoder's `cuvidCreateDecoder` handle with the shape and geometry it was made for,
//! on the raw owners of `driver::nvdec` (re-exported here for the rest of `decode`).
//!
//! Invariant: [`DecoderHandle::configured`] is the geometry the driver's output surfaces are
//! configured for now: set at creation and changed only after a successful
//! `cuvidReconfigureDecoder`. This module turns a [`Shape`] and a [`Geometry`] into the
//! driver's structs; creating, reconfiguring and destroying the handle is the owner's.

use nvcodec_media::PixelFormat;
use nvidia_video_codec_sdk::sys::cuviddec::{
    CUVIDDECODECREATEINFO, CUVIDRECONFIGUREDECODERINFO, CUvideodecoder, cudaVideoChromaFormat,
    cudaVideoCreateFlags, cudaVideoDeinterlaceMode, cudaVideoSurfaceFormat,
};

use super::caps::cuvid_codec;
use super::geometry::{Geometry, Shape};
use crate::cuda::Context;
use crate::driver::nvdec::DecoderObject;
pub(crate) use crate::driver::nvdec::{CtxLock, OwnedStream, WorkStream};
use crate::driver::nvdec_parser::ParsedPicture;
use crate::error::{Error, Result};
use crate::ffi::nvcuvid::Nvcuvid;
use crate::init::WindowToken;

/// One `cuvidCreateDecoder` handle and the geometry it is configured for now.
pub(crate) struct DecoderHandle {
    object: DecoderObject,
    shape: Shape,
    configured: Geometry,
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
            vidLock: lock.raw(),
            ..Default::default()
        };
        let area = geometry.display_area_i16();
        info.display_area.left = area.0;
        info.display_area.top = area.1;
        info.display_area.right = area.2;
        info.display_area.bottom = area.3;
        let object = DecoderObject::create(window, api, context, &mut info)?;
        tracing::debug!(?shape, ?geometry, "cuvidCreateDecoder");
        Ok(DecoderHandle {
            object,
            shape,
            configured: geometry,
        })
    }

    /// `cuvidReconfigureDecoder` to a new geometry within this handle's shape. No frame of
    /// this decoder may be mapped (callers unmap leaked ones and materialize queued ones).
    pub(crate) fn reconfigure(
        &mut self,
        window: WindowToken<'_>,
        geometry: Geometry,
    ) -> Result<()> {
        let area = geometry.display_area_i16();
        let mut info = CUVIDRECONFIGUREDECODERINFO {
            ulWidth: geometry.coded_width,
            ulHeight: geometry.coded_height,
            ulTargetWidth: geometry.target_width(),
            ulTargetHeight: geometry.target_height(),
            ulNumDecodeSurfaces: self.shape.surfaces,
            ..Default::default()
        };
        info.display_area.left = area.0;
        info.display_area.top = area.1;
        info.display_area.right = area.2;
        info.display_area.bottom = area.3;
        self.object.reconfigure(window, &mut info)?;
        self.configured = geometry;
        Ok(())
    }

    pub(crate) fn raw(&self) -> CUvideodecoder {
        self.object.raw()
    }

    /// Maps the picture at `index` (see [`DecoderObject::map_frame`]).
    pub(crate) fn map_frame(
        &self,
        index: i32,
        progressive: bool,
        top_field_first: bool,
        stream: &WorkStream,
    ) -> Result<(u64, u32)> {
        self.object
            .map_frame(index, progressive, top_field_first, stream)
    }

    /// Unmaps a pointer from [`map_frame`](Self::map_frame).
    pub(crate) fn unmap_frame(&self, ptr: u64) -> Result<()> {
        self.object.unmap_frame(ptr)
    }

    /// Decodes the parser's picture (inside the decode callback).
    pub(crate) fn decode_picture(&self, picture: &mut ParsedPicture<'_>) -> Result<()> {
        self.object.decode_picture(picture)
    }

    pub(crate) fn shape(&self) -> Shape {
        self.shape
    }

    /// The geometry the output surfaces are configured for.
    pub(crate) fn configured(&self) -> Geometry {
        self.configured
    }
}
