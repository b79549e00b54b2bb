//! The crate's [`Error`] as Python exceptions.
//!
//! Invariant: every error raised by this module is an instance of a class of
//! `nvcodec_guard._errors` chosen by [`Error::fault`] (and, where a program may want to catch
//! one situation, by the variant), with the error's details as attributes; its message is the
//! crate's `Display`. The classes are plain Python (so that `CallerError` can also be a
//! `ValueError`), looked up when an error is raised.

use guard::Error;
use guard::error::Fault;
use guard::input::{InputError, NetworkError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Builds the Python exception for `error`.
pub(crate) fn to_py(error: Error) -> PyErr {
    Python::with_gil(|py| match build(py, &error) {
        Ok(err) => err,
        // The error classes could not be loaded (a broken install): still raise, with the
        // crate's message.
        Err(_) => pyo3::exceptions::PyRuntimeError::new_err(error.to_string()),
    })
}

/// A `CallerError` (also a `ValueError`) for a wrong argument found on the Python side.
pub(crate) fn caller(parameter: &'static str, reason: impl Into<String>) -> PyErr {
    to_py(Error::InvalidConfig {
        parameter,
        reason: reason.into(),
    })
}

fn class_of(error: &Error) -> &'static str {
    match error {
        Error::Driver(_) => "DriverError",
        Error::LibraryNotFound { .. } | Error::SymbolNotFound { .. } => "LibraryNotFoundError",
        Error::Unsupported { .. } => "UnsupportedError",
        Error::Bitstream(_) => "BitstreamError",
        Error::FrameOutOfRange { .. } => "FrameOutOfRangeError",
        Error::PoolExhausted { .. } => "PoolExhaustedError",
        Error::InitLockTimeout { .. } => "InitLockTimeoutError",
        Error::Network(network) => match network {
            NetworkError::Address { .. } => "AddressError",
            NetworkError::Unauthorized { .. } => "UnauthorizedError",
            NetworkError::Timeout { .. } => "NetworkTimeoutError",
            _ => match error.fault() {
                Fault::Caller => "CallerError",
                _ => "NetworkFailureError",
            },
        },
        _ => match error.fault() {
            Fault::Input => "InputError",
            Fault::Caller => "CallerError",
            Fault::Platform => "PlatformError",
            Fault::Busy => "BusyError",
            _ => "InternalError",
        },
    }
}

fn fault_name(fault: Fault) -> &'static str {
    match fault {
        Fault::Input => "input",
        Fault::Caller => "caller",
        Fault::Platform => "platform",
        Fault::Busy => "busy",
        _ => "internal",
    }
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let module = py.import("nvcodec_guard._errors")?;
    let class = module.getattr(class_of(error))?;
    let details = PyDict::new(py);
    details.set_item("fault", fault_name(error.fault()))?;
    let kind = format!("{error:?}");
    let kind = kind
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default();
    details.set_item("kind", kind)?;
    match error {
        Error::Driver(driver) => {
            details.set_item("library", driver.library.to_string())?;
            details.set_item("call", driver.call)?;
            details.set_item("status", driver.status.name())?;
            details.set_item("status_code", driver.status.code())?;
            details.set_item("last_error", driver.last_error.clone())?;
        }
        Error::LibraryNotFound { name, .. } => details.set_item("library", *name)?,
        Error::SymbolNotFound {
            library, symbol, ..
        } => {
            details.set_item("library", *library)?;
            details.set_item("call", *symbol)?;
        }
        Error::NoEncodeDevice { status, .. } => {
            details.set_item("status", status.name())?;
            details.set_item("status_code", status.code())?;
        }
        Error::InvalidConfig { parameter, .. } => details.set_item("parameter", *parameter)?,
        Error::DriverContract { call, .. } => details.set_item("call", *call)?,
        Error::FramesDropped { limit, .. } => details.set_item("limit", *limit)?,
        Error::PacketTooLarge { len, max } => {
            details.set_item("length", *len)?;
            details.set_item("limit", *max)?;
        }
        Error::InitLockTimeout { waited } | Error::PoolExhausted { waited } => {
            details.set_item("waited", waited.as_secs_f64())?;
        }
        Error::TooManyMappedFrames { surfaces, .. } => details.set_item("limit", *surfaces)?,
        Error::FrameOutOfRange { index, frames } => {
            details.set_item("index", *index)?;
            details.set_item("frames", *frames)?;
        }
        Error::FrameNotDecoded { index, sample } => {
            details.set_item("index", *index)?;
            details.set_item("sample", *sample)?;
        }
        Error::Network(network) => match network {
            NetworkError::Address { url, .. } => details.set_item("peer", url)?,
            NetworkError::Unauthorized { peer, .. }
            | NetworkError::Closed { peer, .. }
            | NetworkError::Protocol { peer, .. } => details.set_item("peer", peer)?,
            NetworkError::Timeout { peer, after } => {
                details.set_item("peer", peer)?;
                details.set_item("waited", after.as_secs_f64())?;
            }
            NetworkError::Socket { what, .. } => details.set_item("peer", what)?,
            _ => {}
        },
        Error::Input(input) => match input {
            InputError::Truncated { offset, .. } => details.set_item("offset", *offset)?,
            InputError::Malformed { offset, .. } => details.set_item("offset", *offset)?,
            InputError::LimitExceeded { limit, .. } => details.set_item("limit", *limit)?,
            _ => {}
        },
        _ => {}
    }
    let args = PyTuple::new(py, [error.to_string()])?;
    let instance = class.call(args, None)?;
    for (key, value) in details.iter() {
        instance.setattr(key.downcast::<pyo3::types::PyString>()?, value)?;
    }
    Ok(PyErr::from_value(instance))
}

/// A `DriverError` for a driver call made by this module itself.
pub(crate) fn driver_call(call: &'static str, status: u32) -> PyErr {
    Python::with_gil(|py| {
        let message = format!("{call} failed: CUresult {status}");
        let made = (|| -> PyResult<PyErr> {
            let class = py.import("nvcodec_guard._errors")?.getattr("DriverError")?;
            let instance = class.call1((message.clone(),))?;
            instance.setattr("fault", "platform")?;
            instance.setattr("kind", "Driver")?;
            instance.setattr("library", "libcuda")?;
            instance.setattr("call", call)?;
            instance.setattr("status", "CUresult")?;
            instance.setattr("status_code", status)?;
            Ok(PyErr::from_value(instance))
        })();
        made.unwrap_or_else(|_| pyo3::exceptions::PyRuntimeError::new_err(message))
    })
}
