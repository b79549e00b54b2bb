//! Many live streams on one GPU: N paced sources of one MPEG-TS clip, each decoded by a
//! low-latency decoder from one [`DecoderPool`], with the latency of every frame. A benchmark
//! for the GPU machine (not a timed test); one JSON object per N on stdout.
//!
//! ```text
//! live_bench CLIP.ts [--ns 50,100,150] [--seconds 10] [--fps 30] [--mode udp|packets]
//!                    [--late-ms 100] [--port 20000] [--decode-surfaces N]
//! ```
//! `udp` (the default): stream `s` is sent to `127.0.0.1:PORT+s` as MPEG-TS over UDP, seven
//! 188-byte packets a datagram, one burst per frame (the TS packets from one frame's PES start
//! to the next's, as an encoder emits them), burst `k` of stream `s` due at
//! `start + s/N × interval + k × interval`, by 4 sender threads; each receiver reads its socket
//! through the crate's `udp://` source (`UdpSource`: 4 MiB receive buffer, kernel drops counted)
//! and decodes on a decoder checked out of a pool prewarmed with N low-latency decoders (the
//! live sizing: 4 decode surfaces for H.264, 6 for HEVC, 1 output surface; `--decode-surfaces`
//! overrides). `packets`: no network, each stream thread
//! feeds the clip's access units (read before timing) at the same times: the workload
//! `bench/pynv_live.py` gives PyNvVideoCodec.
//!
//! Per frame: `latency` = frame out − its burst sent (udp) or its packet due (packets): packet
//! in → frame out. In udp mode the TS reader can hand out an access unit only when the next one
//! begins (MPEG-TS marks no end of an access unit), so that latency includes one frame
//! interval of the container's own; `after_reader` = frame out − the kernel's receive time of
//! the datagram that completed the access unit (udp; in packets mode, its feed): packet in →
//! frame out for the decoder's packet, the reader, the receiving thread and the decoder. A frame is *late* past `--late-ms` and *lost* if it
//! never comes out. Memory per session: free device memory before the pool is prewarmed against
//! after every stream has its first frame, over N. CPU per stream: the process's CPU seconds
//! over the run's wall seconds, over N.

use std::collections::HashMap;
use std::net::UdpSocket;
use std::process::ExitCode;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nvcodec_guard::Codec;
use nvcodec_guard::cuda::{Context, ContextMode};
use nvcodec_guard::decode::{DecoderPool, DecoderSpec, PoolConfig};
use nvcodec_guard::init::{CudaInitGuard, wait_for_teardowns};
use nvcodec_guard::input::{ElementaryStream, OwnedPacket};

#[path = "support/live_source.rs"]
mod live_source;

const TS: usize = 188;
const PER_DATAGRAM: usize = 7;
const SENDERS: usize = 4;

struct Args {
    clip: String,
    ns: Vec<usize>,
    seconds: f64,
    fps: f64,
    udp: bool,
    late_ms: f64,
    port: u16,
    decode_surfaces: Option<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut args = Args {
        clip: String::new(),
        ns: vec![50, 100, 150],
        seconds: 10.0,
        fps: 30.0,
        udp: true,
        late_ms: 100.0,
        port: 20_000,
        decode_surfaces: None,
    };
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--ns" => {
                args.ns = value()?
                    .split(',')
                    .map(|n| n.parse().map_err(|_| format!("bad N {n}")))
                    .collect::<Result<_, _>>()?;
            }
            "--seconds" => args.seconds = value()?.parse().map_err(|_| "bad --seconds")?,
            "--fps" => args.fps = value()?.parse().map_err(|_| "bad --fps")?,
            "--late-ms" => args.late_ms = value()?.parse().map_err(|_| "bad --late-ms")?,
            "--port" => args.port = value()?.parse().map_err(|_| "bad --port")?,
            "--decode-surfaces" => {
                args.decode_surfaces = Some(value()?.parse().map_err(|_| "bad surfaces")?);
            }
            "--mode" => args.udp = value()? == "udp",
            _ if args.clip.is_empty() && !a.starts_with('-') => args.clip = a,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if args.clip.is_empty() {
        return Err("usage: live_bench CLIP.ts [--ns 50,100,150] [--seconds S] ...".into());
    }
    Ok(args)
}

