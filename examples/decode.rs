//! Decodes an elementary stream (Annex-B H.264/HEVC, IVF VP8/VP9/AV1, MPEG-2) on the GPU.
//!
//! ```text
//! cargo run --release --example decode [FILE] [--md5] [--max WxH]
//! ```
//! Without FILE it decodes `h264_640x360_b3.h264` found next to the binary, in the current
//! directory or in `./tests/data` (the bundled clip when run from the source tree). `--md5` prints
//! one line per frame in ffmpeg's `framemd5` style (`nv12`/`p010le` layout), so
//! `diff <(ffmpeg -i FILE -pix_fmt nv12 -f framemd5 -) ...` style checks are easy.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig, Frame};
use nvcodec_guard::input::ElementaryStream;

#[path = "support/clip.rs"]
mod clip;

struct Args {
    path: PathBuf,
    md5: bool,
    max: Option<(u32, u32)>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        path: PathBuf::new(),
        md5: false,
        max: None,
    };
    let mut given = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--md5" => args.md5 = true,
            "--max" => {
                let v = it.next().ok_or("--max needs WxH")?;
                let (w, h) = v.split_once('x').ok_or("--max needs WxH")?;
                args.max = Some((
                    w.parse().map_err(|_| "bad width")?,
                    h.parse().map_err(|_| "bad height")?,
                ));
            }
            "-h" | "--help" => return Err("usage: decode [FILE] [--md5] [--max WxH]".into()),
            other => given = Some(other.to_owned()),
        }
    }
    args.path = clip::clip_path(given)?;
    Ok(args)
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn run(mut args: Args) -> nvcodec_guard::Result<()> {
    let mut stream = ElementaryStream::open(&args.path)?;
    let mut config = DecoderConfig::new(stream.codec());
    if let Some((w, h)) = args.max.or(stream.dimensions()) {
        config = config.with_max_size(w, h);
    }
    let started = Instant::now();
    let mut decoder = DecoderBuilder::new(config).build()?;
    let init = started.elapsed();
    let mut first_frame = None;
    if args.md5 {
        // The timestamps are the container's (MP4/Matroska/WebM, IVF) in this time base, or
        // packet indices for raw elementary streams.
        match stream.time_base() {
            Some(tb) => println!("#tb 0: {}/{}", tb.num, tb.den),
            None => println!("#tb 0: packet index"),
        }
    }
    let frames = decoder.decode_stream(&mut stream, |frame: Frame<'_>| {
        if first_frame.is_none() {
            first_frame = Some(started.elapsed());
        }
        if args.md5 {
            use std::io::Write;
            let bytes = frame.to_vec()?;
            let line = format!(
                "0, {:>10}, {:>10}, 1, {:>8}, {}",
                frame.pts(),
                frame.pts(),
                bytes.len(),
                md5_hex(&bytes)
            );
            // A closed pipe (`| head`) ends the listing quietly instead of panicking.
            if writeln!(std::io::stdout().lock(), "{line}").is_err() {
                args.md5 = false;
            }
        }
        Ok(())
    })?;
    let total = started.elapsed();
    let window = decoder.init_window();
    eprintln!(
        "{}: {} {} frames in {:.3} s ({:.0} fps); init {:.1} ms (lock wait {:.1} ms, hold {:.1} ms); first frame after {:.1} ms; {:?}; {:?}",
        args.path.display(),
        stream.codec(),
        frames,
        total.as_secs_f64(),
        frames as f64 / total.as_secs_f64(),
        init.as_secs_f64() * 1e3,
        window.wait.as_secs_f64() * 1e3,
        window.hold.as_secs_f64() * 1e3,
        first_frame.unwrap_or_default().as_secs_f64() * 1e3,
        decoder.stats(),
        stream.container(),
    );
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
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ nvcodec_guard::Error::LibraryNotFound { .. }) => {
            eprintln!("error: {e}\nThis example needs an NVIDIA GPU with its driver installed.");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
