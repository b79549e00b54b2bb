//! The decoder's state that the parser's callbacks reach through `pUserData`.
//!
//! Invariant: the core lives in a [`CallbackTarget`](crate::driver::callback_target::CallbackTarget)
//! whose address is fixed for the parser's whole life, and is only ever accessed through
//! `&DecoderState`; everything that changes is in a `Cell` or `RefCell`, so the callbacks (which run
//! synchronously inside `cuvidParseVideoData`) never alias a `&mut`.
//!
//! Surface reuse: the parser may hand a decode surface out again as soon as it has been
//! displayed. A frame that is displayed but not yet taken by the user would then be
//! overwritten, so before a surface is decoded into, or the decoder is reconfigured or
//! re-created, every queued frame still living in a decoder surface is *materialized*:
//! mapped and copied into memory of its own. In the common case (one picture per packet,
//! frames taken after each `decode`) this never happens and frames stay zero-copy.
//!
//! Stream changes: a reconfiguration or re-creation is a lifecycle call, so it runs inside an
//! init window taken at run time. The first sequence header of a stream whose coded size is
//! the decoder's and whose picture starts at the top-left corner (every 1080p stream in a
//! decoder made for 1080p: coded 1088 rows, displayed 1080) needs none: the output surfaces
//! keep the coded size and frames present the display rectangle of them.

use nvcodec_media::{ColourDescription, PixelFormat, Rational};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use nvidia_video_codec_sdk::sys::nvcuvid::CUVIDPARSERDISPINFO;

use super::caps::{self, CHROMA_420, CHROMA_444, codec_of_cuvid, cuvid_codec_value};
use super::config::{
    DecoderConfig, MAX_DIMENSION, MAX_QUEUED_FRAMES, MAX_SURFACES, OutputGeometry,
};
use super::geometry::{Geometry, Shape};
use super::nvdec_objects::{CtxLock, DecoderHandle, WorkStream};
use super::planes::{FrameLayout, copy_planes};
use super::sei::SeiMessage;

use crate::cuda::{Context, DeviceBuffer};
use crate::driver::nvdec_parser::ParsedPicture;
pub(crate) use crate::driver::nvdec_parser::SequenceFormat;
use crate::error::{BitstreamError, Error, Result};
use crate::ffi::cuda::Mem;
use crate::ffi::nvcuvid::Nvcuvid;
use crate::init::{WindowToken, in_runtime_window};
use crate::unwind::contained;

/// The largest bit depth a sequence header may report; beyond it the header is corrupt
/// (NVDEC's output samples are at most 16 bits wide).
const MAX_BIT_DEPTH: u8 = 16;

/// Where a displayed-but-not-yet-taken frame's pixels are.
pub(crate) enum Backing {
    /// Still in a decode surface; mapped when taken.
    Surface {
        index: i32,
        progressive: bool,
        top_field_first: bool,
    },
    /// Copied out (packed planes) because its surface was needed again.
    Owned(DeviceBuffer),
}

/// A frame in display order, waiting to be taken.
pub(crate) struct Pending {
    pub(crate) backing: Backing,
    pub(crate) pts: i64,
    pub(crate) layout: FrameLayout,
    pub(crate) bit_depth: u8,
    pub(crate) colour: ColourDescription,
    /// Height of the stream's display area.
    pub(crate) stream_height: u32,
    /// SEI messages of the picture (empty unless SEI delivery is on).
    pub(crate) sei: Vec<SeiMessage>,
}

/// Counters of stream changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecoderStats {
    /// `cuvidReconfigureDecoder` calls (resolution changes within the allocated size).
    pub reconfigurations: u32,
    /// Decoder re-creations in a run-time init window (larger size, other bit depth, more
    /// surfaces).
    pub recreations: u32,
    /// Frames that had to be copied out of their decode surface before it was reused.
    pub materialized_frames: u64,
    /// Mapped frames that were never dropped (`std::mem::forget`) and were unmapped by the
    /// decoder before it touched its surfaces again.
    pub leaked_frames_unmapped: u64,
    /// Pictures whose SEI messages exceeded the per-picture bounds (see `decode::MAX_SEI_BYTES`)
    /// and were dropped.
    pub sei_dropped: u64,
}

