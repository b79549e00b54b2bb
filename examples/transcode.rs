//! Decodes a clip with NVDEC and re-encodes it with NVENC (H.264 → HEVC by default), frames
//! staying in GPU memory between the two, as a production pipeline does: each session is
//! built through its own typed builder in its own init window, the decoder first and the
//! encoder once the first frame gives the real size and bit depth.
//!
//! ```text
//! cargo run --release --example transcode -- [INPUT] [OUTPUT] [--codec h264|hevc|av1]
//! ```
//! Defaults: `tests/data/h264_640x360_b3.h264` → `target/transcode.hevc`.
//!
//! Exit status: 0 on success; 2 when the GPU has no NVENC engine, after the decoder
//! half has run through the whole clip and reported its frame count; 1 on any other error,
//! e.g. on a machine without an NVIDIA GPU or driver.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig, Frame};
use nvcodec_guard::encode::{Encoder, EncoderBuilder, EncoderConfig, InputFormat, InputFrame};
use nvcodec_guard::init::WindowTiming;
use nvcodec_guard::input::ElementaryStream;
use nvcodec_guard::{Codec, Error};

#[path = "support/clip.rs"]
mod clip;

struct Options {
    input: PathBuf,
    output: PathBuf,
    codec: Codec,
}

fn usage() -> String {
    format!(
        "usage: transcode [INPUT] [OUTPUT] [--codec h264|hevc|av1]\n\
         defaults: {} (next to the binary, here or in tests/data) -> target/transcode.<codec>, HEVC",
        clip::DEFAULT_CLIP
    )
}

fn parse_args() -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut codec = Codec::Hevc;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(usage()),
            "--codec" => {
                codec = match args.next().as_deref() {
                    Some("h264") => Codec::H264,
                    Some("hevc") => Codec::Hevc,
                    Some("av1") => Codec::Av1,
                    other => return Err(format!("unknown codec {other:?}\n{}", usage())),
                }
            }
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let input = clip::clip_path(positional.next())?;
    let output = positional
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("target/transcode.{}", codec.name())));
    if let Some(extra) = positional.next() {
        return Err(format!("unexpected argument {extra:?}\n{}", usage()));
    }
    Ok(Options {
        input,
        output,
        codec,
    })
}

/// The encoder half: not built yet, running, or unavailable (with why).
enum EncodeSide {
    Pending,
    Running {
        encoder: Box<Encoder>,
        out: BufWriter<File>,
        bytes: u64,
        frames: u64,
    },
    Unavailable(Error),
}

struct Report {
    decoded: u64,
    size: Option<(u32, u32)>,
    decoder_window: WindowTiming,
    encoder_window: Option<WindowTiming>,
    encoded: u64,
    bytes: u64,
    no_encoder: Option<Error>,
}

fn build_encoder(options: &Options, frame: &Frame<'_>) -> Result<EncodeSide, Error> {
    let format = InputFormat::from(frame.pixel_format());
    let config =
        EncoderConfig::new(options.codec, frame.width(), frame.height()).with_input_format(format);
    match EncoderBuilder::new(config).build() {
        Ok(encoder) => {
            if let Some(dir) = options
                .output
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)?;
            }
            let out = BufWriter::new(File::create(&options.output)?);
            println!(
                "encoder: {} {}x{} {format:?}, init window held {:?}",
                options.codec,
                frame.width(),
                frame.height(),
                encoder.init_window().hold
            );
            Ok(EncodeSide::Running {
                encoder: Box::new(encoder),
                out,
                bytes: 0,
                frames: 0,
            })
        }
        // The GPU has no NVENC: keep decoding, to show the decoder half works on its own.
        Err(error @ Error::NoEncodeDevice { .. }) => Ok(EncodeSide::Unavailable(error)),
        Err(error) => Err(error),
    }
}

