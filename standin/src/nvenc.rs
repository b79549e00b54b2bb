//! `libnvidia-encode.so.1`: by default an NVENC without an encode engine, like an H100;
//! after `standin_set_nvenc_working(1)` a working encoder that invents its bitstream.
//!
//! Default mode: `NvEncOpenEncodeSessionEx` answers NV_ENC_ERR_UNSUPPORTED_DEVICE (2) and
//! returns no handle.
//!
//! Working mode: sessions open on a live CUDA context; H.264 and HEVC with presets P1..P7
//! and NV12, P010, YUV444 and ARGB input; generous caps; a preset configuration with valid
//! enum values; input buffers in host memory (pitch: the row rounded up to 256, or the
//! override of `standin_set_nvenc_pitch`) followed by a guard zone whose overwrite is a
//! misuse; bitstream buffers that, once a picture was encoded into them, lock to a few bytes
//! (an Annex-B IDR or P slice carrying three sampled input bytes) with the input timestamp
//! echoed (size overridable with `standin_set_nvenc_bitstream_size`); CUDA device pointers
//! registered (checked against known device memory), mapped, unmapped and unregistered.
//!
//! Lifecycle calls (open, initialize, destroy, buffer create/destroy, register/unregister)
//! keep overlap detection in both modes. Misuse (unknown handles, a buffer of another
//! session, destroying something locked or mapped, a session destroyed with objects left,
//! encoding into a locked buffer, locking output never encoded, a registration outside
//! device memory, a call without the session's context current) is counted.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{LazyLock, Mutex};

use crate::cuda::{self, MAX_ALLOC, MEMORY};
use crate::{fault, lifecycle, live_add, lock, misuse, new_handle};

const SUCCESS: u32 = 0;
const UNSUPPORTED_DEVICE: u32 = 2;
const INVALID_DEVICE: u32 = 4;
const INVALID_PTR: u32 = 6;
const INVALID_PARAM: u32 = 8;
const INVALID_CALL: u32 = 9;
const OUT_OF_MEMORY: u32 = 10;
const NOT_INITIALIZED: u32 = 11;
const LOCK_BUSY: u32 = 13;
const INVALID_VERSION: u32 = 15;
const GENERIC: u32 = 20;
const UNIMPLEMENTED: u32 = 22;
const RESOURCE_NOT_REGISTERED: u32 = 24;
const RESOURCE_NOT_MAPPED: u32 = 25;

// Struct versions of nvEncodeAPI.h 12.1 (`NVENCAPI_STRUCT_VERSION(n) | flags`).
const OPEN_SESSION_VER: u32 = 0x7101_000c;
const CAPS_PARAM_VER: u32 = 0x7101_000c;
const PRESET_CONFIG_VER: u32 = 0xf104_000c;
const CONFIG_VER: u32 = 0xf108_000c;
const RC_PARAMS_VER: u32 = 0x7101_000c;
const INITIALIZE_VER: u32 = 0xf106_000c;
const CREATE_INPUT_VER: u32 = 0x7101_000c;
const CREATE_BITSTREAM_VER: u32 = 0x7101_000c;
const LOCK_INPUT_VER: u32 = 0x7101_000c;
const PIC_PARAMS_VER: u32 = 0xf106_000c;
const LOCK_BITSTREAM_VER: u32 = 0xf101_000c;
const SEQUENCE_PAYLOAD_VER: u32 = 0x7101_000c;
const REGISTER_VER: u32 = 0x7104_000c;
const MAP_VER: u32 = 0x7104_000c;

/// `NV_ENC_DEVICE_TYPE_CUDA`.
const DEVICE_TYPE_CUDA: u32 = 1;
/// `NV_ENC_INPUT_RESOURCE_TYPE_CUDADEVICEPTR`.
const RESOURCE_CUDA_DEVICE_PTR: u32 = 1;
/// `NV_ENC_INPUT_IMAGE`.
const USAGE_INPUT_IMAGE: u32 = 0;
/// `NV_ENC_PIC_FLAG_FORCEIDR`, `NV_ENC_PIC_FLAG_EOS`.
const FLAG_FORCE_IDR: u32 = 0x2;
const FLAG_EOS: u32 = 0x8;
/// `NV_ENC_PIC_TYPE_P`, `NV_ENC_PIC_TYPE_IDR`.
const PIC_TYPE_P: u32 = 0;
const PIC_TYPE_IDR: u32 = 3;
/// `NV_ENC_PIC_STRUCT_FRAME`.
const PIC_STRUCT_FRAME: u32 = 1;

// `NV_ENC_BUFFER_FORMAT` values the stand-in accepts.
const FORMAT_NV12: u32 = 0x1;
const FORMAT_YUV444: u32 = 0x1000;
const FORMAT_P010: u32 = 0x1_0000;
const FORMAT_ARGB: u32 = 0x100_0000;
const FORMATS: [u32; 4] = [FORMAT_NV12, FORMAT_P010, FORMAT_YUV444, FORMAT_ARGB];

/// Largest encode size (caps WIDTH_MAX / HEIGHT_MAX).
const MAX_SIZE: u32 = 8192;
/// Bytes after every input surface that must stay untouched.
const GUARD: usize = 4096;
const CANARY: u8 = 0xa5;
/// Largest bitstream the stand-in really backs with memory; a larger size override is
/// reported with only the real bytes behind it (a lying driver).
const MAX_BACKED_BITSTREAM: usize = 16 << 20;

/// `GUID`, passed by value as in the header.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Guid {
    data1: u32,
    data2: u16,
    data3: u16,
    data4: [u8; 8],
}