/// What the decoder knows of the stream it is decoding, from the latest sequence header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The codec.
    pub codec: crate::Codec,
    /// Coded width (a multiple of the codec's block size).
    pub coded_width: u32,
    /// Coded height.
    pub coded_height: u32,
    /// Width of the display area: what frames show.
    pub display_width: u32,
    /// Height of the display area.
    pub display_height: u32,
    /// Luma bit depth (chroma is the same; other streams are refused).
    pub bit_depth: u8,
    /// Pixel layout of the frames: NV12 / P016 for 4:2:0 streams, YUV444 / YUV444_16Bit for
    /// 4:4:4 ones (other chroma formats are refused).
    pub pixel_format: PixelFormat,
    /// Frames per second, when the stream says.
    pub frame_rate: Option<Rational>,
    /// Colour primaries, transfer, matrix and range as the stream states them
    /// (unspecified stays unspecified; see [`ColourDescription::conversion_matrix`]).
    pub colour: ColourDescription,
}

/// Field order is drop order: decoder handle, then lock, then stream, then context.
pub(crate) struct DecoderState {
    pub(crate) decoder: RefCell<DecoderHandle>,
    pub(crate) lock: CtxLock,
    pub(crate) stream: WorkStream,
    pub(crate) context: Context,
    pub(crate) api: &'static Nvcuvid,
    pub(crate) config: DecoderConfig,
    /// `None` until the first sequence header.
    pub(crate) geometry: Cell<Option<Geometry>>,
    /// How frames of the current sequence are laid out; `None` before the first header.
    pub(crate) layout: Cell<Option<FrameLayout>>,
    /// The current sequence; `None` before the first header.
    pub(crate) stream_info: Cell<Option<StreamInfo>>,
    pub(crate) pending: RefCell<VecDeque<Pending>>,
    /// The first error raised inside a callback, returned by the next `decode`.
    pub(crate) error: RefCell<Option<Error>>,
    /// Set when the decoder can no longer decode the stream (failed re-creation).
    pub(crate) fatal: Cell<bool>,
    /// Device pointers of frames mapped right now.
    pub(crate) mapped: RefCell<Vec<u64>>,
    pub(crate) stats: Cell<DecoderStats>,
    /// Crop and scale for the next sequence (from the config, or set since).
    pub(crate) output: Cell<OutputGeometry>,
    /// SEI messages by decode surface index, waiting for their picture's display.
    pub(crate) sei: RefCell<Vec<Vec<SeiMessage>>>,
}

