//! Decode benchmark for the GPU machine (not a timed test). Prints one JSON object per
//! measurement on stdout; `bench/run-gpu-bench.sh` runs every mode and tabulates.
//!
//! ```text
//! decode_bench throughput CLIP N [DISPLAY_DELAY] [SURFACES]  # N decoders at once, built before timing
//! decode_bench coldstart  CLIP N [warm]            # N pipelines from nothing (run in a fresh process);
//!                                                  # `warm`: CUDA initialized and the primary context
//!                                                  # retained before the clock starts. Every decoder
//!                                                  # lives until all have their first frame.
//! decode_bench poolstart  CLIP N [DEVICES]         # N pipelines per device from pools pre-warmed with
//!                                                  # N (before the clock); DEVICES like `0,1`
//! decode_bench shortclips CLIP THREADS CLIPS new|pool|reuse
//!                                                  # THREADS × CLIPS whole decodes of a short clip:
//!                                                  # a new decoder per clip, a pooled one, or one per
//!                                                  # thread reused after `flush`
//! decode_bench memory     CLIP                     # device memory per extra decoder session
//! decode_bench teardown   CLIP N                   # wall time to drop N decoders at once
//! decode_bench random     CLIP COUNT [SEEDS]       # frames_at COUNT random display indices (seeded
//!                                                  # as bench/pynv_random_access.py), warm decoder
//!                                                  # and cold (open + build + frames_at), median of
//!                                                  # SEEDS (5); BENCH_MD5_OUT=FILE writes seed 0's MD5s
//! decode_bench latency    CLIP [FPS]               # packets fed at FPS (30) as a live source: packet-in
//!                                                  # to frame-out, default vs low-latency mode
//! decode_bench convertkernel CLIP K                # the conversion kernel alone: K planar-f32
//!                                                  # conversions of one frame against K device
//!                                                  # copies of as many bytes, timed alike, in
//!                                                  # bytes read + written per second
//! ```
//! Frames are mapped (zero-copy) and released, as a consumer that reads the surface does;
//! `BENCH_KEEP=pool` (or `device`) makes the throughput mode keep a copy of each frame in a
//! reusable `DeviceFramePool` buffer (or a new device allocation) instead; `BENCH_KEEP=rgb`
//! converts each frame to planar `f32` RGB into an `RgbFramePool` buffer (waited for), and
//! `BENCH_KEEP=rgb-into` into one reused buffer per decoder (queued without a host wait with
//! `BENCH_FRAME_STREAM=per-thread`, or on a non-blocking stream of its own per decoder with
//! `BENCH_FRAME_STREAM=own`). `BENCH_PASSES=K` decodes the clip K times over per decoder (a
//! flush between passes). `BENCH_SIZE=WxH` and `BENCH_CROP=X,Y,W,H` make NVDEC
//! scale / crop the output (e.g. `BENCH_SIZE=640x360`, or `BENCH_CROP=420,0,1080,1080
//! BENCH_SIZE=224x224`). `BENCH_STREAM=1` makes each throughput decoder read the clip itself
//! through `ElementaryStream` (the streaming path) instead of from packets loaded before timing.
//! Every mode's decoders take `BENCH_SURFACES=N` (decode surfaces created),
//! `BENCH_LOW_LATENCY=1` (with its live sizing) and `BENCH_OUTPUT_SURFACES=N` (set after
//! it); the memory mode also prints the surfaces each decoder ends with.
//! `BENCH_POOL=1` makes each throughput pass check a decoder out of a `DecoderPool` prewarmed
//! with N (before the clock) and read the clip from its path (implies `BENCH_STREAM=1`), with
//! one `DeviceFramePool` shared by all threads for `BENCH_KEEP=pool`: the workload of the
//! Python package's `with pool.checkout(path) as dec: for frame in dec` per pass.

use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use nvcodec_guard::Codec;
use nvcodec_guard::convert::{ConvertSpec, Converter, RgbFramePool, RgbLayout, SampleType};
use nvcodec_guard::cuda::DeviceBuffer;
use nvcodec_guard::decode::{
    CropRect, Decoder, DecoderBuilder, DecoderConfig, DecoderPool, DecoderSpec, DeviceFramePool,
    Frame, MultiGpuDecoderPool, PoolConfig,
};
use nvcodec_guard::init::{init_lock_stats, wait_for_teardowns};
use nvcodec_guard::input::ElementaryStream;

type Packets = Arc<Vec<(Vec<u8>, i64)>>;

fn load(path: &str) -> nvcodec_guard::Result<(Codec, Packets)> {
    let mut stream = ElementaryStream::open(path)?;
    let packets = stream
        .packets()
        .map(|p| p.map(|p| (p.data, p.pts)))
        .collect::<nvcodec_guard::input::Result<Vec<_>>>()?;
    Ok((stream.codec(), Arc::new(packets)))
}