const fn guid(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> Guid {
    Guid {
        data1,
        data2,
        data3,
        data4,
    }
}

const CODECS: [Guid; 2] = [
    // NV_ENC_CODEC_H264_GUID
    guid(
        0x6bc8_2762,
        0x4e63,
        0x4ca4,
        [0xaa, 0x85, 0x1e, 0x50, 0xf3, 0x21, 0xf6, 0xbf],
    ),
    // NV_ENC_CODEC_HEVC_GUID
    guid(
        0x790c_dc88,
        0x4522,
        0x4d7b,
        [0x94, 0x25, 0xbd, 0xa9, 0x97, 0x5f, 0x76, 0x03],
    ),
];

const PRESETS: [Guid; 7] = [
    guid(
        0xfc0a_8d3e,
        0x45f8,
        0x4cf8,
        [0x80, 0xc7, 0x29, 0x88, 0x71, 0x59, 0x0e, 0xbf],
    ),
    guid(
        0xf581_cfb8,
        0x88d6,
        0x4381,
        [0x93, 0xf0, 0xdf, 0x13, 0xf9, 0xc2, 0x7d, 0xab],
    ),
    guid(
        0x3685_0110,
        0x3a07,
        0x441f,
        [0x94, 0xd5, 0x36, 0x70, 0x63, 0x1f, 0x91, 0xf6],
    ),
    guid(
        0x90a7_b826,
        0xdf06,
        0x4862,
        [0xb9, 0xd2, 0xcd, 0x6d, 0x73, 0xa0, 0x86, 0x81],
    ),
    guid(
        0x21c6_e6b4,
        0x297a,
        0x4cba,
        [0x99, 0x8f, 0xb6, 0xcb, 0xde, 0x72, 0xad, 0xe3],
    ),
    guid(
        0x8e75_c279,
        0x6299,
        0x4ab6,
        [0x83, 0x02, 0x0b, 0x21, 0x5a, 0x33, 0x5c, 0xf5],
    ),
    guid(
        0x8484_8c12,
        0x6f71,
        0x4c13,
        [0x93, 0x1b, 0x53, 0xe2, 0x83, 0xf5, 0x79, 0x74],
    ),
];

// ---------------------------------------------------------------------------------------
// Settings (control API)

static WORKING: AtomicBool = AtomicBool::new(false);
/// Pitch `NvEncLockInputBuffer` reports; 0 = the row rounded up to 256.
static PITCH: AtomicU32 = AtomicU32::new(0);
/// Size `NvEncLockBitstream` reports; `u64::MAX` = the real size.
static BITSTREAM_SIZE: AtomicU64 = AtomicU64::new(u64::MAX);

pub(crate) fn set_working(on: bool) {
    WORKING.store(on, SeqCst);
}

pub(crate) fn set_pitch(pitch: u32) {
    PITCH.store(pitch, SeqCst);
}

pub(crate) fn set_bitstream_size(size: u64) {
    BITSTREAM_SIZE.store(size, SeqCst);
}

pub(crate) fn reset() {
    set_working(false);
    set_pitch(0);
    set_bitstream_size(u64::MAX);
}

// ---------------------------------------------------------------------------------------
// Objects

struct Session {
    /// The CUDA context the session was opened on.
    context: usize,
    /// `(width, height, format)` once initialized.
    init: Option<(u32, u32, u32)>,
    frames: u64,
}

struct InputBuffer {
    encoder: usize,
    row: usize,
    rows: usize,
    /// Surface bytes, then `GUARD` canary bytes.
    mem: Box<[u8]>,
    locked: bool,
}

struct Output {
    payload: Vec<u8>,
    timestamp: u64,
    picture_type: u32,
    frame_idx: u32,
}

struct BitstreamBuffer {
    encoder: usize,
    output: Option<Output>,
    /// What a lock hands out; stable while locked.
    locked: Option<Vec<u8>>,
}

struct Registration {
    encoder: usize,
    ptr: u64,
    pitch: usize,
    row: usize,
    rows: usize,
    format: u32,
    mapped: Option<usize>,
}

#[derive(Default)]
struct Objects {
    sessions: HashMap<usize, Session>,
    inputs: HashMap<usize, InputBuffer>,
    bitstreams: HashMap<usize, BitstreamBuffer>,
    registrations: HashMap<usize, Registration>,
    /// Mapped input handle -> registration.
    mapped: HashMap<usize, usize>,
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

macro_rules! injected {
    ($call:expr) => {
        if let Some(status) = fault($call) {
            return status;
        }
    };
}

/// Reads a field of a C struct at a byte offset.
///
/// # Safety
/// `base + off` must be readable for a `T` (the caller passes a struct of the documented
/// layout).
unsafe fn rd<T: Copy>(base: *const c_void, off: usize) -> T {
    // SAFETY: guaranteed by the caller.
    unsafe { base.cast::<u8>().add(off).cast::<T>().read_unaligned() }
}

/// Writes a field of a C struct at a byte offset.
///
/// # Safety
/// `base + off` must be writable for a `T`.
unsafe fn wr<T>(base: *mut c_void, off: usize, value: T) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        base.cast::<u8>()
            .add(off)
            .cast::<T>()
            .write_unaligned(value)
    }
}

/// `(row bytes, rows)` of a surface of `format`, or `None` for a format not accepted.
fn surface(format: u32, width: u32, height: u32) -> Option<(usize, usize)> {
    let (w, h) = (width as usize, height as usize);
    match format {
        FORMAT_NV12 => Some((w, h + h.div_ceil(2))),
        FORMAT_P010 => Some((2 * w, h + h.div_ceil(2))),
        FORMAT_YUV444 => Some((w, 3 * h)),
        FORMAT_ARGB => Some((4 * w, h)),
        _ => None,
    }
}

/// Bytes of a surface at `pitch`: every row but the last at `pitch`, the last one `row`.
fn span(pitch: usize, row: usize, rows: usize) -> Option<usize> {
    pitch.checked_mul(rows.checked_sub(1)?)?.checked_add(row)
}

fn default_pitch(row: usize) -> usize {
    row.div_ceil(256) * 256
}

/// Host memory for an input surface at `pitch` with the canary guard after it.
fn input_block(pitch: usize, rows: usize) -> Option<Box<[u8]>> {
    let len = pitch.checked_mul(rows)?.checked_add(GUARD)?;
    let mut block = cuda::host_block(len)?;
    let start = block.len() - GUARD;
    block[start..].fill(CANARY);
    Some(block)
}

/// Whether `enc` is a live session (misuse otherwise).
fn known(objects: &Objects, call: &str, enc: *mut c_void) -> Result<(), u32> {
    if objects.sessions.contains_key(&(enc as usize)) {
        Ok(())
    } else {
        Err(misuse(&format!("{call}:unknown-encoder"), INVALID_PTR))
    }
}

