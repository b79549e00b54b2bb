//! Where converted pictures go when you do not bring your own memory: [`RgbFramePool`] (one
//! reusable buffer per picture) and [`RgbBatch`] (N pictures in one contiguous N×C×H×W or
//! N×H×W×C tensor).
//!
//! Invariant: an [`RgbFrame`]'s buffer belongs to it alone until it drops, then goes back to
//! its pool's free list (at most [`RgbFramePool::MAX_FREE`] are kept; more are freed; the
//! mechanism is the crate's one buffer pool, `cuda::buffer_pool`), so a steady stream
//! allocates nothing once warm and the pool's memory is bounded by the frames alive plus
//! `MAX_FREE` buffers. A batch slot is written only through the converter's
//! checked path, so writes stay inside the batch.

use super::converter::{Converter, Target, check_extent};
use super::spec::{ConvertSpec, RgbLayout, SampleType};
use crate::cuda::{BufferPool, Context, DeviceBuffer, Limits, PooledBuffer};
use crate::decode::Frame;
use crate::error::{Error, Result};

/// Reusable device buffers for converted pictures; cloning shares the pool.
#[derive(Clone)]
pub struct RgbFramePool {
    buffers: BufferPool,
}

impl std::fmt::Debug for RgbFramePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgbFramePool")
            .field("free", &self.free())
            .field("allocated", &self.allocated())
            .finish()
    }
}

impl RgbFramePool {
    /// Free buffers kept for reuse at most (of the `MAX_FREE` picture sizes asked for most
    /// recently); buffers coming back beyond that are freed.
    pub const MAX_FREE: usize = 16;

    /// An empty pool in `context`.
    pub fn new(context: &Context) -> Self {
        RgbFramePool {
            buffers: BufferPool::new(
                context,
                Limits {
                    kept_sizes: Self::MAX_FREE,
                    max_free: Self::MAX_FREE,
                },
            ),
        }
    }

    /// Buffers allocated so far.
    pub fn allocated(&self) -> u64 {
        self.buffers.allocated()
    }

    /// Buffers free right now.
    pub fn free(&self) -> usize {
        self.buffers.free()
    }
}

/// A converted picture in a buffer of an [`RgbFramePool`], packed (rows
/// [`ConvertSpec::row_bytes`] apart, planes right after each other), complete, `Send`.
pub struct RgbFrame {
    /// Back to its pool when the picture drops.
    buffer: PooledBuffer,
    pts: i64,
    width: u32,
    height: u32,
    spec: ConvertSpec,
}

impl RgbFrame {
    /// The timestamp of the decoded frame.
    pub fn pts(&self) -> i64 {
        self.pts
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// What the picture holds.
    pub fn spec(&self) -> &ConvertSpec {
        &self.spec
    }

    /// Bytes of the picture.
    pub fn len(&self) -> usize {
        // Its buffer was sized from this: it fits.
        self.spec
            .packed_size(self.width, self.height)
            .unwrap_or(usize::MAX)
    }

    /// Whether the picture is empty (never, for a decoded frame).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes between rows.
    pub fn row_pitch(&self) -> usize {
        // At most the picture's bytes, which fit.
        self.spec.row_bytes(self.width).unwrap_or(usize::MAX)
    }

    /// The device memory (exactly [`len`](Self::len) bytes).
    pub fn device_buffer(&self) -> &DeviceBuffer {
        &self.buffer
    }

    /// Device address of the picture.
    pub fn device_ptr(&self) -> u64 {
        self.buffer.device_ptr()
    }

    /// Copies the picture to host memory.
    ///
    /// # Errors
    /// [`Error::Driver`] if the copy fails.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        self.buffer.to_vec()
    }
}

impl std::fmt::Debug for RgbFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgbFrame")
            .field("pts", &self.pts)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("layout", &self.spec.layout)
            .field("sample", &self.spec.sample)
            .finish()
    }
}

/// N pictures of one size, layout and value type in one contiguous device buffer: picture
/// `i` starts at `i ×` [`ConvertSpec::packed_size`], so a planar batch is an N×3×H×W tensor
/// and an interleaved one N×H×W×C. Pictures may come from different streams (decoders) of
/// the same context, each converted with its own colour description.
#[derive(Debug)]
pub struct RgbBatch {
    buffer: DeviceBuffer,
    count: usize,
    width: u32,
    height: u32,
    layout: RgbLayout,
    sample: SampleType,
}

impl RgbBatch {
    /// Allocates a batch of `count` pictures of `width × height` in `context`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a zero or overflowing size; [`Error::Driver`] if the
    /// allocation fails.
    pub fn new(
        context: &Context,
        count: usize,
        width: u32,
        height: u32,
        layout: RgbLayout,
        sample: SampleType,
    ) -> Result<RgbBatch> {
        let picture = ConvertSpec::new(layout, sample).packed_size(width, height)?;
        let len = picture
            .checked_mul(count)
            .filter(|&l| l > 0)
            .ok_or_else(|| Error::InvalidConfig {
                parameter: "batch size",
                reason: format!("a batch of {count} {width}x{height} {layout} {sample} pictures"),
            })?;
        Ok(RgbBatch {
            buffer: DeviceBuffer::alloc(context, len)?,
            count,
            width,
            height,
            layout,
            sample,
        })
    }

    /// Pictures in the batch.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes of one picture.
    pub fn picture_size(&self) -> usize {
        // `new` checked `count ×` this.
        ConvertSpec::new(self.layout, self.sample)
            .packed_size(self.width, self.height)
            .unwrap_or(usize::MAX)
    }

