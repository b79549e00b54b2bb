//! `libnvcuvid.so.1`: decoder caps, decoders, context locks and a parser that invents one
//! frame per packet.

use std::collections::HashMap;
use std::ffi::{c_int, c_uint, c_ulonglong, c_void};
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{LazyLock, Mutex};

use crate::cuda::{
    self, ILLEGAL_STATE, INVALID_CONTEXT, INVALID_HANDLE, INVALID_VALUE, MEMORY, NOT_PERMITTED,
    SUCCESS,
};
use crate::{fault, lifecycle, live_add, lock, misuse, new_handle};

const MAP_FAILED: u32 = 205;
const PKT_ENDOFSTREAM: u64 = 0x01;
const MAX_SIZE: u64 = 8192;
const MIN_WIDTH: u64 = 48;
const MIN_HEIGHT: u64 = 16;
/// Output surfaces a decoder may have.
const MAX_SURFACES: u64 = 64;
/// Decode surfaces a decoder may have: lenient (anything a CUVIDEOFORMAT can ask for), so
/// that capping the number is the client's job, as the crate promises.
const MAX_DECODE_SURFACES: u64 = 255;

/// Codecs the stand-in decodes: MPEG2, H264, HEVC, VP8, VP9 (not AV1).
fn codec_supported(codec: u32) -> bool {
    matches!(codec, 1 | 4 | 8 | 9 | 10)
}

// ---------------------------------------------------------------------------------------
// C structs (cuviddec.h / nvcuvid.h, Video Codec SDK 12.x); enums are plain u32.

/// `CUVIDDECODECAPS`.
#[repr(C)]
pub struct DecodeCaps {
    codec: u32,
    chroma_format: u32,
    bit_depth_minus8: u32,
    reserved1: [u32; 3],
    is_supported: u8,
    num_nvdecs: u8,
    output_format_mask: u16,
    max_width: u32,
    max_height: u32,
    max_mb_count: u32,
    min_width: u16,
    min_height: u16,
    histogram_supported: u8,
    counter_bit_depth: u8,
    max_histogram_bins: u16,
    reserved3: [u32; 10],
}
const _: () = assert!(std::mem::size_of::<DecodeCaps>() == 88);

#[repr(C)]
struct Rect16 {
    left: i16,
    top: i16,
    right: i16,
    bottom: i16,
}

/// `CUVIDDECODECREATEINFO`.
#[repr(C)]
pub struct DecodeCreateInfo {
    width: u64,
    height: u64,
    num_decode_surfaces: u64,
    codec: u32,
    chroma_format: u32,
    creation_flags: u64,
    bit_depth_minus8: u64,
    intra_decode_only: u64,
    max_width: u64,
    max_height: u64,
    reserved1: u64,
    display_area: Rect16,
    output_format: u32,
    deinterlace_mode: u32,
    target_width: u64,
    target_height: u64,
    num_output_surfaces: u64,
    vid_lock: *mut c_void,
    target_rect: Rect16,
    enable_histogram: u64,
    reserved2: [u64; 4],
}
const _: () = assert!(std::mem::size_of::<DecodeCreateInfo>() == 176);

/// `CUVIDRECONFIGUREDECODERINFO`.
#[repr(C)]
pub struct ReconfigureInfo {
    width: u32,
    height: u32,
    target_width: u32,
    target_height: u32,
    num_decode_surfaces: u32,
    reserved1: [u32; 12],
    display_area: Rect16,
    target_rect: Rect16,
    reserved2: [u32; 11],
}
const _: () = assert!(std::mem::size_of::<ReconfigureInfo>() == 128);

/// `CUVIDEOFORMAT`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VideoFormat {
    codec: u32,
    frame_rate_num: u32,
    frame_rate_den: u32,
    progressive_sequence: u8,
    bit_depth_luma_minus8: u8,
    bit_depth_chroma_minus8: u8,
    min_num_decode_surfaces: u8,
    coded_width: u32,
    coded_height: u32,
    display_left: i32,
    display_top: i32,
    display_right: i32,
    display_bottom: i32,
    chroma_format: u32,
    bitrate: u32,
    aspect_x: i32,
    aspect_y: i32,
    video_signal_description: [u8; 4],
    seqhdr_data_length: u32,
}
const _: () = assert!(std::mem::size_of::<VideoFormat>() == 64);

