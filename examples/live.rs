//! Decodes a live source on the GPU in low-latency mode: an MPEG-TS (or any other) file, a
//! `udp://` stream or, built with `--features rtsp`, an `rtsp://` URL.
//!
//! ```text
//! cargo run --release --example live -- SOURCE [--latency] [--md5] [--pace FPS] [--frames N]
//! cargo run --release --features rtsp --example live -- rtsp://camera/stream --latency
//! ```
//! `--latency` prints, per frame, its pts and the time from its packet in (the access unit
//! handed to the decoder: for `udp://`, the kernel's receive time of the datagram that completed
//! it) to the frame out, and p50 / p99 / max at the end. `--md5` prints one line per frame in
//! ffmpeg's `framemd5` style (`nv12` / `p010le` layout), to compare with
//! `ffmpeg -i SOURCE -pix_fmt nv12 -f framemd5 -`. `--pace FPS` feeds a file's packets in real
//! time; `--frames N` stops after N frames (a live source runs until it ends or goes silent).
//! A `udp://` source ends when nothing arrives for its `timeout=` (µs; 5 s by default) after
//! it began; silence before its first packet is an error.

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use md5::{Digest, Md5};
use nvcodec_guard::Codec;
use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig, Frame};
use nvcodec_guard::input::{
    ElementaryStream, FormatHint, NetworkError, OwnedPacket, ReadError, SourceUrl, UdpSource,
};

struct Args {
    source: String,
    latency: bool,
    md5: bool,
    pace: Option<f64>,
    frames: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        source: String::new(),
        latency: false,
        md5: false,
        pace: None,
        frames: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--latency" => args.latency = true,
            "--md5" => args.md5 = true,
            "--pace" => {
                let v = it.next().ok_or("--pace needs FPS")?;
                args.pace = Some(v.parse().map_err(|_| format!("bad --pace {v}"))?);
            }
            "--frames" => {
                let v = it.next().ok_or("--frames needs N")?;
                args.frames = Some(v.parse().map_err(|_| format!("bad --frames {v}"))?);
            }
            _ if args.source.is_empty() && !a.starts_with("--") => args.source = a,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if args.source.is_empty() {
        return Err("usage: live SOURCE [--latency] [--md5] [--pace FPS] [--frames N]".into());
    }
    Ok(args)
}

/// Where packets come from, and when each came in.
enum Source {
    File {
        stream: Box<ElementaryStream>,
        pace: Option<Duration>,
        start: Instant,
        fed: u32,
    },
    Udp(Box<UdpSource>, bool),
    #[cfg(feature = "rtsp")]
    Rtsp(Box<nvcodec_guard::input::RtspSource>),
}

impl Source {
    fn open(text: &str, pace: Option<f64>) -> Result<Self, String> {
        match SourceUrl::parse(text).map_err(|e| e.to_string())? {
            SourceUrl::File(path) => Ok(Source::File {
                stream: Box::new(ElementaryStream::open(&path).map_err(|e| e.to_string())?),
                pace: pace.map(|fps| Duration::from_secs_f64(1.0 / fps)),
                start: Instant::now(),
                fed: 0,
            }),
            SourceUrl::Udp(url) => Ok(Source::Udp(
                Box::new(UdpSource::open(&url, FormatHint::Unknown).map_err(|e| e.to_string())?),
                false,
            )),
            #[cfg(feature = "rtsp")]
            SourceUrl::Rtsp(url) => Ok(Source::Rtsp(Box::new(
                nvcodec_guard::input::RtspSource::open(&url, Default::default())
                    .map_err(|e| e.to_string())?,
            ))),
            #[allow(unreachable_patterns)]
            other => Err(format!(
                "{other:?}: rtsp:// needs this example built with `--features rtsp`"
            )),
        }
    }

