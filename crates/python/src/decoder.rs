//! `Decoder` and `DecoderPool` for Python.
//!
//! Invariants:
//! - The GIL is released around every call that decodes, reads the input, waits for the
//!   init lock or the GPU; Python objects are built only after it is taken again.
//! - A `Decoder` may be used from many Python threads: its state sits behind a `Mutex`,
//!   taken only while the GIL is released (so a thread holding the state never waits for the
//!   GIL, and no deadlock between the two locks is possible). Calls on one decoder run one at
//!   a time; calls on different decoders run in parallel.
//! - Sequential reading (iteration, `batch`) and random access (`frames_at`,
//!   `frame_at_time`, `count_frames`) share one input and one decoder: random access moves
//!   the read position, so sequential reading after it starts again at the first frame.
//! - Iteration decodes up to `prefetch` frames ahead on a worker thread ([`crate::ahead`]),
//!   which owns the session while it runs; every other call parks the worker first (its
//!   frames, and an error after them, stay first in line), so results and their order are
//!   those of `prefetch=0`.
//! - A `str` source with a `scheme://` is a URL: `udp://` and `rtsp://` open a live session
//!   ([`crate::live`]: read in order in the caller's calls, no decode-ahead, random access
//!   refused), `file://PATH` is a path, any other scheme an `AddressError`. `close()` of a live decoder sets its
//!   stop flag before taking the lock, so it never waits for a call blocked on the network.
//!
//! Trade-offs: a file-like source is read into memory whole at construction (simple, and
//! random access needs a seekable source anyway); a path is read incrementally. A batch is
//! one contiguous buffer from the decoder's batch pool: RGB pictures of `batch(n)` are
//! converted straight into it; native frames, `frames_at` results (which come in decode
//! order) and frames left over from a change of size are copied in (device to device).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use guard::Codec;
use guard::Error;
use guard::convert::{ConvertSpec, Converter, RgbFramePool, RgbLayout, SampleType};
use guard::decode::{
    CropRect, DecoderBuilder, DecoderConfig, DecoderPool as CratePool, DecoderSpec,
    DeviceFramePool, DisplayOrder, Frame as CrateFrame, MultiGpuDecoderPool, OutputGeometry,
    PoolConfig, PooledDecoder, RandomAccessSource,
};
use guard::input::net::SourceUrl;
use guard::input::{ElementaryStream, FormatHint};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::ahead::{Ahead, Got};
use crate::errors::{caller, driver_call, to_py};
use crate::frames::{FrameBuffers, SharedFramePools};
use crate::live::{LiveSession, Maker, UrlOptions, check_file_options, not_live, url_of};
use crate::tensor::{
    Batch, BatchPool, DType, Frame, Pixels, PooledBatch, Tensor, native_tensor, rgb_tensor,
};

type Result<T> = std::result::Result<T, Error>;

/// Frames iteration decodes ahead by default (see [`crate::ahead`]).
const DEFAULT_PREFETCH: i64 = 4;
/// The most frames a decoder may decode ahead.
const MAX_PREFETCH: usize = 64;

fn parse_prefetch(prefetch: i64) -> PyResult<usize> {
    usize::try_from(prefetch)
        .ok()
        .filter(|&p| p <= MAX_PREFETCH)
        .ok_or_else(|| {
            caller(
                "prefetch",
                format!("{prefetch}: expected 0 (off) to {MAX_PREFETCH} frames"),
            )
        })
}

/// What the frames look like.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) gpu: u32,
    /// `None`: the decoder's own format (NV12/P016/4:4:4).
    pub(crate) convert: Option<ConvertSpec>,
    pub(crate) geometry: OutputGeometry,
    pub(crate) low_latency: bool,
}

fn parse_dtype(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<SampleType>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    // A string, a numpy/torch dtype, or a numpy scalar type (np.float32).
    let text: String = if let Ok(s) = obj.extract::<String>() {
        s
    } else if let Ok(name) = obj.getattr("__name__").and_then(|n| n.extract::<String>()) {
        name
    } else {
        obj.str()?.extract()?
    };
    let name = text
        .trim()
        .trim_start_matches("torch.")
        .to_ascii_lowercase();
    match name.as_str() {
        "uint8" | "u8" | "|u1" => Ok(Some(SampleType::U8)),
        "float16" | "f16" | "half" | "<f2" => Ok(Some(SampleType::F16)),
        "float32" | "f32" | "float" | "<f4" => Ok(Some(SampleType::F32)),
        _ => Err(caller(
            "dtype",
            format!("{text:?}: expected uint8, float16 or float32"),
        )),
    }
}

fn parse_triple(obj: Option<&Bound<'_, PyAny>>, what: &'static str) -> PyResult<Option<[f32; 3]>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if let Ok(v) = obj.extract::<f32>() {
        return Ok(Some([v; 3]));
    }
    let values: Vec<f32> = obj
        .extract()
        .map_err(|_| caller(what, "expected a number or three numbers (R, G, B)"))?;
    <[f32; 3]>::try_from(values.as_slice())
        .map(Some)
        .map_err(|_| {
            caller(
                what,
                format!("expected three numbers (R, G, B), got {}", values.len()),
            )
        })
}

fn parse_pair(obj: Option<&Bound<'_, PyAny>>, what: &'static str) -> PyResult<Option<(u32, u32)>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    obj.extract::<(u32, u32)>()
        .map(Some)
        .map_err(|_| caller(what, "expected (width, height) as two non-negative ints"))
}

#[allow(clippy::too_many_arguments)]
fn settings(
    gpu: i64,
    output: &str,
    dtype: Option<&Bound<'_, PyAny>>,
    size: Option<&Bound<'_, PyAny>>,
    crop: Option<&Bound<'_, PyAny>>,
    low_latency: bool,
    mean: Option<&Bound<'_, PyAny>>,
    std: Option<&Bound<'_, PyAny>>,
) -> PyResult<Settings> {
    let gpu =
        u32::try_from(gpu).map_err(|_| caller("gpu", format!("{gpu} is not a GPU ordinal")))?;
    let dtype = parse_dtype(dtype)?;
    let mean = parse_triple(mean, "mean")?;
    let std = parse_triple(std, "std")?;
    let layout = match output.to_ascii_lowercase().as_str() {
        "native" | "nv12" | "yuv" => None,
        "rgb" => Some(RgbLayout::Rgb),
        "bgr" => Some(RgbLayout::Bgr),
        "planar" | "rgbp" | "planar_rgb" => Some(RgbLayout::PlanarRgb),
        _ => {
            return Err(caller(
                "output",
                format!("{output:?}: expected \"native\", \"rgb\", \"bgr\" or \"planar\""),
            ));
        }
    };
    let convert = match layout {
        None => {
            if dtype.is_some_and(|d| d != SampleType::U8) {
                return Err(caller(
                    "dtype",
                    "native output is the decoder's own samples (uint8 NV12 / uint16 P016); \
                     dtype applies to output=\"rgb\", \"bgr\" or \"planar\"",
                ));
            }
            if mean.is_some() || std.is_some() {
                return Err(caller(
                    "mean",
                    "mean/std apply to rgb, bgr or planar output",
                ));
            }
            None
        }
        Some(layout) => {
            let sample = dtype.unwrap_or(SampleType::U8);
            let mut spec = ConvertSpec::new(layout, sample);
            if mean.is_some() || std.is_some() {
                if sample == SampleType::U8 {
                    return Err(caller(
                        "mean",
                        "normalisation needs a float dtype (float16 or float32)",
                    ));
                }
                let std = std.unwrap_or([1.0; 3]);
                if std.iter().any(|&s| s == 0.0 || !s.is_finite()) {
                    return Err(caller(
                        "std",
                        format!("{std:?}: every value must be finite and non-zero"),
                    ));
                }
                spec = spec.with_normalization(mean.unwrap_or([0.0; 3]), std);
            }
            spec.validate().map_err(to_py)?;
            Some(spec)
        }
    };
    let mut geometry = OutputGeometry::new();
    if let Some((x, y, w, h)) = crop
        .filter(|c| !c.is_none())
        .map(|c| {
            c.extract::<(u32, u32, u32, u32)>().map_err(|_| {
                caller(
                    "crop",
                    "expected (x, y, width, height) as four non-negative ints",
                )
            })
        })
        .transpose()?
    {
        geometry = geometry.with_crop(CropRect::new(x, y, w, h));
    }
    if let Some((w, h)) = parse_pair(size, "size")? {
        geometry = geometry.with_size(w, h);
    }
    // Odd or zero values are refused here, before any GPU work.
    geometry.validate(u32::MAX, u32::MAX).map_err(to_py)?;
    Ok(Settings {
        gpu,
        convert,
        geometry,
        low_latency,
    })
}