/// `BENCH_FRAME_STREAM=own`: a new non-blocking stream of device 0's primary context (the
/// context the decoders share), one per decoder, never destroyed (the process ends first).
/// Unlike the per-thread default stream, it does not wait for work on the legacy stream.
fn own_stream() -> nvcodec_guard::decode::FrameStream {
    use cudarc::driver::sys;
    let mut ctx: sys::CUcontext = std::ptr::null_mut();
    let mut stream: sys::CUstream = std::ptr::null_mut();
    // SAFETY: plain driver calls with live out-pointers; the primary context is retained for
    // the process's life (never released), so the stream stays valid in it.
    let ok = unsafe {
        sys::cuInit(0) == sys::CUresult::CUDA_SUCCESS
            && sys::cuDevicePrimaryCtxRetain(&mut ctx, 0) == sys::CUresult::CUDA_SUCCESS
            && sys::cuCtxSetCurrent(ctx) == sys::CUresult::CUDA_SUCCESS
            && sys::cuStreamCreate(
                &mut stream,
                sys::CUstream_flags::CU_STREAM_NON_BLOCKING as u32,
            ) == sys::CUresult::CUDA_SUCCESS
    };
    assert!(
        ok && !stream.is_null(),
        "creating a stream of one's own failed"
    );
    // SAFETY: the stream lives in the context every decoder here uses, for the process's life.
    unsafe { nvcodec_guard::decode::FrameStream::from_raw(stream) }
}

fn config(codec: Codec, delay: Option<u32>) -> DecoderConfig {
    let mut c = DecoderConfig::new(codec).with_max_size(1920, 1080);
    if let Some(v) = parse_list("BENCH_SIZE", 'x') {
        c = c.with_output_size(v[0], v[1]);
    }
    if let Some(v) = parse_list("BENCH_CROP", ',') {
        c = c.with_crop(CropRect::new(v[0], v[1], v[2], v[3]));
    }
    if std::env::var("BENCH_FRAME_STREAM").as_deref() == Ok("per-thread") {
        // SAFETY: CU_STREAM_PER_THREAD (0x2) is valid in every context; each decoder here is
        // built, fed and dropped on one thread, so its maps and copies all land on that
        // thread's stream.
        c = c.with_frame_stream(unsafe {
            nvcodec_guard::decode::FrameStream::from_raw(2usize as cudarc::driver::sys::CUstream)
        });
    }
    if std::env::var("BENCH_FRAME_STREAM").as_deref() == Ok("own") {
        c = c.with_frame_stream(own_stream());
    }
    if let Some(d) = delay {
        c = c.with_display_delay(d);
    }
    if let Some(s) = std::env::var("BENCH_SURFACES")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        c = c.with_decode_surfaces(s);
    }
    if std::env::var("BENCH_LOW_LATENCY").as_deref() == Ok("1") {
        c = c.with_low_latency(true);
    }
    if let Some(n) = std::env::var("BENCH_OUTPUT_SURFACES")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        c = c.with_output_surfaces(n);
    }
    c
}

/// What the throughput mode does with each frame (`BENCH_KEEP`): map it and let it go
/// (`map`, the default), copy it into a reusable pool buffer (`pool`), or into a new device
/// allocation (`device`, `Frame::copy_to_device`).
enum Keep {
    Map,
    Pool(DeviceFramePool),
    Device,
    Rgb(Converter, RgbFramePool, ConvertSpec),
    RgbInto(Converter, std::cell::RefCell<DeviceBuffer>, ConvertSpec),
}

fn planar_f32() -> ConvertSpec {
    ConvertSpec::new(RgbLayout::PlanarRgb, SampleType::F32)
}

fn parse_list(var: &str, sep: char) -> Option<Vec<u32>> {
    let v = std::env::var(var).ok()?;
    v.split(sep).map(|x| x.trim().parse().ok()).collect()
}

impl Keep {
    fn for_decoder(decoder: &Decoder) -> Keep {
        Keep::for_context(decoder.context(), None)
    }

    /// What `BENCH_KEEP` asks for in `context`; `shared` is the frame pool to copy into (one
    /// of its own otherwise).
    fn for_context(
        context: &nvcodec_guard::cuda::Context,
        shared: Option<&DeviceFramePool>,
    ) -> Keep {
        match std::env::var("BENCH_KEEP").as_deref() {
            Ok("pool") => Keep::Pool(
                shared
                    .cloned()
                    .unwrap_or_else(|| DeviceFramePool::new(context)),
            ),
            Ok("device") => Keep::Device,
            Ok("rgb") => Keep::Rgb(
                Converter::new(context).expect("conversion kernels"),
                RgbFramePool::new(context),
                planar_f32(),
            ),
            Ok("rgb-into") => {
                let (w, h) = parse_list("BENCH_SIZE", 'x')
                    .map(|v| (v[0], v[1]))
                    .unwrap_or((1920, 1080));
                Keep::RgbInto(
                    Converter::new(context).expect("conversion kernels"),
                    std::cell::RefCell::new(
                        DeviceBuffer::alloc(
                            context,
                            planar_f32().packed_size(w, h).expect("output size"),
                        )
                        .expect("output buffer"),
                    ),
                    planar_f32(),
                )
            }
            _ => Keep::Map,
        }
    }

    fn name() -> String {
        std::env::var("BENCH_KEEP").unwrap_or_else(|_| "map".into())
    }

    fn take(&self, frame: Frame<'_>) -> nvcodec_guard::Result<()> {
        match self {
            Keep::Map => drop(frame),
            Keep::Pool(pool) => drop(frame.copy_to_pool(pool)?),
            Keep::Device => drop(frame.copy_to_device()?),
            Keep::Rgb(converter, pool, spec) => {
                drop(converter.convert_to_pool(&frame, spec, pool)?)
            }
            Keep::RgbInto(converter, buffer, spec) => {
                // One buffer reused for every frame (throughput only: nobody reads it).
                let row = spec.row_bytes(frame.width())?;
                converter.convert_into(&frame, spec, &mut buffer.borrow_mut(), 0, row)?
            }
        }
        Ok(())
    }
}

