//! Frames and batches as GPU tensors without a copy: DLPack (versioned 1.0 and the
//! unversioned capsule) and the CUDA Array Interface, version 3.
//!
//! Invariants:
//! - The pixels are complete when a `Frame` or `Batch` exists: the crate waits for the copy
//!   out of the decoder (native output) or for the conversion (RGB) before handing it out,
//!   so a consumer on any stream reads finished data, and `__dlpack__(stream=...)` needs no
//!   event for the producer's side. `__cuda_array_interface__` says so with `"stream": None`.
//! - The memory lives as long as its last holder — the Python object, or a consumer's tensor
//!   made from a capsule (whose deleter owns a reference) — and then until the work that
//!   holder's consumer queued before letting go has finished (see [`crate::cuda`]); only
//!   then does it go back to the decoder's pool.
//! - Tensors are C-contiguous: native frames are the packed layout of
//!   `FrameLayout::packed_size` (NV12/P016: the luma rows then the interleaved chroma rows,
//!   one 2-D `(H + ceil(H/2), W)` array; 4:4:4: `(3H, W)`), RGB frames `H×W×C` or `C×H×W`,
//!   batches `N×…`.

use std::ffi::{CStr, c_void};
use std::sync::Arc;

use guard::convert::RgbFrame;
use guard::cuda::Context;
use guard::decode::OwnedFrame;
use pyo3::exceptions::{PyBufferError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyTuple};

use crate::cuda::{self, Held, STREAM_LEGACY, STREAM_PER_THREAD};

/// DLPack's `kDLCUDA`.
pub(crate) const KDL_CUDA: i32 = 2;

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DType {
    U8,
    U16,
    F16,
    F32,
}

impl DType {
    pub(crate) fn name(self) -> &'static str {
        match self {
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::F16 => "float16",
            DType::F32 => "float32",
        }
    }
    fn bytes(self) -> usize {
        match self {
            DType::U8 => 1,
            DType::U16 | DType::F16 => 2,
            DType::F32 => 4,
        }
    }
    /// DLPack's (code, bits): kDLUInt = 1, kDLFloat = 2.
    fn dlpack(self) -> (u8, u8) {
        match self {
            DType::U8 => (1, 8),
            DType::U16 => (1, 16),
            DType::F16 => (2, 16),
            DType::F32 => (2, 32),
        }
    }
    fn typestr(self) -> &'static str {
        match self {
            DType::U8 => "|u1",
            DType::U16 => "<u2",
            DType::F16 => "<f2",
            DType::F32 => "<f4",
        }
    }
}

/// What owns the memory.
pub(crate) enum Pixels {
    Native(OwnedFrame),
    Rgb(RgbFrame),
    /// A batch's buffer, back to its decoder's [`BatchPool`] on drop.
    Stacked(PooledBatch),
}

/// Reusable device buffers for batches, so that a steady stream of batches allocates (and,
/// worse, frees: `cuMemFree` waits for the whole device) nothing once warm.
///
/// Invariant: a buffer is in the free list or owned by exactly one [`PooledBatch`]; at most
/// [`BatchPool::MAX_FREE`] are kept free (the most recently returned), others are freed.
#[derive(Default)]
pub(crate) struct BatchPool {
    free: std::sync::Mutex<Vec<guard::cuda::DeviceBuffer>>,
}

impl BatchPool {
    /// Free buffers kept at most.
    pub(crate) const MAX_FREE: usize = 4;