/// The input, as Python gave it.
enum Input {
    Path(std::path::PathBuf),
    Bytes(Vec<u8>),
    /// A `str` naming a network source.
    Url(SourceUrl),
}

fn read_source(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<Input> {
    // (A `str` that is not valid UTF-8, from `os.fsdecode`, is a path: `os.fspath` below.)
    if let Ok(text) = source.downcast::<pyo3::types::PyString>()
        && let Ok(text) = text.to_cow()
    {
        return match url_of(&text).map_err(to_py)? {
            SourceUrl::File(path) => Ok(Input::Path(path)),
            url => Ok(Input::Url(url)),
        };
    }
    if let Ok(bytes) = source.downcast::<PyBytes>() {
        return Ok(Input::Bytes(bytes.as_bytes().to_vec()));
    }
    if source.is_instance_of::<pyo3::types::PyByteArray>()
        || source.is_instance_of::<pyo3::types::PyMemoryView>()
    {
        let bytes = py.import("builtins")?.getattr("bytes")?.call1((source,))?;
        return Ok(Input::Bytes(
            bytes.downcast::<PyBytes>()?.as_bytes().to_vec(),
        ));
    }
    if source.hasattr("read")? && !source.is_instance_of::<pyo3::types::PyString>() {
        let data = source.call_method0("read")?;
        let bytes = data.downcast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err("source.read() must return bytes (open the file in binary mode)")
        })?;
        return Ok(Input::Bytes(bytes.as_bytes().to_vec()));
    }
    let path = py
        .import("os")?
        .getattr("fspath")?
        .call1((source,))
        .map_err(|_| {
            PyTypeError::new_err(
                "source must be a path (str or os.PathLike), bytes, or a binary file-like object",
            )
        })?;
    let path: std::path::PathBuf = path.extract().map_err(|_| {
        PyTypeError::new_err("source must be a str path (bytes paths are taken as file contents)")
    })?;
    Ok(Input::Path(path))
}

fn open_input(input: Input) -> Result<ElementaryStream> {
    match input {
        Input::Path(path) => Ok(ElementaryStream::open(path)?),
        Input::Bytes(bytes) => open_bytes(bytes),
        Input::Url(_) => Err(Error::Internal {
            what: "a URL source opened as a file",
        }),
    }
}

/// The codec of raw Annex-B H.264/HEVC or MPEG-2 bytes, told from the first unit after the
/// first start code; `None` when it looks like neither.
fn sniff_raw(bytes: &[u8]) -> Option<Codec> {
    let start = bytes.windows(3).take(1024).position(|w| w == [0, 0, 1])? + 3;
    let (&first, second) = (bytes.get(start)?, bytes.get(start + 1).copied());
    if first == 0xB3 {
        return Some(Codec::Mpeg2); // sequence_header_code
    }
    if first & 0x80 != 0 {
        return None; // forbidden_zero_bit
    }
    // HEVC: a two-byte header, VPS/SPS/PPS/AUD/SEI (32..=40) first, nuh_layer_id 0, tid 1.
    if (32..=40).contains(&((first >> 1) & 0x3f)) && second == Some(0x01) {
        return Some(Codec::Hevc);
    }
    // H.264: SPS, PPS, AUD, SEI or a slice first.
    matches!(first & 0x1f, 1 | 5 | 6 | 7 | 8 | 9).then_some(Codec::H264)
}

/// Bytes of a file: a container or IVF told by its magic, else a raw stream told by its
/// first unit.
fn open_bytes(bytes: Vec<u8>) -> Result<ElementaryStream> {
    match ElementaryStream::from_bytes(bytes.clone(), FormatHint::Unknown) {
        Ok(stream) => Ok(stream),
        Err(first) => match sniff_raw(&bytes) {
            Some(codec) => Ok(ElementaryStream::from_bytes(
                bytes,
                FormatHint::Codec(codec),
            )?),
            None => Err(first.into()),
        },
    }
}

pub(crate) enum Held {
    Own(guard::decode::Decoder),
    Pooled(PooledDecoder),
}

impl Held {
    pub(crate) fn get(&mut self) -> &mut guard::decode::Decoder {
        match self {
            Held::Own(d) => d,
            Held::Pooled(d) => d,
        }
    }
    pub(crate) fn get_ref(&self) -> &guard::decode::Decoder {
        match self {
            Held::Own(d) => d,
            Held::Pooled(d) => d,
        }
    }
}

/// One decoded picture, ready to become a Python `Frame`.
pub(crate) struct Produced {
    tensor: Tensor,
    pts: i64,
    index: Option<usize>,
    format: &'static str,
    width: u32,
    height: u32,
}

pub(crate) struct Session {
    stream: ElementaryStream,
    decoder: Held,
    frames: FrameBuffers,
    convert: Option<(Converter, RgbFramePool, ConvertSpec)>,
    device: i32,
    /// Display index of the next frame of sequential reading.
    next_index: usize,
    /// End of stream was signalled to the decoder.
    flushed: bool,
    /// Random access moved the input: sequential reading starts again from the start.
    restart: bool,
    /// Frames of sequential reading taken from the decoder but not handed out yet (a batch
    /// ended before them at a change of size, or decode-ahead was parked); they come first.
    pub(crate) carry: std::collections::VecDeque<Produced>,
    /// An error of sequential reading met by decode-ahead, delivered after `carry`.
    pub(crate) held_error: Option<Error>,
    /// Buffers of stacked batches.
    batches: Arc<BatchPool>,
}

fn layout_name(layout: RgbLayout) -> &'static str {
    match layout {
        RgbLayout::Rgb => "RGB",
        RgbLayout::Bgr => "BGR",
        RgbLayout::PlanarRgb => "RGBP",
        _ => "RGB",
    }
}

fn format_name(format: guard::decode::PixelFormat) -> &'static str {
    match format {
        guard::decode::PixelFormat::Nv12 => "NV12",
        guard::decode::PixelFormat::P016 => "P016",
        guard::decode::PixelFormat::Yuv444 => "YUV444",
        _ => "YUV444_16Bit",
    }
}

impl Session {
    fn open(input: Input, settings: &Settings) -> Result<Session> {
        let stream = open_input(input)?;
        let mut config = DecoderConfig::new(stream.codec())
            .with_device(settings.gpu)
            .with_low_latency(settings.low_latency);
        if let Some((w, h)) = stream.dimensions() {
            config = config.with_max_size(w.max(48), h.max(16));
        }
        config = apply_geometry(config, settings.geometry);
        let decoder = Held::Own(DecoderBuilder::new(config).build()?);
        Session::with_decoder(stream, settings, decoder, None)
    }

    /// After random access: back to the input's start with a fresh decoder state.
    fn restart_if_needed(&mut self) -> Result<()> {
        crate::cuda::reap();
        if self.restart {
            self.stream.rewind()?;
            self.decoder.get().reset()?;
            self.next_index = 0;
            self.flushed = false;
            self.restart = false;
            self.carry.clear();
            self.held_error = None;
        }
        Ok(())
    }