/// Counts a call made without the session's CUDA context current (the crate promises to
/// make it current for every call on a session).
fn check_context(objects: &Objects, call: &str, enc: *mut c_void) {
    if let Some(session) = objects.sessions.get(&(enc as usize))
        && cuda::current() != Some(session.context)
    {
        misuse(&format!("{call}:no-context"), 0);
    }
}

// ---------------------------------------------------------------------------------------
// Entry points

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

extern "C" fn open_encode_session_ex(params: *mut c_void, encoder: *mut *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncOpenEncodeSessionEx");
    if encoder.is_null() || params.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: non-null out-pointer from the caller.
    unsafe { encoder.write(std::ptr::null_mut()) };
    if !WORKING.load(SeqCst) {
        return UNSUPPORTED_DEVICE;
    }
    // SAFETY: the caller passes a live NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS (1552 bytes).
    let (version, device_type, device, api) = unsafe {
        (
            rd::<u32>(params, 0),
            rd::<u32>(params, 4),
            rd::<usize>(params, 8),
            rd::<u32>(params, 24),
        )
    };
    if version != OPEN_SESSION_VER || api == 0 {
        return INVALID_VERSION;
    }
    if device_type != DEVICE_TYPE_CUDA {
        return INVALID_DEVICE;
    }
    if !cuda::is_context(device) {
        return misuse("nvEncOpenEncodeSessionEx:unknown-context", INVALID_DEVICE);
    }
    let handle = new_handle();
    lock(&OBJECTS).sessions.insert(
        handle,
        Session {
            context: device,
            init: None,
            frames: 0,
        },
    );
    live_add("encoder", 1);
    // SAFETY: non-null out-pointer from the caller.
    unsafe { encoder.write(handle as *mut c_void) };
    SUCCESS
}

/// Writes up to `size` items of `list` to `out` and their count to `count`.
///
/// # Safety
/// `out` must hold `size` items (or be null with `size == 0`); `count` must be writable.
unsafe fn write_list<T: Copy>(list: &[T], out: *mut T, size: u32, count: *mut u32) -> u32 {
    if count.is_null() || (out.is_null() && size > 0) {
        return INVALID_PTR;
    }
    let n = list.len().min(size as usize);
    for (i, item) in list.iter().take(n).enumerate() {
        // SAFETY: `i < size`, the room the caller declared.
        unsafe { out.add(i).write(*item) };
    }
    // SAFETY: checked non-null above.
    unsafe { count.write(n as u32) };
    SUCCESS
}

fn write_count(count: *mut u32, n: usize) -> u32 {
    if count.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: non-null out-pointer from the caller.
    unsafe { count.write(n as u32) };
    SUCCESS
}

extern "C" fn get_encode_guid_count(enc: *mut c_void, count: *mut u32) -> u32 {
    injected!("nvEncGetEncodeGUIDCount");
    if let Err(status) = known(&lock(&OBJECTS), "nvEncGetEncodeGUIDCount", enc) {
        return status;
    }
    write_count(count, CODECS.len())
}

extern "C" fn get_encode_guids(
    enc: *mut c_void,
    out: *mut Guid,
    size: u32,
    count: *mut u32,
) -> u32 {
    injected!("nvEncGetEncodeGUIDs");
    if let Err(status) = known(&lock(&OBJECTS), "nvEncGetEncodeGUIDs", enc) {
        return status;
    }
    // SAFETY: the caller passes room for `size` GUIDs.
    unsafe { write_list(&CODECS, out, size, count) }
}

extern "C" fn get_preset_count(enc: *mut c_void, codec: Guid, count: *mut u32) -> u32 {
    injected!("nvEncGetEncodePresetCount");
    if let Err(status) = known(&lock(&OBJECTS), "nvEncGetEncodePresetCount", enc) {
        return status;
    }
    if !CODECS.contains(&codec) {
        return INVALID_PARAM;
    }
    write_count(count, PRESETS.len())
}

extern "C" fn get_preset_guids(
    enc: *mut c_void,
    codec: Guid,
    out: *mut Guid,
    size: u32,
    count: *mut u32,
) -> u32 {
    injected!("nvEncGetEncodePresetGUIDs");
    if let Err(status) = known(&lock(&OBJECTS), "nvEncGetEncodePresetGUIDs", enc) {
        return status;
    }
    if !CODECS.contains(&codec) {
        return INVALID_PARAM;
    }
    // SAFETY: the caller passes room for `size` GUIDs.
    unsafe { write_list(&PRESETS, out, size, count) }
}

extern "C" fn get_input_format_count(enc: *mut c_void, codec: Guid, count: *mut u32) -> u32 {
    injected!("nvEncGetInputFormatCount");
    if let Err(status) = known(&lock(&OBJECTS), "nvEncGetInputFormatCount", enc) {
        return status;
    }
    if !CODECS.contains(&codec) {
        return INVALID_PARAM;
    }
    write_count(count, FORMATS.len())
}

extern "C" fn get_input_formats(
    enc: *mut c_void,
    codec: Guid,
    out: *mut u32,
    size: u32,
    count: *mut u32,
) -> u32 {
    injected!("nvEncGetInputFormats");
    if let Err(status) = known(&lock(&OBJECTS), "nvEncGetInputFormats", enc) {
        return status;
    }
    if !CODECS.contains(&codec) {
        return INVALID_PARAM;
    }
    // SAFETY: the caller passes room for `size` formats.
    unsafe { write_list(&FORMATS, out, size, count) }
}

