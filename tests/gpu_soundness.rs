//! The safety promise on real hardware: frames are complete when handed out, and no session
//! lifecycle call ever overlaps another, under a long churn of everything a transcoder does.
//!
//! Run: `cargo test --release --test gpu_soundness -- --include-ignored --test-threads=1`.
//! `NVCG_CHURN_SECS` sets the churn's length (default 60 s).

mod common;

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{Decoded, RefFrame, assert_bit_exact, config_for, data, framemd5, md5_hex};
use cudarc::driver::sys::{CUDA_MEMCPY2D, CUmemorytype};
use nvcodec_guard::cuda::{Context, ContextMode};
use nvcodec_guard::decode::{DecoderBuilder, Frame};
use nvcodec_guard::encode::{EncoderBuilder, EncoderConfig};
use nvcodec_guard::init::{CudaInitGuard, init_lock_stats, wait_for_teardowns};
use nvcodec_guard::input::ElementaryStream;
use nvcodec_guard::{Codec, Error};

const MIB: usize = 1 << 20;

/// `cuMemcpy2D_v2`: a synchronous copy on the legacy default stream, which does not
/// synchronize with the decoder's own non-blocking stream — the "unrelated stream" a
/// consumer would read a frame on.
struct LegacyCopy {
    memcpy_2d: unsafe extern "C" fn(*const CUDA_MEMCPY2D) -> u32,
    _lib: libloading::Library,
}

impl LegacyCopy {
    fn load() -> LegacyCopy {
        // SAFETY: the NVIDIA driver library (already loaded by the crate).
        let lib = unsafe { libloading::Library::new("libcuda.so.1") }.expect("libcuda");
        // SAFETY: the documented signature, CUresult as u32.
        let memcpy_2d = unsafe {
            *lib.get::<unsafe extern "C" fn(*const CUDA_MEMCPY2D) -> u32>(b"cuMemcpy2D_v2\0")
                .expect("cuMemcpy2D_v2")
        };
        LegacyCopy {
            memcpy_2d,
            _lib: lib,
        }
    }

    /// Copies `rows` rows of `width` bytes from device `src` (at `pitch`) into `dst`.
    fn rows(&self, src: u64, pitch: usize, width: usize, rows: usize, dst: &mut [u8]) {
        assert_eq!(dst.len(), width * rows);
        let copy = device_to_host(src, pitch, width, rows, dst);
        // SAFETY: the frame's surface holds `rows` rows at `pitch` while the frame lives;
        // `dst` holds width × rows bytes.
        let status = unsafe { (self.memcpy_2d)(&copy) };
        assert_eq!(status, 0, "cuMemcpy2D_v2");
    }

    /// The frame in the packed layout, read straight from its surface.
    fn packed(&self, frame: &Frame<'_>) -> Vec<u8> {
        let mut out = vec![0u8; frame.layout().packed_size()];
        for (src, pitch, width, rows, at) in planes(frame) {
            self.rows(src, pitch, width, rows, &mut out[at..at + width * rows]);
        }
        out
    }
}

/// A copy descriptor of `rows` rows of `width` bytes from device `src`
/// (at `pitch`) into `dst`.
fn device_to_host(
    src: u64,
    pitch: usize,
    width: usize,
    rows: usize,
    dst: &mut [u8],
) -> CUDA_MEMCPY2D {
    assert_eq!(dst.len(), width * rows);
    CUDA_MEMCPY2D {
        srcXInBytes: 0,
        srcY: 0,
        srcMemoryType: CUmemorytype::CU_MEMORYTYPE_DEVICE,
        srcHost: std::ptr::null(),
        srcDevice: src,
        srcArray: std::ptr::null_mut(),
        srcPitch: pitch,
        dstXInBytes: 0,
        dstY: 0,
        dstMemoryType: CUmemorytype::CU_MEMORYTYPE_HOST,
        dstHost: dst.as_mut_ptr().cast::<c_void>(),
        dstDevice: 0,
        dstArray: std::ptr::null_mut(),
        dstPitch: width,
        WidthInBytes: width,
        Height: rows,
    }
}