    /// Hands frames of sequential reading to `sink` (with their display index) until it
    /// says [`Flow::Done`] or the stream ends.
    fn pump(
        &mut self,
        mut sink: impl FnMut(&Keeper<'_>, &CrateFrame<'_>, usize) -> Result<Flow>,
    ) -> Result<()> {
        loop {
            let mut done = false;
            {
                let Session {
                    decoder,
                    frames,
                    convert,
                    device,
                    next_index,
                    ..
                } = self;
                let keeper = Keeper {
                    frames,
                    convert,
                    device: *device,
                };
                let mut queued = decoder.get().take_queued();
                while !done {
                    let Some(frame) = queued.next() else { break };
                    let frame = frame?;
                    let index = *next_index;
                    *next_index += 1;
                    done = matches!(sink(&keeper, &frame, index)?, Flow::Done);
                }
            }
            if done || self.flushed {
                return Ok(());
            }
            match self.stream.next_packet()? {
                Some(packet) => {
                    let _queued = self.decoder.get().decode(packet.data, packet.pts)?;
                }
                None => {
                    let _queued = self.decoder.get().flush()?;
                    self.flushed = true;
                }
            }
        }
    }

    /// The next `want` frames of sequential reading (fewer at the end of the stream).
    pub(crate) fn next(&mut self, want: usize) -> Result<Vec<Produced>> {
        self.restart_if_needed()?;
        let mut out = Vec::with_capacity(want.min(64));
        while out.len() < want {
            let Some(p) = self.carry.pop_front() else {
                break;
            };
            out.push(p);
        }
        if out.len() < want && self.held_error.is_some() {
            // The error comes at its place: after the frames before it.
            return match (out.is_empty(), self.held_error.take()) {
                (true, Some(error)) => Err(error),
                (_, error) => {
                    self.held_error = error;
                    Ok(out)
                }
            };
        }
        if out.len() < want {
            self.pump(|keeper, frame, index| {
                out.push(keeper.keep(frame, Some(index))?);
                Ok(if out.len() >= want {
                    Flow::Done
                } else {
                    Flow::More
                })
            })?;
        }
        Ok(out)
    }

    /// The next up to `want` frames of RGB output, converted straight into one batch buffer
    /// (no copy); a frame of another size ends the batch and waits for the next call.
    /// Frames left from such a change are stacked by copy instead ([`BatchOut::Copy`]).
    fn next_rgb_batch(&mut self, want: usize) -> Result<BatchOut> {
        self.restart_if_needed()?;
        if !self.carry.is_empty() || self.held_error.is_some() || self.convert.is_none() {
            return self.next_uniform(want).map(BatchOut::Copy);
        }
        let batches = Arc::clone(&self.batches);
        let mut target: Option<(PooledBatch, (u32, u32), usize)> = None;
        let (mut pts, mut indices) = (Vec::new(), Vec::new());
        let mut overflow = None;
        self.pump(|keeper, frame, index| {
            let Some((converter, _, spec)) = keeper.convert else {
                return Err(Error::Internal {
                    what: "RGB batch without a converter",
                });
            };
            let size = (frame.width(), frame.height());
            let (buffer, at_size, each) = match &mut target {
                Some(t) => t,
                None => {
                    let each = spec.packed_size(size.0, size.1)?;
                    let total = each.checked_mul(want).ok_or(Error::InvalidConfig {
                        parameter: "n",
                        reason: format!("a batch of {want} pictures of {each} bytes"),
                    })?;
                    target.insert((batches.take(frame.context(), total)?, size, each))
                }
            };
            if *at_size != size {
                overflow = Some(keeper.keep(frame, Some(index))?);
                return Ok(Flow::Done);
            }
            let Some(dst) = buffer.buffer_mut() else {
                return Err(Error::Internal {
                    what: "a batch buffer taken twice",
                });
            };
            // pts.len() < want, so the offset is below the buffer's length.
            let offset = pts.len() * *each;
            converter.convert_into(frame, spec, dst, offset, spec.row_bytes(size.0)?)?;
            pts.push(frame.pts());
            indices.push(Some(index));
            Ok(if pts.len() >= want {
                Flow::Done
            } else {
                Flow::More
            })
        })?;
        if let Some(p) = overflow {
            self.carry.push_back(p);
        }
        let (Some((buffer, (w, h), _)), Some((_, _, spec))) = (target, &self.convert) else {
            return Ok(BatchOut::Copy(Vec::new()));
        };
        let Some(ptr) = buffer.buffer().map(|b| b.device_ptr()) else {
            return Ok(BatchOut::Copy(Vec::new()));
        };
        let mut shape = vec![crate::tensor::dim(pts.len())];
        shape.extend(crate::tensor::picture_shape(
            spec.layout.is_planar(),
            w,
            h,
            spec.layout.channels(),
        ));
        let context = self.decoder.get_ref().context().clone();
        Ok(BatchOut::Ready(Batch {
            tensor: Some(Arc::new(Tensor {
                ptr,
                pixels: Pixels::Stacked(buffer),
                shape,
                dtype: crate::tensor::sample_dtype(spec.sample),
                device: self.device,
                context,
            })),
            pts,
            indices,
        }))
    }

    /// The next up to `want` frames of sequential reading that share the first one's shape;
    /// frames after a change of size stay for the next call.
    fn next_uniform(&mut self, want: usize) -> Result<Vec<Produced>> {
        let mut got = self.next(want)?;
        if let Some(shape) = got.first().map(|p| p.tensor.shape.clone())
            && let Some(cut) = got.iter().position(|p| p.tensor.shape != shape)
        {
            for p in got.split_off(cut).into_iter().rev() {
                self.carry.push_front(p);
            }
        }
        Ok(got)
    }

    fn frames_at(&mut self, indices: &[usize]) -> Result<Vec<Produced>> {
        crate::cuda::reap();
        self.restart = true;
        let Session {
            stream,
            decoder,
            frames,
            convert,
            device,
            ..
        } = self;
        let keeper = Keeper {
            frames,
            convert,
            device: *device,
        };
        // Display indices ride along in request order.
        let mut produced = decoder
            .get()
            .frames_at_with(stream, indices, |frame| keeper.keep(frame, None))?;
        for (p, &i) in produced.iter_mut().zip(indices) {
            p.index = Some(i);
        }
        Ok(produced)
    }

    /// Display index of the frame shown at or first after `seconds`.
    fn index_at_time(&mut self, seconds: f64) -> Result<usize> {
        let base = self
            .stream
            .time_base()
            .ok_or_else(|| Error::InvalidConfig {
                parameter: "seconds",
                reason:
                    "the input has no timestamps (a raw stream): use frames_at with a frame index"
                        .into(),
            })?;
        if !seconds.is_finite() || seconds < 0.0 || base.num == 0 {
            return Err(Error::InvalidConfig {
                parameter: "seconds",
                reason: format!("{seconds}: expected a finite time >= 0"),
            });
        }
        // pts ticks = seconds / (num / den), rounded up to whole ticks (the frame at or
        // after), with a millionth of a tick of slack for the float arithmetic.
        let ticks = (seconds * base.den as f64 / base.num as f64 - 1e-6).ceil();
        let pts = if ticks >= i64::MAX as f64 {
            i64::MAX
        } else {
            ticks as i64
        };
        self.restart = true;
        let index = self.stream.sample_index()?;
        let order = DisplayOrder::new(index)?;
        order.at_or_after(index, pts).ok_or(Error::FrameOutOfRange {
            index: order.len(),
            frames: order.len(),
        })
    }

    fn count_frames(&mut self) -> Result<usize> {
        self.restart = true;
        let index = self.stream.sample_index()?;
        Ok(DisplayOrder::new(index)?.len())
    }

    /// Frames in the stream when the input already knows (a container's index).
    fn known_frame_count(&self) -> Option<usize> {
        let index = self.stream.index()?;
        DisplayOrder::new(index).ok().map(|o| o.len())
    }
}

/// Whether [`Session::pump`] goes on.
enum Flow {
    More,
    Done,
}

/// What a batch call produced: a batch written in place, or frames to stack by copy.
enum BatchOut {
    Ready(Batch),
    Copy(Vec<Produced>),
}

/// What `keep` needs, borrowed apart from the decoder.
pub(crate) struct Keeper<'a> {
    pub(crate) frames: &'a FrameBuffers,
    pub(crate) convert: &'a Option<(Converter, RgbFramePool, ConvertSpec)>,
    pub(crate) device: i32,
}