    /// A buffer of exactly `len` bytes in `context`: a free one, or a new allocation.
    pub(crate) fn take(
        self: &Arc<Self>,
        context: &Context,
        len: usize,
    ) -> guard::Result<PooledBatch> {
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            free.iter()
                .position(|b| b.len() == len)
                .map(|i| free.swap_remove(i))
        };
        let buffer = match reused {
            Some(buffer) => buffer,
            None => guard::cuda::DeviceBuffer::alloc(context, len)?,
        };
        Ok(PooledBatch {
            buffer: Some(buffer),
            pool: Arc::downgrade(self),
        })
    }

    /// Buffers free right now.
    pub(crate) fn free(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// A batch buffer taken from a [`BatchPool`].
pub(crate) struct PooledBatch {
    buffer: Option<guard::cuda::DeviceBuffer>,
    pool: std::sync::Weak<BatchPool>,
}

impl PooledBatch {
    pub(crate) fn buffer(&self) -> Option<&guard::cuda::DeviceBuffer> {
        self.buffer.as_ref()
    }
    pub(crate) fn buffer_mut(&mut self) -> Option<&mut guard::cuda::DeviceBuffer> {
        self.buffer.as_mut()
    }
}

impl Drop for PooledBatch {
    fn drop(&mut self) {
        let (Some(buffer), Some(pool)) = (self.buffer.take(), self.pool.upgrade()) else {
            return; // the pool is gone: the buffer is freed
        };
        let mut free = pool.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() >= BatchPool::MAX_FREE {
            let oldest = free.remove(0);
            drop(free);
            drop(oldest);
            pool.free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(buffer);
        } else {
            free.push(buffer);
        }
    }
}

/// Device memory with its shape: what every holder shares.
pub(crate) struct Tensor {
    pub(crate) pixels: Pixels,
    pub(crate) ptr: u64,
    pub(crate) shape: Vec<i64>,
    pub(crate) dtype: DType,
    pub(crate) device: i32,
    pub(crate) context: Context,
}

impl Tensor {
    fn bytes(&self) -> usize {
        self.shape
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .product::<usize>()
            .saturating_mul(self.dtype.bytes())
    }
}

/// Shape and dtype of a native (NV12/P016/4:4:4) frame in the packed layout.
pub(crate) fn native_tensor(frame: OwnedFrame, device: i32) -> Tensor {
    let layout = frame.layout();
    let wide = layout.format.bytes_per_sample() > 1;
    let dtype = if wide { DType::U16 } else { DType::U8 };
    let bps = dtype.bytes();
    let shape = if layout.chroma_row_bytes() == layout.luma_row_bytes() {
        let rows = (layout.height as usize)
            .saturating_add(layout.chroma_rows().saturating_mul(layout.chroma_planes()));
        vec![dim(rows), i64::from(layout.width)]
    } else {
        // An odd width: chroma rows are one sample longer than luma rows; flat.
        vec![dim(layout.packed_size() / bps)]
    };
    Tensor {
        ptr: frame.device_ptr(),
        context: frame.context().clone(),
        pixels: Pixels::Native(frame),
        shape,
        dtype,
        device,
    }
}

/// A dimension as DLPack's `int64_t` (saturating: no real buffer is that large).
pub(crate) fn dim(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Element type of converted pictures.
pub(crate) fn sample_dtype(sample: guard::convert::SampleType) -> DType {
    match sample {
        guard::convert::SampleType::F16 => DType::F16,
        guard::convert::SampleType::F32 => DType::F32,
        _ => DType::U8,
    }
}

/// `(C, H, W)` for planar pictures, `(H, W, C)` for interleaved ones.
pub(crate) fn picture_shape(planar: bool, width: u32, height: u32, channels: usize) -> Vec<i64> {
    let (h, w, c) = (i64::from(height), i64::from(width), dim(channels));
    if planar { vec![c, h, w] } else { vec![h, w, c] }
}

pub(crate) fn rgb_tensor(frame: RgbFrame, device: i32) -> Tensor {
    let spec = *frame.spec();
    let shape = picture_shape(
        spec.layout.is_planar(),
        frame.width(),
        frame.height(),
        spec.layout.channels(),
    );
    Tensor {
        ptr: frame.device_ptr(),
        context: frame.device_buffer().context().clone(),
        pixels: Pixels::Rgb(frame),
        shape,
        dtype: sample_dtype(spec.sample),
        device,
    }
}

/// Lets go of one holder's reference after its consumer's work on `stream`.
fn release(tensor: Arc<Tensor>, stream: usize) {
    let context = tensor.context.clone();
    let held: Held = tensor;
    cuda::release_after(&context, stream, held);
}

/// The CUDA stream a DLPack consumer names: `None`, `1` (and `0`, the same stream in the
/// driver API) are the legacy default stream, `2` the per-thread default stream, `-1` "no
/// synchronisation" (the memory is still kept until the legacy stream's work is done),
/// anything else a `CUstream` of the frame's context.
fn consumer_stream(stream: Option<i64>) -> PyResult<usize> {
    match stream {
        None | Some(-1) | Some(0) | Some(1) => Ok(STREAM_LEGACY),
        Some(2) => Ok(STREAM_PER_THREAD),
        Some(s) if s > 2 => Ok(s as usize),
        Some(s) => Err(crate::errors::caller(
            "stream",
            format!("{s} is not a CUDA stream (DLPack: None, -1, 1, 2 or a CUstream)"),
        )),
    }
}

// ----------------------------------------------------------------------------------------
// DLPack structures (dlpack.h, v1.0)

#[repr(C)]
#[derive(Clone, Copy)]
struct DLDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct DLDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
struct DLTensor {
    data: *mut c_void,
    device: DLDevice,
    ndim: i32,
    dtype: DLDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

#[repr(C)]
struct DLManagedTensor {
    dl_tensor: DLTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

#[repr(C)]
struct DLPackVersion {
    major: u32,
    minor: u32,
}

#[repr(C)]
struct DLManagedTensorVersioned {
    version: DLPackVersion,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensorVersioned)>,
    flags: u64,
    dl_tensor: DLTensor,
}

/// What a capsule's tensor owns: a reference to the memory, the shape array it points to
/// and the consumer's stream (for the release).
struct Holder {
    tensor: Arc<Tensor>,
    shape: Vec<i64>,
    stream: usize,
}

/// The managed tensor and its holder in one allocation; `managed` first, so a pointer to
/// the whole is a pointer to it.
#[repr(C)]
struct Unversioned {
    managed: DLManagedTensor,
    holder: Holder,
}

#[repr(C)]
struct Versioned {
    managed: DLManagedTensorVersioned,
    holder: Holder,
}

const NAME: &CStr = c"dltensor";
const NAME_VERSIONED: &CStr = c"dltensor_versioned";

fn dl_tensor(holder: &mut Holder) -> DLTensor {
    let t = &holder.tensor;
    let (code, bits) = t.dtype.dlpack();
    DLTensor {
        data: t.ptr as *mut c_void,
        device: DLDevice {
            device_type: KDL_CUDA,
            device_id: t.device,
        },
        ndim: holder.shape.len() as i32,
        dtype: DLDataType {
            code,
            bits,
            lanes: 1,
        },
        shape: holder.shape.as_mut_ptr(),
        strides: std::ptr::null_mut(), // C-contiguous
        byte_offset: 0,
    }
}

unsafe extern "C" fn delete_unversioned(managed: *mut DLManagedTensor) {
    if managed.is_null() {
        return;
    }
    // SAFETY: `managed` is the first field of a `Box<Unversioned>` leaked in `capsule`, and
    // DLPack calls the deleter once.
    let whole = unsafe { Box::from_raw(managed.cast::<Unversioned>()) };
    let Holder { tensor, stream, .. } = whole.holder;
    release(tensor, stream);
}

unsafe extern "C" fn delete_versioned(managed: *mut DLManagedTensorVersioned) {
    if managed.is_null() {
        return;
    }
    // SAFETY: as in `delete_unversioned`, for `Box<Versioned>`.
    let whole = unsafe { Box::from_raw(managed.cast::<Versioned>()) };
    let Holder { tensor, stream, .. } = whole.holder;
    release(tensor, stream);
}

/// The capsule destructor: frees the tensor unless a consumer took it (and renamed the
/// capsule to `used_dltensor*`).
unsafe extern "C" fn capsule_destructor(capsule: *mut pyo3::ffi::PyObject) {
    // SAFETY: called by Python with the capsule; the name checks tell whether it still owns
    // the tensor (a consumer renames it when it takes ownership).
    unsafe {
        if pyo3::ffi::PyCapsule_IsValid(capsule, NAME_VERSIONED.as_ptr()) == 1 {
            let ptr = pyo3::ffi::PyCapsule_GetPointer(capsule, NAME_VERSIONED.as_ptr());
            delete_versioned(ptr.cast());
        } else if pyo3::ffi::PyCapsule_IsValid(capsule, NAME.as_ptr()) == 1 {
            let ptr = pyo3::ffi::PyCapsule_GetPointer(capsule, NAME.as_ptr());
            delete_unversioned(ptr.cast());
        }
        // Otherwise a consumer took the tensor (renaming the capsule `used_dltensor*`): its
        // tensor calls the deleter. `PyCapsule_IsValid` sets no exception either way.
    }
}

fn capsule(
    py: Python<'_>,
    tensor: &Arc<Tensor>,
    stream: usize,
    versioned: bool,
) -> PyResult<PyObject> {
    let mut holder = Holder {
        tensor: Arc::clone(tensor),
        shape: tensor.shape.clone(),
        stream,
    };
    let (ptr, name): (*mut c_void, &CStr) = if versioned {
        let dl = dl_tensor(&mut holder);
        let whole = Box::into_raw(Box::new(Versioned {
            managed: DLManagedTensorVersioned {
                version: DLPackVersion { major: 1, minor: 0 },
                manager_ctx: std::ptr::null_mut(),
                deleter: Some(delete_versioned),
                flags: 0,
                dl_tensor: dl,
            },
            holder,
        }));
        // SAFETY: just allocated; the shape pointer points into the boxed holder's Vec,
        // whose heap buffer does not move with the box.
        unsafe { (*whole).managed.manager_ctx = whole.cast() };
        (whole.cast(), NAME_VERSIONED)
    } else {
        let dl = dl_tensor(&mut holder);
        let whole = Box::into_raw(Box::new(Unversioned {
            managed: DLManagedTensor {
                dl_tensor: dl,
                manager_ctx: std::ptr::null_mut(),
                deleter: Some(delete_unversioned),
            },
            holder,
        }));
        // SAFETY: as above.
        unsafe { (*whole).managed.manager_ctx = whole.cast() };
        (whole.cast(), NAME)
    };
    // SAFETY: `ptr` is a leaked box that the destructor (or the consumer's deleter call)
    // frees exactly once; the name is a static C string.
    let raw = unsafe { pyo3::ffi::PyCapsule_New(ptr, name.as_ptr(), Some(capsule_destructor)) };
    if raw.is_null() {
        // SAFETY: the capsule was not made, so nothing else owns `ptr`.
        unsafe {
            if versioned {
                delete_versioned(ptr.cast());
            } else {
                delete_unversioned(ptr.cast());
            }
        }
        return Err(PyErr::fetch(py));
    }
    // SAFETY: `raw` is a new reference to a capsule.
    Ok(unsafe { Bound::from_owned_ptr(py, raw) }
        .downcast_into::<PyCapsule>()?
        .into_any()
        .unbind())
}

/// `__dlpack__` of frames and batches.
fn dlpack(
    py: Python<'_>,
    tensor: &Arc<Tensor>,
    stream: Option<&Bound<'_, PyAny>>,
    max_version: Option<&Bound<'_, PyAny>>,
    dl_device: Option<&Bound<'_, PyAny>>,
    copy: Option<bool>,
) -> PyResult<PyObject> {
    if copy == Some(true) {
        return Err(PyBufferError::new_err(
            "copy=True: frames are exported without a copy only (copy with the consumer, e.g. tensor.clone())",
        ));
    }
    if let Some(device) = dl_device.filter(|d| !d.is_none()) {
        let (kind, id): (i32, i32) = device.extract()?;
        if (kind, id) != (KDL_CUDA, tensor.device) {
            return Err(PyBufferError::new_err(format!(
                "dl_device=({kind}, {id}): the frame is on ({KDL_CUDA}, {}) and is not copied",
                tensor.device
            )));
        }
    }
    let stream = match stream.filter(|s| !s.is_none()) {
        None => None,
        Some(s) => Some(s.extract::<i64>().map_err(|_| {
            PyTypeError::new_err("stream must be None or an int (a CUDA stream handle)")
        })?),
    };
    let stream = consumer_stream(stream)?;
    let versioned = match max_version.filter(|v| !v.is_none()) {
        None => false,
        Some(v) => {
            let (major, _minor): (u32, u32) = v.extract()?;
            major >= 1
        }
    };
    capsule(py, tensor, stream, versioned)
}

fn cuda_array_interface<'py>(py: Python<'py>, tensor: &Tensor) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("shape", PyTuple::new(py, &tensor.shape)?)?;
    dict.set_item("typestr", tensor.dtype.typestr())?;
    dict.set_item("data", (tensor.ptr, false))?;
    dict.set_item("version", 3)?;
    dict.set_item("strides", py.None())?;
    // Complete when handed out: no stream to synchronise on.
    dict.set_item("stream", py.None())?;
    Ok(dict)
}

/// One decoded frame on the GPU: a tensor for `torch.from_dlpack`, CuPy and others, without
/// a copy.
///
/// Native output (``output="native"``): the packed NV12 (8-bit) or P016 (10/12-bit, 16-bit
/// samples, value in the high bits) frame as one 2-D ``uint8``/``uint16`` tensor of shape
/// ``(H + ceil(H/2), W)`` — the luma rows, then the interleaved UV rows — or ``(3H, W)`` for
/// 4:4:4 (Y, U, V planes); a frame of odd width is 1-D. RGB output: ``(H, W, 3)`` for
/// ``"rgb"``/``"bgr"``, ``(3, H, W)`` for ``"planar"``.
///
/// The pixels are complete when the frame exists; the memory stays valid as long as this
/// object or any tensor made from it lives, and returns to the decoder's pool after the
/// work queued on it before that has finished.
#[pyclass(frozen, module = "nvcodec_guard._native")]
pub(crate) struct Frame {
    pub(crate) tensor: Option<Arc<Tensor>>,
    pub(crate) pts: i64,
    pub(crate) index: Option<usize>,
    pub(crate) format: &'static str,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Drop for Frame {
    fn drop(&mut self) {
        if let Some(tensor) = self.tensor.take() {
            // A CUDA Array Interface consumer's work: on the legacy stream by default.
            release(tensor, STREAM_LEGACY);
        }
    }
}

impl Frame {
    fn tensor(&self) -> PyResult<&Arc<Tensor>> {
        self.tensor
            .as_ref()
            .ok_or_else(|| PyBufferError::new_err("the frame was released"))
    }
}

#[pymethods]
impl Frame {
    /// DLPack export (array API standard): a ``"dltensor_versioned"`` capsule (DLPack 1.0)
    /// when ``max_version >= (1, 0)``, else an unversioned ``"dltensor"`` capsule. ``stream``
    /// is the consumer's CUDA stream (``None``/``1``: legacy default, ``2``: per-thread
    /// default, ``-1``: none); the pixels are complete already, so nothing is queued on it,
    /// but the memory is returned to the pool only after the work the consumer queued on it
    /// before dropping its tensor has finished. Never copies (``copy=True`` raises
    /// ``BufferError``).
    #[pyo3(signature = (*, stream=None, max_version=None, dl_device=None, copy=None))]
    fn __dlpack__(
        &self,
        py: Python<'_>,
        stream: Option<&Bound<'_, PyAny>>,
        max_version: Option<&Bound<'_, PyAny>>,
        dl_device: Option<&Bound<'_, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<PyObject> {
        dlpack(py, self.tensor()?, stream, max_version, dl_device, copy)
    }

    /// ``(2, device)``: kDLCUDA and the GPU's ordinal.
    fn __dlpack_device__(&self) -> PyResult<(i32, i32)> {
        Ok((KDL_CUDA, self.tensor()?.device))
    }

    /// CUDA Array Interface version 3. ``stream`` is ``None``: the pixels are complete.
    #[getter]
    fn __cuda_array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        cuda_array_interface(py, self.tensor()?)
    }

    /// The tensor's shape.
    #[getter]
    fn shape(&self) -> PyResult<Vec<i64>> {
        Ok(self.tensor()?.shape.clone())
    }

    /// The element type's name (``"uint8"``, ``"uint16"``, ``"float16"``, ``"float32"``).
    #[getter]
    fn dtype(&self) -> PyResult<&'static str> {
        Ok(self.tensor()?.dtype.name())
    }

    /// The GPU's ordinal.
    #[getter]
    fn device(&self) -> PyResult<i32> {
        Ok(self.tensor()?.device)
    }

    /// Device address of the first element.
    #[getter]
    fn data_ptr(&self) -> PyResult<u64> {
        Ok(self.tensor()?.ptr)
    }

    /// Bytes of the tensor.
    #[getter]
    fn nbytes(&self) -> PyResult<usize> {
        Ok(self.tensor()?.bytes())
    }

    /// The timestamp of the frame: the container's pts, or for raw streams the display
    /// rank (index) when known.
    #[getter]
    fn pts(&self) -> i64 {
        self.pts
    }

    /// The display index, for frames of ``frames_at``/``frame_at_time`` and sequential
    /// iteration; ``None`` where not known.
    #[getter]
    fn index(&self) -> Option<usize> {
        self.index
    }

    /// ``"NV12"``, ``"P016"``, ``"YUV444"``, ``"YUV444_16Bit"``, or the RGB layout.
    #[getter]
    fn format(&self) -> &'static str {
        self.format
    }

    /// Visible width in pixels.
    #[getter]
    fn width(&self) -> u32 {
        self.width
    }

    /// Visible height in pixels.
    #[getter]
    fn height(&self) -> u32 {
        self.height
    }

    /// Copies the pixels to host memory (packed bytes), for tests and debugging.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let tensor = Arc::clone(self.tensor()?);
        let bytes = py
            .allow_threads(|| match &tensor.pixels {
                Pixels::Native(f) => f.to_vec(),
                Pixels::Rgb(f) => f.to_vec(),
                Pixels::Stacked(b) => match b.buffer() {
                    Some(buffer) => buffer.to_vec(),
                    None => Ok(Vec::new()),
                },
            })
            .map_err(crate::errors::to_py)?;
        let n = tensor.bytes().min(bytes.len());
        Ok(pyo3::types::PyBytes::new(py, &bytes[..n]))
    }

    fn __repr__(&self) -> String {
        let shape = self
            .tensor
            .as_ref()
            .map(|t| t.shape.clone())
            .unwrap_or_default();
        let index = self.index.map_or("None".to_string(), |i| i.to_string());
        format!(
            "Frame(pts={}, index={index}, format={}, {}x{}, shape={shape:?})",
            self.pts, self.format, self.width, self.height
        )
    }
}