extern "C" fn get_encode_caps(
    enc: *mut c_void,
    codec: Guid,
    param: *mut c_void,
    value: *mut c_int,
) -> u32 {
    injected!("nvEncGetEncodeCaps");
    if let Err(status) = known(&lock(&OBJECTS), "nvEncGetEncodeCaps", enc) {
        return status;
    }
    if param.is_null() || value.is_null() {
        return INVALID_PTR;
    }
    if !CODECS.contains(&codec) {
        return INVALID_PARAM;
    }
    // SAFETY: the caller passes a live NV_ENC_CAPS_PARAM (256 bytes).
    let (version, cap) = unsafe { (rd::<u32>(param, 0), rd::<u32>(param, 4)) };
    if version != CAPS_PARAM_VER {
        return INVALID_VERSION;
    }
    let answer: c_int = match cap {
        0 => 4,                   // NUM_MAX_BFRAMES
        16 | 17 => MAX_SIZE as _, // WIDTH_MAX, HEIGHT_MAX
        _ => 1,                   // every feature (YUV444, LOSSLESS, 10BIT, ...) supported
    };
    // SAFETY: checked non-null above.
    unsafe { value.write(answer) };
    SUCCESS
}

extern "C" fn get_preset_config_ex(
    enc: *mut c_void,
    codec: Guid,
    preset: Guid,
    _tuning: u32,
    config: *mut c_void,
) -> u32 {
    injected!("nvEncGetEncodePresetConfigEx");
    if let Err(status) = known(&lock(&OBJECTS), "nvEncGetEncodePresetConfigEx", enc) {
        return status;
    }
    if config.is_null() {
        return INVALID_PTR;
    }
    if !CODECS.contains(&codec) || !PRESETS.contains(&preset) {
        return INVALID_PARAM;
    }
    // SAFETY: the caller passes a live NV_ENC_PRESET_CONFIG (5128 bytes): version at 0,
    // presetCfg (NV_ENC_CONFIG, 3584 bytes) at 8.
    unsafe {
        if rd::<u32>(config, 0) != PRESET_CONFIG_VER || rd::<u32>(config, 8) != CONFIG_VER {
            return INVALID_VERSION;
        }
        let cfg = config.cast::<u8>().add(8).cast::<c_void>();
        std::ptr::write_bytes(cfg.cast::<u8>().add(4), 0, 3584 - 4);
        wr::<u32>(cfg, 20, 250); // gopLength
        wr::<i32>(cfg, 24, 1); // frameIntervalP
        wr::<u32>(cfg, 32, 1); // frameFieldMode = FRAME
        wr::<u32>(cfg, 40, RC_PARAMS_VER); // rcParams.version
        wr::<u32>(cfg, 44, 1); // rcParams.rateControlMode = VBR
        wr::<u32>(cfg, 40 + 20, 5_000_000); // rcParams.averageBitRate
    }
    SUCCESS
}

extern "C" fn initialize_encoder(enc: *mut c_void, params: *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncInitializeEncoder");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = known(&objects, "nvEncInitializeEncoder", enc) {
        return status;
    }
    check_context(&objects, "nvEncInitializeEncoder", enc);
    if params.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: the caller passes a live NV_ENC_INITIALIZE_PARAMS (1808 bytes).
    let (version, codec, preset, width, height, config, format) = unsafe {
        (
            rd::<u32>(params, 0),
            rd::<Guid>(params, 4),
            rd::<Guid>(params, 20),
            rd::<u32>(params, 36),
            rd::<u32>(params, 40),
            rd::<*const c_void>(params, 88),
            rd::<u32>(params, 140),
        )
    };
    if version != INITIALIZE_VER {
        return INVALID_VERSION;
    }
    // SAFETY: a non-null encodeConfig points to a live NV_ENC_CONFIG.
    if config.is_null() || unsafe { rd::<u32>(config, 0) } != CONFIG_VER {
        return INVALID_PARAM;
    }
    let valid = CODECS.contains(&codec)
        && PRESETS.contains(&preset)
        && (16..=MAX_SIZE).contains(&width)
        && (16..=MAX_SIZE).contains(&height)
        && FORMATS.contains(&format);
    if !valid {
        return INVALID_PARAM;
    }
    let Some(session) = objects.sessions.get_mut(&(enc as usize)) else {
        return INVALID_PTR;
    };
    if session.init.is_some() {
        return misuse("nvEncInitializeEncoder:twice", INVALID_CALL);
    }
    session.init = Some((width, height, format));
    SUCCESS
}

extern "C" fn destroy_encoder(enc: *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncDestroyEncoder");
    let mut objects = lock(&OBJECTS);
    let Some(session) = objects.sessions.remove(&(enc as usize)) else {
        return misuse("nvEncDestroyEncoder:unknown", INVALID_PTR);
    };
    let enc = enc as usize;
    let left = objects.inputs.values().filter(|b| b.encoder == enc).count()
        + objects
            .bitstreams
            .values()
            .filter(|b| b.encoder == enc)
            .count()
        + objects
            .registrations
            .values()
            .filter(|r| r.encoder == enc)
            .count();
    if left > 0 {
        // Left in place (and counted live): the client leaked them.
        misuse("nvEncDestroyEncoder:objects-left", 0);
    }
    if cuda::current() != Some(session.context) {
        misuse("nvEncDestroyEncoder:no-context", 0);
    }
    live_add("encoder", -1);
    SUCCESS
}

/// The initialized size and format of `enc`, or the status to return.
fn initialized(objects: &Objects, call: &str, enc: *mut c_void) -> Result<(u32, u32, u32), u32> {
    known(objects, call, enc)?;
    check_context(objects, call, enc);
    objects
        .sessions
        .get(&(enc as usize))
        .and_then(|s| s.init)
        .ok_or(NOT_INITIALIZED)
}

extern "C" fn create_input_buffer(enc: *mut c_void, params: *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncCreateInputBuffer");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = initialized(&objects, "nvEncCreateInputBuffer", enc) {
        return status;
    }
    if params.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: the caller passes a live NV_ENC_CREATE_INPUT_BUFFER (776 bytes).
    let (version, width, height, format) = unsafe {
        (
            rd::<u32>(params, 0),
            rd::<u32>(params, 4),
            rd::<u32>(params, 8),
            rd::<u32>(params, 16),
        )
    };
    if version != CREATE_INPUT_VER {
        return INVALID_VERSION;
    }
    if width == 0 || height == 0 || width > MAX_SIZE || height > MAX_SIZE {
        return INVALID_PARAM;
    }
    let Some((row, rows)) = surface(format, width, height) else {
        return INVALID_PARAM;
    };
    let Some(mem) = input_block(default_pitch(row), rows) else {
        return OUT_OF_MEMORY;
    };
    let handle = new_handle();
    objects.inputs.insert(
        handle,
        InputBuffer {
            encoder: enc as usize,
            row,
            rows,
            mem,
            locked: false,
        },
    );
    live_add("enc_buffer", 1);
    // SAFETY: as above; inputBuffer is the out-field at 24.
    unsafe { wr::<*mut c_void>(params, 24, handle as *mut c_void) };
    SUCCESS
}