impl DecoderState {
    /// Records a callback's error; the first one wins.
    pub(crate) fn record_error(&self, error: Error, fatal: bool) {
        if fatal {
            self.fatal.set(true);
        }
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(error);
        }
    }

    fn bump(&self, f: impl FnOnce(&mut DecoderStats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    /// Maps surface `index` with the current decoder configuration and waits for NVDEC's
    /// post-processing into the output surface, so the pixels are ready for any reader on
    /// any stream. Needs the context current.
    pub(crate) fn map(
        &self,
        index: i32,
        progressive: bool,
        top_field_first: bool,
    ) -> Result<(u64, u32)> {
        let decoder = self.decoder.borrow();
        let (ptr, pitch) = decoder.map_frame(index, progressive, top_field_first, &self.stream)?;
        self.mapped.borrow_mut().push(ptr);
        if !self.stream.waits_at_map() {
            return Ok((ptr, pitch)); // ordered on the caller's frame stream
        }
        if let Err(error) = self.stream.synchronize() {
            self.unmap(ptr)?;
            return Err(error);
        }
        Ok((ptr, pitch))
    }

    /// Unmaps a pointer from [`map`](Self::map). Needs the context current.
    pub(crate) fn unmap(&self, ptr: u64) -> Result<()> {
        self.mapped.borrow_mut().retain(|&p| p != ptr);
        self.decoder.borrow().unmap_frame(ptr)
    }

    /// Unmaps the surfaces of frames that were never dropped (`mem::forget`). Called where
    /// no `Frame` can be alive (`&mut Decoder`), so every mapping left is a leaked one.
    pub(crate) fn unmap_leaked(&self) -> Result<()> {
        let leaked: Vec<u64> = self.mapped.borrow().clone();
        if leaked.is_empty() {
            return Ok(());
        }
        let _current = self.context.make_current()?;
        for ptr in leaked {
            // Contained: this runs on the way from `Decoder::drop` and a pool's check-in.
            contained(|| tracing::warn!("a decoded frame was leaked; unmapping its surface"));
            self.unmap(ptr)?;
            self.bump(|s| s.leaked_frames_unmapped += 1);
        }
        Ok(())
    }

    /// Copies queued frames that still live in decode surfaces into buffers of their own.
    /// `only` restricts this to one surface index.
    fn materialize(&self, only: Option<i32>) -> Result<()> {
        let mut pending = self.pending.borrow_mut();
        for frame in pending.iter_mut() {
            let Backing::Surface {
                index,
                progressive,
                top_field_first,
            } = frame.backing
            else {
                continue;
            };
            if only.is_some_and(|i| i != index) {
                continue;
            }
            let layout = frame.layout;
            let (ptr, pitch) = self.map(index, progressive, top_field_first)?;
            let copied =
                DeviceBuffer::alloc(&self.context, layout.packed_size()).and_then(|buffer| {
                    let packed = layout.packed_pitch();
                    copy_planes(
                        &self.context,
                        &self.stream,
                        &layout,
                        Mem::Device(ptr),
                        pitch as usize,
                        layout.surface_height as usize,
                        Mem::Device(buffer.device_ptr()),
                        packed,
                        layout.height as usize,
                    )?;
                    Ok(buffer)
                });
            let unmapped = self.unmap(ptr);
            let buffer = copied?;
            unmapped?;
            frame.backing = Backing::Owned(buffer);
            self.bump(|s| s.materialized_frames += 1);
        }
        Ok(())
    }

    /// Runs `f` inside an init window taken at run time (see `init::in_runtime_window`).
    fn in_window<R>(&self, f: impl for<'w> FnOnce(WindowToken<'w>) -> Result<R>) -> Result<R> {
        in_runtime_window(
            self.config.runtime_lock_timeout,
            self.context.ordinal(),
            "nvdec-stream-change",
            f,
        )
    }

    /// Checks a sequence header against the decoder and the hard limits, before any
    /// arithmetic on its sizes.
    fn validate(&self, format: &SequenceFormat) -> Result<(Geometry, u8, u32, bool)> {
        let wanted = cuvid_codec_value(self.config.codec)?;
        if format.codec != wanted {
            return Err(BitstreamError::CodecMismatch {
                expected: self.config.codec,
                found: codec_of_cuvid(format.codec),
                cuvid_codec: format.codec,
            }
            .into());
        }
        if format.chroma_format != CHROMA_420 && format.chroma_format != CHROMA_444 {
            return Err(Error::Unsupported {
                what: format!(
                    "{} chroma format {} (cudaVideoChromaFormat)",
                    self.config.codec, format.chroma_format
                ),
                supported: format!("4:2:0 ({CHROMA_420}), 4:4:4 ({CHROMA_444})"),
            });
        }
        let chroma_444 = format.chroma_format == CHROMA_444;
        if format.bit_depth_chroma_minus8 != format.bit_depth_luma_minus8 {
            return Err(Error::Unsupported {
                what: "different luma and chroma bit depths".to_owned(),
                supported: "equal luma and chroma bit depths".to_owned(),
            });
        }
        let bit_depth = format.bit_depth_luma_minus8.saturating_add(8);
        if bit_depth > MAX_BIT_DEPTH {
            return Err(BitstreamError::BitDepthOutOfRange {
                bit_depth,
                max: MAX_BIT_DEPTH,
            }
            .into());
        }
        let (w, h) = (format.coded_width, format.coded_height);
        if w == 0 || h == 0 || w > MAX_DIMENSION || h > MAX_DIMENSION {
            return Err(BitstreamError::CodedSizeOutOfRange {
                width: w,
                height: h,
                max: MAX_DIMENSION,
            }
            .into());
        }
        let surfaces = u32::from(format.min_num_decode_surfaces).max(1);
        if surfaces > MAX_SURFACES {
            return Err(Error::Unsupported {
                what: format!("a stream that needs {surfaces} decode surfaces"),
                supported: format!("at most {MAX_SURFACES}"),
            });
        }
        let geometry = Geometry::from_stream(w, h, format.display_area);
        Ok((geometry, bit_depth, surfaces, chroma_444))
    }

    /// The sequence callback: fits the decoder to the stream. Returns the number of decode
    /// surfaces the parser may use.
    pub(crate) fn on_sequence(&self, format: &SequenceFormat) -> Result<i32> {
        let (stream_geometry, bit_depth, surfaces, chroma_444) = self.validate(format)?;
        let geometry = stream_geometry.with_output(self.output.get());
        let (current, configured) = {
            let handle = self.decoder.borrow();
            (handle.shape(), handle.configured())
        };
        let needs = Shape {
            codec: self.config.codec,
            bit_depth,
            format: self.config.output_format.resolve_for(bit_depth, chroma_444),
            max_width: geometry.coded_width.div_ceil(16) * 16,
            max_height: geometry.coded_height.div_ceil(16) * 16,
            surfaces,
        };
        let crops_in_place = configured
            == Geometry::full(geometry.coded_width, geometry.coded_height)
            && geometry.left == 0
            && geometry.top == 0
            && !geometry.is_scaled();
        if !current.fits(&needs) {
            self.materialize(None)?;
            self.in_window(|window| self.recreate(window, current.grown_to(&needs), geometry))?;
        } else if configured != geometry && !crops_in_place {
            self.materialize(None)?;
            self.in_window(|window| {
                // Bind first: the handle's borrow must end before `recreate` replaces it.
                let reconfigured = self.decoder.borrow_mut().reconfigure(window, geometry);
                match reconfigured {
                    Ok(()) => {
                        self.bump(|s| s.reconfigurations += 1);
                        Ok(())
                    }
                    Err(error) => {
                        tracing::warn!(%error, "reconfigure failed; re-creating the decoder");
                        self.recreate(window, current, geometry)
                    }
                }
            })?;
        }
        let handle = self.decoder.borrow();
        let layout = FrameLayout::new(geometry, handle.configured(), handle.shape().format);
        self.geometry.set(Some(geometry));
        self.layout.set(Some(layout));
        let (num, den) = format.frame_rate;
        self.stream_info.set(Some(StreamInfo {
            codec: self.config.codec,
            coded_width: geometry.coded_width,
            coded_height: geometry.coded_height,
            display_width: stream_geometry.width(),
            display_height: stream_geometry.height(),
            bit_depth,
            pixel_format: layout.format,
            frame_rate: Rational::new(num.into(), den.into()).filter(|r| r.num > 0),
            colour: super::signal::colour_from_cuvid_signal(format.video_signal),
        }));
        tracing::debug!(?geometry, bit_depth, "sequence");
        Ok(i32::try_from(handle.shape().surfaces).unwrap_or(i32::MAX))
    }

    /// Replaces the decoder handle inside the window: create the new one first, so that a
    /// failure leaves the old one in place (and the error reported); the old one is
    /// destroyed in the same window.
    fn recreate(&self, window: WindowToken<'_>, shape: Shape, geometry: Geometry) -> Result<()> {
        let created = caps::require(
            window,
            self.api,
            &self.context,
            shape.codec,
            shape.bit_depth,
            shape.format.is_444(),
            shape.max_width,
            shape.max_height,
        )
        .and_then(|caps| {
            if !caps.outputs(shape.format) {
                return Err(Error::Unsupported {
                    what: format!(
                        "{} output for {} {}-bit",
                        shape.format, shape.codec, shape.bit_depth
                    ),
                    supported: format!(
                        "NV12: {}, P016: {}, YUV444: {}, YUV444_16Bit: {}",
                        caps.nv12_output,
                        caps.p016_output,
                        caps.yuv444_output,
                        caps.yuv444_16_output
                    ),
                });
            }
            DecoderHandle::create(
                window,
                self.api,
                &self.context,
                &self.lock,
                shape,
                geometry,
                self.config.output_surfaces,
            )
        });
        let new = match created {
            Ok(new) => new,
            Err(error) => {
                self.fatal.set(true);
                return Err(error);
            }
        };
        let old = self.decoder.replace(new);
        drop(old); // destroyed inside this window
        self.bump(|s| s.recreations += 1);
        tracing::info!(?shape, "decoder re-created for a stream change");
        Ok(())
    }

    /// The decode callback.
    pub(crate) fn on_decode(&self, picture: &mut ParsedPicture<'_>) -> Result<()> {
        let index = picture.index();
        let reused = self
            .pending
            .borrow()
            .iter()
            .any(|p| matches!(p.backing, Backing::Surface { index: i, .. } if i == index));
        if reused {
            self.materialize(Some(index))?;
        }
        self.decoder.borrow().decode_picture(picture)
    }

    /// The display callback: queues the frame in display order.
    ///
    /// The queue never holds more than [`MAX_QUEUED_FRAMES`], also when one packet carries
    /// many pictures: a frame displayed while it is full is dropped and the packet's `decode`
    /// returns [`Error::FramesDropped`] saying so (the frames queued before stay queued, for
    /// [`Decoder::take_queued`](super::Decoder::take_queued)). This bounds the device memory frames
    /// copied out of reused surfaces can take to `MAX_QUEUED_FRAMES` frames.
    pub(crate) fn on_display(&self, info: &CUVIDPARSERDISPINFO) -> Result<()> {
        let (Some(layout), Some(stream)) = (self.layout.get(), self.stream_info.get()) else {
            return Err(Error::DriverContract {
                call: "cuvidParseVideoData",
                violation: "displayed a frame before any sequence header".into(),
            });
        };
        let queued = self.pending.borrow().len();
        if queued >= MAX_QUEUED_FRAMES {
            return Err(Error::FramesDropped {
                limit: MAX_QUEUED_FRAMES,
                first_dropped_pts: info.timestamp,
            });
        }
        self.pending.borrow_mut().push_back(Pending {
            backing: Backing::Surface {
                index: info.picture_index,
                progressive: info.progressive_frame != 0,
                top_field_first: info.top_field_first != 0,
            },
            pts: info.timestamp,
            layout,
            bit_depth: stream.bit_depth,
            colour: stream.colour,
            stream_height: stream.display_height,
            sei: self.take_sei(info.picture_index),
        });
        Ok(())
    }
}

