//! [`Converter`]: decoded frames to RGB on the GPU.
//!
//! Invariants:
//! - **Every write is inside the destination.** Before a launch the destination's extent
//!   (rows × pitch, planes × plane pitch) is checked against the buffer it lies in, with
//!   checked arithmetic, and its alignment against the value type (a misaligned store would
//!   be a sticky error that poisons the whole context). Reads stay inside the frame: the
//!   kernel clamps chroma coordinates to the chroma plane and reads luma only at output
//!   pixels, which are the frame's visible pixels.
//! - **Stream-ordered or complete.** For a frame ordered on a caller's
//!   [`FrameStream`](crate::decode::FrameStream) the kernel is queued on that stream and not
//!   waited for (work queued there afterwards sees the result; keep the destination alive
//!   until it has run). Otherwise it runs on the decoder's own non-blocking stream and is
//!   waited for there: the output is complete when the call returns, like frames themselves,
//!   and the wait covers no other decoder's work (a default stream would also wait for what
//!   others queued on the legacy stream).
//!   Pooled outputs ([`Converter::convert_to_pool`]) are always waited for, since their
//!   buffers are reused.
//! - **The math is [`Coefficients`].** Matrix, range and bit depth become the kernel's
//!   offsets and 3×3 matrix there and nowhere else.
//!
//! Chroma upsampling of 4:2:0 sources is bilinear, at the siting of [`ChromaSiting`] (left,
//! i.e. MPEG-2 siting, by default: chroma co-sited with even luma columns, halfway between
//! rows), with edges clamped; 4:4:4 sources are converted pixel for pixel, with no
//! upsampling. The trade-off against a longer filter (ffmpeg's `scale` uses bicubic by
//! default): bilinear costs four reads per plane and keeps the kernel memory-bound.

use nvcodec_media::{ColourRange, PixelFormat};
use std::time::Duration;

use cudarc::driver::sys::{CUdeviceptr, CUstream};
use std::sync::Arc;

use super::matrix::Coefficients;
use super::spec::{ConvertSpec, SampleType};
use crate::cuda::{Context, DeviceBuffer};
use crate::decode::Frame;
use crate::driver::kernels::{KernelModule, KernelParams};
use crate::error::{Error, Result};

/// Converts decoded frames to RGB with the conversion kernels of one CUDA context.
///
/// Cheap to clone and `Send + Sync`: the kernels are loaded once per context (the first
/// converter of a context takes an init window for `cuModuleLoadData`), shared by every
/// converter of that context, and unloaded when the last one drops.
///
/// # Examples
/// ```no_run
/// use nvcodec_guard::convert::{ConvertSpec, Converter, RgbFramePool, RgbLayout, SampleType};
/// use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig};
/// use nvcodec_guard::input::ElementaryStream;
///
/// let mut stream = ElementaryStream::open("tests/data/h264_640x360_b3.h264")?;
/// let mut decoder = DecoderBuilder::new(DecoderConfig::new(stream.codec())).build()?;
/// let converter = Converter::new(decoder.context())?;
/// let pool = RgbFramePool::new(decoder.context());
/// let spec = ConvertSpec::new(RgbLayout::PlanarRgb, SampleType::F32);
/// decoder.decode_stream(&mut stream, |frame| {
///     let rgb = converter.convert_to_pool(&frame, &spec, &pool)?; // 3×H×W f32, complete
///     println!("{}x{} {} bytes", rgb.width(), rgb.height(), rgb.len());
///     Ok(())
/// })?;
/// # Ok::<(), nvcodec_guard::Error>(())
/// ```
#[derive(Clone)]
pub struct Converter {
    module: Arc<KernelModule>,
}

impl std::fmt::Debug for Converter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Converter")
            .field("device", &self.module.context().ordinal())
            .finish()
    }
}

/// Where one conversion writes: a device address, the bytes between rows and between
/// channel planes (planar layouts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub(crate) ptr: CUdeviceptr,
    pub(crate) row_pitch: usize,
    pub(crate) plane_pitch: usize,
}

