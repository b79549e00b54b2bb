//! CUDA driver statuses: the `CUresult` name table and the functions that turn a status
//! into this crate's error, naming the call.
//!
//! Invariant: a status is handled as the integer the driver returned, never as a Rust enum,
//! so a code newer than any binding is `unknown CUDA status (n)`, not undefined behaviour.
//! The table is sorted by value (a test checks it) and searched by bisection.

use crate::error::{self, Error, Result};

/// `CUDA_SUCCESS`.
const SUCCESS: u32 = 0;

/// `CUresult` names by value (CUDA 12.9 / 13.0 `cuda.h`), sorted by value.
const STATUS_NAMES: &[(u32, &str)] = &[
    (0, "CUDA_SUCCESS"),
    (1, "CUDA_ERROR_INVALID_VALUE"),
    (2, "CUDA_ERROR_OUT_OF_MEMORY"),
    (3, "CUDA_ERROR_NOT_INITIALIZED"),
    (4, "CUDA_ERROR_DEINITIALIZED"),
    (5, "CUDA_ERROR_PROFILER_DISABLED"),
    (6, "CUDA_ERROR_PROFILER_NOT_INITIALIZED"),
    (7, "CUDA_ERROR_PROFILER_ALREADY_STARTED"),
    (8, "CUDA_ERROR_PROFILER_ALREADY_STOPPED"),
    (34, "CUDA_ERROR_STUB_LIBRARY"),
    (46, "CUDA_ERROR_DEVICE_UNAVAILABLE"),
    (100, "CUDA_ERROR_NO_DEVICE"),
    (101, "CUDA_ERROR_INVALID_DEVICE"),
    (102, "CUDA_ERROR_DEVICE_NOT_LICENSED"),
    (200, "CUDA_ERROR_INVALID_IMAGE"),
    (201, "CUDA_ERROR_INVALID_CONTEXT"),
    (202, "CUDA_ERROR_CONTEXT_ALREADY_CURRENT"),
    (205, "CUDA_ERROR_MAP_FAILED"),
    (206, "CUDA_ERROR_UNMAP_FAILED"),
    (207, "CUDA_ERROR_ARRAY_IS_MAPPED"),
    (208, "CUDA_ERROR_ALREADY_MAPPED"),
    (209, "CUDA_ERROR_NO_BINARY_FOR_GPU"),
    (210, "CUDA_ERROR_ALREADY_ACQUIRED"),
    (211, "CUDA_ERROR_NOT_MAPPED"),
    (212, "CUDA_ERROR_NOT_MAPPED_AS_ARRAY"),
    (213, "CUDA_ERROR_NOT_MAPPED_AS_POINTER"),
    (214, "CUDA_ERROR_ECC_UNCORRECTABLE"),
    (215, "CUDA_ERROR_UNSUPPORTED_LIMIT"),
    (216, "CUDA_ERROR_CONTEXT_ALREADY_IN_USE"),
    (217, "CUDA_ERROR_PEER_ACCESS_UNSUPPORTED"),
    (218, "CUDA_ERROR_INVALID_PTX"),
    (219, "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT"),
    (220, "CUDA_ERROR_NVLINK_UNCORRECTABLE"),
    (221, "CUDA_ERROR_JIT_COMPILER_NOT_FOUND"),
    (222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION"),
    (223, "CUDA_ERROR_JIT_COMPILATION_DISABLED"),
    (224, "CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY"),
    (225, "CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC"),
    (226, "CUDA_ERROR_CONTAINED"),
    (300, "CUDA_ERROR_INVALID_SOURCE"),
    (301, "CUDA_ERROR_FILE_NOT_FOUND"),
    (302, "CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND"),
    (303, "CUDA_ERROR_SHARED_OBJECT_INIT_FAILED"),
    (304, "CUDA_ERROR_OPERATING_SYSTEM"),
    (400, "CUDA_ERROR_INVALID_HANDLE"),
    (401, "CUDA_ERROR_ILLEGAL_STATE"),
    (402, "CUDA_ERROR_LOSSY_QUERY"),
    (500, "CUDA_ERROR_NOT_FOUND"),
    (600, "CUDA_ERROR_NOT_READY"),
    (700, "CUDA_ERROR_ILLEGAL_ADDRESS"),
    (701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"),
    (702, "CUDA_ERROR_LAUNCH_TIMEOUT"),
    (703, "CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING"),
    (704, "CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED"),
    (705, "CUDA_ERROR_PEER_ACCESS_NOT_ENABLED"),
    (708, "CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE"),
    (709, "CUDA_ERROR_CONTEXT_IS_DESTROYED"),
    (710, "CUDA_ERROR_ASSERT"),
    (711, "CUDA_ERROR_TOO_MANY_PEERS"),
    (712, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED"),
    (713, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED"),
    (714, "CUDA_ERROR_HARDWARE_STACK_ERROR"),
    (715, "CUDA_ERROR_ILLEGAL_INSTRUCTION"),
    (716, "CUDA_ERROR_MISALIGNED_ADDRESS"),
    (717, "CUDA_ERROR_INVALID_ADDRESS_SPACE"),
    (718, "CUDA_ERROR_INVALID_PC"),
    (719, "CUDA_ERROR_LAUNCH_FAILED"),
    (720, "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE"),
    (721, "CUDA_ERROR_TENSOR_MEMORY_LEAK"),
    (800, "CUDA_ERROR_NOT_PERMITTED"),
    (801, "CUDA_ERROR_NOT_SUPPORTED"),
    (802, "CUDA_ERROR_SYSTEM_NOT_READY"),
    (803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"),
    (804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"),
    (805, "CUDA_ERROR_MPS_CONNECTION_FAILED"),
    (806, "CUDA_ERROR_MPS_RPC_FAILURE"),
    (807, "CUDA_ERROR_MPS_SERVER_NOT_READY"),
    (808, "CUDA_ERROR_MPS_MAX_CLIENTS_REACHED"),
    (809, "CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED"),
    (810, "CUDA_ERROR_MPS_CLIENT_TERMINATED"),
    (811, "CUDA_ERROR_CDP_NOT_SUPPORTED"),
    (812, "CUDA_ERROR_CDP_VERSION_MISMATCH"),
    (900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"),
    (901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"),
    (902, "CUDA_ERROR_STREAM_CAPTURE_MERGE"),
    (903, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED"),
    (904, "CUDA_ERROR_STREAM_CAPTURE_UNJOINED"),
    (905, "CUDA_ERROR_STREAM_CAPTURE_ISOLATION"),
    (906, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT"),
    (907, "CUDA_ERROR_CAPTURED_EVENT"),
    (908, "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD"),
    (909, "CUDA_ERROR_TIMEOUT"),
    (910, "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE"),
    (911, "CUDA_ERROR_EXTERNAL_DEVICE"),
    (912, "CUDA_ERROR_INVALID_CLUSTER_SIZE"),
    (913, "CUDA_ERROR_FUNCTION_NOT_LOADED"),
    (914, "CUDA_ERROR_INVALID_RESOURCE_TYPE"),
    (915, "CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION"),
    (916, "CUDA_ERROR_KEY_ROTATION"),
    (999, "CUDA_ERROR_UNKNOWN"),
];

/// The `CUDA_ERROR_*` name of a `CUresult`, if this crate knows it.
pub(super) fn status_name(code: u32) -> Option<&'static str> {
    STATUS_NAMES
        .binary_search_by_key(&code, |&(value, _)| value)
        .ok()
        .map(|i| STATUS_NAMES[i].1)
}

/// Converts a CUDA driver `CUresult` (as the integer the driver returned) into this crate's
/// error, naming the call.
pub(crate) fn check(call: &'static str, status: u32) -> Result<()> {
    check_in(error::Library::Cuda, call, status)
}

/// As [`check`], for a `CUresult` returned by an entry point of `library` (NVDEC reports
/// `CUresult` too).
pub(crate) fn check_in(library: error::Library, call: &'static str, status: u32) -> Result<()> {
    if status == SUCCESS {
        Ok(())
    } else {
        Err(cuda_error_in(library, call, status))
    }
}

/// The typed status of a `CUresult`: `CUDA_ERROR_… (n)`, or `unknown CUDA status (n)`.
pub(super) fn cuda_status(status: u32) -> error::Status {
    error::Status::cuda(status, status_name(status).unwrap_or("unknown CUDA status"))
}

/// The error for a failed `CUresult` returned by a CUDA driver entry point.
#[cfg(test)]
pub(crate) fn cuda_error(call: &'static str, status: u32) -> Error {
    cuda_error_in(error::Library::Cuda, call, status)
}

/// The error for a failed `CUresult` returned by an entry point of `library`.
pub(super) fn cuda_error_in(library: error::Library, call: &'static str, status: u32) -> Error {
    Error::Driver(error::DriverError::new(library, call, cuda_status(status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_cuda_h_name_and_unknown_ones_say_so() {
        assert!(STATUS_NAMES.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
        assert_eq!(status_name(2), Some("CUDA_ERROR_OUT_OF_MEMORY"));
        assert_eq!(status_name(226), Some("CUDA_ERROR_CONTAINED"));
        assert_eq!(status_name(721), Some("CUDA_ERROR_TENSOR_MEMORY_LEAK"));
        assert_eq!(status_name(916), Some("CUDA_ERROR_KEY_ROTATION"));
        assert_eq!(status_name(999), Some("CUDA_ERROR_UNKNOWN"));
        assert_eq!(status_name(227), None);
        assert_eq!(
            cuda_error("cuInit", 226).to_string(),
            "cuInit failed: CUDA_ERROR_CONTAINED (226)"
        );
        assert_eq!(
            cuda_error("cuInit", 12345).to_string(),
            "cuInit failed: unknown CUDA status (12345)"
        );
        assert_eq!(
            cuda_error("cuInit", u32::MAX).to_string(),
            format!("cuInit failed: unknown CUDA status ({})", u32::MAX)
        );
    }

    #[test]
    fn the_table_agrees_with_the_bindings_it_replaces() {
        // Every value cudarc's CUDA 12.2 enum lists has the same name here.
        for (code, name) in STATUS_NAMES {
            if let Some(variant) = known_variant(*code) {
                assert_eq!(format!("{variant:?}"), *name);
            }
        }
    }

    fn known_variant(code: u32) -> Option<cudarc::driver::sys::CUresult> {
        use cudarc::driver::sys::CUresult::*;
        [
            CUDA_SUCCESS,
            CUDA_ERROR_INVALID_VALUE,
            CUDA_ERROR_OUT_OF_MEMORY,
            CUDA_ERROR_NOT_INITIALIZED,
            CUDA_ERROR_NO_DEVICE,
            CUDA_ERROR_INVALID_CONTEXT,
            CUDA_ERROR_INVALID_HANDLE,
            CUDA_ERROR_NOT_SUPPORTED,
            CUDA_ERROR_UNKNOWN,
        ]
        .into_iter()
        .find(|v| *v as u32 == code)
    }
}
