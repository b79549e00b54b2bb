//! Python bindings of `nvcodec-guard`: the native module `nvcodec_guard._native`, wrapped by
//! the Python package `nvcodec_guard` (`python/nvcodec_guard/`).
//!
//! Invariant: importing the module touches no GPU and loads no NVIDIA library; the driver is
//! loaded at run time by the first call that needs it, and its absence is a `PlatformError`
//! (`LibraryNotFoundError`) naming the library.
//!
//! Pieces: `decoder` (Decoder, DecoderPool: GIL released around all work, state behind a
//! mutex so objects can be shared between threads), `tensor` (Frame, Batch: DLPack and CUDA
//! Array Interface export without a copy), `cuda` (stream-ordered release of exported
//! memory), `errors` (the crate's errors as a Python exception hierarchy).

#![warn(clippy::undocumented_unsafe_blocks)]

mod ahead;
mod cuda;
mod decoder;
mod errors;
mod frames;
mod live;
mod tensor;

use pyo3::prelude::*;

/// Whether the NVIDIA driver library (libcuda.so.1) can be loaded here. Touches no device.
#[pyfunction]
fn driver_available(py: Python<'_>) -> bool {
    py.allow_threads(|| guard::cuda::driver_available().is_ok())
}

/// Why the driver cannot be loaded (the error's message), or ``None`` when it can.
#[pyfunction]
fn driver_error(py: Python<'_>) -> Option<String> {
    py.allow_threads(|| guard::cuda::driver_available().err().map(|e| e.to_string()))
}

/// The native part of `nvcodec_guard`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<decoder::Decoder>()?;
    m.add_class::<decoder::DecoderPool>()?;
    m.add_class::<tensor::Frame>()?;
    m.add_class::<tensor::Batch>()?;
    m.add_function(wrap_pyfunction!(driver_available, m)?)?;
    m.add_function(wrap_pyfunction!(driver_error, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