extern "C" fn destroy_input_buffer(enc: *mut c_void, buffer: *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncDestroyInputBuffer");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = known(&objects, "nvEncDestroyInputBuffer", enc) {
        return status;
    }
    check_context(&objects, "nvEncDestroyInputBuffer", enc);
    match objects.inputs.get(&(buffer as usize)) {
        Some(b) if b.encoder != enc as usize => {
            misuse("nvEncDestroyInputBuffer:other-encoder", INVALID_PARAM)
        }
        Some(b) if b.locked => misuse("nvEncDestroyInputBuffer:locked", LOCK_BUSY),
        Some(_) => {
            objects.inputs.remove(&(buffer as usize));
            live_add("enc_buffer", -1);
            SUCCESS
        }
        None => misuse("nvEncDestroyInputBuffer:unknown", INVALID_PTR),
    }
}

extern "C" fn lock_input_buffer(enc: *mut c_void, params: *mut c_void) -> u32 {
    injected!("nvEncLockInputBuffer");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = initialized(&objects, "nvEncLockInputBuffer", enc) {
        return status;
    }
    if params.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: the caller passes a live NV_ENC_LOCK_INPUT_BUFFER (1544 bytes).
    let (version, buffer) = unsafe { (rd::<u32>(params, 0), rd::<usize>(params, 8)) };
    if version != LOCK_INPUT_VER {
        return INVALID_VERSION;
    }
    let Some(b) = objects.inputs.get_mut(&buffer) else {
        return misuse("nvEncLockInputBuffer:unknown", INVALID_PTR);
    };
    if b.encoder != enc as usize {
        return misuse("nvEncLockInputBuffer:other-encoder", INVALID_PARAM);
    }
    if b.locked {
        return misuse("nvEncLockInputBuffer:locked", LOCK_BUSY);
    }
    let pitch = match PITCH.load(SeqCst) {
        0 => default_pitch(b.row),
        p => p as usize,
    };
    // A driver reporting a larger pitch has the memory for it: grow when that is possible;
    // an absurd pitch is reported over the memory there is (a lying driver).
    let needed = pitch.checked_mul(b.rows).and_then(|n| n.checked_add(GUARD));
    if let Some(needed) = needed
        && needed > b.mem.len()
        && needed <= MAX_ALLOC
        && let Some(mem) = input_block(pitch, b.rows)
    {
        b.mem = mem;
    }
    b.locked = true;
    let data = b.mem.as_mut_ptr();
    // SAFETY: as above; bufferDataPtr at 16 and pitch at 24 are out-fields.
    unsafe {
        wr::<*mut u8>(params, 16, data);
        wr::<u32>(params, 24, pitch as u32);
    }
    SUCCESS
}

extern "C" fn unlock_input_buffer(enc: *mut c_void, buffer: *mut c_void) -> u32 {
    injected!("nvEncUnlockInputBuffer");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = known(&objects, "nvEncUnlockInputBuffer", enc) {
        return status;
    }
    let Some(b) = objects.inputs.get_mut(&(buffer as usize)) else {
        return misuse("nvEncUnlockInputBuffer:unknown", INVALID_PTR);
    };
    if b.encoder != enc as usize {
        return misuse("nvEncUnlockInputBuffer:other-encoder", INVALID_PARAM);
    }
    if !b.locked {
        return misuse("nvEncUnlockInputBuffer:not-locked", INVALID_CALL);
    }
    b.locked = false;
    let start = b.mem.len() - GUARD;
    if b.mem[start..].iter().any(|&byte| byte != CANARY) {
        b.mem[start..].fill(CANARY);
        misuse("nvEncUnlockInputBuffer:overrun", 0);
    }
    SUCCESS
}

extern "C" fn create_bitstream_buffer(enc: *mut c_void, params: *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncCreateBitstreamBuffer");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = initialized(&objects, "nvEncCreateBitstreamBuffer", enc) {
        return status;
    }
    if params.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: the caller passes a live NV_ENC_CREATE_BITSTREAM_BUFFER (776 bytes).
    if unsafe { rd::<u32>(params, 0) } != CREATE_BITSTREAM_VER {
        return INVALID_VERSION;
    }
    let handle = new_handle();
    objects.bitstreams.insert(
        handle,
        BitstreamBuffer {
            encoder: enc as usize,
            output: None,
            locked: None,
        },
    );
    live_add("enc_buffer", 1);
    // SAFETY: as above; bitstreamBuffer at 16 is the out-field.
    unsafe { wr::<*mut c_void>(params, 16, handle as *mut c_void) };
    SUCCESS
}

extern "C" fn destroy_bitstream_buffer(enc: *mut c_void, buffer: *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncDestroyBitstreamBuffer");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = known(&objects, "nvEncDestroyBitstreamBuffer", enc) {
        return status;
    }
    check_context(&objects, "nvEncDestroyBitstreamBuffer", enc);
    match objects.bitstreams.get(&(buffer as usize)) {
        Some(b) if b.encoder != enc as usize => {
            misuse("nvEncDestroyBitstreamBuffer:other-encoder", INVALID_PARAM)
        }
        Some(b) if b.locked.is_some() => misuse("nvEncDestroyBitstreamBuffer:locked", LOCK_BUSY),
        Some(_) => {
            objects.bitstreams.remove(&(buffer as usize));
            live_add("enc_buffer", -1);
            SUCCESS
        }
        None => misuse("nvEncDestroyBitstreamBuffer:unknown", INVALID_PTR),
    }
}