impl Converter {
    /// The converter of `context`, loading the kernels if this context has none loaded yet
    /// (inside an init window, waited for at most 30 s).
    ///
    /// # Errors
    /// [`Error::InitLockTimeout`]; [`Error::InitLockHeld`] when the kernels must be loaded
    /// and this thread holds a guard; [`Error::Driver`] naming `cuModuleLoadData` (e.g.
    /// `CUDA_ERROR_UNSUPPORTED_PTX_VERSION` on a driver older than the PTX, see the README)
    /// or `cuModuleGetFunction`.
    pub fn new(context: &Context) -> Result<Converter> {
        Self::with_lock_timeout(context, Duration::from_secs(30))
    }

    /// Like [`new`](Self::new), waiting at most `timeout` for the init lock.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_lock_timeout(context: &Context, timeout: Duration) -> Result<Converter> {
        Ok(Converter {
            module: KernelModule::for_context(context, timeout)?,
        })
    }

    /// The context the kernels live in.
    pub fn context(&self) -> &Context {
        self.module.context()
    }

    /// Converts `frame` into `dst`, starting `offset` bytes in, rows `row_pitch` bytes apart
    /// (for [`RgbLayout::PlanarRgb`](super::RgbLayout::PlanarRgb): planes `row_pitch × height`
    /// bytes apart). `row_pitch` = [`ConvertSpec::row_bytes`] packs the rows.
    ///
    /// With a [`FrameStream`](crate::decode::FrameStream) the work is queued on it and not
    /// waited for; otherwise the output is complete on return.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the picture does not fit in `dst` from `offset`, a pitch
    /// is too small or misaligned for the value type, `dst` or the frame belongs to another
    /// context, or the normalisation is invalid; [`Error::Unsupported`] for a stream matrix
    /// the converter cannot apply (override it with
    /// [`ConvertSpec::with_matrix`]); [`Error::Driver`] if the launch fails.
    // Calls `run` on a target checked against `dst` (see the module docs on `unsafe`).
    #[allow(unsafe_code)]
    pub fn convert_into(
        &self,
        frame: &Frame<'_>,
        spec: &ConvertSpec,
        dst: &mut DeviceBuffer,
        offset: usize,
        row_pitch: usize,
    ) -> Result<()> {
        if dst.context().raw() != self.context().raw() {
            return Err(Error::InvalidConfig {
                parameter: "destination buffer",
                reason: "the destination buffer belongs to another CUDA context than the converter"
                    .into(),
            });
        }
        let plane_pitch = row_pitch
            .checked_mul(frame.height() as usize)
            .ok_or_else(|| too_large("the plane pitch"))?;
        let target = Target {
            ptr: dst
                .device_ptr()
                .checked_add(offset as u64)
                .ok_or_else(|| too_large("the destination offset"))?,
            row_pitch,
            plane_pitch,
        };
        let room = dst
            .len()
            .checked_sub(offset)
            .ok_or_else(|| Error::InvalidConfig {
                parameter: "offset",
                reason: format!(
                    "offset {offset} lies past the end of a {}-byte buffer",
                    dst.len()
                ),
            })?;
        check_extent(spec, frame.width(), frame.height(), &target, room)?;
        // SAFETY: the extent was checked against the `room` bytes of `dst` after `offset`;
        // `dst` is borrowed mutably for the call, and with a caller's stream the caller keeps
        // it alive for the queued work (documented above).
        unsafe { self.run(frame, spec, target) }
    }

    /// Converts `frame` into device memory you manage (a tensor of another library, say):
    /// `dst` is pixel (0, 0), rows `row_pitch` bytes apart, planes (planar layout)
    /// `plane_pitch` bytes apart. Queued or waited for as in
    /// [`convert_into`](Self::convert_into).
    ///
    /// # Safety
    /// `dst` must be device memory of the converter's context, writable for the whole
    /// extent (`(height − 1) · row_pitch + row bytes`, plus `2 · plane_pitch` when planar)
    /// and not used by anything else until the conversion has finished.
    ///
    /// # Errors
    /// As [`convert_into`](Self::convert_into), except that the capacity is not known.
    // The caller's promise about `dst` enters here (see the module docs on `unsafe`).
    #[allow(unsafe_code)]
    pub unsafe fn convert_into_raw(
        &self,
        frame: &Frame<'_>,
        spec: &ConvertSpec,
        dst: CUdeviceptr,
        row_pitch: usize,
        plane_pitch: usize,
    ) -> Result<()> {
        let target = Target {
            ptr: dst,
            row_pitch,
            plane_pitch,
        };
        check_extent(spec, frame.width(), frame.height(), &target, usize::MAX)?;
        // SAFETY: guaranteed by the caller.
        unsafe { self.run(frame, spec, target) }
    }

    /// Queues (and, without a frame stream, waits for) the conversion.
    ///
    /// # Safety
    /// `target` must have been checked by [`check_extent`] against memory of this context
    /// that stays valid until the conversion finishes.
    // The kernel launch: its sources are the frame's planes (see the module docs on `unsafe`).
    #[allow(unsafe_code)]
    pub(crate) unsafe fn run(
        &self,
        frame: &Frame<'_>,
        spec: &ConvertSpec,
        target: Target,
    ) -> Result<()> {
        let context = self.context();
        if frame.context().raw() != context.raw() {
            return Err(Error::InvalidConfig {
                parameter: "frame",
                reason: "the frame belongs to another CUDA context than the converter".into(),
            });
        }
        let (params, wide) = params_for(frame, spec, target)?;
        let out = match spec.sample {
            SampleType::U8 => 0,
            SampleType::F16 => 1,
            SampleType::F32 => 2,
        };
        // Without a frame stream the pixels are complete, and the conversion goes on the
        // decoder's own non-blocking stream and is waited for there: not on a default stream,
        // which would also wait for work other decoders queued on the legacy one.
        let given = frame.stream();
        let stream: CUstream = frame.work_stream();
        let _current = context.make_current()?;
        // SAFETY: the source planes are the frame's, alive while `frame` is borrowed (and,
        // with a frame stream, ordered before its unmap on the same stream); the target is
        // guaranteed by the caller; `stream` is the frame's stream or its decoder's own
        // stream, both of this context and alive while the frame borrows the decoder.
        unsafe { self.module.launch(wide, out, &params, stream) }?;
        if given.is_none() {
            frame.synchronize_work_stream()?;
        }
        Ok(())
    }

    /// Waits for a conversion queued on the frame's stream (no-op without one).
    pub(crate) fn wait_for(&self, frame: &Frame<'_>) -> Result<()> {
        if frame.stream().is_some() {
            let _current = self.context().make_current()?;
            frame.synchronize_work_stream()?;
        }
        Ok(())
    }
}