/// The clip as a sender and a decoder see it.
struct Clip {
    codec: Codec,
    /// Per frame, the datagrams of its burst.
    bursts: Vec<Vec<Vec<u8>>>,
    /// Per frame (decode order), its access unit as the file reader gives it.
    packets: Vec<OwnedPacket>,
    /// pts -> frame index.
    index: HashMap<i64, usize>,
}

fn video_pid(ts: &[u8]) -> Option<u16> {
    ts.chunks_exact(TS).find_map(|p| {
        let pusi = p[1] & 0x40 != 0;
        let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        let start = match (p[3] >> 4) & 3 {
            1 => 4,
            3 => 5 + usize::from(p[4]),
            _ => return None,
        };
        let pes = p.get(start..start + 4)?;
        (pusi && pes[..3] == [0, 0, 1] && (0xe0..=0xef).contains(&pes[3])).then_some(pid)
    })
}

fn load(path: &str) -> Result<Clip, String> {
    let ts = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if ts.len() % TS != 0 || ts.first() != Some(&0x47) {
        return Err(format!("{path}: not 188-byte MPEG-TS"));
    }
    let pid = video_pid(&ts).ok_or("no video PES start found")?;
    let mut starts = Vec::new();
    for (i, p) in ts.chunks_exact(TS).enumerate() {
        let this = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        if this == pid && p[1] & 0x40 != 0 {
            starts.push(i);
        }
    }
    let count = ts.len() / TS;
    let bursts: Vec<Vec<Vec<u8>>> = (0..starts.len())
        .map(|k| {
            let from = if k == 0 { 0 } else { starts[k] };
            let to = starts.get(k + 1).copied().unwrap_or(count);
            ts[from * TS..to * TS]
                .chunks(TS * PER_DATAGRAM)
                .map(<[u8]>::to_vec)
                .collect()
        })
        .collect();
    let mut stream = ElementaryStream::open(path).map_err(|e| e.to_string())?;
    let codec = stream.codec();
    let packets = stream
        .packets()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if packets.len() != bursts.len() {
        return Err(format!(
            "{path}: {} access units but {} PES starts: one PES per access unit expected",
            packets.len(),
            bursts.len()
        ));
    }
    let index = packets
        .iter()
        .enumerate()
        .map(|(k, p)| (p.pts, k))
        .collect();
    Ok(Clip {
        codec,
        bursts,
        packets,
        index,
    })
}

/// The process's CPU seconds (user + system), from /proc/self/stat (100 ticks a second).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

fn pct(sorted: &[f64], q: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(sorted.len() * q)
        .div_ceil(100)
        .saturating_sub(1)
        .min(sorted.len() - 1)]
}

/// What one stream saw.
#[derive(Default)]
struct StreamResult {
    latency_ms: Vec<f64>,
    after_reader_ms: Vec<f64>,
    frames: usize,
    transport_lost: u64,
    kernel_drops: u64,
    error: Option<String>,
}

struct Run<'a> {
    args: &'a Args,
    clip: &'a Clip,
    n: usize,
    frames: usize,
    start: Instant,
    interval: Duration,
    /// Nanoseconds after `start` at which burst (s, k) was sent: index s * frames + k.
    sent: Vec<AtomicU64>,
}