/// `CUVIDPARSERDISPINFO`.
#[repr(C)]
pub struct DispInfo {
    picture_index: c_int,
    progressive_frame: c_int,
    top_field_first: c_int,
    repeat_first_field: c_int,
    timestamp: i64,
}

/// `CUVIDPICPARAMS`: 4280 bytes; only the first fields are written.
#[repr(C, align(8))]
pub struct PicParams {
    pic_width_in_mbs: c_int,
    frame_height_in_mbs: c_int,
    curr_pic_idx: c_int,
    rest: [u8; 4280 - 12],
}
const _: () = assert!(std::mem::size_of::<PicParams>() == 4280);

type SequenceCallback = unsafe extern "C" fn(*mut c_void, *mut VideoFormat) -> c_int;
type DecodeCallback = unsafe extern "C" fn(*mut c_void, *mut PicParams) -> c_int;
type DisplayCallback = unsafe extern "C" fn(*mut c_void, *mut DispInfo) -> c_int;

/// `CUVIDPARSERPARAMS`.
#[repr(C)]
pub struct ParserParams {
    codec: u32,
    max_num_decode_surfaces: c_uint,
    clock_rate: c_uint,
    error_threshold: c_uint,
    max_display_delay: c_uint,
    bitfields: u32,
    reserved1: [c_uint; 4],
    user_data: *mut c_void,
    sequence: Option<SequenceCallback>,
    decode: Option<DecodeCallback>,
    display: Option<DisplayCallback>,
    operating_point: *mut c_void,
    sei: *mut c_void,
    reserved2: [*mut c_void; 5],
    ext_video_info: *mut c_void,
}
const _: () = assert!(std::mem::size_of::<ParserParams>() == 136);

/// `CUVIDSOURCEDATAPACKET`.
#[repr(C)]
pub struct SourcePacket {
    flags: u64,
    payload_size: u64,
    payload: *const u8,
    timestamp: i64,
}

/// `CUVIDPROCPARAMS` (only passed through).
#[repr(C)]
pub struct ProcParams {
    _opaque: [u8; 0],
}

// ---------------------------------------------------------------------------------------
// The format the parser reports

const FIELDS: [(&str, i64); 14] = [
    ("codec", -1),
    ("chroma_format", 1),
    ("coded_width", 640),
    ("coded_height", 368),
    ("display_left", 0),
    ("display_top", 0),
    ("display_right", 640),
    ("display_bottom", 360),
    ("bit_depth_luma_minus8", 0),
    ("bit_depth_chroma_minus8", 0),
    ("min_num_decode_surfaces", 4),
    ("progressive_sequence", 1),
    ("frame_rate_num", 30),
    ("frame_rate_den", 1),
];

static FORMAT: Mutex<[i64; 14]> = Mutex::new({
    let mut v = [0; 14];
    let mut i = 0;
    while i < FIELDS.len() {
        v[i] = FIELDS[i].1;
        i += 1;
    }
    v
});

pub(crate) fn reset_format() {
    PICTURES_PER_PACKET.store(1, SeqCst);
    let mut f = lock(&FORMAT);
    for (slot, (_, default)) in f.iter_mut().zip(FIELDS) {
        *slot = default;
    }
}

pub(crate) fn set_format(field: &str, value: i64) -> bool {
    match FIELDS.iter().position(|(name, _)| *name == field) {
        Some(i) => {
            lock(&FORMAT)[i] = value;
            true
        }
        None => false,
    }
}

fn current_format(parser_codec: u32) -> VideoFormat {
    let f = *lock(&FORMAT);
    VideoFormat {
        codec: if f[0] < 0 { parser_codec } else { f[0] as u32 },
        chroma_format: f[1] as u32,
        coded_width: f[2] as u32,
        coded_height: f[3] as u32,
        display_left: f[4] as i32,
        display_top: f[5] as i32,
        display_right: f[6] as i32,
        display_bottom: f[7] as i32,
        bit_depth_luma_minus8: f[8] as u8,
        bit_depth_chroma_minus8: f[9] as u8,
        min_num_decode_surfaces: f[10] as u8,
        progressive_sequence: f[11] as u8,
        frame_rate_num: f[12] as u32,
        frame_rate_den: f[13] as u32,
        bitrate: 0,
        aspect_x: 16,
        aspect_y: 9,
        video_signal_description: [0; 4],
        seqhdr_data_length: 0,
    }
}