fn too_large(what: &str) -> Error {
    Error::InvalidConfig {
        parameter: "size",
        reason: format!("{what} overflows the address space"),
    }
}

/// Checks that a `width × height` picture of `spec` at `target` fits in `room` bytes and
/// that every store is aligned for the value type.
pub(crate) fn check_extent(
    spec: &ConvertSpec,
    width: u32,
    height: u32,
    target: &Target,
    room: usize,
) -> Result<()> {
    spec.validate()?;
    let row = spec.row_bytes(width)?;
    let elem = spec.sample.bytes();
    if target.row_pitch < row {
        return Err(Error::InvalidConfig {
            parameter: "row pitch",
            reason: format!(
                "row pitch {} is less than a row of {width} pixels ({row} bytes of {} {})",
                target.row_pitch, spec.layout, spec.sample
            ),
        });
    }
    let aligned = |v: u64| v % elem as u64 == 0;
    if !aligned(target.ptr)
        || !aligned(target.row_pitch as u64)
        || !aligned(target.plane_pitch as u64)
    {
        return Err(Error::InvalidConfig {
            parameter: "destination alignment",
            reason: format!(
                "destination address {:#x}, row pitch {} or plane pitch {} is not a multiple of {elem} bytes ({})",
                target.ptr, target.row_pitch, target.plane_pitch, spec.sample
            ),
        });
    }
    let rows = (height as usize)
        .checked_sub(1)
        .and_then(|r| r.checked_mul(target.row_pitch))
        .and_then(|r| r.checked_add(row))
        .ok_or_else(|| too_large("the destination extent"))?;
    let extent = if spec.layout.is_planar() {
        if target.plane_pitch < rows {
            return Err(Error::InvalidConfig {
                parameter: "plane pitch",
                reason: format!(
                    "plane pitch {} is less than one plane ({rows} bytes)",
                    target.plane_pitch
                ),
            });
        }
        target
            .plane_pitch
            .checked_mul(2)
            .and_then(|p| p.checked_add(rows))
            .ok_or_else(|| too_large("the destination extent"))?
    } else {
        rows
    };
    if extent > room {
        return Err(Error::InvalidConfig {
            parameter: "destination buffer",
            reason: format!(
                "a {width}x{height} {} {} picture needs {extent} bytes, the destination has {room}",
                spec.layout, spec.sample
            ),
        });
    }
    target
        .ptr
        .checked_add(extent as u64)
        .ok_or_else(|| too_large("the destination extent"))?;
    Ok(())
}