/// Decodes `packets`, returning (frames, time of first frame since `t0`).
fn run(
    decoder: &mut Decoder,
    packets: &[(Vec<u8>, i64)],
    t0: Instant,
    stop_after_first: bool,
) -> nvcodec_guard::Result<(u64, Option<Duration>)> {
    run_keeping(decoder, packets, t0, stop_after_first, &Keep::Map)
}

fn run_keeping(
    decoder: &mut Decoder,
    packets: &[(Vec<u8>, i64)],
    t0: Instant,
    stop_after_first: bool,
    keep: &Keep,
) -> nvcodec_guard::Result<(u64, Option<Duration>)> {
    let mut frames = 0;
    let mut first = None;
    for (data, pts) in packets {
        for frame in decoder.decode(data, *pts)? {
            keep.take(frame?)?;
            frames += 1;
            first.get_or_insert_with(|| t0.elapsed());
        }
        if stop_after_first && first.is_some() {
            return Ok((frames, first));
        }
    }
    for frame in decoder.flush()? {
        keep.take(frame?)?;
        frames += 1;
        first.get_or_insert_with(|| t0.elapsed());
    }
    Ok((frames, first))
}

/// [`run_keeping`] reading packets from the file as it goes (the streaming path).
fn run_streaming(
    decoder: &mut Decoder,
    clip: &str,
    keep: &Keep,
) -> nvcodec_guard::Result<(u64, Option<Duration>)> {
    let mut stream = ElementaryStream::open(clip)?;
    let mut frames = 0;
    while let Some(packet) = stream.next_packet()? {
        for frame in decoder.decode(packet.data, packet.pts)? {
            keep.take(frame?)?;
            frames += 1;
        }
    }
    for frame in decoder.flush()? {
        keep.take(frame?)?;
        frames += 1;
    }
    Ok((frames, None))
}