impl Keeper<'_> {
    pub(crate) fn keep(&self, frame: &CrateFrame<'_>, index: Option<usize>) -> Result<Produced> {
        let (width, height) = (frame.width(), frame.height());
        let (tensor, format) = match self.convert {
            None => (
                native_tensor(self.frames.copy(frame)?, self.device),
                format_name(frame.pixel_format()),
            ),
            Some((converter, pool, spec)) => (
                rgb_tensor(converter.convert_to_pool(frame, spec, pool)?, self.device),
                layout_name(spec.layout),
            ),
        };
        Ok(Produced {
            tensor,
            pts: frame.pts(),
            index,
            format,
            width,
            height,
        })
    }
}

pub(crate) fn apply_geometry(config: DecoderConfig, geometry: OutputGeometry) -> DecoderConfig {
    let mut config = config;
    if let Some(crop) = geometry.crop {
        config = config.with_crop(crop);
    }
    if let Some((w, h)) = geometry.size {
        config = config.with_output_size(w, h);
    }
    config
}

pub(crate) fn into_frame(p: Produced) -> Frame {
    Frame {
        tensor: Some(Arc::new(p.tensor)),
        pts: p.pts,
        index: p.index,
        format: p.format,
        width: p.width,
        height: p.height,
    }
}

/// Stacks pictures of one shape into one contiguous `N×…` tensor (a device-to-device copy
/// each, waited for).
pub(crate) fn stack_frames(produced: Vec<Produced>, pool: &Arc<BatchPool>) -> PyResult<Batch> {
    let Some(first) = produced.first() else {
        return Err(caller("batch", "no frames to stack (the stream has ended)"));
    };
    let (shape, dtype, context, device) = (
        first.tensor.shape.clone(),
        first.tensor.dtype,
        first.tensor.context.clone(),
        first.tensor.device,
    );
    if let Some(other) = produced.iter().find(|p| p.tensor.shape != shape) {
        return Err(caller(
            "stack",
            format!(
                "pictures of shapes {:?} and {:?} cannot be stacked (the stream changes size): pass stack=False",
                shape, other.tensor.shape
            ),
        ));
    }
    let each = shape
        .iter()
        .map(|&d| usize::try_from(d).unwrap_or(0))
        .product::<usize>()
        .saturating_mul(match dtype {
            DType::U8 => 1,
            DType::U16 | DType::F16 => 2,
            DType::F32 => 4,
        });
    let total = each
        .checked_mul(produced.len())
        .ok_or_else(|| caller("batch", "the batch is too large"))?;
    let buffer = pool.take(&context, total).map_err(to_py)?;
    let Some(base) = buffer.buffer().map(|b| b.device_ptr()) else {
        return Err(to_py(Error::Internal {
            what: "a batch buffer taken twice",
        }));
    };
    for (i, p) in produced.iter().enumerate() {
        let dst = base + (i * each) as u64; // i × each < total: no overflow
        crate::cuda::copy_device(&context, dst, p.tensor.ptr, each)
            .map_err(|(call, status)| driver_call(call, status))?;
    }
    let mut batch_shape = vec![crate::tensor::dim(produced.len())];
    batch_shape.extend_from_slice(&shape);
    let pts = produced.iter().map(|p| p.pts).collect();
    let indices = produced.iter().map(|p| p.index).collect();
    let tensor = Tensor {
        ptr: base,
        pixels: Pixels::Stacked(buffer),
        shape: batch_shape,
        dtype,
        device,
        context,
    };
    drop(produced); // back to their pools (complete: the copies were waited for)
    Ok(Batch {
        tensor: Some(Arc::new(tensor)),
        pts,
        indices,
    })
}

/// A GPU video decoder over one input, yielding frames as GPU tensors (no copy).
///
/// ``Decoder(source, *, gpu=0, output="native", dtype=None, size=None, crop=None,
/// low_latency=None, mean=None, std=None, prefetch=4, timeout=None, transport=None)``
///
/// - ``source``: a path (``str``/``os.PathLike``, read incrementally), ``bytes``/
///   ``bytearray``/``memoryview`` or a binary file-like object (read into memory whole):
///   MP4, Matroska/WebM, IVF, MPEG-TS, raw H.264/HEVC Annex-B or MPEG-2; or a live source,
///   a ``str`` URL: ``udp://HOST:PORT?OPTIONS`` (MPEG-TS over UDP; the Rust crate's
///   ``UdpUrl`` options: ``timeout`` in µs, ``buffer_size``, ``localaddr``, ``sources``,
///   ``pkt_size``, ``reuse``) or ``rtsp://[user:pass@]host[:port]/path`` (H.264/HEVC).
///   Another ``scheme://`` raises ``AddressError``.
/// - ``gpu``: the GPU's ordinal.
/// - ``output``: ``"native"`` (the decoder's NV12/P016/4:4:4 samples, one 2-D tensor
///   ``(H + ceil(H/2), W)``: luma rows then interleaved UV rows; ``t[:H]`` is Y,
///   ``t[H:].view(H // 2, W // 2, 2)`` is UV), ``"rgb"``/``"bgr"`` (``(H, W, 3)``) or
///   ``"planar"`` (``(3, H, W)``), converted on the GPU with the stream's colour description.
/// - ``dtype``: ``uint8`` (default), ``float16`` or ``float32`` (RGB outputs; floats are
///   0..1), as a string or a numpy/torch dtype; ``mean``/``std``: per-channel (R, G, B)
///   normalisation ``(x - mean) / std`` of float outputs.
/// - ``size``: ``(width, height)`` to scale to, ``crop``: ``(x, y, width, height)`` of the
///   display area, both in NVDEC's hardware (even values).
/// - ``low_latency``: each packet is one whole picture, output as soon as decoded; on by
///   default for live sources, off for files.
/// - ``timeout`` (live sources): seconds a pull waits for input before
///   ``NetworkTimeoutError`` (``udp://``: for a datagram, default the URL's ``timeout`` or
///   5 s; ``rtsp://``: for an access unit, 5 s). ``transport`` (``rtsp://``): ``"tcp"``
///   (default, interleaved) or ``"udp"``.
/// - ``prefetch``: frames iteration decodes ahead of you on a worker thread of the decoder
///   (0 to 64; 0: decode inside each ``next()``), so the GPU's decoder keeps working while
///   Python uses a frame or waits for the GIL. At most that many frames wait (each a buffer
///   of the frame's size); order, pixels and errors (each at the frame where it happened)
///   are those of ``prefetch=0``. Other calls (``batch``, ``frames_at``, ``info``…) stop the
///   worker first and go on from where iteration stands. ``close()`` or the end of a
///   ``with`` block stops it at once; a decoder dropped mid-stream stops it after its
///   current frame (a pooled decoder then returns to its pool from the worker).
///
/// Iterating yields `Frame` objects in display order; ``batch(n)`` and ``frames_at`` give
/// `Batch` tensors ``(N, …)``. Safe to share between threads (calls run one at a time);
/// the GIL is released while decoding and waiting. Use ``with`` or ``close()`` to release
/// the decoder early.
///
/// A live source is read in order as it arrives: each frame is decoded in the ``next()``
/// that returns it (no decode-ahead; ``prefetch`` reads 0), ``batch(n)`` waits for ``n``
/// frames, ``frames_at``/``frame_at_time``/``count_frames`` raise ``CallerError``,
/// ``info`` fills in at the first frame, the end of an RTSP stream ends iteration, and
/// ``finish()`` ends a ``udp://`` one (after a ``NetworkTimeoutError``, say) with the
/// frames in flight. ``close()`` does not wait for a call blocked on the network: that
/// call returns within 50 ms (``udp://``) or the timeout (``rtsp://``) and ends iteration.
///
/// Raises ``InputError`` for unreadable media, ``CallerError`` for wrong arguments,
/// ``PlatformError`` (``LibraryNotFoundError`` without a driver, ``DriverError`` for a
/// failing driver call), and for live sources a ``NetworkError`` (``AddressError``,
/// ``UnauthorizedError``, ``NetworkTimeoutError``, ``NetworkFailureError``) naming the URL.
#[pyclass(frozen, module = "nvcodec_guard._native")]
pub(crate) struct Decoder {
    slot: Mutex<Slot>,
    /// Frames iteration decodes ahead of the consumer (0: none).
    prefetch: usize,
    codec: &'static str,
    dimensions: Option<(u32, u32)>,
    time_base: Option<(u64, u64)>,
    container_rate: Option<(u64, u64)>,
    duration: Option<f64>,
    /// A live source's URL (without credentials); `None` for files and bytes.
    url: Option<String>,
    /// Set by `close()` without the lock, so a live source's wait ends (see [`crate::live`]).
    stop: Arc<AtomicBool>,
}

