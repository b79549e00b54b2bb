//! A failed driver call as one typed value: which library, which call, which status.
//!
//! Invariant: a [`Status`] always carries the number the driver returned *and* the name
//! NVIDIA's headers give it (or a fixed "unknown" name for codes newer than the headers
//! this crate was built with), so a program can branch on it (`is_out_of_memory()`) and a
//! person can search for it.
//!
//! Why typed rather than strings: a server wants to tell "out of device memory, retry
//! later" from "this GPU cannot do that" without parsing messages. The names stay in the
//! `Display` text because NVIDIA's documentation and forums are searchable by them.
//!
//! Trade-off: NVDEC (`nvcuvid`) reports CUDA's `CUresult`, so its statuses are CUDA
//! statuses; [`DriverError::library`] still says which library's entry point failed.

use std::fmt;

/// The NVIDIA library whose entry point failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Library {
    /// The CUDA driver API (`libcuda.so.1`, `cu*` calls).
    Cuda,
    /// NVDEC (`libnvcuvid.so.1`, `cuvid*` calls); reports `CUresult` statuses.
    Nvcuvid,
    /// NVENC (`libnvidia-encode.so.1`, `NvEnc*` calls); reports `NVENCSTATUS`.
    Nvenc,
}

impl fmt::Display for Library {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Library::Cuda => "libcuda",
            Library::Nvcuvid => "libnvcuvid",
            Library::Nvenc => "libnvidia-encode",
        })
    }
}

/// Which status enumeration a [`Status`] code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    /// `CUresult` (CUDA driver API and NVDEC).
    CuResult,
    /// `NVENCSTATUS`.
    NvencStatus,
}

/// A status a driver call returned: its number and its header name.
///
/// Compare with the `is_*` methods rather than raw codes: the same situation has
/// different codes in `CUresult` and `NVENCSTATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status {
    family: Family,
    code: u32,
    name: &'static str,
}

impl Status {
    /// A `CUresult`; `name` is its `CUDA_ERROR_*` name or a fixed "unknown" text.
    pub(crate) fn cuda(code: u32, name: &'static str) -> Status {
        Status {
            family: Family::CuResult,
            code,
            name,
        }
    }

    /// An `NVENCSTATUS`; `name` is its `NV_ENC_ERR_*` name.
    pub(crate) fn nvenc(code: u32, name: &'static str) -> Status {
        Status {
            family: Family::NvencStatus,
            code,
            name,
        }
    }

    /// The number the driver returned.
    pub fn code(&self) -> u32 {
        self.code
    }

    /// The header's name for it, e.g. `CUDA_ERROR_OUT_OF_MEMORY` or
    /// `NV_ENC_ERR_INVALID_PARAM`; `unknown CUDA status` / `NV_ENC_ERR_UNKNOWN` for codes
    /// newer than this crate's headers.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// `true` for a `CUresult` (CUDA driver or NVDEC call), `false` for an `NVENCSTATUS`.
    pub fn is_cuda_result(&self) -> bool {
        self.family == Family::CuResult
    }

    /// The device (or host, for page-locked memory) ran out of memory:
    /// `CUDA_ERROR_OUT_OF_MEMORY` (2) or `NV_ENC_ERR_OUT_OF_MEMORY` (10). Retrying later,
    /// with fewer sessions alive, may succeed.
    pub fn is_out_of_memory(&self) -> bool {
        match self.family {
            Family::CuResult => self.code == 2,
            Family::NvencStatus => self.code == 10,
        }
    }

    /// An argument was refused: `CUDA_ERROR_INVALID_VALUE` (1) or
    /// `NV_ENC_ERR_INVALID_PARAM` (8).
    pub fn is_invalid_argument(&self) -> bool {
        match self.family {
            Family::CuResult => self.code == 1,
            Family::NvencStatus => self.code == 8,
        }
    }

