//! The decoder's state that the parser's callbacks reach through `pUserData`.
//!
//! Invariant: the core lives in a `Box` whose address is fixed for the parser's whole life,
//! and is only ever accessed through `&Core`; everything that changes is in a `Cell` or
//! `RefCell`, so the callbacks (which run synchronously inside `cuvidParseVideoData`) never
//! alias a `&mut`.
//!
//! Surface reuse: the parser may hand a decode surface out again as soon as it has been
//! displayed. A frame that is displayed but not yet taken by the user would then be
//! overwritten, so before a surface is decoded into, or the decoder is reconfigured or
//! re-created, every queued frame still living in a decoder surface is *materialized*:
//! mapped and copied into memory of its own. In the common case (one picture per packet,
//! frames taken after each `decode`) this never happens and frames stay zero-copy.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use nvidia_video_codec_sdk::sys::cuviddec::{
    CUVIDPICPARAMS, CUVIDPROCPARAMS, cudaVideoChromaFormat,
};
use nvidia_video_codec_sdk::sys::nvcuvid::{CUVIDEOFORMAT, CUVIDPARSERDISPINFO};

use super::caps::{self, cuvid_codec};
use super::config::{DecoderConfig, PixelFormat};
use super::frame::{FrameLayout, copy_planes};
use super::geometry::{Geometry, Shape};
use super::handles::{CtxLock, DecoderHandle, OwnedStream};
use crate::cuda::{Context, DeviceBuffer};
use crate::error::{Error, Result};
use crate::ffi::cuda::Mem;
use crate::ffi::nvcuvid::Nvcuvid;
use crate::init::CudaInitGuard;

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
}

/// Counters of stream changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// `cuvidReconfigureDecoder` calls (resolution changes within the allocated size,
    /// including the first sequence header).
    pub reconfigurations: u32,
    /// Decoder re-creations in a run-time init window (larger size, other bit depth, more
    /// surfaces).
    pub recreations: u32,
    /// Frames that had to be copied out of their decode surface before it was reused.
    pub materialized_frames: u64,
}

/// Field order is drop order: decoder handle, then lock, then stream, then context.
pub(crate) struct Core {
    pub(crate) decoder: RefCell<DecoderHandle>,
    pub(crate) lock: CtxLock,
    pub(crate) stream: OwnedStream,
    pub(crate) context: Context,
    pub(crate) api: &'static Nvcuvid,
    pub(crate) config: DecoderConfig,
    /// `None` until the first sequence header.
    pub(crate) geometry: Cell<Option<Geometry>>,
    pub(crate) pending: RefCell<VecDeque<Pending>>,
    /// The first error raised inside a callback, returned by the next `decode`.
    pub(crate) error: RefCell<Option<Error>>,
    /// Set when the decoder can no longer decode the stream (failed re-creation).
    pub(crate) fatal: Cell<bool>,
    pub(crate) mapped: Cell<u32>,
    pub(crate) stats: Cell<DecoderStats>,
}

impl Core {
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

    /// Maps surface `index` with the current decoder configuration.
    pub(crate) fn map(
        &self,
        index: i32,
        progressive: bool,
        top_field_first: bool,
    ) -> Result<(u64, u32)> {
        let mut params = CUVIDPROCPARAMS {
            progressive_frame: i32::from(progressive),
            top_field_first: i32::from(top_field_first),
            second_field: 0,
            unpaired_field: 0,
            output_stream: self.stream.raw(),
            ..Default::default()
        };
        let decoder = self.decoder.borrow();
        // SAFETY: the decoder is live and `index` came from the parser's display callback.
        unsafe { self.api.map_frame(decoder.raw(), index, &mut params) }
    }