/// A frame's two planes as (device source, pitch, row bytes, rows, offset in the packed copy).
fn planes(frame: &Frame<'_>) -> [(u64, usize, usize, usize, usize); 2] {
    let layout = frame.layout();
    let luma = layout.luma_row_bytes() * layout.height as usize;
    [
        (
            frame.device_ptr(),
            frame.pitch(),
            layout.luma_row_bytes(),
            layout.height as usize,
            0,
        ),
        (
            frame.device_ptr() + frame.chroma_offset() as u64,
            frame.chroma_pitch(),
            layout.chroma_row_bytes(),
            layout.chroma_rows(),
            luma,
        ),
    ]
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn frames_are_complete_for_a_reader_on_an_unrelated_stream() {
    // One decoder, ten passes over the clip with flush-and-reuse: 600 frames, each read on
    // the legacy default stream the moment it is handed out.
    let clip = "h264_640x360_b3.h264";
    let mut stream = ElementaryStream::open(data(clip)).unwrap();
    let mut decoder = DecoderBuilder::new(config_for(stream.codec(), &stream))
        .build()
        .unwrap();
    let copy = LegacyCopy::load();
    let take = |frame: Frame<'_>, got: &mut Decoded| {
        let _current = frame.context().make_current().unwrap();
        let bytes = copy.packed(&frame);
        got.frames.push(RefFrame {
            size: bytes.len(),
            md5: md5_hex(&bytes),
        });
    };
    for pass in 0..10 {
        let mut got = Decoded::default();
        stream.rewind().unwrap();
        for packet in stream.packets() {
            let packet = packet.unwrap();
            for frame in decoder.decode(&packet.data, packet.pts).unwrap() {
                take(frame.unwrap(), &mut got);
            }
        }
        for frame in decoder.flush().unwrap() {
            take(frame.unwrap(), &mut got);
        }
        assert_bit_exact(clip, &got);
        eprintln!("pass {pass}: {} frames bit-exact", got.frames.len());
    }
}

/// A stream of the shared primary context, made with the driver directly (the crate has no
/// stream API of its own), and the async copy/synchronize calls to read frames on it.
struct RawStream {
    raw: cudarc::driver::sys::CUstream,
    memcpy_2d_async:
        unsafe extern "C" fn(*const CUDA_MEMCPY2D, cudarc::driver::sys::CUstream) -> u32,
    synchronize: unsafe extern "C" fn(cudarc::driver::sys::CUstream) -> u32,
    _lib: libloading::Library,
}

impl RawStream {
    fn create(context: &Context) -> RawStream {
        // SAFETY: the NVIDIA driver library (already loaded by the crate); documented
        // signatures with CUresult as u32.
        unsafe {
            let lib = libloading::Library::new("libcuda.so.1").expect("libcuda");
            let create = *lib
                .get::<unsafe extern "C" fn(*mut cudarc::driver::sys::CUstream, u32) -> u32>(
                    b"cuStreamCreate\0",
                )
                .unwrap();
            let memcpy_2d_async = *lib.get(b"cuMemcpy2DAsync_v2\0").unwrap();
            let synchronize = *lib.get(b"cuStreamSynchronize\0").unwrap();
            let _current = context.make_current().unwrap();
            let mut raw = std::ptr::null_mut();
            assert_eq!(create(&mut raw, 1 /* non-blocking */), 0, "cuStreamCreate");
            RawStream {
                raw,
                memcpy_2d_async,
                synchronize,
                _lib: lib,
            }
        }
    }