// ---------------------------------------------------------------------------------------
// Objects

struct Decoder {
    max_width: u64,
    max_height: u64,
    target_width: u64,
    target_height: u64,
    bytes_per_sample: u64,
    decode_surfaces: u64,
    output_surfaces: u64,
    mapped: u64,
}

#[derive(Clone, Copy)]
struct Parser {
    codec: u32,
    max_surfaces: u32,
    user: usize,
    sequence: Option<SequenceCallback>,
    decode: Option<DecodeCallback>,
    display: Option<DisplayCallback>,
    /// The format last reported; a different current format is reported again.
    sent: Option<VideoFormat>,
    surfaces: u32,
    pictures: u32,
}

#[derive(Default)]
struct Objects {
    ctx_locks: HashMap<usize, usize>,
    decoders: HashMap<usize, Decoder>,
    parsers: HashMap<usize, Parser>,
}

static OBJECTS: LazyLock<Mutex<Objects>> = LazyLock::new(|| Mutex::new(Objects::default()));

macro_rules! lifecycle_start {
    ($call:expr) => {{
        let injected = fault($call);
        let life = lifecycle($call);
        if life.overlapped {
            return ILLEGAL_STATE;
        }
        if let Some(status) = injected {
            return status;
        }
        life
    }};
}

// ---------------------------------------------------------------------------------------
// Decoder