/// Where a decoder's session is: here, lent to its decode-ahead worker, or gone.
enum Slot {
    Here(Box<Session>),
    Ahead(Ahead),
    /// A `udp://` or `rtsp://` source (see [`crate::live`]): read in the caller's calls.
    Live(Box<LiveSession>),
    Closed,
}

fn closed_error() -> Error {
    Error::InvalidConfig {
        parameter: "decoder",
        reason: "the decoder was closed".into(),
    }
}

impl Slot {
    /// The session, its decode-ahead worker parked first (what it decoded stays first in
    /// line for sequential reading).
    fn session(&mut self) -> Result<&mut Session> {
        if matches!(self, Slot::Ahead(_)) {
            let Slot::Ahead(ahead) = std::mem::replace(self, Slot::Closed) else {
                return Err(closed_error());
            };
            *self = Slot::Here(ahead.park()?);
        }
        match self {
            Slot::Here(session) => Ok(session),
            Slot::Live(_) => Err(not_live("this call")),
            _ => Err(closed_error()),
        }
    }

    /// The next frame of sequential reading, decoded up to `depth` frames ahead on a worker
    /// thread (0: in this call). `None` at the end of the stream.
    fn next_frame(&mut self, depth: usize) -> Result<Option<Produced>> {
        loop {
            match self {
                Slot::Closed => return Err(closed_error()),
                Slot::Live(live) => {
                    let got = live.next(1);
                    if live.stopped() {
                        // `close()` came while this call waited: the session ends here.
                        *self = Slot::Closed;
                        return Ok(None);
                    }
                    return got.map(|mut got| got.pop());
                }
                Slot::Here(session) => {
                    // Left-over frames, a held error and the end of the stream are served
                    // here; a worker starts only for decoding, from the second frame of a
                    // pass on (a caller that takes one frame, as to start a stream, makes
                    // the engines do no work it does not ask for).
                    if depth == 0
                        || session.restart
                        || session.next_index == 0
                        || session.flushed
                        || !session.carry.is_empty()
                        || session.held_error.is_some()
                    {
                        return session.next(1).map(|mut got| got.pop());
                    }
                    let Slot::Here(session) = std::mem::replace(self, Slot::Closed) else {
                        return Err(closed_error());
                    };
                    match Ahead::start(session, depth) {
                        Ok(ahead) => *self = Slot::Ahead(ahead),
                        Err(mut session) => {
                            // No thread to be had: decode in this call.
                            let got = session.next(1).map(|mut got| got.pop());
                            *self = Slot::Here(session);
                            return got;
                        }
                    }
                }
                Slot::Ahead(ahead) => match ahead.next() {
                    Got::Frame(frame) => return Ok(Some(frame)),
                    Got::Stopped(error) => {
                        // End of stream or an error: the worker is done; take the session
                        // back (then the end is served from it, or the error returned).
                        self.session()?;
                        if let Some(error) = error {
                            return Err(error);
                        }
                    }
                },
            }
        }
    }

    /// Takes the session out (the worker stopped and joined, what it decoded ahead dropped).
    fn take(&mut self) -> Result<Option<Box<Session>>> {
        match std::mem::replace(self, Slot::Closed) {
            Slot::Here(session) => Ok(Some(session)),
            Slot::Ahead(ahead) => ahead.finish().map(Some),
            Slot::Live(_) | Slot::Closed => Ok(None),
        }
    }
}

impl Drop for Decoder {
    /// A worker still decoding ahead is stopped without waiting for it (the interpreter
    /// holds the GIL here): it returns the session — a pooled decoder to its pool — from its
    /// own thread after its current step. `close()` (or a `with` block) does it at once.
    fn drop(&mut self) {
        let slot = match self.slot.get_mut() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        match std::mem::replace(slot, Slot::Closed) {
            Slot::Ahead(ahead) => ahead.detach(),
            // An RTSP session's teardown waits for the server (up to 1 s): not here, where
            // the interpreter is held.
            Slot::Live(live) => {
                let _ = std::thread::Builder::new()
                    .name("nvcg-live-close".into())
                    .spawn(move || drop(live));
            }
            _ => {}
        }
    }
}

impl Decoder {
    fn lock(&self) -> Result<MutexGuard<'_, Slot>> {
        self.slot.lock().map_err(|_| Error::Internal {
            what: "a decoder call panicked earlier; this decoder is unusable",
        })
    }

    /// Runs `f` on the session with the GIL released (decode-ahead parked first).
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Session) -> Result<T> + Send,
    ) -> PyResult<T> {
        py.allow_threads(|| {
            let mut guard = self.lock()?;
            f(guard.session()?)
        })
        .map_err(to_py)
    }

    fn from_session(session: Session, prefetch: usize) -> Decoder {
        let stream = &session.stream;
        Decoder {
            codec: stream.codec().name(),
            dimensions: stream.dimensions(),
            time_base: stream.time_base().map(|r| (r.num, r.den)),
            container_rate: stream.frame_rate().map(|r| (r.num, r.den)),
            duration: stream.duration().map(|d| d.as_secs_f64()),
            slot: Mutex::new(Slot::Here(Box::new(session))),
            prefetch,
            url: None,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    fn from_live(session: LiveSession, stop: Arc<AtomicBool>) -> Decoder {
        Decoder {
            codec: "",
            dimensions: None,
            time_base: None,
            container_rate: None,
            duration: None,
            url: Some(session.peer().to_owned()),
            slot: Mutex::new(Slot::Live(Box::new(session))),
            prefetch: 0,
            stop,
        }
    }

    /// Refuses a call that needs random access on a live source.
    fn random_access(&self, call: &'static str) -> PyResult<()> {
        if self.url.is_some() {
            return Err(to_py(not_live(call)));
        }
        Ok(())
    }

    /// Runs `f` on a live session with the GIL released; a session `close()` stopped ends
    /// here.
    fn with_live<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut LiveSession) -> Result<T> + Send,
    ) -> PyResult<T> {
        py.allow_threads(|| {
            let mut guard = self.lock()?;
            let Slot::Live(session) = &mut *guard else {
                return Err(closed_error());
            };
            if session.stopped() {
                *guard = Slot::Closed;
                return Err(closed_error());
            }
            let out = f(session);
            if session.stopped() {
                *guard = Slot::Closed;
            }
            out
        })
        .map_err(to_py)
    }

    /// `info` of a live source: what the decoder learnt so far.
    fn live_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (codec, stream_info, clock, lost) = self.with_live(py, |s| {
            Ok((
                s.codec().map(|c| c.name()),
                s.stream_info(),
                s.clock_rate(),
                s.lost_packets(),
            ))
        })?;
        let d = PyDict::new(py);
        d.set_item("codec", codec)?;
        d.set_item("width", stream_info.map(|i| i.display_width))?;
        d.set_item("height", stream_info.map(|i| i.display_height))?;
        d.set_item("bit_depth", stream_info.map(|i| i.bit_depth))?;
        d.set_item(
            "pixel_format",
            stream_info.map(|i| format_name(i.pixel_format)),
        )?;
        let rate = stream_info
            .and_then(|i| i.frame_rate)
            .map(|r| (r.num, r.den));
        d.set_item(
            "frame_rate",
            rate.filter(|r| r.1 != 0)
                .map(|(n, den)| n as f64 / den as f64),
        )?;
        d.set_item("frame_rate_fraction", rate)?;
        set_colour(py, &d, stream_info)?;
        d.set_item("frame_count", py.None())?;
        d.set_item("time_base", (1u64, u64::from(clock)))?;
        d.set_item("duration", py.None())?;
        d.set_item("live", true)?;
        d.set_item("url", self.url.as_deref())?;
        d.set_item("lost_packets", lost)?;
        Ok(d)
    }
}