/// N pictures of one size in one contiguous GPU tensor: ``(N, 3, H, W)`` for ``"planar"``,
/// ``(N, H, W, 3)`` for ``"rgb"``/``"bgr"``. Exported like a `Frame` (DLPack, CUDA Array
/// Interface), complete, without a copy.
#[pyclass(frozen, module = "nvcodec_guard._native")]
pub(crate) struct Batch {
    pub(crate) tensor: Option<Arc<Tensor>>,
    pub(crate) pts: Vec<i64>,
    pub(crate) indices: Vec<Option<usize>>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        if let Some(tensor) = self.tensor.take() {
            release(tensor, STREAM_LEGACY);
        }
    }
}

impl Batch {
    fn tensor(&self) -> PyResult<&Arc<Tensor>> {
        self.tensor
            .as_ref()
            .ok_or_else(|| PyBufferError::new_err("the batch was released"))
    }
}

#[pymethods]
impl Batch {
    /// As `Frame.__dlpack__`.
    #[pyo3(signature = (*, stream=None, max_version=None, dl_device=None, copy=None))]
    fn __dlpack__(
        &self,
        py: Python<'_>,
        stream: Option<&Bound<'_, PyAny>>,
        max_version: Option<&Bound<'_, PyAny>>,
        dl_device: Option<&Bound<'_, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<PyObject> {
        dlpack(py, self.tensor()?, stream, max_version, dl_device, copy)
    }