/// The kernel parameters for `frame` → `target`, and whether the source samples are 16-bit.
fn params_for(
    frame: &Frame<'_>,
    spec: &ConvertSpec,
    target: Target,
) -> Result<(KernelParams, bool)> {
    let colour = frame.colour();
    let (width, height) = (frame.width(), frame.height());
    let matrix = match spec.matrix {
        Some(matrix) => matrix,
        None => colour
            .conversion_matrix(frame.stream_height())
            .ok_or_else(|| Error::Unsupported {
                what: format!("converting a stream with the {} matrix", colour.matrix),
                supported: "bt709, bt470bg, smpte170m, bt2020nc, fcc, smpte240m (override \
                            with ConvertSpec::with_matrix)"
                    .into(),
            })?,
    };
    let range: ColourRange = spec.range.unwrap_or(colour.range);
    let format = frame.pixel_format();
    let (wide, storage_bits, bit_depth) = match format {
        PixelFormat::Nv12 | PixelFormat::Yuv444 => (false, 8, 8),
        PixelFormat::P016 | PixelFormat::Yuv444P16 => (true, 16, frame.bit_depth().clamp(8, 16)),
        other => {
            return Err(Error::Unsupported {
                what: format!("converting {other} frames"),
                supported: "NV12, P016, YUV444, YUV444_16Bit".into(),
            });
        }
    };
    let full_chroma = format.is_444();
    let c = Coefficients::new(matrix, range, bit_depth, storage_bits)?;
    let u32_of = |v: usize, what: &str| {
        u32::try_from(v).map_err(|_| Error::InvalidConfig {
            parameter: "size",
            reason: format!("{what} {v} exceeds 32 bits"),
        })
    };
    let plane = |offset: usize| {
        frame
            .device_ptr()
            .checked_add(offset as u64)
            .ok_or_else(|| too_large("the chroma plane"))
    };
    let (chroma_u, chroma_v) = (
        plane(frame.chroma_offset())?,
        plane(frame.chroma_v_offset())?,
    );
    // 4:4:4: chroma at the luma position, no upsampling; 4:2:0: half resolution, sited.
    let (dx, dy) = if full_chroma {
        (0.0, 0.0)
    } else {
        spec.siting.offsets_420()
    };
    let (chroma_width, chroma_height, chroma_step, chroma_scale) = if full_chroma {
        (width, height, 1, [1.0, 1.0])
    } else {
        (width.div_ceil(2), height.div_ceil(2), 2, [0.5, 0.5])
    };
    let index = spec.layout.channel_indices();
    let float = spec.sample != SampleType::U8;
    let f = |v: f64| v as f32;
    let params = KernelParams {
        luma: frame.device_ptr(),
        chroma_u,
        chroma_v,
        dst: target.ptr,
        dst_pitch: target.row_pitch as u64,
        dst_plane_pitch: target.plane_pitch as u64,
        luma_pitch: u32_of(frame.pitch(), "luma pitch")?,
        chroma_pitch: u32_of(frame.chroma_pitch(), "chroma pitch")?,
        chroma_step,
        width,
        height,
        chroma_width,
        chroma_height,
        channels: spec.layout.channels() as u32,
        planar: u32::from(spec.layout.is_planar()),
        index,
        chroma_scale,
        chroma_offset: [f(dx), f(dy)],
        y_offset: f(c.y_offset),
        c_offset: f(c.c_offset),
        m: [
            f(c.matrix[0][0]),
            f(c.matrix[0][1]),
            f(c.matrix[0][2]),
            f(c.matrix[1][0]),
            f(c.matrix[1][1]),
            f(c.matrix[1][2]),
            f(c.matrix[2][0]),
            f(c.matrix[2][1]),
            f(c.matrix[2][2]),
        ],
        mean: if float { spec.mean } else { [0.0; 3] },
        inv_std: if float {
            spec.std.map(|s| 1.0 / s)
        } else {
            [1.0; 3]
        },
        alpha: 1.0,
        _pad: 0,
    };
    Ok((params, wide))
}