/// Three sampled bytes of an input surface: its first byte, the first byte of its last
/// luma row and the first byte after the luma plane (chroma, where there is one).
///
/// # Safety
/// `base` must be readable for `span(pitch, row, rows)` bytes.
unsafe fn sample(base: *const u8, pitch: usize, rows: usize, luma_rows: usize) -> [u8; 3] {
    let at = |row: usize| {
        // SAFETY: every sampled row is below `rows`, inside the span (caller's guarantee).
        unsafe { base.add(row.min(rows - 1) * pitch).read() }
    };
    [at(0), at(luma_rows.saturating_sub(1)), at(luma_rows)]
}

extern "C" fn encode_picture(enc: *mut c_void, params: *mut c_void) -> u32 {
    injected!("nvEncEncodePicture");
    let mut objects = lock(&OBJECTS);
    let (width, height, format) = match initialized(&objects, "nvEncEncodePicture", enc) {
        Ok(init) => init,
        Err(status) => return status,
    };
    if params.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: the caller passes a live NV_ENC_PIC_PARAMS (3360 bytes).
    let (version, in_w, in_h, in_pitch, flags, frame_idx, timestamp, input, output, fmt, pic) = unsafe {
        (
            rd::<u32>(params, 0),
            rd::<u32>(params, 4),
            rd::<u32>(params, 8),
            rd::<u32>(params, 12),
            rd::<u32>(params, 16),
            rd::<u32>(params, 20),
            rd::<u64>(params, 24),
            rd::<usize>(params, 40),
            rd::<usize>(params, 48),
            rd::<u32>(params, 64),
            rd::<u32>(params, 68),
        )
    };
    if version != PIC_PARAMS_VER {
        return INVALID_VERSION;
    }
    if pic != PIC_STRUCT_FRAME {
        return INVALID_PARAM;
    }
    if flags & FLAG_EOS != 0 {
        // Synchronous mode without reordering: every output is ready already.
        return SUCCESS;
    }
    if (in_w, in_h, fmt) != (width, height, format) {
        return INVALID_PARAM;
    }
    let Some((row, rows)) = surface(format, width, height) else {
        return INVALID_PARAM;
    };
    let luma_rows = height as usize;
    let pitch = in_pitch as usize;
    if pitch < row {
        return INVALID_PARAM;
    }
    let Some(needed) = span(pitch, row, rows) else {
        return INVALID_PARAM;
    };
    let me = enc as usize;
    let samples = if let Some(b) = objects.inputs.get(&input) {
        if b.encoder != me {
            return misuse("nvEncEncodePicture:input-of-other-encoder", INVALID_PARAM);
        }
        if b.locked {
            return misuse("nvEncEncodePicture:input-locked", LOCK_BUSY);
        }
        if needed > b.mem.len() - GUARD {
            return INVALID_PARAM;
        }
        // SAFETY: `needed` bytes lie inside the buffer (checked above).
        unsafe { sample(b.mem.as_ptr(), pitch, rows, luma_rows) }
    } else if let Some(&reg) = objects.mapped.get(&input) {
        let Some(r) = objects.registrations.get(&reg) else {
            return misuse("nvEncEncodePicture:stale-mapping", RESOURCE_NOT_REGISTERED);
        };
        if r.encoder != me {
            return misuse("nvEncEncodePicture:input-of-other-encoder", INVALID_PARAM);
        }
        if pitch != r.pitch || r.format != format {
            return INVALID_PARAM;
        }
        let memory = lock(&MEMORY);
        if !memory.contains(r.ptr, needed) {
            return misuse("nvEncEncodePicture:freed-input", INVALID_PARAM);
        }
        // SAFETY: the range lies inside a live block, kept alive by holding the lock.
        unsafe { sample(r.ptr as *const u8, pitch, rows, luma_rows) }
    } else {
        return misuse("nvEncEncodePicture:unknown-input", INVALID_PTR);
    };
    let Some(session) = objects.sessions.get_mut(&me) else {
        return INVALID_PTR;
    };
    let idr = session.frames == 0 || flags & FLAG_FORCE_IDR != 0;
    session.frames += 1;
    let Some(out) = objects.bitstreams.get_mut(&output) else {
        return misuse("nvEncEncodePicture:unknown-output", INVALID_PTR);
    };
    if out.encoder != me {
        return misuse("nvEncEncodePicture:output-of-other-encoder", INVALID_PARAM);
    }
    if out.locked.is_some() {
        return misuse("nvEncEncodePicture:output-locked", LOCK_BUSY);
    }
    if out.output.is_some() {
        // A previous picture's output was never read: the client lost it.
        misuse("nvEncEncodePicture:output-unread", 0);
    }
    let nal = if idr { 0x65 } else { 0x41 };
    out.output = Some(Output {
        payload: vec![0, 0, 0, 1, nal, samples[0], samples[1], samples[2]],
        timestamp,
        picture_type: if idr { PIC_TYPE_IDR } else { PIC_TYPE_P },
        frame_idx,
    });
    SUCCESS
}

extern "C" fn lock_bitstream(enc: *mut c_void, params: *mut c_void) -> u32 {
    injected!("nvEncLockBitstream");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = initialized(&objects, "nvEncLockBitstream", enc) {
        return status;
    }
    if params.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: the caller passes a live NV_ENC_LOCK_BITSTREAM (1552 bytes).
    let (version, buffer) = unsafe { (rd::<u32>(params, 0), rd::<usize>(params, 8)) };
    if version != LOCK_BITSTREAM_VER {
        return INVALID_VERSION;
    }
    let Some(b) = objects.bitstreams.get_mut(&buffer) else {
        return misuse("nvEncLockBitstream:unknown", INVALID_PTR);
    };
    if b.encoder != enc as usize {
        return misuse("nvEncLockBitstream:other-encoder", INVALID_PARAM);
    }
    if b.locked.is_some() {
        return misuse("nvEncLockBitstream:locked", LOCK_BUSY);
    }
    let Some(output) = &b.output else {
        return misuse("nvEncLockBitstream:not-encoded", INVALID_CALL);
    };
    let (reported, mut data) = match BITSTREAM_SIZE.load(SeqCst) {
        u64::MAX => (output.payload.len() as u32, output.payload.clone()),
        size => {
            // The field is 32 bits: larger sizes saturate.
            let reported = u32::try_from(size).unwrap_or(u32::MAX);
            let mut data = output.payload.clone();
            if (reported as usize) <= MAX_BACKED_BITSTREAM {
                data.resize(reported as usize, 0);
            }
            (reported, data)
        }
    };
    data.shrink_to_fit();
    let (ptr, timestamp, picture_type, frame_idx) = (
        data.as_ptr(),
        output.timestamp,
        output.picture_type,
        output.frame_idx,
    );
    b.locked = Some(data);
    // SAFETY: as above; the out-fields are frameIdx (24), bitstreamSizeInBytes (36),
    // outputTimeStamp (40), bitstreamBufferPtr (56), pictureType (64), pictureStruct (68).
    unsafe {
        wr::<u32>(params, 24, frame_idx);
        wr::<u32>(params, 36, reported);
        wr::<u64>(params, 40, timestamp);
        wr::<*const u8>(params, 56, ptr);
        wr::<u32>(params, 64, picture_type);
        wr::<u32>(params, 68, PIC_STRUCT_FRAME);
    }
    SUCCESS
}

