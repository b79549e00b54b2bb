//! `libnvidia-encode.so.1`: an NVENC without an encode engine, like an H100.
//!
//! `NvEncOpenEncodeSessionEx` answers NV_ENC_ERR_UNSUPPORTED_DEVICE (2) and returns no
//! handle. The other lifecycle entries (initialize, buffers, resources, destroy) exist with
//! overlap detection and handle bookkeeping, so a later "working" mode can build on them;
//! every other entry answers NV_ENC_ERR_UNIMPLEMENTED.

use std::collections::HashSet;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{LazyLock, Mutex};

use crate::{fault, lifecycle, live_add, lock, misuse};

const SUCCESS: u32 = 0;
const UNSUPPORTED_DEVICE: u32 = 2;
const INVALID_PTR: u32 = 6;
const GENERIC: u32 = 20;
const UNIMPLEMENTED: u32 = 22;

static WORKING: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_working(on: bool) {
    WORKING.store(on, SeqCst);
}

#[derive(Default)]
struct Objects {
    encoders: HashSet<usize>,
    buffers: HashSet<usize>,
    registrations: HashSet<usize>,
}

static OBJECTS: LazyLock<Mutex<Objects>> = LazyLock::new(|| Mutex::new(Objects::default()));

macro_rules! lifecycle_start {
    ($call:expr) => {{
        let injected = fault($call);
        let life = lifecycle($call);
        if life.overlapped {
            return GENERIC;
        }
        if let Some(status) = injected {
            return status;
        }
        life
    }};
}

fn known_encoder(enc: *mut c_void) -> bool {
    lock(&OBJECTS).encoders.contains(&(enc as usize))
}

#[unsafe(no_mangle)]
pub extern "C" fn NvEncodeAPIGetMaxSupportedVersion(version: *mut u32) -> u32 {
    if let Some(status) = fault("NvEncodeAPIGetMaxSupportedVersion") {
        return status;
    }
    if version.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: non-null out-pointer from the caller.
    unsafe { version.write((12 << 4) | 2) };
    SUCCESS
}

extern "C" fn open_encode_session_ex(_params: *mut c_void, encoder: *mut *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncOpenEncodeSessionEx");
    if encoder.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: non-null out-pointer from the caller.
    unsafe { encoder.write(std::ptr::null_mut()) };
    // Working mode is not implemented yet: both modes report "no encode engine".
    let _ = WORKING.load(SeqCst);
    UNSUPPORTED_DEVICE
}

extern "C" fn initialize_encoder(encoder: *mut c_void, _params: *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncInitializeEncoder");
    if !known_encoder(encoder) {
        return misuse("nvEncInitializeEncoder:unknown", INVALID_PTR);
    }
    UNIMPLEMENTED
}

extern "C" fn destroy_encoder(encoder: *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncDestroyEncoder");
    if !lock(&OBJECTS).encoders.remove(&(encoder as usize)) {
        return misuse("nvEncDestroyEncoder:unknown", INVALID_PTR);
    }
    live_add("encoder", -1);
    SUCCESS
}

macro_rules! create_stub {
    ($fn:ident, $call:expr) => {
        extern "C" fn $fn(encoder: *mut c_void, _params: *mut c_void) -> u32 {
            let _life = lifecycle_start!($call);
            if !known_encoder(encoder) {
                return misuse(concat!($call, ":unknown"), INVALID_PTR);
            }
            UNIMPLEMENTED
        }
    };
}

create_stub!(create_input_buffer, "nvEncCreateInputBuffer");
create_stub!(create_bitstream_buffer, "nvEncCreateBitstreamBuffer");
create_stub!(register_resource, "nvEncRegisterResource");

macro_rules! destroy_stub {
    ($fn:ident, $call:expr, $set:ident, $kind:expr) => {
        extern "C" fn $fn(encoder: *mut c_void, object: *mut c_void) -> u32 {
            let _life = lifecycle_start!($call);
            if !known_encoder(encoder) {
                return misuse(concat!($call, ":unknown-encoder"), INVALID_PTR);
            }
            if !lock(&OBJECTS).$set.remove(&(object as usize)) {
                return misuse(concat!($call, ":unknown"), INVALID_PTR);
            }
            live_add($kind, -1);
            SUCCESS
        }
    };
}

destroy_stub!(
    destroy_input_buffer,
    "nvEncDestroyInputBuffer",
    buffers,
    "enc_buffer"
);
destroy_stub!(
    destroy_bitstream_buffer,
    "nvEncDestroyBitstreamBuffer",
    buffers,
    "enc_buffer"
);
destroy_stub!(
    unregister_resource,
    "nvEncUnregisterResource",
    registrations,
    "registration"
);

extern "C" fn get_last_error_string(_encoder: *mut c_void) -> *const c_char {
    c"stand-in NVENC: no encode engine".as_ptr()
}

extern "C" fn unimplemented() -> u32 {
    UNIMPLEMENTED
}

/// Entries of `NV_ENCODE_API_FUNCTION_LIST` after `version` and `reserved` (SDK 12.1 order).
const ENTRIES: usize = 43;
const OPEN_SESSION_EX: usize = 29;
const INITIALIZE: usize = 11;
const CREATE_INPUT: usize = 12;
const DESTROY_INPUT: usize = 13;
const CREATE_BITSTREAM: usize = 14;
const DESTROY_BITSTREAM: usize = 15;
const DESTROY_ENCODER: usize = 27;
const REGISTER: usize = 30;
const UNREGISTER: usize = 31;
const RESERVED1: usize = 33;
const LAST_ERROR: usize = 37;

#[unsafe(no_mangle)]
pub extern "C" fn NvEncodeAPICreateInstance(list: *mut u32) -> u32 {
    if let Some(status) = fault("NvEncodeAPICreateInstance") {
        return status;
    }
    if list.is_null() {
        return INVALID_PTR;
    }
    let mut entries = [unimplemented as *const c_void; ENTRIES];
    entries[OPEN_SESSION_EX] = open_encode_session_ex as *const c_void;
    entries[INITIALIZE] = initialize_encoder as *const c_void;
    entries[CREATE_INPUT] = create_input_buffer as *const c_void;
    entries[DESTROY_INPUT] = destroy_input_buffer as *const c_void;
    entries[CREATE_BITSTREAM] = create_bitstream_buffer as *const c_void;
    entries[DESTROY_BITSTREAM] = destroy_bitstream_buffer as *const c_void;
    entries[DESTROY_ENCODER] = destroy_encoder as *const c_void;
    entries[REGISTER] = register_resource as *const c_void;
    entries[UNREGISTER] = unregister_resource as *const c_void;
    entries[RESERVED1] = std::ptr::null();
    entries[LAST_ERROR] = get_last_error_string as *const c_void;
    // SAFETY: the caller passes a zeroed NV_ENCODE_API_FUNCTION_LIST (2552 bytes): two u32
    // then pointers, of which the first ENTRIES are written here.
    unsafe {
        let slots = list.add(2).cast::<*const c_void>();
        for (i, entry) in entries.iter().enumerate() {
            slots.add(i).write(*entry);
        }
    }
    SUCCESS
}