fn set_colour(
    py: Python<'_>,
    d: &Bound<'_, PyDict>,
    stream_info: Option<guard::decode::StreamInfo>,
) -> PyResult<()> {
    match stream_info {
        Some(i) => {
            let colour = PyDict::new(py);
            colour.set_item("primaries", i.colour.primaries.to_string())?;
            colour.set_item("transfer", i.colour.transfer.to_string())?;
            colour.set_item("matrix", i.colour.matrix.to_string())?;
            colour.set_item("range", i.colour.range.to_string())?;
            d.set_item("colour", colour)
        }
        None => d.set_item("colour", py.None()),
    }
}

#[pymethods]
impl Decoder {
    #[new]
    #[pyo3(signature = (source, *, gpu=0, output="native", dtype=None, size=None, crop=None, low_latency=None, mean=None, std=None, prefetch=DEFAULT_PREFETCH, timeout=None, transport=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        gpu: i64,
        output: &str,
        dtype: Option<&Bound<'_, PyAny>>,
        size: Option<&Bound<'_, PyAny>>,
        crop: Option<&Bound<'_, PyAny>>,
        low_latency: Option<bool>,
        mean: Option<&Bound<'_, PyAny>>,
        std: Option<&Bound<'_, PyAny>>,
        prefetch: i64,
        timeout: Option<f64>,
        transport: Option<&str>,
    ) -> PyResult<Decoder> {
        let prefetch = parse_prefetch(prefetch)?;
        let options = UrlOptions::parse(timeout, transport).map_err(to_py)?;
        let mut settings = settings(gpu, output, dtype, size, crop, false, mean, std)?;
        let input = read_source(py, source)?;
        // Low latency is the default for live sources, off for files.
        settings.low_latency = low_latency.unwrap_or(matches!(input, Input::Url(_)));
        if let Input::Url(url) = input {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&stop);
            let session = py
                .allow_threads(|| LiveSession::open(url, options, settings, Maker::Own, flag))
                .map_err(to_py)?;
            return Ok(Decoder::from_live(session, stop));
        }
        check_file_options(&options).map_err(to_py)?;
        let session = py
            .allow_threads(|| Session::open(input, &settings))
            .map_err(to_py)?;
        Ok(Decoder::from_session(session, prefetch))
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Frame>> {
        let depth = self.prefetch;
        let got = py
            .allow_threads(|| self.lock()?.next_frame(depth))
            .map_err(to_py)?;
        Ok(got.map(into_frame))
    }

    /// Frames iteration decodes ahead of the consumer on a worker thread (0: none).
    #[getter]
    fn prefetch(&self) -> usize {
        self.prefetch
    }

    /// The next ``n`` frames of sequential reading (fewer at the end; none after it).
    /// ``stack=True``: one ``Batch`` tensor ``(N, …)`` (``None`` at the end), its frames
    /// copied into one allocation; a change of frame size ends it early, and the frames
    /// after the change come with the next call. ``stack=False``: a list of frames (no
    /// copy).
    #[pyo3(signature = (n, *, stack=true))]
    fn batch(&self, py: Python<'_>, n: usize, stack: bool) -> PyResult<PyObject> {
        if n == 0 {
            return Err(caller("n", "a batch of 0 frames"));
        }
        if self.url.is_some() {
            let (produced, pool) = self.with_live(py, |s| {
                let mut got = s.next(n)?;
                // Stacked: frames after a change of size wait for the next call.
                if stack
                    && let Some(shape) = got.first().map(|p| p.tensor.shape.clone())
                    && let Some(cut) = got.iter().position(|p| p.tensor.shape != shape)
                {
                    s.put_back(got.split_off(cut));
                }
                Ok((got, Arc::clone(&s.batches)))
            })?;
            if !stack {
                let frames: Vec<Frame> = produced.into_iter().map(into_frame).collect();
                return Ok(frames.into_pyobject(py)?.into_any().unbind());
            }
            if produced.is_empty() {
                return Ok(py.None());
            }
            let batch = py.allow_threads(|| stack_frames(produced, &pool))?;
            return Ok(Py::new(py, batch)?.into_any());
        }
        if stack {
            let (out, pool) = self.with(py, |s| {
                let out = match s.convert {
                    Some(_) => s.next_rgb_batch(n)?,
                    None => BatchOut::Copy(s.next_uniform(n)?),
                };
                Ok((out, Arc::clone(&s.batches)))
            })?;
            let batch = match out {
                BatchOut::Ready(batch) if batch.pts.is_empty() => return Ok(py.None()),
                BatchOut::Ready(batch) => batch,
                BatchOut::Copy(produced) if produced.is_empty() => return Ok(py.None()),
                BatchOut::Copy(produced) => py.allow_threads(|| stack_frames(produced, &pool))?,
            };
            Ok(Py::new(py, batch)?.into_any())
        } else {
            let produced = self.with(py, |s| s.next(n))?;
            let frames: Vec<Frame> = produced.into_iter().map(into_frame).collect();
            Ok(frames.into_pyobject(py)?.into_any().unbind())
        }
    }

    /// The frames at display indices ``indices`` (0-based, line ``i`` of ffmpeg's framemd5
    /// of the whole stream), exactly, in request order (repeats allowed); each GOP decoded at
    /// most once. ``stack=True``: one ``Batch`` ``(N, …)``; ``stack=False``: a list of
    /// frames. Sequential reading starts again at the first frame afterwards.
    #[pyo3(signature = (indices, *, stack=true))]
    fn frames_at(&self, py: Python<'_>, indices: Vec<i64>, stack: bool) -> PyResult<PyObject> {
        let indices: Vec<usize> = indices
            .into_iter()
            .map(|i| {
                usize::try_from(i).map_err(|_| caller("indices", format!("{i}: indices are >= 0")))
            })
            .collect::<PyResult<_>>()?;
        if indices.is_empty() {
            return Err(caller("indices", "no index given"));
        }
        self.random_access("frames_at")?;
        let (produced, pool) =
            self.with(py, |s| Ok((s.frames_at(&indices)?, Arc::clone(&s.batches))))?;
        if stack {
            let batch = py.allow_threads(|| stack_frames(produced, &pool))?;
            Ok(Py::new(py, batch)?.into_any())
        } else {
            let frames: Vec<Frame> = produced.into_iter().map(into_frame).collect();
            Ok(frames.into_pyobject(py)?.into_any().unbind())
        }
    }

    /// The frame shown at or first after ``seconds`` (container or IVF timestamps; raw
    /// streams have none: use ``frames_at``).
    fn frame_at_time(&self, py: Python<'_>, seconds: f64) -> PyResult<Frame> {
        self.random_access("frame_at_time")?;
        let mut got = self.with(py, |s| {
            let index = s.index_at_time(seconds)?;
            s.frames_at(&[index])
        })?;
        got.pop()
            .map(into_frame)
            .ok_or_else(|| PyValueError::new_err("no frame"))
    }

    /// Frames in the stream, counting them by one pass over the input where the container
    /// does not say (raw streams); sequential reading starts again afterwards.
    fn count_frames(&self, py: Python<'_>) -> PyResult<usize> {
        self.random_access("count_frames")?;
        self.with(py, |s| s.count_frames())
    }

    /// What is known of the stream: ``codec``, ``width``, ``height`` (display size),
    /// ``bit_depth``, ``pixel_format``, ``frame_rate`` (float) and ``frame_rate_fraction``,
    /// ``colour`` (``primaries``, ``transfer``, ``matrix``, ``range``), ``frame_count``,
    /// ``time_base``, ``duration``. Fields the decoder learns from the first sequence header
    /// (bit depth, pixel format, colour, a raw stream's size and rate) are ``None`` until
    /// the first frame was decoded; ``frame_count`` is ``None`` until known (a container's
    /// index, or after random access or ``count_frames()``).
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        if self.url.is_some() {
            return self.live_info(py);
        }
        let (stream_info, frames) = self.with(py, |s| {
            Ok((s.decoder.get_ref().stream_info(), s.known_frame_count()))
        })?;
        let d = PyDict::new(py);
        d.set_item("codec", self.codec)?;
        let size = stream_info
            .map(|i| (i.display_width, i.display_height))
            .or(self.dimensions);
        d.set_item("width", size.map(|s| s.0))?;
        d.set_item("height", size.map(|s| s.1))?;
        d.set_item("bit_depth", stream_info.map(|i| i.bit_depth))?;
        d.set_item(
            "pixel_format",
            stream_info.map(|i| format_name(i.pixel_format)),
        )?;
        let rate = self.container_rate.or(stream_info
            .and_then(|i| i.frame_rate)
            .map(|r| (r.num, r.den)));
        d.set_item(
            "frame_rate",
            rate.filter(|r| r.1 != 0)
                .map(|(n, den)| n as f64 / den as f64),
        )?;
        d.set_item("frame_rate_fraction", rate)?;
        set_colour(py, &d, stream_info)?;
        d.set_item("frame_count", frames)?;
        d.set_item("time_base", self.time_base)?;
        d.set_item("duration", self.duration)?;
        d.set_item("live", false)?;
        Ok(d)
    }

    /// Device memory bookkeeping: buffers allocated by the frame and RGB pools (a pooled
    /// decoder's frame pool is the one its ``DecoderPool`` shares between checkouts), free
    /// ones, and released frames whose consumers' GPU work is still running.
    fn memory_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let live = self.url.is_some();
        let stats = if live {
            self.with_live(py, |s| {
                crate::cuda::reap();
                let (a, b, c, d) = s.buffer_stats();
                Ok((a, b, c, d, s.batches.free()))
            })?
        } else {
            self.with(py, |s| {
                crate::cuda::reap();
                Ok((
                    s.frames.allocated(),
                    s.frames.free(),
                    s.convert.as_ref().map_or(0, |c| c.1.allocated()),
                    s.convert.as_ref().map_or(0, |c| c.1.free()),
                    s.batches.free(),
                ))
            })?
        };
        let d = PyDict::new(py);
        d.set_item("frame_buffers_allocated", stats.0)?;
        d.set_item("frame_buffers_free", stats.1)?;
        d.set_item("rgb_buffers_allocated", stats.2)?;
        d.set_item("rgb_buffers_free", stats.3)?;
        d.set_item("batch_buffers_free", stats.4)?;
        d.set_item("pending_releases", crate::cuda::pending())?;
        Ok(d)
    }

    /// The GPU's ordinal.
    #[getter]
    fn gpu(&self, py: Python<'_>) -> PyResult<i32> {
        if self.url.is_some() {
            return self.with_live(py, |s| Ok(s.device()));
        }
        self.with(py, |s| Ok(s.device))
    }

    /// A live source's URL (an RTSP URL without its credentials); ``None`` for files.
    #[getter]
    fn url(&self) -> Option<String> {
        self.url.clone()
    }

    /// Live sources: no more input is taken. The access unit in progress completes with
    /// what arrived (a ``udp://`` transport stream's last access unit ends only when the
    /// next begins, or here), the decoder is flushed, and iteration yields the frames left,
    /// then ends. For a ``udp://`` sender that has finished, e.g. after a
    /// ``NetworkTimeoutError``. Raises ``CallerError`` for a file (it ends by itself).
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        if self.url.is_none() {
            return Err(caller(
                "finish",
                "finish() ends a live source (udp://, rtsp://); a file ends by itself",
            ));
        }
        self.with_live(py, |s| {
            s.finish();
            Ok(())
        })
    }

    /// Releases the decoder (a pooled one goes back to its pool). Frames already handed
    /// out stay valid. Further calls raise ``CallerError``.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if self.url.is_some() {
            // Never waits for a call blocked on the network: the flag ends its wait (within
            // 50 ms for udp://, the timeout for rtsp://) and that call drops the session.
            self.stop.store(true, Ordering::Release);
            let taken = match self.slot.try_lock() {
                Ok(mut slot) => std::mem::replace(&mut *slot, Slot::Closed),
                Err(TryLockError::Poisoned(poisoned)) => {
                    std::mem::replace(&mut *poisoned.into_inner(), Slot::Closed)
                }
                Err(TryLockError::WouldBlock) => Slot::Closed,
            };
            py.allow_threads(move || {
                drop(taken);
                crate::cuda::reap();
            });
            return Ok(());
        }
        py.allow_threads(|| -> Result<()> {
            let session = self.lock()?.take();
            drop(session?);
            crate::cuda::reap();
            Ok(())
        })
        .map_err(to_py)
    }

    /// Whether ``close()`` was called.
    #[getter]
    fn closed(&self, py: Python<'_>) -> PyResult<bool> {
        if self.stop.load(Ordering::Acquire) {
            return Ok(true);
        }
        py.allow_threads(|| self.lock().map(|g| matches!(*g, Slot::Closed)))
            .map_err(to_py)
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        match &self.url {
            Some(url) => format!("Decoder({url:?}, live)"),
            None => format!("Decoder(codec={}, size={:?})", self.codec, self.dimensions),
        }
    }
}