impl Run<'_> {
    fn due(&self, s: usize, k: usize) -> Instant {
        let offset = self.interval.mul_f64(s as f64 / self.n as f64);
        self.start + offset + self.interval * u32::try_from(k).unwrap_or(u32::MAX)
    }

    fn send(&self, sender: usize) -> Result<(), String> {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let mut schedule: Vec<(Instant, usize, usize)> = (sender..self.n)
            .step_by(SENDERS)
            .flat_map(|s| (0..=self.frames).map(move |k| (s, k)))
            .map(|(s, k)| (self.due(s, k), s, k))
            .collect();
        schedule.sort_by_key(|e| e.0);
        for (due, s, k) in schedule {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            // Burst `frames` (one past the last measured) completes the last access unit.
            let Some(burst) = self.clip.bursts.get(k) else {
                continue;
            };
            let port = self.args.port + u16::try_from(s).map_err(|e| e.to_string())?;
            for datagram in burst {
                socket
                    .send_to(datagram, ("127.0.0.1", port))
                    .map_err(|e| format!("send to {port}: {e}"))?;
            }
            if k < self.frames {
                let at = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.sent[s * self.frames + k].store(at, Ordering::Release);
            }
        }
        Ok(())
    }

    fn sent_at(&self, s: usize, k: usize) -> Option<Instant> {
        let at = self.sent[s * self.frames + k].load(Ordering::Acquire);
        (at != 0).then(|| self.start + Duration::from_nanos(at))
    }

    /// Stream `s`: receive (udp) or pace (packets), decode, time every frame.
    fn stream(&self, s: usize, pool: &DecoderPool, ready: &Barrier) -> StreamResult {
        let mut result = StreamResult::default();
        let mut waited = false;
        let outcome = (|| -> Result<(), String> {
            let spec = DecoderSpec::new(self.clip.codec, 1920, 1088);
            let mut decoder = pool.checkout(spec).map_err(|e| e.to_string())?;
            let mut source = if self.args.udp {
                let port = self.args.port + u16::try_from(s).map_err(|e| e.to_string())?;
                Some(live_source::UdpTs::bind(port)?)
            } else {
                None
            };
            let deadline = self.due(s, self.frames) + Duration::from_secs(2);
            let mut k_fed = 0;
            loop {
                let (packet, handed) = if let Some(source) = &mut source {
                    match source.next_packet(deadline)? {
                        Some(received) => received,
                        None => break,
                    }
                } else {
                    if k_fed >= self.frames {
                        break;
                    }
                    let due = self.due(s, k_fed);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        thread::sleep(wait);
                    }
                    k_fed += 1;
                    (self.clip.packets[k_fed - 1].clone(), Instant::now())
                };
                let frames = decoder
                    .decode(&packet.data, packet.pts)
                    .map_err(|e| e.to_string())?;
                for frame in frames {
                    let frame = frame.map_err(|e| e.to_string())?;
                    let out = Instant::now();
                    let Some(&k) = self.clip.index.get(&frame.pts()) else {
                        continue;
                    };
                    if k >= self.frames {
                        continue;
                    }
                    let sent = if self.args.udp {
                        self.sent_at(s, k)
                    } else {
                        Some(handed)
                    };
                    if let Some(sent) = sent {
                        result.frames += 1;
                        result
                            .latency_ms
                            .push(out.saturating_duration_since(sent).as_secs_f64() * 1e3);
                        result
                            .after_reader_ms
                            .push(out.saturating_duration_since(handed).as_secs_f64() * 1e3);
                    }
                    if !waited {
                        waited = true;
                        ready.wait();
                    }
                }
                if result.frames >= self.frames {
                    break;
                }
            }
            if let Some(source) = &source {
                result.transport_lost = source.transport_lost();
                result.kernel_drops = source.kernel_drops();
            }
            Ok(())
        })();
        if !waited {
            ready.wait();
        }
        result.error = outcome.err();
        result
    }
}