fn throughput(
    clip: &str,
    codec: Codec,
    packets: Packets,
    n: usize,
    delay: Option<u32>,
) -> nvcodec_guard::Result<String> {
    let pooled = std::env::var("BENCH_POOL").is_ok_and(|v| v == "1");
    let streaming = pooled || std::env::var("BENCH_STREAM").is_ok_and(|v| v == "1");
    let passes: usize = std::env::var("BENCH_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let barrier = Arc::new(Barrier::new(n + 1));
    let mut handles = Vec::new();
    let mut hold_ms = Vec::new();
    // BENCH_POOL=1: a pool prewarmed with n decoders, and one frame pool for all threads, in
    // the decoders' (primary) context.
    let pool = if pooled {
        let pool = DecoderPool::new(PoolConfig::default());
        pool.prewarm(spec_of(codec), n)?;
        let context = {
            let guard = nvcodec_guard::init::CudaInitGuard::acquire()?;
            nvcodec_guard::cuda::Context::acquire(&guard, 0, Default::default())?
        };
        let frames = DeviceFramePool::new(&context);
        Some((pool, context, frames))
    } else {
        None
    };
    for _ in 0..n {
        let mut own = match &pool {
            Some(_) => None,
            None => {
                let decoder = DecoderBuilder::new(config(codec, delay)).build()?;
                hold_ms.push(decoder.init_window().hold.as_secs_f64() * 1e3);
                Some(decoder)
            }
        };
        let shared = pool
            .as_ref()
            .map(|(p, c, f)| (p.clone(), c.clone(), f.clone()));
        let (packets, barrier, clip) =
            (Arc::clone(&packets), Arc::clone(&barrier), clip.to_owned());
        handles.push(thread::spawn(move || {
            barrier.wait();
            let t0 = Instant::now();
            let keep = match (&own, &shared) {
                (Some(decoder), _) => Keep::for_decoder(decoder),
                (None, Some((_, context, frames))) => Keep::for_context(context, Some(frames)),
                (None, None) => Keep::Map,
            };
            // BENCH_PASSES=k: the clip k times over (a flush between passes, or a checkout
            // per pass with BENCH_POOL=1), for runs long enough to steady the figure.
            let mut r = Ok((0, None));
            let mut shape = (0, 0);
            for _ in 0..passes {
                let pass = match (&mut own, &shared) {
                    (Some(decoder), _) if streaming => run_streaming(decoder, &clip, &keep),
                    (Some(decoder), _) => run_keeping(decoder, &packets, t0, false, &keep),
                    (None, Some((pool, _, _))) => {
                        pool.checkout(spec_of(codec)).and_then(|mut decoder| {
                            let pass = run_streaming(&mut decoder, &clip, &keep);
                            shape = (decoder.decode_surfaces(), decoder.stats().recreations);
                            pass
                        })
                    }
                    (None, None) => Ok((0, None)),
                };
                r = match (r, pass) {
                    (Ok((a, first)), Ok((b, f))) => Ok((a + b, first.or(f))),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
            }
            // Stop the clock before the decoder drops: teardown (cuvidDestroyDecoder,
            // ~0.2 s) is not decoding.
            let finished = Instant::now();
            if let Some(decoder) = &own {
                shape = (decoder.decode_surfaces(), decoder.stats().recreations);
            }
            (r.map(|r| (r, shape)), finished)
        }));
    }
    barrier.wait();
    let t0 = Instant::now();
    let mut total = 0;
    let mut per: Vec<u64> = Vec::new();
    let mut shape = (0, 0);
    let mut last_finish = t0;
    for h in handles {
        let (r, finished) = h.join().map_err(|_| {
            nvcodec_guard::Error::Io(std::io::Error::other("decoder thread panicked"))
        })?;
        let ((frames, _), s) = r?;
        last_finish = last_finish.max(finished);
        shape = s;
        total += frames;
        per.push(frames);
    }
    let wall = (last_finish - t0).as_secs_f64();
    if hold_ms.is_empty() {
        hold_ms.push(0.0); // pooled: built before the clock by prewarm
    }
    hold_ms.sort_by(f64::total_cmp);
    let output = format!(
        "crop {} size {}",
        std::env::var("BENCH_CROP").unwrap_or_else(|_| "-".into()),
        std::env::var("BENCH_SIZE").unwrap_or_else(|_| "-".into())
    );
    Ok(format!(
        r#"{{"mode":"throughput","passes":{passes},"input":"{}","decoders":"{}","frame_stream":"{}","keep":"{}","output":"{}","codec":"{codec}","n":{n},"display_delay":{},"surfaces":{},"recreations":{},"init_hold_median_ms":{:.1},"frames":{total},"frames_per_decoder_min":{},"frames_per_decoder_max":{},"wall_s":{wall:.4},"fps":{:.1}}}"#,
        if streaming { "streamed" } else { "preloaded" },
        if pooled { "pool" } else { "own" },
        std::env::var("BENCH_FRAME_STREAM").unwrap_or_else(|_| "wait".into()),
        Keep::name(),
        output,
        delay.unwrap_or(1),
        shape.0,
        shape.1,
        hold_ms[hold_ms.len() / 2],
        per.iter().min().unwrap_or(&0),
        per.iter().max().unwrap_or(&0),
        total as f64 / wall
    ))
}

fn passes(codec: Codec, packets: Packets) -> nvcodec_guard::Result<String> {
    let mut decoder = DecoderBuilder::new(config(codec, None)).build()?;
    let mut out = Vec::new();
    for pass in 0..3 {
        let t0 = Instant::now();
        let mut stamps = Vec::new();
        for (data, pts) in packets.iter() {
            for frame in decoder.decode(data, *pts)? {
                drop(frame?);
                stamps.push(t0.elapsed().as_secs_f64());
            }
        }
        for frame in decoder.flush()? {
            drop(frame?);
            stamps.push(t0.elapsed().as_secs_f64());
        }
        let n = stamps.len();
        let steady = if n > 40 {
            (n - 21) as f64 / (stamps[n - 1] - stamps[20])
        } else {
            0.0
        };
        out.push(format!(
            r#"{{"pass":{pass},"frames":{n},"first_frame_ms":{:.1},"total_s":{:.4},"steady_fps":{steady:.1}}}"#,
            stamps.first().copied().unwrap_or(0.0) * 1e3,
            stamps.last().copied().unwrap_or(0.0)
        ));
    }
    Ok(format!(
        r#"{{"mode":"passes","codec":"{codec}","passes":[{}]}}"#,
        out.join(",")
    ))
}

fn coldstart(
    codec: Codec,
    packets: Packets,
    n: usize,
    warm: bool,
) -> nvcodec_guard::Result<String> {
    if warm {
        let guard = nvcodec_guard::init::CudaInitGuard::acquire()?;
        let spec = config(codec, None).context_spec();
        nvcodec_guard::cuda::Context::acquire(&guard, spec.device, spec.mode)?;
    }
    // Two barriers: all start together; all keep their decoders until every pipeline has
    // its first frame, so no teardown runs inside the measurement.
    let barrier = Arc::new(Barrier::new(n + 1));
    let all_first = Arc::new(Barrier::new(n + 1));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (packets, barrier, all_first) = (
                Arc::clone(&packets),
                Arc::clone(&barrier),
                Arc::clone(&all_first),
            );
            thread::spawn(
                move || -> nvcodec_guard::Result<(Duration, Duration, Duration)> {
                    barrier.wait();
                    let start = Instant::now();
                    let built =
                        DecoderBuilder::new(config(codec, None))
                            .build()
                            .and_then(|mut decoder| {
                                let w = decoder.init_window();
                                let (_, first) = run(&mut decoder, &packets, start, true)?;
                                let first = first.ok_or_else(|| {
                                    nvcodec_guard::Error::Io(std::io::Error::other("no frame"))
                                })?;
                                Ok((decoder, first, w))
                            });
                    all_first.wait();
                    let (decoder, first, w) = built?;
                    drop(decoder);
                    Ok((first, w.wait, w.hold))
                },
            )
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    all_first.wait();
    let to_last_first = start.elapsed().as_secs_f64();
    let mut firsts = Vec::new();
    let mut holds = Vec::new();
    for h in handles {
        let (first, _wait, hold) = h
            .join()
            .map_err(|_| nvcodec_guard::Error::Io(std::io::Error::other("pipeline panicked")))??;
        firsts.push(first.as_secs_f64());
        holds.push(hold.as_secs_f64());
    }
    if !wait_for_teardowns(Duration::from_secs(120)) {
        eprintln!("warning: deferred teardowns still pending after 120 s");
    }
    let with_teardown = start.elapsed().as_secs_f64();
    firsts.sort_by(f64::total_cmp);
    holds.sort_by(f64::total_cmp);
    let stats = init_lock_stats();
    Ok(format!(
        r#"{{"mode":"coldstart","codec":"{codec}","n":{n},"warm":{warm},"to_last_first_frame_s":{to_last_first:.4},"wall_with_teardown_s":{with_teardown:.4},"first_frame_median_s":{:.4},"first_frame_max_s":{:.4},"hold_median_ms":{:.2},"hold_max_ms":{:.2},"max_concurrent_windows":{},"max_concurrent_lifecycle_calls":{}}}"#,
        firsts[firsts.len() / 2],
        firsts[firsts.len() - 1],
        holds[holds.len() / 2] * 1e3,
        holds[holds.len() - 1] * 1e3,
        stats.max_concurrent_windows,
        stats.max_concurrent_lifecycle_calls,
    ))
}

fn spec_of(codec: Codec) -> DecoderSpec {
    DecoderSpec::new(codec, 1920, 1080)
}

/// N pipelines per device from pools pre-warmed with N: time to the last first frame.
fn poolstart(
    codec: Codec,
    packets: Packets,
    n: usize,
    devices: &[u32],
) -> nvcodec_guard::Result<String> {
    let pools = MultiGpuDecoderPool::new(devices, PoolConfig::default());
    let t_prewarm = Instant::now();
    for pool in pools.pools() {
        pool.prewarm(spec_of(codec), n)?;
    }
    let prewarm_s = t_prewarm.elapsed().as_secs_f64();
    let total = n * devices.len();
    let barrier = Arc::new(Barrier::new(total + 1));
    let all_first = Arc::new(Barrier::new(total + 1));
    let handles: Vec<_> = (0..total)
        .map(|i| {
            let (packets, barrier, all_first) = (
                Arc::clone(&packets),
                Arc::clone(&barrier),
                Arc::clone(&all_first),
            );
            let pool = pools.pools()[i % devices.len()].clone();
            thread::spawn(move || -> nvcodec_guard::Result<Duration> {
                barrier.wait();
                let start = Instant::now();
                let result = pool.checkout(spec_of(codec)).and_then(|mut decoder| {
                    let (_, first) = run(&mut decoder, &packets, start, true)?;
                    first
                        .map(|f| (decoder, f))
                        .ok_or_else(|| nvcodec_guard::Error::Io(std::io::Error::other("no frame")))
                });
                all_first.wait();
                let (decoder, first) = result?;
                drop(decoder);
                Ok(first)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    all_first.wait();
    let to_last_first = start.elapsed().as_secs_f64();
    let mut firsts = Vec::new();
    for h in handles {
        firsts.push(
            h.join()
                .map_err(|_| nvcodec_guard::Error::Io(std::io::Error::other("pipeline panicked")))??
                .as_secs_f64(),
        );
    }
    firsts.sort_by(f64::total_cmp);
    let stats: Vec<_> = pools.pools().iter().map(|p| p.stats()).collect();
    let hits: u64 = stats.iter().map(|s| s.hits).sum();
    let idle_mib: u64 = stats.iter().map(|s| s.memory_held >> 20).sum();
    Ok(format!(
        r#"{{"mode":"poolstart","codec":"{codec}","n_per_device":{n},"devices":{},"prewarm_s":{prewarm_s:.4},"to_last_first_frame_s":{to_last_first:.4},"first_frame_median_s":{:.4},"hits":{hits},"pool_estimate_mib":{idle_mib},"max_concurrent_lifecycle_calls":{}}}"#,
        devices.len(),
        firsts[firsts.len() / 2],
        init_lock_stats().max_concurrent_lifecycle_calls,
    ))
}

/// THREADS × CLIPS whole decodes of a short clip: frames per second over the whole run.
fn shortclips(
    codec: Codec,
    packets: Packets,
    threads: usize,
    clips: usize,
    how: &str,
) -> nvcodec_guard::Result<String> {
    let pools = MultiGpuDecoderPool::new(&[0], PoolConfig::default());
    if how == "pool" {
        pools.prewarm(spec_of(codec), threads)?;
    }
    // CUDA and the primary context exist before the clock starts, for every variant.
    {
        let guard = nvcodec_guard::init::CudaInitGuard::acquire()?;
        nvcodec_guard::cuda::Context::acquire(&guard, 0, Default::default())?;
    }
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (packets, barrier, pools) =
                (Arc::clone(&packets), Arc::clone(&barrier), pools.clone());
            let how = how.to_owned();
            thread::spawn(move || -> nvcodec_guard::Result<u64> {
                barrier.wait();
                let mut frames = 0;
                let t0 = Instant::now();
                match how.as_str() {
                    "new" => {
                        for _ in 0..clips {
                            let mut d = DecoderBuilder::new(config(codec, None)).build()?;
                            frames += run(&mut d, &packets, t0, false)?.0;
                        }
                    }
                    "pool" => {
                        for _ in 0..clips {
                            let mut d = pools.checkout(spec_of(codec))?;
                            frames += run(&mut d, &packets, t0, false)?.0;
                        }
                    }
                    _ => {
                        let mut d = DecoderBuilder::new(config(codec, None)).build()?;
                        for _ in 0..clips {
                            frames += run(&mut d, &packets, t0, false)?.0;
                        }
                    }
                }
                Ok(frames)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut total = 0;
    for h in handles {
        total += h
            .join()
            .map_err(|_| nvcodec_guard::Error::Io(std::io::Error::other("thread panicked")))??;
    }
    let wall = start.elapsed().as_secs_f64();
    Ok(format!(
        r#"{{"mode":"shortclips","codec":"{codec}","how":"{how}","threads":{threads},"clips_per_thread":{clips},"frames":{total},"wall_s":{wall:.4},"fps":{:.1},"max_concurrent_lifecycle_calls":{}}}"#,
        total as f64 / wall,
        init_lock_stats().max_concurrent_lifecycle_calls,
    ))
}

fn memory(codec: Codec, packets: Packets) -> nvcodec_guard::Result<String> {
    let few = &packets[..packets.len().min(10)];
    let mut decoders = Vec::new();
    let mut free = Vec::new();
    for _ in 0..8 {
        let mut d = DecoderBuilder::new(config(codec, None)).build()?;
        run(&mut d, few, Instant::now(), false)?;
        free.push(d.context().memory_info()?.0);
        decoders.push(d);
    }
    let per = (free[0] as f64 - free[7] as f64) / 7.0 / 1048576.0;
    let (_, total) = decoders[0].context().memory_info()?;
    let c = decoders[0].config();
    Ok(format!(
        r#"{{"mode":"memory","codec":"{codec}","first_session_free_mib":{:.1},"eight_sessions_free_mib":{:.1},"total_mib":{:.1},"mib_per_extra_session":{per:.1},"decode_surfaces_created":{},"decode_surfaces_now":{},"output_surfaces":{},"low_latency":{}}}"#,
        free[0] as f64 / 1048576.0,
        free[7] as f64 / 1048576.0,
        total as f64 / 1048576.0,
        c.effective_decode_surfaces(),
        decoders[0].decode_surfaces(),
        c.output_surfaces,
        c.low_latency,
    ))
}

/// The conversion kernel alone: `k` planar-f32 conversions of the first frame of the clip,
/// against device-to-device copies timed the same way (queued back to back on the per-thread
/// stream with one wait at the end when `BENCH_FRAME_STREAM=per-thread`, each waited for
/// otherwise; one warm-up each, wall clock up to the last wait). Copies of two sizes: the
/// frame's packed bytes (`copy_*`), and half the conversion's bytes, so that a copy reads and
/// writes as many bytes as one conversion does (`copy_same_*`, the fair baseline); plus
/// `Frame::copy_to_buffer`, always waited for (`copy_waited_*`, the baseline used before
/// 2026-11-30). Bytes per second count bytes read plus bytes written.
fn convert_kernel(codec: Codec, packets: Packets, k: usize) -> nvcodec_guard::Result<String> {
    use cudarc::driver::sys::{self, CUresult, CUstream};
    let queued = std::env::var("BENCH_FRAME_STREAM").as_deref() == Ok("per-thread");
    let mut decoder = DecoderBuilder::new(config(codec, None)).build()?;
    let converter = Converter::new(decoder.context())?;
    let pool = RgbFramePool::new(decoder.context());
    let spec = planar_f32();
    let mut result = None;
    for (data, pts) in packets.iter() {
        let mut frames = decoder.decode(data, *pts)?;
        let Some(frame) = frames.next() else { continue };
        let frame = frame?;
        let (w, h) = (frame.width(), frame.height());
        let src = frame.layout().packed_size();
        let dst = spec.packed_size(w, h)?;
        let same = (src + dst) / 2;
        let context = frame.context();
        let mut out = DeviceBuffer::alloc(context, dst)?;
        let mut copy = DeviceBuffer::alloc(context, src)?;
        let copy_dst = DeviceBuffer::alloc(context, src)?;
        let (same_src, same_dst) = (
            DeviceBuffer::alloc(context, same)?,
            DeviceBuffer::alloc(context, same)?,
        );
        converter.convert_into(&frame, &spec, &mut out, 0, spec.row_bytes(w)?)?; // warm-up
        drop(converter.convert_to_pool(&frame, &spec, &pool)?);
        let t0 = Instant::now();
        for _ in 0..k {
            converter.convert_into(&frame, &spec, &mut out, 0, spec.row_bytes(w)?)?;
        }
        drop(converter.convert_to_pool(&frame, &spec, &pool)?); // waits for the stream
        let convert_s = t0.elapsed().as_secs_f64();
        frame.copy_to_buffer(&mut copy)?; // warm-up, and the source of the frame copies
        let t1 = Instant::now();
        for _ in 0..k {
            frame.copy_to_buffer(&mut copy)?;
        }
        let waited_s = t1.elapsed().as_secs_f64();
        let check = |r: CUresult, what: &str| -> nvcodec_guard::Result<()> {
            if r == CUresult::CUDA_SUCCESS {
                Ok(())
            } else {
                Err(std::io::Error::other(format!("{what}: {r:?}")).into())
            }
        };
        let _current = context.make_current()?;
        let stream = 2usize as CUstream; // CU_STREAM_PER_THREAD, as the conversions use
        let copies = |from: &DeviceBuffer,
                      to: &DeviceBuffer,
                      bytes: usize|
         -> nvcodec_guard::Result<f64> {
            // SAFETY: both buffers hold at least `bytes` bytes and outlive the final
            // synchronize; the context is current and the per-thread stream is valid in it.
            let copy = || unsafe {
                check(
                    sys::cuMemcpyDtoDAsync_v2(to.device_ptr(), from.device_ptr(), bytes, stream),
                    "cuMemcpyDtoDAsync",
                )
            };
            // SAFETY: as above.
            let wait = || unsafe { check(sys::cuStreamSynchronize(stream), "cuStreamSynchronize") };
            copy()?;
            wait()?;
            let t = Instant::now();
            for _ in 0..k {
                copy()?;
                if !queued {
                    wait()?;
                }
            }
            wait()?;
            Ok(t.elapsed().as_secs_f64())
        };
        let copy_s = copies(&copy, &copy_dst, src)?;
        let same_s = copies(&same_src, &same_dst, same)?;
        let gb_s = |bytes: usize, n: usize, s: f64| (2 * bytes * n) as f64 / s / 1e9;
        let convert_gb_s = ((src + dst) * (k + 1)) as f64 / convert_s / 1e9;
        let copy_same_gb_s = gb_s(same, k, same_s);
        result = Some(format!(
            r#"{{"mode":"convertkernel","codec":"{codec}","width":{w},"height":{h},"k":{k},"frame_stream":"{}","bytes_read_written":{},"convert_gb_s":{convert_gb_s:.1},"convert_us":{:.2},"copy_same_bytes":{same},"copy_same_gb_s":{copy_same_gb_s:.1},"copy_same_us":{:.2},"fraction_of_copy":{:.3},"copy_bytes":{src},"copy_gb_s":{:.1},"copy_us":{:.2},"copy_waited_gb_s":{:.1},"copy_waited_us":{:.2}}}"#,
            std::env::var("BENCH_FRAME_STREAM").unwrap_or_else(|_| "wait".into()),
            src + dst,
            convert_s / (k + 1) as f64 * 1e6,
            same_s / k as f64 * 1e6,
            convert_gb_s / copy_same_gb_s,
            gb_s(src, k, copy_s),
            copy_s / k as f64 * 1e6,
            gb_s(src, k, waited_s),
            waited_s / k as f64 * 1e6,
        ));
        break;
    }
    drop(decoder);
    result.ok_or_else(|| std::io::Error::other("the clip produced no frame").into())
}

fn teardown(codec: Codec, packets: Packets, n: usize) -> nvcodec_guard::Result<String> {
    let few = &packets[..packets.len().min(10)];
    let barrier = Arc::new(Barrier::new(n + 1));
    let mut handles = Vec::new();
    for _ in 0..n {
        let mut d = DecoderBuilder::new(config(codec, None)).build()?;
        run(&mut d, few, Instant::now(), false)?;
        let barrier = Arc::clone(&barrier);
        handles.push(thread::spawn(move || {
            barrier.wait();
            let t = Instant::now();
            drop(d);
            t.elapsed()
        }));
    }
    barrier.wait();
    let t0 = Instant::now();
    let mut each = Vec::new();
    for h in handles {
        each.push(
            h.join()
                .map_err(|_| nvcodec_guard::Error::Io(std::io::Error::other("panicked")))?
                .as_secs_f64(),
        );
    }
    let dropped = t0.elapsed().as_secs_f64();
    // Deferred teardowns finish on the reaper thread: the wall time includes them.
    if !wait_for_teardowns(std::time::Duration::from_secs(60)) {
        eprintln!("warning: deferred teardowns still pending after 60 s");
    }
    let wall = t0.elapsed().as_secs_f64();
    each.sort_by(f64::total_cmp);
    Ok(format!(
        r#"{{"mode":"teardown","codec":"{codec}","n":{n},"drops_returned_s":{dropped:.4},"wall_s":{wall:.4},"drop_median_s":{:.4},"drop_max_s":{:.4}}}"#,
        each[each.len() / 2],
        each[each.len() - 1]
    ))
}

/// `count` pseudo-random indices below `frames`: xorshift64*, as bench/pynv_random_access.py.
fn random_indices(seed: u64, count: usize, frames: usize) -> Vec<usize> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..count)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) % frames.max(1) as u64) as usize
        })
        .collect()
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

fn random_access(clip: &str, count: usize, seeds: u64) -> nvcodec_guard::Result<String> {
    use nvcodec_guard::decode::{DisplayOrder, OwnedFrame, frames_at_parallel};
    // BENCH_DECODERS=k: frames_at_parallel on k decoders (k NVDEC engines busy at once).
    let k: usize = std::env::var("BENCH_DECODERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let build = |codec: Codec| {
        (0..k)
            .map(|_| {
                DecoderBuilder::new(DecoderConfig::new(codec).with_max_size(1920, 1088)).build()
            })
            .collect::<nvcodec_guard::Result<Vec<Decoder>>>()
    };
    let fetch = |decoders: &mut Vec<Decoder>,
                 stream: &mut ElementaryStream,
                 indices: &[usize],
                 pool: &DeviceFramePool|
     -> nvcodec_guard::Result<Vec<OwnedFrame>> {
        if decoders.len() == 1 {
            decoders[0].frames_at(stream, indices, pool)
        } else {
            frames_at_parallel(decoders, || ElementaryStream::open(clip), indices, pool)
        }
    };
    let t_open = Instant::now();
    let mut stream = ElementaryStream::open(clip)?;
    let codec = stream.codec();
    let frames = DisplayOrder::of(&mut stream, codec)?.len();
    let mut decoders = build(stream.codec())?;
    let open_s = t_open.elapsed().as_secs_f64();
    let pool = DeviceFramePool::new(decoders[0].context());
    drop(fetch(
        &mut decoders,
        &mut stream,
        &random_indices(1000, count, frames),
        &pool,
    )?);
    let mut warm = Vec::new();
    let mut md5s = Vec::new();
    for seed in 0..seeds {
        let indices = random_indices(seed, count, frames);
        let t0 = Instant::now();
        let got = fetch(&mut decoders, &mut stream, &indices, &pool)?;
        warm.push(t0.elapsed().as_secs_f64());
        if seed == 0 {
            for (i, frame) in indices.iter().zip(&got) {
                md5s.push(format!("\"{i}\":\"{}\"", md5_hex(&frame.to_vec()?)));
            }
        }
    }
    drop(decoders);
    let mut cold = Vec::new();
    for seed in 0..seeds {
        let indices = random_indices(seed, count, frames);
        let t0 = Instant::now();
        let mut stream = ElementaryStream::open(clip)?;
        let mut decoders = build(stream.codec())?;
        let pool = DeviceFramePool::new(decoders[0].context());
        drop(fetch(&mut decoders, &mut stream, &indices, &pool)?);
        cold.push(t0.elapsed().as_secs_f64());
    }
    if let Ok(path) = std::env::var("BENCH_MD5_OUT") {
        std::fs::write(path, format!("{{\"{clip}\":{{{}}}}}", md5s.join(",")))?;
    }
    Ok(format!(
        r#"{{"tool":"nvcodec-guard","mode":"random","decoders":{k},"clip":"{clip}","frames":{frames},"count":{count},"open_s":{open_s:.4},"warm_s":{warm:?},"warm_median_s":{:.4},"cold_s":{cold:?},"cold_median_s":{:.4}}}"#,
        median(warm.clone()),
        median(cold.clone())
    ))
}

fn latency(clip: &str, fps: f64) -> nvcodec_guard::Result<String> {
    let mut out = Vec::new();
    for low_latency in [false, true] {
        let mut stream = ElementaryStream::open(clip)?;
        let config = DecoderConfig::new(stream.codec())
            .with_max_size(1920, 1088)
            .with_low_latency(low_latency);
        let mut decoder = DecoderBuilder::new(config).build()?;
        let interval = Duration::from_secs_f64(1.0 / fps);
        let mut fed: Vec<Instant> = Vec::new();
        let mut lat_ms: Vec<f64> = Vec::new();
        let mut same_call = 0u64;
        let start = Instant::now();
        let mut n = 0u32;
        while let Some(packet) = stream.next_packet()? {
            // Packets arrive as from a live source, one every `interval`.
            let due = start + interval * n;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            fed.push(Instant::now());
            let index = fed.len() - 1;
            for frame in decoder.decode(packet.data, index as i64)? {
                let frame = frame?;
                let i = usize::try_from(frame.pts()).unwrap_or(0).min(index);
                same_call += u64::from(i == index);
                lat_ms.push(fed[i].elapsed().as_secs_f64() * 1e3);
            }
            n += 1;
        }
        let last = fed.len().saturating_sub(1);
        for frame in decoder.flush()? {
            let i = usize::try_from(frame?.pts()).unwrap_or(0).min(last);
            if let Some(t) = fed.get(i) {
                lat_ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        lat_ms.sort_by(f64::total_cmp);
        let p99 = lat_ms
            .get((lat_ms.len() * 99).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or(0.0);
        out.push(format!(
            r#"{{"mode":"latency","low_latency":{low_latency},"clip":"{clip}","fps":{fps},"frames":{},"frames_out_in_same_call":{same_call},"median_ms":{:.3},"p99_ms":{p99:.3},"max_ms":{:.3}}}"#,
            lat_ms.len(),
            median(lat_ms.clone()),
            lat_ms.last().copied().unwrap_or(0.0)
        ));
    }
    Ok(out.join("\n"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!("usage: decode_bench throughput|coldstart|memory|teardown CLIP [N] [..]");
        ExitCode::from(2)
    };
    let (Some(mode), Some(clip)) = (args.first(), args.get(1)) else {
        return usage();
    };
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let (codec, packets) = match load(clip) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match mode.as_str() {
        "throughput" => throughput(
            clip,
            codec,
            packets,
            n,
            args.get(3).and_then(|a| a.parse().ok()),
        ),
        "random" => random_access(
            clip,
            n,
            args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5),
        ),
        "latency" => latency(
            clip,
            args.get(2).and_then(|a| a.parse().ok()).unwrap_or(30.0),
        ),
        "coldstart" => coldstart(
            codec,
            packets,
            n,
            args.get(3).map(String::as_str) == Some("warm"),
        ),
        "memory" => memory(codec, packets),
        "poolstart" => {
            let devices: Vec<u32> = args
                .get(3)
                .map(|d| d.split(',').filter_map(|x| x.parse().ok()).collect())
                .unwrap_or_else(|| vec![0]);
            poolstart(codec, packets, n, &devices)
        }
        "shortclips" => {
            let clips = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(20);
            let how = args.get(4).map(String::as_str).unwrap_or("new");
            shortclips(codec, packets, n, clips, how)
        }
        "passes" => passes(codec, packets),
        "teardown" => teardown(codec, packets, n),
        "convertkernel" => convert_kernel(codec, packets, n.max(1)),
        _ => return usage(),
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
