//! [`DeviceFramePool`] and [`OwnedFrame`]: frames that outlive the decoder's mapping without
//! a device allocation per frame.
//!
//! Invariant: an [`OwnedFrame`]'s buffer belongs to it alone until it drops, then goes back to
//! its pool's free list (or is freed if the pool is gone); the pool never hands out a buffer
//! that is in use. Buffers are allocated only when no free one of the frame's size exists, so
//! a steady stream allocates nothing after its first few frames.
//!
//! Memory bound: the free list keeps buffers of the [`DeviceFramePool::KEPT_SIZES`] frame sizes asked for most
//! recently only. A buffer of another size is freed when it comes back, and free buffers of a
//! size that drops out of the recent ones are freed at once; so a pool that saw many
//! resolutions holds free buffers of at most `KEPT_SIZES` of them (plus the frames alive). The
//! mechanism is the crate's one buffer pool (`cuda::buffer_pool`), shared with the RGB pool.
//!
//! Trade-off: the copy is waited for before the frame is returned (the decoder's surface is
//! unmapped right after, and NVDEC may reuse it), so an owned frame is, like a mapped one,
//! complete and readable on any stream. A stream alternating between more than `KEPT_SIZES`
//! sizes allocates again at each change; two sizes cover a resolution change and its
//! overlap.

use super::frame::Frame;
use super::planes::FrameLayout;
use crate::cuda::{BufferPool, Context, DeviceBuffer, Limits, PooledBuffer};
use crate::error::Result;

/// Reusable device buffers for frames copied out of a decoder, in the packed layout.
///
/// Cloning shares the pool; it may be used by many decoders of its context at once.
///
/// # Examples
/// ```no_run
/// use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig, DeviceFramePool};
/// use nvcodec_guard::Codec;
///
/// let mut decoder = DecoderBuilder::new(DecoderConfig::new(Codec::H264)).build()?;
/// let pool = DeviceFramePool::new(decoder.context());
/// let mut kept = Vec::new();
/// # let packet: &[u8] = &[];
/// for frame in decoder.decode(packet, 0)? {
///     kept.push(frame?.copy_to_pool(&pool)?); // outlives the mapping; `Send`
/// }
/// # Ok::<(), nvcodec_guard::Error>(())
/// ```
#[derive(Clone)]
pub struct DeviceFramePool {
    buffers: BufferPool,
}

impl std::fmt::Debug for DeviceFramePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceFramePool")
            .field("free", &self.free())
            .field("allocated", &self.allocated())
            .finish()
    }
}

impl DeviceFramePool {
    /// How many frame sizes (bytes) the pool keeps free buffers of: those asked for most
    /// recently. Free buffers of other sizes are freed.
    pub const KEPT_SIZES: usize = 2;

    /// An empty pool for frames of decoders in `context`.
    pub fn new(context: &Context) -> Self {
        DeviceFramePool {
            buffers: BufferPool::new(
                context,
                Limits {
                    kept_sizes: Self::KEPT_SIZES,
                    max_free: usize::MAX,
                },
            ),
        }
    }

    /// Buffers allocated so far (each is reused once its frame drops).
    pub fn allocated(&self) -> u64 {
        self.buffers.allocated()
    }

    /// Buffers free right now.
    pub fn free(&self) -> usize {
        self.buffers.free()
    }
}

/// A decoded frame in device memory of its own (the packed layout of
/// [`FrameLayout::packed_size`]), taken from a [`DeviceFramePool`] and returned to it on drop.
/// `Send`: hand it to another thread, batch it, keep it as long as needed.
pub struct OwnedFrame {
    /// Back to its pool when the frame drops.
    buffer: PooledBuffer,
    pts: i64,
    layout: FrameLayout,
}

impl OwnedFrame {
    /// The timestamp passed with the packet this frame came from.
    pub fn pts(&self) -> i64 {
        self.pts
    }

    /// Size and format.
    pub fn layout(&self) -> FrameLayout {
        self.layout
    }

    /// Visible width in pixels.
    pub fn width(&self) -> u32 {
        self.layout.width
    }

    /// Visible height in pixels.
    pub fn height(&self) -> u32 {
        self.layout.height
    }

    fn buffer(&self) -> &DeviceBuffer {
        &self.buffer
    }

    /// Device address of the luma plane; the UV plane follows at
    /// [`chroma_offset`](Self::chroma_offset).
    pub fn device_ptr(&self) -> u64 {
        self.buffer().device_ptr()
    }

    /// Bytes between luma rows (packed: no padding).
    pub fn pitch(&self) -> usize {
        self.layout.luma_row_bytes()
    }

    /// Bytes from [`device_ptr`](Self::device_ptr) to the UV plane.
    pub fn chroma_offset(&self) -> usize {
        self.layout.luma_row_bytes() * self.layout.height as usize
    }

    /// Bytes between UV rows.
    pub fn chroma_pitch(&self) -> usize {
        self.layout.chroma_row_bytes()
    }

    /// The device memory holding the frame (packed), e.g. for
    /// `InputFrame::device(frame.device_buffer(), frame.pitch())` into an encoder.
    pub fn device_buffer(&self) -> &DeviceBuffer {
        &self.buffer
    }

    /// The CUDA context the memory belongs to.
    pub fn context(&self) -> &Context {
        self.buffer().context()
    }

    /// Copies the frame to host memory (packed NV12 / P016).
    ///
    /// # Errors
    /// [`crate::Error::Driver`] if the copy fails.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        self.buffer().to_vec()
    }
}

impl std::fmt::Debug for OwnedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedFrame")
            .field("pts", &self.pts)
            .field("layout", &self.layout)
            .finish()
    }
}

impl Frame<'_> {
    /// Copies the frame into a buffer of `pool` (packed layout) and returns it as an owned
    /// frame that outlives the decoder's mapping. No allocation once the pool holds a free
    /// buffer of this size.
    ///
    /// # Errors
    /// [`crate::Error::Driver`] if a needed allocation or the copy fails;
    /// [`crate::Error::InvalidConfig`] if `pool` belongs to another context.
    pub fn copy_to_pool(&self, pool: &DeviceFramePool) -> Result<OwnedFrame> {
        if pool.buffers.context().raw() != self.context().raw() {
            return Err(crate::Error::InvalidConfig {
                parameter: "pool",
                reason: "the frame pool belongs to another CUDA context than the frame".into(),
            });
        }
        let mut buffer = pool.buffers.take(self.layout().packed_size())?;
        let copied = self.copy_to_buffer(&mut buffer);
        let frame = OwnedFrame {
            buffer,
            pts: self.pts(),
            layout: self.layout(),
        };
        copied.map(|()| frame)
    }
}