extern "C" fn unlock_bitstream(enc: *mut c_void, buffer: *mut c_void) -> u32 {
    injected!("nvEncUnlockBitstream");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = known(&objects, "nvEncUnlockBitstream", enc) {
        return status;
    }
    let Some(b) = objects.bitstreams.get_mut(&(buffer as usize)) else {
        return misuse("nvEncUnlockBitstream:unknown", INVALID_PTR);
    };
    if b.encoder != enc as usize {
        return misuse("nvEncUnlockBitstream:other-encoder", INVALID_PARAM);
    }
    if b.locked.take().is_none() {
        return misuse("nvEncUnlockBitstream:not-locked", INVALID_CALL);
    }
    b.output = None;
    SUCCESS
}

extern "C" fn get_sequence_params(enc: *mut c_void, params: *mut c_void) -> u32 {
    injected!("nvEncGetSequenceParams");
    let objects = lock(&OBJECTS);
    if let Err(status) = initialized(&objects, "nvEncGetSequenceParams", enc) {
        return status;
    }
    if params.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: the caller passes a live NV_ENC_SEQUENCE_PARAM_PAYLOAD (1544 bytes).
    let (version, size, out, written) = unsafe {
        (
            rd::<u32>(params, 0),
            rd::<u32>(params, 4),
            rd::<*mut u8>(params, 16),
            rd::<*mut u32>(params, 24),
        )
    };
    if version != SEQUENCE_PAYLOAD_VER {
        return INVALID_VERSION;
    }
    const HEADERS: [u8; 16] = [
        0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0, 0, 0, 1, 0x68, 0xee, 0x3c, 0x80,
    ];
    if out.is_null() || written.is_null() {
        return INVALID_PTR;
    }
    if (size as usize) < HEADERS.len() {
        return INVALID_PARAM;
    }
    // SAFETY: the caller's buffer holds `size` bytes; `written` is a live u32.
    unsafe {
        std::ptr::copy_nonoverlapping(HEADERS.as_ptr(), out, HEADERS.len());
        written.write(HEADERS.len() as u32);
    }
    SUCCESS
}

extern "C" fn register_resource(enc: *mut c_void, params: *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncRegisterResource");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = initialized(&objects, "nvEncRegisterResource", enc) {
        return status;
    }
    if params.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: the caller passes a live NV_ENC_REGISTER_RESOURCE (1536 bytes).
    let (version, kind, width, height, pitch, ptr, format, usage) = unsafe {
        (
            rd::<u32>(params, 0),
            rd::<u32>(params, 4),
            rd::<u32>(params, 8),
            rd::<u32>(params, 12),
            rd::<u32>(params, 16),
            rd::<u64>(params, 24),
            rd::<u32>(params, 40),
            rd::<u32>(params, 44),
        )
    };
    if version != REGISTER_VER {
        return INVALID_VERSION;
    }
    if kind != RESOURCE_CUDA_DEVICE_PTR || usage != USAGE_INPUT_IMAGE {
        return INVALID_PARAM;
    }
    let Some((row, rows)) = surface(format, width, height) else {
        return INVALID_PARAM;
    };
    let pitch = pitch as usize;
    if width == 0 || height == 0 || pitch < row {
        return INVALID_PARAM;
    }
    let Some(needed) = span(pitch, row, rows) else {
        return INVALID_PARAM;
    };
    if !lock(&MEMORY).contains(ptr, needed) {
        return misuse("nvEncRegisterResource:outside-device-memory", INVALID_PARAM);
    }
    let handle = new_handle();
    objects.registrations.insert(
        handle,
        Registration {
            encoder: enc as usize,
            ptr,
            pitch,
            row,
            rows,
            format,
            mapped: None,
        },
    );
    live_add("registration", 1);
    // SAFETY: as above; registeredResource at 32 is the out-field.
    unsafe { wr::<*mut c_void>(params, 32, handle as *mut c_void) };
    SUCCESS
}

extern "C" fn unregister_resource(enc: *mut c_void, registered: *mut c_void) -> u32 {
    let _life = lifecycle_start!("nvEncUnregisterResource");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = known(&objects, "nvEncUnregisterResource", enc) {
        return status;
    }
    check_context(&objects, "nvEncUnregisterResource", enc);
    match objects.registrations.get(&(registered as usize)) {
        Some(r) if r.encoder != enc as usize => {
            misuse("nvEncUnregisterResource:other-encoder", INVALID_PARAM)
        }
        Some(r) if r.mapped.is_some() => misuse("nvEncUnregisterResource:mapped", INVALID_CALL),
        Some(r) => {
            // Like a use-after-free on a GPU: the memory must outlive its registration.
            if !lock(&MEMORY).contains(r.ptr, span(r.pitch, r.row, r.rows).unwrap_or(1)) {
                misuse("nvEncUnregisterResource:memory-freed-first", 0);
            }
            objects.registrations.remove(&(registered as usize));
            live_add("registration", -1);
            SUCCESS
        }
        None => misuse("nvEncUnregisterResource:unknown", INVALID_PTR),
    }
}