    /// ``(2, device)``.
    fn __dlpack_device__(&self) -> PyResult<(i32, i32)> {
        Ok((KDL_CUDA, self.tensor()?.device))
    }

    /// CUDA Array Interface version 3 (``stream`` is ``None``: complete).
    #[getter]
    fn __cuda_array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        cuda_array_interface(py, self.tensor()?)
    }

    /// The tensor's shape.
    #[getter]
    fn shape(&self) -> PyResult<Vec<i64>> {
        Ok(self.tensor()?.shape.clone())
    }

    /// The element type's name.
    #[getter]
    fn dtype(&self) -> PyResult<&'static str> {
        Ok(self.tensor()?.dtype.name())
    }

    /// The GPU's ordinal.
    #[getter]
    fn device(&self) -> PyResult<i32> {
        Ok(self.tensor()?.device)
    }

    /// Timestamps of the pictures, in order.
    #[getter]
    fn pts(&self) -> Vec<i64> {
        self.pts.clone()
    }

    /// Display indices of the pictures where known.
    #[getter]
    fn indices(&self) -> Vec<Option<usize>> {
        self.indices.clone()
    }

    fn __len__(&self) -> usize {
        self.pts.len()
    }

    /// Copies the pictures to host memory, for tests and debugging.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let tensor = Arc::clone(self.tensor()?);
        let bytes = py
            .allow_threads(|| match &tensor.pixels {
                Pixels::Native(f) => f.to_vec(),
                Pixels::Rgb(f) => f.to_vec(),
                Pixels::Stacked(b) => match b.buffer() {
                    Some(buffer) => buffer.to_vec(),
                    None => Ok(Vec::new()),
                },
            })
            .map_err(crate::errors::to_py)?;
        let n = tensor.bytes().min(bytes.len());
        Ok(pyo3::types::PyBytes::new(py, &bytes[..n]))
    }

    fn __repr__(&self) -> String {
        let shape = self
            .tensor
            .as_ref()
            .map(|t| t.shape.clone())
            .unwrap_or_default();
        format!("Batch(len={}, shape={:?})", self.pts.len(), shape)
    }
}