    /// The whole batch in device memory.
    pub fn device_buffer(&self) -> &DeviceBuffer {
        &self.buffer
    }

    /// Copies the whole batch to host memory.
    ///
    /// # Errors
    /// [`Error::Driver`] if the copy fails.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        self.buffer.to_vec()
    }
}

impl Converter {
    /// Converts `frame` into a buffer of `pool` and waits for it (also with a frame stream:
    /// a pooled buffer is reused, so it must be complete before anyone can drop it). No
    /// allocation once the pool holds a free buffer of this size.
    ///
    /// # Errors
    /// As [`convert_into`](Self::convert_into); [`Error::InvalidConfig`] if `pool` belongs
    /// to another context.
    pub fn convert_to_pool(
        &self,
        frame: &Frame<'_>,
        spec: &ConvertSpec,
        pool: &RgbFramePool,
    ) -> Result<RgbFrame> {
        if pool.buffers.context().raw() != self.context().raw() {
            return Err(Error::InvalidConfig {
                parameter: "pool",
                reason: "the RGB pool belongs to another CUDA context than the converter".into(),
            });
        }
        let (width, height) = (frame.width(), frame.height());
        let mut buffer = pool.buffers.take(spec.packed_size(width, height)?)?;
        let converted = self
            .convert_into(frame, spec, &mut buffer, 0, spec.row_bytes(width)?)
            .and_then(|()| self.wait_for(frame));
        let picture = RgbFrame {
            buffer,
            pts: frame.pts(),
            width,
            height,
            spec: *spec,
        };
        converted.map(|()| picture)
    }

    /// Converts `frame` into picture `index` of `batch`. `spec` must have the batch's
    /// layout and value type (matrix, range and normalisation may differ per picture), and
    /// the frame the batch's size (decode at that size with the decoder's hardware resize).
    /// Stream-ordered or complete as [`convert_into`](Self::convert_into).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an index out of range, another size, layout, value type
    /// or context; otherwise as [`convert_into`](Self::convert_into).
    pub fn convert_into_batch(
        &self,
        frame: &Frame<'_>,
        spec: &ConvertSpec,
        batch: &mut RgbBatch,
        index: usize,
    ) -> Result<()> {
        if index >= batch.count {
            return Err(Error::InvalidConfig {
                parameter: "batch index",
                reason: format!("picture {index} of a batch of {}", batch.count),
            });
        }
        if (frame.width(), frame.height()) != (batch.width, batch.height)
            || (spec.layout, spec.sample) != (batch.layout, batch.sample)
        {
            return Err(Error::InvalidConfig {
                parameter: "batch picture",
                reason: format!(
                    "a {}x{} frame as {} {} into a batch of {}x{} {} {}",
                    frame.width(),
                    frame.height(),
                    spec.layout,
                    spec.sample,
                    batch.width,
                    batch.height,
                    batch.layout,
                    batch.sample
                ),
            });
        }
        let picture = batch.picture_size();
        // `index < count` and `count × picture` did not overflow in `RgbBatch::new`.
        let offset = picture.saturating_mul(index);
        let row = spec.row_bytes(batch.width)?;
        self.convert_into(frame, spec, &mut batch.buffer, offset, row)
    }
}

/// Checks a packed target of `spec` in a buffer (used by tests of the bounds logic).
#[allow(dead_code)]
pub(crate) fn fits_packed(
    spec: &ConvertSpec,
    width: u32,
    height: u32,
    ptr: u64,
    room: usize,
) -> bool {
    let Ok(row) = spec.row_bytes(width) else {
        return false;
    };
    let target = Target {
        ptr,
        row_pitch: row,
        plane_pitch: row.saturating_mul(height as usize),
    };
    check_extent(spec, width, height, &target, room).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_picture_fits_exactly_its_size_and_not_one_byte_less() {
        for layout in [RgbLayout::Rgb, RgbLayout::Bgra, RgbLayout::PlanarRgb] {
            for sample in [SampleType::U8, SampleType::F16, SampleType::F32] {
                let spec = ConvertSpec::new(layout, sample);
                let size = spec.packed_size(641, 361).unwrap();
                assert!(
                    fits_packed(&spec, 641, 361, 0x1000, size),
                    "{layout} {sample}"
                );
                assert!(
                    !fits_packed(&spec, 641, 361, 0x1000, size - 1),
                    "{layout} {sample}"
                );
            }
        }
    }

    #[test]
    fn misaligned_or_short_pitches_are_refused() {
        let spec = ConvertSpec::new(RgbLayout::Rgb, SampleType::F32);
        let ok = Target {
            ptr: 0x1000,
            row_pitch: 640 * 12,
            plane_pitch: 0,
        };
        assert!(check_extent(&spec, 640, 2, &ok, usize::MAX).is_ok());
        let odd = Target { ptr: 0x1002, ..ok };
        assert!(check_extent(&spec, 640, 2, &odd, usize::MAX).is_err());
        let short = Target {
            row_pitch: 640 * 12 - 4,
            ..ok
        };
        assert!(check_extent(&spec, 640, 2, &short, usize::MAX).is_err());
        let planar = ConvertSpec::new(RgbLayout::PlanarRgb, SampleType::U8);
        let overlapping = Target {
            ptr: 0,
            row_pitch: 640,
            plane_pitch: 640,
        };
        assert!(check_extent(&planar, 640, 2, &overlapping, usize::MAX).is_err());
        let near_end = Target {
            ptr: u64::MAX - 10,
            row_pitch: 640,
            plane_pitch: 1280,
        };
        assert!(check_extent(&planar, 640, 2, &near_end, usize::MAX).is_err());
    }
}