fn parse_codec(name: &str) -> PyResult<Codec> {
    match name.to_ascii_lowercase().as_str() {
        "h264" | "avc" => Ok(Codec::H264),
        "hevc" | "h265" => Ok(Codec::Hevc),
        "vp8" => Ok(Codec::Vp8),
        "vp9" => Ok(Codec::Vp9),
        "av1" => Ok(Codec::Av1),
        "mpeg2" => Ok(Codec::Mpeg2),
        _ => Err(caller(
            "codec",
            format!("{name:?}: expected h264, hevc, vp8, vp9, av1 or mpeg2"),
        )),
    }
}

#[derive(Clone)]
pub(crate) enum Pools {
    One(CratePool),
    Many(MultiGpuDecoderPool),
}

impl Pools {
    /// A decoder for `spec`: on `gpu` of a multi-GPU pool, else the least loaded.
    pub(crate) fn checkout(&self, spec: DecoderSpec, gpu: Option<u32>) -> Result<PooledDecoder> {
        match (self, gpu) {
            (Pools::One(p), _) => p.checkout(spec),
            (Pools::Many(p), Some(device)) => p.checkout_on(device, spec),
            (Pools::Many(p), None) => p.checkout(spec),
        }
    }
}

/// Decoders built ahead of demand, on one GPU or several; ``checkout`` hands one out for a
/// source (a hit costs no driver call) and takes it back when the decoder is closed or its
/// ``with`` block ends. Safe to share between threads.
///
/// ``DecoderPool(*, gpu=0, gpus=None, max_width=1920, max_height=1080, max_per_key=None,
/// max_total=None, checkout_timeout=None, low_latency=False)``: ``gpus=[0, 1, …]`` spreads checkouts over
/// several GPUs; decoders are sized for streams up to ``max_width``×``max_height`` (larger
/// streams get larger decoders); ``max_per_key``/``max_total`` bound the decoders kept and
/// in use; a checkout waits up to ``checkout_timeout`` seconds at the limit, then raises
/// ``PoolExhaustedError``. ``low_latency=True``: the pool's decoders are built for live
/// streams (one frame out per packet, fewer surfaces).
///
/// ```python
/// pool = DecoderPool(max_width=1920, max_height=1080)
/// pool.prewarm("h264", 8)
/// with pool.checkout("clip.mp4", output="planar", dtype="float16") as dec:
///     for frame in dec:
///         x = torch.from_dlpack(frame)
/// ```
#[pyclass(frozen, module = "nvcodec_guard._native")]
pub(crate) struct DecoderPool {
    pools: Pools,
    max_size: (u32, u32),
    /// Frame buffer pools shared by the checkouts (see [`crate::frames`]).
    frame_pools: Arc<SharedFramePools>,
}

impl DecoderPool {
    fn spec(&self, codec: Codec, size: Option<(u32, u32)>, bit_depth: u8) -> DecoderSpec {
        let (w, h) = size.map_or(self.max_size, |(w, h)| {
            (w.max(self.max_size.0), h.max(self.max_size.1))
        });
        DecoderSpec::new(codec, w, h).with_bit_depth(bit_depth)
    }
}