    /// The frame packed, copied on this stream (queued after the map's post-processing).
    fn packed(&self, frame: &Frame<'_>) -> Vec<u8> {
        let mut out = vec![0u8; frame.layout().packed_size()];
        for (src, pitch, width, rows, at) in planes(frame) {
            let copy = device_to_host(src, pitch, width, rows, &mut out[at..at + width * rows]);
            // SAFETY: the surface holds these rows while the frame lives; `out` holds them.
            assert_eq!(unsafe { (self.memcpy_2d_async)(&copy, self.raw) }, 0);
        }
        // SAFETY: a live stream of ours.
        assert_eq!(unsafe { (self.synchronize)(self.raw) }, 0);
        out
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn frames_ordered_on_a_given_stream_are_complete_for_work_on_it() {
    // The decoder waits for nothing: the map's post-processing and our copy are queued on
    // one stream, in that order. Ten passes, 600 frames.
    let clip = "h264_640x360_b3.h264";
    let mut stream = ElementaryStream::open(data(clip)).unwrap();
    let guard = CudaInitGuard::acquire().unwrap();
    let context = Context::acquire(&guard, 0, ContextMode::SharedPrimary).unwrap();
    drop(guard);
    let work = RawStream::create(&context);
    // SAFETY: `work.raw` is a stream of the primary context, alive (never destroyed) for the
    // whole test, longer than the decoder.
    let frame_stream = unsafe { nvcodec_guard::decode::FrameStream::from_raw(work.raw) };
    let mut decoder =
        DecoderBuilder::new(config_for(stream.codec(), &stream).with_frame_stream(frame_stream))
            .build()
            .unwrap();
    for _ in 0..10 {
        let mut got = Decoded::default();
        stream.rewind().unwrap();
        decoder
            .decode_stream(&mut stream, |frame| {
                assert_eq!(frame.stream(), Some(work.raw));
                let _current = frame.context().make_current()?;
                let bytes = work.packed(&frame);
                got.frames.push(RefFrame {
                    size: bytes.len(),
                    md5: md5_hex(&bytes),
                });
                Ok(())
            })
            .unwrap();
        assert_bit_exact(clip, &got);
    }
}

/// Clips the churn cycles through, with their codec.
const CLIPS: [&str; 5] = [
    "h264_640x360_b3.h264",
    "h264_reschange.h264",
    "vp9_reschange.ivf",
    "hevc_640x360_main.hevc",
    "vp9_640x360_p0.ivf",
];

fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn lifecycle_calls_never_overlap_under_churn() {
    let secs: u64 = std::env::var("NVCG_CHURN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let threads = 32;
    // Warm up, and take the memory baseline with the primary context in place.
    let guard = CudaInitGuard::acquire().unwrap();
    let primary = Context::acquire(&guard, 0, ContextMode::SharedPrimary).unwrap();
    drop(guard);
    drop(common::decode_clip(CLIPS[0], None, false));
    assert!(wait_for_teardowns(Duration::from_secs(60)));
    let (baseline, _) = primary.memory_info().unwrap();

    let references: Vec<Vec<RefFrame>> = CLIPS.iter().map(|c| framemd5(c)).collect();
    let references = Arc::new(references);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let barrier = Arc::new(Barrier::new(threads));
    let (builds, full, wrong, encoder_opens) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (references, barrier) = (Arc::clone(&references), Arc::clone(&barrier));
            let (builds, full, wrong, encoder_opens) = (
                Arc::clone(&builds),
                Arc::clone(&full),
                Arc::clone(&wrong),
                Arc::clone(&encoder_opens),
            );
            thread::spawn(move || {
                let mut seed = t as u64 + 1;
                barrier.wait();
                while Instant::now() < deadline {
                    let roll = next(&mut seed);
                    if roll % 11 == 0 {
                        let built =
                            EncoderBuilder::new(EncoderConfig::new(Codec::H264, 640, 360)).build();
                        match built {
                            Err(Error::NoEncodeDevice { .. }) => {}
                            Ok(_) => {} // a GPU with NVENC: opened and dropped
                            Err(other) => panic!("encoder open: {other}"),
                        }
                        encoder_opens.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let which = (next(&mut seed) as usize) % CLIPS.len();
                    let mut stream = ElementaryStream::open(data(CLIPS[which])).unwrap();
                    let mode = if roll % 3 == 0 {
                        ContextMode::Dedicated
                    } else {
                        ContextMode::SharedPrimary
                    };
                    // Half the decoders are made small, so resolution changes re-create them.
                    let mut config = config_for(stream.codec(), &stream).with_context_mode(mode);
                    if roll % 2 == 0 {
                        config = config.with_max_size(320, 180);
                    }
                    let mut decoder = DecoderBuilder::new(config).build().unwrap();
                    builds.fetch_add(1, Ordering::Relaxed);
                    let passes = 1 + next(&mut seed) % 2; // 2 = flush and reuse
                    let stop_after = match next(&mut seed) % 4 {
                        0 => Some(1 + next(&mut seed) as usize % 20), // drop mid-stream
                        _ => None,
                    };
                    for _ in 0..passes {
                        let mut got = Vec::new();
                        let mut fed = 0;
                        stream.rewind().unwrap();
                        for packet in stream.packets() {
                            let packet = packet.unwrap();
                            let frames = decoder.decode(&packet.data, packet.pts).unwrap();
                            for frame in frames {
                                let bytes = frame.unwrap().to_vec().unwrap();
                                got.push(md5_hex(&bytes));
                            }
                            fed += 1;
                            if stop_after == Some(fed) {
                                break;
                            }
                        }
                        if stop_after.is_some() {
                            break; // dropped with frames and references in flight
                        }
                        for frame in decoder.flush().unwrap() {
                            got.push(md5_hex(&frame.unwrap().to_vec().unwrap()));
                        }
                        let want: Vec<&str> =
                            references[which].iter().map(|r| r.md5.as_str()).collect();
                        if got != want {
                            wrong.fetch_add(1, Ordering::Relaxed);
                        }
                        full.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("churn thread");
    }
    assert!(
        wait_for_teardowns(Duration::from_secs(120)),
        "teardowns drained"
    );
    let stats = init_lock_stats();
    let (after, _) = primary.memory_info().unwrap();
    eprintln!(
        "churn {secs} s, {threads} threads: {} builds, {} full decodes ({} wrong), {} encoder opens; \
         {} windows, {} lifecycle calls, max in flight {}, max concurrent windows {}, \
         deferred teardowns {}, max wait {:.1} ms, max hold {:.1} ms, free memory {} -> {} MiB",
        builds.load(Ordering::Relaxed),
        full.load(Ordering::Relaxed),
        wrong.load(Ordering::Relaxed),
        encoder_opens.load(Ordering::Relaxed),
        stats.windows_opened,
        stats.lifecycle_calls,
        stats.max_concurrent_lifecycle_calls,
        stats.max_concurrent_windows,
        stats.deferred_teardowns,
        stats.max_wait.as_secs_f64() * 1e3,
        stats.max_hold.as_secs_f64() * 1e3,
        baseline / MIB,
        after / MIB,
    );
    assert_eq!(
        wrong.load(Ordering::Relaxed),
        0,
        "every full decode bit-exact"
    );
    assert!(full.load(Ordering::Relaxed) > 0);
    assert_eq!(stats.max_concurrent_lifecycle_calls, 1);
    assert_eq!(stats.max_concurrent_windows, 1);
    // Fair lock: nobody waits longer than everyone else's windows once each (the threads
    // and the teardown thread).
    assert!(
        stats.max_wait <= stats.max_hold * threads as u32,
        "max wait {:?} > {threads} × max hold {:?}",
        stats.max_wait,
        stats.max_hold
    );
    let leaked = baseline.saturating_sub(after);
    assert!(leaked < 64 * MIB, "{} MiB not returned", leaked / MIB);
}