    /// Unmaps a pointer from [`map`](Self::map).
    pub(crate) fn unmap(&self, ptr: u64) -> Result<()> {
        let decoder = self.decoder.borrow();
        // SAFETY: `ptr` was mapped on this decoder and is not used afterwards.
        unsafe { self.api.unmap_frame(decoder.raw(), ptr) }
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

    /// The sequence callback: fits the decoder to the stream. Returns the number of decode
    /// surfaces the parser may use.
    pub(crate) fn on_sequence(&self, format: &CUVIDEOFORMAT) -> Result<i32> {
        let wanted = cuvid_codec(self.config.codec);
        if format.codec != wanted {
            return Err(Error::InvalidInput(format!(
                "the stream is {:?} but the decoder was built for {}",
                format.codec, self.config.codec
            )));
        }
        if format.chroma_format != cudaVideoChromaFormat::cudaVideoChromaFormat_420 {
            return Err(Error::Unsupported {
                what: format!(
                    "{} chroma format {:?}",
                    self.config.codec, format.chroma_format
                ),
                supported: "4:2:0".to_owned(),
            });
        }
        if format.bit_depth_chroma_minus8 != format.bit_depth_luma_minus8 {
            return Err(Error::Unsupported {
                what: "different luma and chroma bit depths".to_owned(),
                supported: "equal luma and chroma bit depths".to_owned(),
            });
        }
        let bit_depth = format.bit_depth_luma_minus8.saturating_add(8);
        let area = &format.display_area;
        let geometry = Geometry::from_stream(
            format.coded_width,
            format.coded_height,
            (area.left, area.top, area.right, area.bottom),
        );
        let current = self.decoder.borrow().shape();
        let needs = Shape {
            codec: self.config.codec,
            bit_depth,
            format: self.config.output_format.resolve(bit_depth),
            max_width: geometry.coded_width.div_ceil(16) * 16,
            max_height: geometry.coded_height.div_ceil(16) * 16,
            surfaces: u32::from(format.min_num_decode_surfaces).max(1),
        };
        if current.fits(&needs) {
            if self.geometry.get() != Some(geometry) {
                self.materialize(None)?;
                // Bind first: the handle's borrow must end before `recreate` replaces it.
                let reconfigured = self.decoder.borrow().reconfigure(geometry);
                match reconfigured {
                    Ok(()) => self.bump(|s| s.reconfigurations += 1),
                    Err(error) => {
                        tracing::warn!(%error, "reconfigure failed; re-creating the decoder");
                        self.recreate(current, geometry)?;
                    }
                }
            }
        } else {
            self.materialize(None)?;
            self.recreate(current.grown_to(&needs), geometry)?;
        }
        self.geometry.set(Some(geometry));
        tracing::debug!(?geometry, bit_depth, "sequence");
        Ok(i32::try_from(self.decoder.borrow().shape().surfaces).unwrap_or(i32::MAX))
    }

    /// Replaces the decoder handle inside a run-time init window: create the new one first,
    /// so that a failure leaves the old one in place (and the error reported).
    fn recreate(&self, shape: Shape, geometry: Geometry) -> Result<()> {
        let window = match CudaInitGuard::acquire_timeout(self.config.runtime_lock_timeout) {
            Ok(guard) => Some(guard),
            Err(Error::InitLockHeld) => None, // already inside a window on this thread
            Err(error) => return Err(error),
        };
        if let Some(guard) = &window {
            guard.record_target(self.context.ordinal(), "nvdec-recreate");
        }
        let created = caps::require(
            self.api,
            self.context.ordinal(),
            self.context.device_name(),
            shape.codec,
            shape.bit_depth,
            shape.max_width,
            shape.max_height,
        )
        .and_then(|_| {
            DecoderHandle::create(
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
    ///
    /// # Safety
    /// `params` must be the pointer the parser passed to the callback.
    pub(crate) unsafe fn on_decode(&self, params: *mut CUVIDPICPARAMS) -> Result<()> {
        // SAFETY: guaranteed by the caller: a live struct for the callback's duration.
        let index = unsafe { (*params).CurrPicIdx };
        let reused = self
            .pending
            .borrow()
            .iter()
            .any(|p| matches!(p.backing, Backing::Surface { index: i, .. } if i == index));
        if reused {
            self.materialize(Some(index))?;
        }
        let decoder = self.decoder.borrow();
        // SAFETY: the decoder is live; `params` is the parser's, valid during the callback.
        unsafe { self.api.decode_picture(decoder.raw(), params) }
    }

    /// The display callback: queues the frame in display order.
    pub(crate) fn on_display(&self, info: &CUVIDPARSERDISPINFO) -> Result<()> {
        let Some(geometry) = self.geometry.get() else {
            return Err(Error::Codec(
                "a frame was displayed before any sequence header".into(),
            ));
        };
        let format = self.decoder.borrow().shape().format;
        self.pending.borrow_mut().push_back(Pending {
            backing: Backing::Surface {
                index: info.picture_index,
                progressive: info.progressive_frame != 0,
                top_field_first: info.top_field_first != 0,
            },
            pts: info.timestamp,
            layout: FrameLayout::new(geometry, format),
        });
        Ok(())
    }
}

/// Which pixel format a fresh decoder gets before the stream is seen.
pub(crate) fn initial_format(config: &DecoderConfig) -> PixelFormat {
    config.output_format.resolve(config.bit_depth)
}