#[pymethods]
impl DecoderPool {
    #[new]
    #[pyo3(signature = (*, gpu=0, gpus=None, max_width=1920, max_height=1080, max_per_key=None, max_total=None, checkout_timeout=None, low_latency=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        gpu: u32,
        gpus: Option<Vec<u32>>,
        max_width: u32,
        max_height: u32,
        max_per_key: Option<usize>,
        max_total: Option<usize>,
        checkout_timeout: Option<f64>,
        low_latency: bool,
    ) -> PyResult<DecoderPool> {
        let mut config = PoolConfig::default();
        config.low_latency = low_latency;
        if let Some(n) = max_per_key {
            config = config.with_max_per_key(n);
        }
        if let Some(n) = max_total {
            config = config.with_max_total(n);
        }
        if let Some(t) = checkout_timeout {
            let t = std::time::Duration::try_from_secs_f64(t)
                .map_err(|_| caller("checkout_timeout", format!("{t}: expected seconds >= 0")))?;
            config = config.with_checkout_timeout(t);
        }
        if max_width == 0 || max_height == 0 {
            return Err(caller("max_width", "the maximum size must be positive"));
        }
        let pools = match gpus {
            Some(devices) if devices.is_empty() => {
                return Err(caller("gpus", "an empty list of GPUs"));
            }
            Some(devices) => Pools::Many(MultiGpuDecoderPool::new(&devices, config)),
            None => Pools::One(CratePool::new(config.with_device(gpu))),
        };
        Ok(DecoderPool {
            pools,
            max_size: (max_width, max_height),
            frame_pools: Arc::new(SharedFramePools::default()),
        })
    }

    /// Builds ``n`` decoders for ``codec`` streams up to the pool's maximum size (or
    /// ``max_width``×``max_height``) and keeps them idle (on every GPU of a multi-GPU pool).
    #[pyo3(signature = (codec, n, *, max_width=None, max_height=None, bit_depth=8))]
    fn prewarm(
        &self,
        py: Python<'_>,
        codec: &str,
        n: usize,
        max_width: Option<u32>,
        max_height: Option<u32>,
        bit_depth: u8,
    ) -> PyResult<()> {
        let codec = parse_codec(codec)?;
        let size = match (max_width, max_height) {
            (None, None) => None,
            (w, h) => Some((w.unwrap_or(self.max_size.0), h.unwrap_or(self.max_size.1))),
        };
        let spec = self.spec(codec, size, bit_depth);
        py.allow_threads(|| match &self.pools {
            Pools::One(p) => p.prewarm(spec, n),
            Pools::Many(p) => p.prewarm(spec, n),
        })
        .map_err(to_py)
    }

    /// A decoder from the pool for ``source`` (arguments as ``Decoder``, ``prefetch``
    /// included; ``gpu`` picks the GPU of a multi-GPU pool, else the least loaded). Use it as
    /// a context manager: the decoder goes back to the pool at the end of the block (its
    /// decode-ahead worker stopped first). A live source's decoder is checked out when its
    /// first access unit arrives (its codec is known then), so a full pool shows at the
    /// first ``next()``; its latency mode is the pool's ``low_latency``.
    #[pyo3(signature = (source, *, gpu=None, output="native", dtype=None, size=None, crop=None, mean=None, std=None, prefetch=DEFAULT_PREFETCH, timeout=None, transport=None))]
    #[allow(clippy::too_many_arguments)]
    fn checkout(
        &self,
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        gpu: Option<u32>,
        output: &str,
        dtype: Option<&Bound<'_, PyAny>>,
        size: Option<&Bound<'_, PyAny>>,
        crop: Option<&Bound<'_, PyAny>>,
        mean: Option<&Bound<'_, PyAny>>,
        std: Option<&Bound<'_, PyAny>>,
        prefetch: i64,
        timeout: Option<f64>,
        transport: Option<&str>,
    ) -> PyResult<Decoder> {
        let prefetch = parse_prefetch(prefetch)?;
        let options = UrlOptions::parse(timeout, transport).map_err(to_py)?;
        let settings = settings(
            i64::from(gpu.unwrap_or(0)),
            output,
            dtype,
            size,
            crop,
            false,
            mean,
            std,
        )?;
        let input = read_source(py, source)?;
        if let Input::Url(url) = input {
            // The decoder is checked out when the first access unit tells the codec.
            let maker = Maker::Pool {
                pools: self.pools.clone(),
                spec_size: self.max_size,
                gpu,
                frames: Arc::clone(&self.frame_pools),
            };
            let stop = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&stop);
            let session = py
                .allow_threads(|| LiveSession::open(url, options, settings, maker, flag))
                .map_err(to_py)?;
            return Ok(Decoder::from_live(session, stop));
        }
        check_file_options(&options).map_err(to_py)?;
        let session = py
            .allow_threads(|| -> Result<Session> {
                let stream = open_input(input)?;
                let spec = self
                    .spec(stream.codec(), stream.dimensions(), 8)
                    .with_output(settings.geometry);
                let pooled = self.pools.checkout(spec, gpu)?;
                let frames = FrameBuffers::shared(Arc::clone(&self.frame_pools));
                Session::with_decoder(stream, &settings, Held::Pooled(pooled), Some(frames))
            })
            .map_err(to_py)?;
        Ok(Decoder::from_session(session, prefetch))
    }

    /// Counters: ``checkouts``, ``hits``, ``misses``, ``creations``, ``reconfigurations``,
    /// ``evictions``, ``discarded``, ``in_use``, ``idle``, ``memory_held`` (summed over the
    /// GPUs of a multi-GPU pool).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let all: Vec<guard::decode::PoolStats> = match &self.pools {
            Pools::One(p) => vec![p.stats()],
            Pools::Many(p) => p.pools().iter().map(|p| p.stats()).collect(),
        };
        let d = PyDict::new(py);
        let sum = |f: fn(&guard::decode::PoolStats) -> u64| all.iter().map(f).sum::<u64>();
        d.set_item("checkouts", sum(|s| s.checkouts))?;
        d.set_item("hits", sum(|s| s.hits))?;
        d.set_item("misses", sum(|s| s.misses))?;
        d.set_item("creations", sum(|s| s.creations))?;
        d.set_item("reconfigurations", sum(|s| s.reconfigurations))?;
        d.set_item("evictions", sum(|s| s.evictions))?;
        d.set_item("discarded", sum(|s| s.discarded))?;
        d.set_item("in_use", sum(|s| s.in_use as u64))?;
        d.set_item("idle", sum(|s| s.idle as u64))?;
        d.set_item("memory_held", sum(|s| s.memory_held))?;
        Ok(d)
    }

    /// Destroys idle decoders beyond what the pool keeps, and lets go of the free frame
    /// buffers its checkouts share (frames alive keep theirs).
    fn trim(&self, py: Python<'_>) {
        py.allow_threads(|| {
            self.frame_pools.clear();
            match &self.pools {
                Pools::One(p) => p.trim(),
                Pools::Many(p) => p.pools().iter().for_each(|p| p.trim()),
            }
        })
    }
}

impl Session {
    /// A session over `decoder`; its frames go to `frames` (a pool's shared buffers) or to a
    /// frame pool of its own.
    fn with_decoder(
        stream: ElementaryStream,
        settings: &Settings,
        decoder: Held,
        frames: Option<FrameBuffers>,
    ) -> Result<Session> {
        let context = decoder.get_ref().context().clone();
        let convert = match settings.convert {
            None => None,
            Some(spec) => Some((Converter::new(&context)?, RgbFramePool::new(&context), spec)),
        };
        let device = i32::try_from(context.ordinal()).unwrap_or(i32::MAX);
        Ok(Session {
            stream,
            frames: frames.unwrap_or_else(|| FrameBuffers::Own(DeviceFramePool::new(&context))),
            decoder,
            convert,
            device,
            next_index: 0,
            flushed: false,
            restart: false,
            carry: std::collections::VecDeque::new(),
            held_error: None,
            batches: Arc::new(BatchPool::default()),
        })
    }
}