    /// The hardware or driver does not support what was asked:
    /// `CUDA_ERROR_NOT_SUPPORTED` (801), or NVENC's `NV_ENC_ERR_UNSUPPORTED_DEVICE` (2),
    /// `NV_ENC_ERR_NO_ENCODE_DEVICE` (1) or `NV_ENC_ERR_UNSUPPORTED_PARAM` (12).
    pub fn is_not_supported(&self) -> bool {
        match self.family {
            Family::CuResult => self.code == 801,
            Family::NvencStatus => matches!(self.code, 1 | 2 | 12),
        }
    }

    /// No usable device: `CUDA_ERROR_NO_DEVICE` (100), `CUDA_ERROR_INVALID_DEVICE` (101),
    /// or NVENC's `NV_ENC_ERR_NO_ENCODE_DEVICE` (1) / `NV_ENC_ERR_INVALID_DEVICE` (4) /
    /// `NV_ENC_ERR_DEVICE_NOT_EXIST` (5).
    pub fn is_no_device(&self) -> bool {
        match self.family {
            Family::CuResult => matches!(self.code, 100 | 101),
            Family::NvencStatus => matches!(self.code, 1 | 4 | 5),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.code)
    }
}

/// A driver entry point returned a failure status.
///
/// Displays as `cuvidCreateDecoder failed: CUDA_ERROR_OUT_OF_MEMORY (2)`, followed by
/// NVENC's `NvEncGetLastErrorString` text when the session existed to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverError {
    /// The library whose entry point failed.
    pub library: Library,
    /// The failing call, e.g. `cuvidCreateDecoder`.
    pub call: &'static str,
    /// What it returned.
    pub status: Status,
    /// `NvEncGetLastErrorString`, when an NVENC session existed to ask; `None` otherwise.
    pub last_error: Option<String>,
}

impl DriverError {
    /// A failure without a last-error text.
    pub(crate) fn new(library: Library, call: &'static str, status: Status) -> DriverError {
        DriverError {
            library,
            call,
            status,
            last_error: None,
        }
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.call, self.status)?;
        match &self.last_error {
            Some(text) if !text.is_empty() => write!(f, ": {text}"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for DriverError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_memory_is_recognised_in_both_status_families() {
        assert!(Status::cuda(2, "CUDA_ERROR_OUT_OF_MEMORY").is_out_of_memory());
        assert!(Status::nvenc(10, "NV_ENC_ERR_OUT_OF_MEMORY").is_out_of_memory());
        // The same number means something else in the other family.
        assert!(!Status::nvenc(2, "NV_ENC_ERR_UNSUPPORTED_DEVICE").is_out_of_memory());
        assert!(!Status::cuda(10, "CUDA_ERROR_INVALID_...").is_out_of_memory());
    }

    #[test]
    fn not_supported_and_no_device_follow_the_headers() {
        assert!(Status::cuda(801, "CUDA_ERROR_NOT_SUPPORTED").is_not_supported());
        assert!(Status::nvenc(2, "NV_ENC_ERR_UNSUPPORTED_DEVICE").is_not_supported());
        assert!(Status::cuda(100, "CUDA_ERROR_NO_DEVICE").is_no_device());
        assert!(Status::nvenc(1, "NV_ENC_ERR_NO_ENCODE_DEVICE").is_no_device());
        assert!(Status::cuda(1, "CUDA_ERROR_INVALID_VALUE").is_invalid_argument());
        assert!(Status::nvenc(8, "NV_ENC_ERR_INVALID_PARAM").is_invalid_argument());
        assert!(!Status::cuda(8, "x").is_invalid_argument());
    }

    #[test]
    fn driver_error_displays_call_status_and_last_error() {
        let mut error = DriverError::new(
            Library::Nvenc,
            "NvEncInitializeEncoder",
            Status::nvenc(8, "NV_ENC_ERR_INVALID_PARAM"),
        );
        assert_eq!(
            error.to_string(),
            "NvEncInitializeEncoder failed: NV_ENC_ERR_INVALID_PARAM (8)"
        );
        error.last_error = Some("bad preset".into());
        assert_eq!(
            error.to_string(),
            "NvEncInitializeEncoder failed: NV_ENC_ERR_INVALID_PARAM (8): bad preset"
        );
        error.last_error = Some(String::new());
        assert!(error.to_string().ends_with("(8)"));
    }
}