#[unsafe(no_mangle)]
pub extern "C" fn cuvidGetDecoderCaps(caps: *mut DecodeCaps) -> u32 {
    let _life = lifecycle_start!("cuvidGetDecoderCaps");
    if let Err(status) = cuda::need_context("cuvidGetDecoderCaps") {
        return status;
    }
    // SAFETY: the caller passes a live CUVIDDECODECAPS.
    let Some(caps) = (unsafe { caps.as_mut() }) else {
        return INVALID_VALUE;
    };
    let ok = codec_supported(caps.codec)
        && caps.chroma_format == 1
        && matches!(caps.bit_depth_minus8, 0 | 2);
    caps.is_supported = u8::from(ok);
    caps.num_nvdecs = if ok { 1 } else { 0 };
    caps.output_format_mask = if ok { 0b11 } else { 0 };
    caps.max_width = if ok { MAX_SIZE as u32 } else { 0 };
    caps.max_height = if ok { MAX_SIZE as u32 } else { 0 };
    caps.max_mb_count = if ok {
        (MAX_SIZE * MAX_SIZE / 256) as u32
    } else {
        0
    };
    caps.min_width = if ok { MIN_WIDTH as u16 } else { 0 };
    caps.min_height = if ok { MIN_HEIGHT as u16 } else { 0 };
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuvidCreateDecoder(
    decoder: *mut *mut c_void,
    info: *mut DecodeCreateInfo,
) -> u32 {
    let _life = lifecycle_start!("cuvidCreateDecoder");
    if let Err(status) = cuda::need_context("cuvidCreateDecoder") {
        return status;
    }
    // SAFETY: the caller passes a live CUVIDDECODECREATEINFO.
    let Some(info) = (unsafe { info.as_ref() }) else {
        return INVALID_VALUE;
    };
    if decoder.is_null() {
        return INVALID_VALUE;
    }
    let valid = codec_supported(info.codec)
        && info.chroma_format == 1
        && matches!(info.bit_depth_minus8, 0 | 2)
        && matches!(info.output_format, 0 | 1)
        && (MIN_WIDTH..=MAX_SIZE).contains(&info.width)
        && (MIN_HEIGHT..=MAX_SIZE).contains(&info.height)
        && info.max_width.max(info.width) <= MAX_SIZE
        && info.max_height.max(info.height) <= MAX_SIZE
        && (1..=MAX_SIZE).contains(&info.target_width)
        && (1..=MAX_SIZE).contains(&info.target_height)
        && (1..=MAX_DECODE_SURFACES).contains(&info.num_decode_surfaces)
        && (1..=MAX_SURFACES).contains(&info.num_output_surfaces);
    if !valid {
        return INVALID_VALUE;
    }
    if !info.vid_lock.is_null()
        && !lock(&OBJECTS)
            .ctx_locks
            .contains_key(&(info.vid_lock as usize))
    {
        return misuse("cuvidCreateDecoder:unknown-ctxlock", INVALID_HANDLE);
    }
    let handle = new_handle();
    lock(&OBJECTS).decoders.insert(
        handle,
        Decoder {
            max_width: info.max_width.max(info.width),
            max_height: info.max_height.max(info.height),
            target_width: info.target_width,
            target_height: info.target_height,
            bytes_per_sample: if info.output_format == 1 { 2 } else { 1 },
            decode_surfaces: info.num_decode_surfaces,
            output_surfaces: info.num_output_surfaces,
            mapped: 0,
        },
    );
    live_add("decoder", 1);
    // SAFETY: checked non-null above.
    unsafe { decoder.write(handle as *mut c_void) };
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuvidDestroyDecoder(decoder: *mut c_void) -> u32 {
    let _life = lifecycle_start!("cuvidDestroyDecoder");
    let mut objects = lock(&OBJECTS);
    match objects.decoders.get(&(decoder as usize)) {
        None => misuse("cuvidDestroyDecoder:unknown", INVALID_HANDLE),
        Some(d) if d.mapped > 0 => misuse("cuvidDestroyDecoder:mapped", NOT_PERMITTED),
        Some(_) => {
            objects.decoders.remove(&(decoder as usize));
            live_add("decoder", -1);
            SUCCESS
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn cuvidReconfigureDecoder(decoder: *mut c_void, info: *mut ReconfigureInfo) -> u32 {
    let _life = lifecycle_start!("cuvidReconfigureDecoder");
    // SAFETY: the caller passes a live CUVIDRECONFIGUREDECODERINFO.
    let Some(info) = (unsafe { info.as_ref() }) else {
        return INVALID_VALUE;
    };
    let mut objects = lock(&OBJECTS);
    let Some(d) = objects.decoders.get_mut(&(decoder as usize)) else {
        return misuse("cuvidReconfigureDecoder:unknown", INVALID_HANDLE);
    };
    if d.mapped > 0 {
        return misuse("cuvidReconfigureDecoder:mapped", NOT_PERMITTED);
    }
    let (w, h) = (u64::from(info.width), u64::from(info.height));
    let (tw, th) = (u64::from(info.target_width), u64::from(info.target_height));
    let valid = (MIN_WIDTH..=d.max_width).contains(&w)
        && (MIN_HEIGHT..=d.max_height).contains(&h)
        && (1..=MAX_SIZE).contains(&tw)
        && (1..=MAX_SIZE).contains(&th)
        && (1..=d.decode_surfaces).contains(&u64::from(info.num_decode_surfaces));
    if !valid {
        return INVALID_VALUE;
    }
    d.target_width = tw;
    d.target_height = th;
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuvidDecodePicture(decoder: *mut c_void, params: *mut PicParams) -> u32 {
    if let Some(status) = fault("cuvidDecodePicture") {
        return status;
    }
    // SAFETY: the caller passes the parser's live picture parameters.
    let Some(params) = (unsafe { params.as_ref() }) else {
        return INVALID_VALUE;
    };
    let objects = lock(&OBJECTS);
    let Some(d) = objects.decoders.get(&(decoder as usize)) else {
        return misuse("cuvidDecodePicture:unknown", INVALID_HANDLE);
    };
    if u64::try_from(params.curr_pic_idx).map_or(true, |i| i >= d.decode_surfaces) {
        return misuse("cuvidDecodePicture:index", INVALID_VALUE);
    }
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuvidMapVideoFrame64(
    decoder: *mut c_void,
    index: c_int,
    ptr: *mut c_ulonglong,
    pitch: *mut c_uint,
    _params: *mut ProcParams,
) -> u32 {
    if let Some(status) = fault("cuvidMapVideoFrame64") {
        return status;
    }
    if ptr.is_null() || pitch.is_null() {
        return INVALID_VALUE;
    }
    let mut objects = lock(&OBJECTS);
    let Some(d) = objects.decoders.get_mut(&(decoder as usize)) else {
        return misuse("cuvidMapVideoFrame64:unknown", INVALID_HANDLE);
    };
    let Ok(index) = u64::try_from(index) else {
        return misuse("cuvidMapVideoFrame64:index", INVALID_VALUE);
    };
    if index >= d.decode_surfaces {
        return misuse("cuvidMapVideoFrame64:index", INVALID_VALUE);
    }
    if d.mapped >= d.output_surfaces {
        return MAP_FAILED;
    }
    let row = (d.target_width * d.bytes_per_sample).div_ceil(256) * 256;
    let rows = d.target_height + d.target_height.div_ceil(2);
    let Some(mut surface) = cuda::host_block((row * rows) as usize) else {
        return cuda::OUT_OF_MEMORY;
    };
    for (i, byte) in surface.iter_mut().enumerate() {
        let (y, x) = (i as u64 / row, i as u64 % row);
        *byte = (index * 37 + y * 3 + x) as u8;
    }
    let addr = surface.as_ptr() as u64;
    d.mapped += 1;
    lock(&MEMORY)
        .mapped
        .insert(addr, (decoder as usize, surface));
    live_add("mapped", 1);
    // SAFETY: both out-pointers were checked non-null.
    unsafe {
        ptr.write(addr);
        pitch.write(row as c_uint);
    }
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuvidUnmapVideoFrame64(decoder: *mut c_void, ptr: c_ulonglong) -> u32 {
    if let Some(status) = fault("cuvidUnmapVideoFrame64") {
        return status;
    }
    let mut objects = lock(&OBJECTS);
    let Some(d) = objects.decoders.get_mut(&(decoder as usize)) else {
        return misuse("cuvidUnmapVideoFrame64:unknown-decoder", INVALID_HANDLE);
    };
    let mut memory = lock(&MEMORY);
    match memory.mapped.get(&ptr) {
        Some((owner, _)) if *owner == decoder as usize => {
            memory.mapped.remove(&ptr);
            d.mapped -= 1;
            live_add("mapped", -1);
            SUCCESS
        }
        _ => misuse("cuvidUnmapVideoFrame64:unknown-pointer", INVALID_VALUE),
    }
}

// ---------------------------------------------------------------------------------------
// Context locks

#[unsafe(no_mangle)]
pub extern "C" fn cuvidCtxLockCreate(ctx_lock: *mut *mut c_void, ctx: *mut c_void) -> u32 {
    let _life = lifecycle_start!("cuvidCtxLockCreate");
    if ctx_lock.is_null() {
        return INVALID_VALUE;
    }
    if !cuda::is_context(ctx as usize) {
        return misuse("cuvidCtxLockCreate:unknown-context", INVALID_CONTEXT);
    }
    let handle = new_handle();
    lock(&OBJECTS).ctx_locks.insert(handle, ctx as usize);
    live_add("ctxlock", 1);
    // SAFETY: checked non-null above.
    unsafe { ctx_lock.write(handle as *mut c_void) };
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuvidCtxLockDestroy(ctx_lock: *mut c_void) -> u32 {
    let _life = lifecycle_start!("cuvidCtxLockDestroy");
    if lock(&OBJECTS)
        .ctx_locks
        .remove(&(ctx_lock as usize))
        .is_none()
    {
        return misuse("cuvidCtxLockDestroy:unknown", INVALID_HANDLE);
    }
    live_add("ctxlock", -1);
    SUCCESS
}

// ---------------------------------------------------------------------------------------
// Parser

#[unsafe(no_mangle)]
pub extern "C" fn cuvidCreateVideoParser(
    parser: *mut *mut c_void,
    params: *mut ParserParams,
) -> u32 {
    let _life = lifecycle_start!("cuvidCreateVideoParser");
    // SAFETY: the caller passes a live CUVIDPARSERPARAMS.
    let Some(p) = (unsafe { params.as_ref() }) else {
        return INVALID_VALUE;
    };
    if parser.is_null() || p.sequence.is_none() || p.decode.is_none() || p.display.is_none() {
        return INVALID_VALUE;
    }
    let handle = new_handle();
    lock(&OBJECTS).parsers.insert(
        handle,
        Parser {
            codec: p.codec,
            max_surfaces: p.max_num_decode_surfaces.max(1),
            user: p.user_data as usize,
            sequence: p.sequence,
            decode: p.decode,
            display: p.display,
            sent: None,
            surfaces: p.max_num_decode_surfaces.max(1),
            pictures: 0,
        },
    );
    live_add("parser", 1);
    // SAFETY: checked non-null above.
    unsafe { parser.write(handle as *mut c_void) };
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn cuvidDestroyVideoParser(parser: *mut c_void) -> u32 {
    let _life = lifecycle_start!("cuvidDestroyVideoParser");
    if lock(&OBJECTS).parsers.remove(&(parser as usize)).is_none() {
        return misuse("cuvidDestroyVideoParser:unknown", INVALID_HANDLE);
    }
    live_add("parser", -1);
    SUCCESS
}

/// Pictures decoded and displayed per non-empty packet (see `standin_set_pictures_per_packet`).
static PICTURES_PER_PACKET: AtomicU32 = AtomicU32::new(1);

pub(crate) fn set_pictures_per_packet(n: u32) {
    PICTURES_PER_PACKET.store(n.max(1), SeqCst);
}

/// Runs the callbacks for one packet (no lock held: they call back into this library).
fn run_parser(p: &mut Parser, packet: &SourcePacket) {
    let user = p.user as *mut c_void;
    if packet.payload_size > 0 {
        let mut format = current_format(p.codec);
        if p.sent != Some(format) {
            let Some(sequence) = p.sequence else { return };
            // SAFETY: the callback and user data were registered by the caller.
            let r = unsafe { sequence(user, &mut format) };
            if r == 0 {
                return; // the client rejected the stream; try again on the next packet
            }
            p.sent = Some(current_format(p.codec));
            p.surfaces = if r > 1 { r as u32 } else { p.max_surfaces };
        }
        for _ in 0..PICTURES_PER_PACKET.load(SeqCst).clamp(1, 256) {
            let index = (p.pictures % p.surfaces.max(1)) as c_int;
            p.pictures = p.pictures.wrapping_add(1);
            let mut pic = PicParams {
                pic_width_in_mbs: format.coded_width.div_ceil(16) as c_int,
                frame_height_in_mbs: format.coded_height.div_ceil(16) as c_int,
                curr_pic_idx: index,
                rest: [0; 4280 - 12],
            };
            let Some(decode) = p.decode else { return };
            // SAFETY: as above.
            if unsafe { decode(user, &mut pic) } == 0 {
                return;
            }
            let mut info = DispInfo {
                picture_index: index,
                progressive_frame: 1,
                top_field_first: 0,
                repeat_first_field: 0,
                timestamp: packet.timestamp,
            };
            let Some(display) = p.display else { return };
            // SAFETY: as above.
            if unsafe { display(user, &mut info) } == 0 {
                return;
            }
        }
    }
    if packet.flags & PKT_ENDOFSTREAM != 0
        && let Some(display) = p.display
    {
        // SAFETY: as above; NULL marks the end of the stream.
        unsafe { display(user, std::ptr::null_mut()) };
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn cuvidParseVideoData(parser: *mut c_void, packet: *mut SourcePacket) -> u32 {
    if let Some(status) = fault("cuvidParseVideoData") {
        return status;
    }
    // SAFETY: the caller passes a live packet.
    let Some(packet) = (unsafe { packet.as_ref() }) else {
        return INVALID_VALUE;
    };
    if packet.payload_size > 0 && packet.payload.is_null() {
        return INVALID_VALUE;
    }
    let Some(mut state) = lock(&OBJECTS).parsers.get(&(parser as usize)).copied() else {
        return misuse("cuvidParseVideoData:unknown", INVALID_HANDLE);
    };
    run_parser(&mut state, packet);
    if let Some(slot) = lock(&OBJECTS).parsers.get_mut(&(parser as usize)) {
        *slot = state;
    }
    SUCCESS
}