extern "C" fn map_input_resource(enc: *mut c_void, params: *mut c_void) -> u32 {
    injected!("nvEncMapInputResource");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = initialized(&objects, "nvEncMapInputResource", enc) {
        return status;
    }
    if params.is_null() {
        return INVALID_PTR;
    }
    // SAFETY: the caller passes a live NV_ENC_MAP_INPUT_RESOURCE (1544 bytes).
    let (version, registered) = unsafe { (rd::<u32>(params, 0), rd::<usize>(params, 16)) };
    if version != MAP_VER {
        return INVALID_VERSION;
    }
    let Some(r) = objects.registrations.get_mut(&registered) else {
        return misuse("nvEncMapInputResource:unknown", RESOURCE_NOT_REGISTERED);
    };
    if r.encoder != enc as usize {
        return misuse("nvEncMapInputResource:other-encoder", INVALID_PARAM);
    }
    if r.mapped.is_some() {
        return misuse("nvEncMapInputResource:mapped", INVALID_CALL);
    }
    let handle = new_handle();
    r.mapped = Some(handle);
    let format = r.format;
    objects.mapped.insert(handle, registered);
    live_add("enc_mapped", 1);
    // SAFETY: as above; mappedResource (24) and mappedBufferFmt (32) are out-fields.
    unsafe {
        wr::<*mut c_void>(params, 24, handle as *mut c_void);
        wr::<u32>(params, 32, format);
    }
    SUCCESS
}

extern "C" fn unmap_input_resource(enc: *mut c_void, mapped: *mut c_void) -> u32 {
    injected!("nvEncUnmapInputResource");
    let mut objects = lock(&OBJECTS);
    if let Err(status) = known(&objects, "nvEncUnmapInputResource", enc) {
        return status;
    }
    let Some(&registered) = objects.mapped.get(&(mapped as usize)) else {
        return misuse("nvEncUnmapInputResource:unknown", RESOURCE_NOT_MAPPED);
    };
    match objects.registrations.get_mut(&registered) {
        Some(r) if r.encoder != enc as usize => {
            misuse("nvEncUnmapInputResource:other-encoder", INVALID_PARAM)
        }
        Some(r) => {
            r.mapped = None;
            objects.mapped.remove(&(mapped as usize));
            live_add("enc_mapped", -1);
            SUCCESS
        }
        None => misuse("nvEncUnmapInputResource:stale", RESOURCE_NOT_REGISTERED),
    }
}

extern "C" fn get_last_error_string(_encoder: *mut c_void) -> *const c_char {
    if WORKING.load(SeqCst) {
        c"stand-in NVENC".as_ptr()
    } else {
        c"stand-in NVENC: no encode engine".as_ptr()
    }
}

extern "C" fn unimplemented() -> u32 {
    UNIMPLEMENTED
}

/// Entries of `NV_ENCODE_API_FUNCTION_LIST` after `version` and `reserved` (SDK 12.1 order).
const ENTRIES: usize = 43;
const GET_ENCODE_GUID_COUNT: usize = 1;
const GET_ENCODE_GUIDS: usize = 4;
const GET_INPUT_FORMAT_COUNT: usize = 5;
const GET_INPUT_FORMATS: usize = 6;
const GET_ENCODE_CAPS: usize = 7;
const GET_PRESET_COUNT: usize = 8;
const GET_PRESET_GUIDS: usize = 9;
const INITIALIZE: usize = 11;
const CREATE_INPUT: usize = 12;
const DESTROY_INPUT: usize = 13;
const CREATE_BITSTREAM: usize = 14;
const DESTROY_BITSTREAM: usize = 15;
const ENCODE_PICTURE: usize = 16;
const LOCK_BITSTREAM: usize = 17;
const UNLOCK_BITSTREAM: usize = 18;
const LOCK_INPUT: usize = 19;
const UNLOCK_INPUT: usize = 20;
const GET_SEQUENCE_PARAMS: usize = 22;
const MAP_INPUT: usize = 25;
const UNMAP_INPUT: usize = 26;
const DESTROY_ENCODER: usize = 27;
const OPEN_SESSION_EX: usize = 29;
const REGISTER: usize = 30;
const UNREGISTER: usize = 31;
const RESERVED1: usize = 33;
const LAST_ERROR: usize = 37;
const GET_PRESET_CONFIG_EX: usize = 39;

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
    entries[GET_ENCODE_GUID_COUNT] = get_encode_guid_count as *const c_void;
    entries[GET_ENCODE_GUIDS] = get_encode_guids as *const c_void;
    entries[GET_INPUT_FORMAT_COUNT] = get_input_format_count as *const c_void;
    entries[GET_INPUT_FORMATS] = get_input_formats as *const c_void;
    entries[GET_ENCODE_CAPS] = get_encode_caps as *const c_void;
    entries[GET_PRESET_COUNT] = get_preset_count as *const c_void;
    entries[GET_PRESET_GUIDS] = get_preset_guids as *const c_void;
    entries[GET_PRESET_CONFIG_EX] = get_preset_config_ex as *const c_void;
    entries[INITIALIZE] = initialize_encoder as *const c_void;
    entries[CREATE_INPUT] = create_input_buffer as *const c_void;
    entries[DESTROY_INPUT] = destroy_input_buffer as *const c_void;
    entries[CREATE_BITSTREAM] = create_bitstream_buffer as *const c_void;
    entries[DESTROY_BITSTREAM] = destroy_bitstream_buffer as *const c_void;
    entries[ENCODE_PICTURE] = encode_picture as *const c_void;
    entries[LOCK_BITSTREAM] = lock_bitstream as *const c_void;
    entries[UNLOCK_BITSTREAM] = unlock_bitstream as *const c_void;
    entries[LOCK_INPUT] = lock_input_buffer as *const c_void;
    entries[UNLOCK_INPUT] = unlock_input_buffer as *const c_void;
    entries[GET_SEQUENCE_PARAMS] = get_sequence_params as *const c_void;
    entries[MAP_INPUT] = map_input_resource as *const c_void;
    entries[UNMAP_INPUT] = unmap_input_resource as *const c_void;
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