impl DecoderState {
    /// The SEI callback: keeps a picture's messages (or, over the bounds, none) under its
    /// decode surface index until it is displayed.
    pub(crate) fn on_sei(&self, picture_index: u32, messages: Option<Vec<SeiMessage>>) {
        let Ok(index) = usize::try_from(picture_index) else {
            return;
        };
        if index >= MAX_SURFACES as usize {
            tracing::warn!(
                picture_index,
                "SEI for a surface index out of range; dropped"
            );
            self.bump(|s| s.sei_dropped += 1);
            return;
        }
        let mut slots = self.sei.borrow_mut();
        if slots.len() <= index {
            slots.resize_with(index + 1, Vec::new);
        }
        match messages {
            Some(messages) => slots[index] = messages,
            None => {
                slots[index].clear();
                self.bump(|s| s.sei_dropped += 1);
            }
        }
    }

    /// Takes the SEI messages waiting for surface `picture_index`.
    fn take_sei(&self, picture_index: i32) -> Vec<SeiMessage> {
        let mut slots = self.sei.borrow_mut();
        usize::try_from(picture_index)
            .ok()
            .and_then(|i| slots.get_mut(i))
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Forgets SEI messages of pictures never displayed (a reset or flush).
    pub(crate) fn clear_sei(&self) {
        self.sei.borrow_mut().iter_mut().for_each(Vec::clear);
    }
}

/// Which pixel format a fresh decoder gets before the stream is seen.
pub(crate) fn initial_format(config: &DecoderConfig) -> PixelFormat {
    config.output_format.resolve(config.bit_depth)
}