fn run(args: &Args, clip: &Clip, n: usize) -> Result<String, String> {
    let frames = clip
        .packets
        .len()
        .saturating_sub(1)
        .min((args.seconds * args.fps) as usize);
    // The previous run's decoders are destroyed on the teardown thread: let it finish, so
    // that their memory is not counted against this run's.
    if !wait_for_teardowns(Duration::from_secs(60)) {
        return Err("the previous run's decoders were not destroyed within 60 s".into());
    }
    let guard = CudaInitGuard::acquire().map_err(|e| e.to_string())?;
    let context =
        Context::acquire(&guard, 0, ContextMode::SharedPrimary).map_err(|e| e.to_string())?;
    drop(guard);
    let (free_before, _) = context.memory_info().map_err(|e| e.to_string())?;
    let config = PoolConfig::default()
        .with_max_per_key(n)
        .with_max_total(n)
        .with_low_latency(true)
        .with_decode_surfaces(args.decode_surfaces);
    let pool = DecoderPool::new(config);
    let spec = DecoderSpec::new(clip.codec, 1920, 1088);
    let t = Instant::now();
    pool.prewarm(spec, n).map_err(|e| e.to_string())?;
    let prewarm_s = t.elapsed().as_secs_f64();
    let start = Instant::now() + Duration::from_millis(500);
    let run = Run {
        args,
        clip,
        n,
        frames,
        start,
        interval: Duration::from_secs_f64(1.0 / args.fps),
        sent: (0..n * frames).map(|_| AtomicU64::new(0)).collect(),
    };
    let ready = Barrier::new(n + 1);
    let free_after = AtomicUsize::new(0);
    let cpu0 = cpu_seconds();
    let (results, send_errors) = thread::scope(|scope| {
        let streams: Vec<_> = (0..n)
            .map(|s| {
                let (run, pool, ready) = (&run, &pool, &ready);
                scope.spawn(move || run.stream(s, pool, ready))
            })
            .collect();
        let senders: Vec<_> = if args.udp {
            (0..SENDERS.min(n))
                .map(|j| {
                    let run = &run;
                    scope.spawn(move || run.send(j))
                })
                .collect()
        } else {
            Vec::new()
        };
        ready.wait();
        if let Ok((free, _)) = context.memory_info() {
            free_after.store(free, Ordering::Relaxed);
        }
        let results: Vec<StreamResult> = streams
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        let errors: Vec<String> = senders
            .into_iter()
            .filter_map(|h| h.join().ok().and_then(Result::err))
            .collect();
        (results, errors)
    });
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let mut latency: Vec<f64> = results.iter().flat_map(|r| r.latency_ms.clone()).collect();
    let mut after: Vec<f64> = results
        .iter()
        .flat_map(|r| r.after_reader_ms.clone())
        .collect();
    latency.sort_by(f64::total_cmp);
    after.sort_by(f64::total_cmp);
    let out: usize = results.iter().map(|r| r.frames).sum();
    let expected = frames * n;
    let late = latency.iter().filter(|&&ms| ms > args.late_ms).count();
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| r.error.clone())
        .chain(send_errors)
        .take(5)
        .collect();
    let per_session =
        (free_before as f64 - free_after.load(Ordering::Relaxed) as f64) / n as f64 / 1_048_576.0;
    let stats = pool.stats();
    Ok(format!(
        concat!(
            r#"{{"who":"nvcodec-guard","mode":"{}","clip":"{}","streams":{},"fps":{},"#,
            r#""seconds":{:.3},"frames_expected":{},"frames_out":{},"lost":{},"late":{},"#,
            r#""late_ms":{},"p50_ms":{:.3},"p99_ms":{:.3},"max_ms":{:.3},"#,
            r#""after_reader_p50_ms":{:.3},"after_reader_p99_ms":{:.3},"after_reader_max_ms":{:.3},"#,
            r#""transport_lost":{},"kernel_drops":{},"mib_per_session":{:.1},"#,
            r#""cpu_per_stream":{:.4},"prewarm_s":{:.3},"pool_reconfigurations":{},"errors":{:?}}}"#
        ),
        if args.udp { "udp" } else { "packets" },
        args.clip,
        n,
        args.fps,
        wall,
        expected,
        out,
        expected.saturating_sub(out),
        late,
        args.late_ms,
        pct(&latency, 50),
        pct(&latency, 99),
        latency.last().copied().unwrap_or(f64::NAN),
        pct(&after, 50),
        pct(&after, 99),
        after.last().copied().unwrap_or(f64::NAN),
        results.iter().map(|r| r.transport_lost).sum::<u64>(),
        results.iter().map(|r| r.kernel_drops).sum::<u64>(),
        per_session,
        cpu / wall.max(1e-9) / n as f64,
        prewarm_s,
        stats.reconfigurations,
        errors,
    ))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let clip = match load(&args.clip) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for &n in &args.ns {
        match run(&args, &clip, n) {
            Ok(line) => println!("{line}"),
            Err(e) => println!(r#"{{"who":"nvcodec-guard","streams":{n},"error":{e:?}}}"#),
        }
    }
    ExitCode::SUCCESS
}