fn encode_frame(side: &mut EncodeSide, frame: &Frame<'_>) -> Result<(), Error> {
    let EncodeSide::Running {
        encoder,
        out,
        bytes,
        frames,
    } = side
    else {
        return Ok(());
    };
    // GPU to GPU: a packed copy of the decoded surface, handed to the encoder in place.
    let on_gpu = frame.copy_to_device()?;
    let pitch = frame.layout().luma_row_bytes();
    for packet in encoder.encode(InputFrame::device(&on_gpu, pitch), frame.pts())? {
        out.write_all(&packet.data)?;
        *bytes += packet.data.len() as u64;
    }
    *frames += 1;
    Ok(())
}

fn run(options: &Options) -> Result<Report, Error> {
    let mut stream = ElementaryStream::open(&options.input)?;
    let mut config = DecoderConfig::new(stream.codec());
    if let Some((w, h)) = stream.dimensions() {
        config = config.with_max_size(w, h);
    }
    // Init window 1: the decoder.
    let mut decoder = DecoderBuilder::new(config).build()?;
    println!(
        "decoder: {} from {}, init window held {:?}",
        stream.codec(),
        options.input.display(),
        decoder.init_window().hold
    );
    let decoder_window = decoder.init_window();

    let mut side = EncodeSide::Pending;
    let mut decoded = 0u64;
    let mut size = None;
    let mut handle = |frame: Frame<'_>, side: &mut EncodeSide| -> Result<(), Error> {
        decoded += 1;
        size.get_or_insert((frame.width(), frame.height()));
        if matches!(side, EncodeSide::Pending) {
            // Init window 2: the encoder, sized from the first frame.
            *side = build_encoder(options, &frame)?;
        }
        encode_frame(side, &frame)
    };
    while let Some(packet) = stream.next_packet()? {
        for frame in decoder.decode(packet.data, packet.pts)? {
            handle(frame?, &mut side)?;
        }
    }
    for frame in decoder.flush()? {
        handle(frame?, &mut side)?;
    }

    let mut report = Report {
        decoded,
        size,
        decoder_window,
        encoder_window: None,
        encoded: 0,
        bytes: 0,
        no_encoder: None,
    };
    match side {
        EncodeSide::Running {
            mut encoder,
            mut out,
            mut bytes,
            frames,
        } => {
            for packet in encoder.flush()? {
                out.write_all(&packet.data)?;
                bytes += packet.data.len() as u64;
            }
            out.flush()?;
            report.encoder_window = Some(encoder.init_window());
            report.encoded = frames;
            report.bytes = bytes;
        }
        EncodeSide::Unavailable(error) => report.no_encoder = Some(error),
        EncodeSide::Pending => {}
    }
    Ok(report)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(1);
        }
    };
    let start = Instant::now();
    let report = match run(&options) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error}");
            if let Error::LibraryNotFound { name, .. } = &error {
                eprintln!(
                    "hint: {name} is missing: this machine has no NVIDIA driver (or it is not \
                     mounted into the container); transcoding needs an NVIDIA GPU"
                );
            }
            return ExitCode::from(1);
        }
    };
    let elapsed = start.elapsed();
    let size = report
        .size
        .map_or_else(|| "no frames".to_owned(), |(w, h)| format!("{w}x{h}"));
    println!(
        "decoded {} frame(s) ({size}) with NVDEC; decoder window waited {:?}",
        report.decoded, report.decoder_window.wait
    );
    if let Some(error) = report.no_encoder {
        eprintln!("error: cannot encode: {error}");
        eprintln!(
            "the decoder half worked ({} frames); this GPU has no NVENC engine, use one that \
             has (L4, L40S, A10, T4, RTX ...)",
            report.decoded
        );
        return ExitCode::from(2);
    }
    let fps = report.decoded as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "encoded {} frame(s) to {} ({} bytes, {}) in {elapsed:?} ({fps:.0} fps); encoder window {:?}",
        report.encoded,
        options.output.display(),
        report.bytes,
        options.codec,
        report.encoder_window.map(|w| w.hold).unwrap_or_default()
    );
    ExitCode::SUCCESS
}