    /// The next packet and when it came in; `None` at the end.
    fn next(&mut self) -> Result<Option<(OwnedPacket, Instant)>, String> {
        let now = Instant::now;
        match self {
            Source::File {
                stream,
                pace,
                start,
                fed,
            } => {
                if let Some(interval) = pace {
                    let due = *start + *interval * *fed;
                    if let Some(wait) = due.checked_duration_since(now()) {
                        std::thread::sleep(wait);
                    }
                }
                *fed += 1;
                let packet = stream.next_packet().map_err(|e| e.to_string())?;
                Ok(packet.map(|p| (p.to_owned_packet(), now())))
            }
            Source::Udp(source, started) => match source.next_packet() {
                Ok(packet) => {
                    *started = true;
                    let packet = packet.map(|p| p.to_owned_packet());
                    let arrived = source
                        .packet_arrival()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .and_then(|ago| now().checked_sub(ago))
                        .unwrap_or_else(now);
                    Ok(packet.map(|p| (p, arrived)))
                }
                // Silence for the URL's timeout after the stream began ends it here (before
                // it began, it is the timeout error).
                Err(ReadError::Network(NetworkError::Timeout { .. })) if *started => {
                    source.finish();
                    let packet = source.next_packet().map_err(|e| e.to_string())?;
                    Ok(packet.map(|p| (p.to_owned_packet(), now())))
                }
                Err(e) => Err(e.to_string()),
            },
            #[cfg(feature = "rtsp")]
            Source::Rtsp(source) => {
                let packet = source.next_packet().map_err(|e| e.to_string())?;
                Ok(packet.map(|p| (p.to_owned_packet(), now())))
            }
        }
    }

    fn codec(&self) -> Option<Codec> {
        match self {
            Source::File { stream, .. } => Some(stream.codec()),
            Source::Udp(source, _) => source.codec(),
            #[cfg(feature = "rtsp")]
            Source::Rtsp(source) => Some(source.codec()),
        }
    }
}

fn md5_line(frame: &Frame<'_>, n: usize) -> Result<String, String> {
    let bytes = frame.to_vec().map_err(|e| e.to_string())?;
    let digest: String = Md5::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!(
        "0, {n:>10}, {:>10}, 1, {:>8}, {digest}",
        frame.pts(),
        bytes.len()
    ))
}

/// What is printed per frame, and the latencies seen.
struct Out {
    md5: bool,
    latency: bool,
    n: usize,
    latencies: Vec<f64>,
}

impl Out {
    fn frame(&mut self, frame: &Frame<'_>, came_in: Instant) -> Result<(), String> {
        let ms = came_in.elapsed().as_secs_f64() * 1e3;
        if self.md5 {
            println!("{}", md5_line(frame, self.n)?);
        }
        if self.latency {
            println!(
                "frame {:>6} pts {:>12} latency {ms:>8.3} ms",
                self.n,
                frame.pts()
            );
            self.latencies.push(ms);
        }
        self.n += 1;
        Ok(())
    }
}

fn run(args: &Args) -> Result<(), String> {
    let mut source = Source::open(&args.source, args.pace)?;
    let mut first = source.next()?;
    let codec = source
        .codec()
        .ok_or("the source's codec is not known after its first packet")?;
    let config = DecoderConfig::new(codec)
        .with_max_size(1920, 1088)
        .with_low_latency(true);
    let mut decoder = DecoderBuilder::new(config)
        .build()
        .map_err(|e| e.to_string())?;
    let mut out = Out {
        md5: args.md5,
        latency: args.latency,
        n: 0,
        latencies: Vec::new(),
    };
    let limit = args.frames.unwrap_or(usize::MAX);
    while let Some((packet, came_in)) = match first.take() {
        Some(p) => Some(p),
        None => source.next()?,
    } {
        let frames = decoder
            .decode(&packet.data, packet.pts)
            .map_err(|e| e.to_string())?;
        for frame in frames {
            out.frame(&frame.map_err(|e| e.to_string())?, came_in)?;
        }
        if out.n >= limit {
            break;
        }
    }
    let end = Instant::now();
    for frame in decoder.flush().map_err(|e| e.to_string())? {
        out.frame(&frame.map_err(|e| e.to_string())?, end)?;
    }
    let Out {
        n, mut latencies, ..
    } = out;
    if args.latency && !latencies.is_empty() {
        latencies.sort_by(f64::total_cmp);
        let at = |q: usize| latencies[(latencies.len() * q).div_ceil(100).saturating_sub(1)];
        eprintln!(
            "{n} frames; packet in -> frame out: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            at(50),
            at(99),
            latencies[latencies.len() - 1]
        );
    } else {
        eprintln!("{n} frames");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
