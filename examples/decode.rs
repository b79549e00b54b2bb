//! Decodes an elementary stream (Annex-B H.264/HEVC, IVF VP8/VP9/AV1, MPEG-2) on the GPU.
//!
//! ```text
//! cargo run --release --example decode [FILE] [--md5] [--max WxH]
//!     [--size WxH] [--crop X,Y,W,H] [--rgb LAYOUT[:TYPE] [--png] [--out DIR] [--frames N]]
//!     [--at I,J,.. | --seek SECONDS]
//! ```
//! `--size` / `--crop` make NVDEC scale / crop the frames (crop relative to the displayed
//! picture, all values even). `--rgb` converts each frame on the GPU (`rgb`, `bgr`, `rgba`,
//! `bgra` or `planar`; `u8` (default), `f16` or `f32`) and writes it to `DIR` (default
//! `frames-out`): raw bytes (`frame-NNNN.LAYOUT.TYPE`), or with `--png` (`u8` only) a PNG
//! anyone can open and compare with ffmpeg's
//! (`ffmpeg -i FILE -frames:v 1 -pix_fmt rgb24 ffmpeg-0000.png`). `--frames` limits how many
//! are written (default 10).
//! Without FILE it decodes `h264_640x360_b3.h264` found next to the binary, in the current
//! directory or in `./tests/data` (the bundled clip when run from the source tree). `--md5` prints
//! one line per frame in ffmpeg's `framemd5` style (`nv12`/`p010le` layout), so
//! `diff <(ffmpeg -i FILE -pix_fmt nv12 -f framemd5 -) ...` style checks are easy.
//!
//! `--at 10,200,5` decodes only the frames at those display indices (0-based, in that order;
//! line `i` of ffmpeg's framemd5 of the whole file is frame `i`), `--seek SECONDS` the frame
//! shown at that time (containers and IVF only: raw streams have no clock); with `--md5`, one
//! framemd5 line each.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use nvcodec_guard::convert::{ConvertSpec, Converter, RgbFramePool, RgbLayout, SampleType};
use nvcodec_guard::decode::{CropRect, DecoderBuilder, DecoderConfig, Frame};
use nvcodec_guard::input::ElementaryStream;

#[path = "support/clip.rs"]
mod clip;

struct Args {
    path: PathBuf,
    md5: bool,
    at: Vec<usize>,
    seek: Option<f64>,
    max: Option<(u32, u32)>,
    size: Option<(u32, u32)>,
    crop: Option<CropRect>,
    rgb: Option<(RgbLayout, SampleType)>,
    png: bool,
    out: PathBuf,
    frames: usize,
}

fn pair(v: &str, what: &str) -> Result<(u32, u32), String> {
    let (w, h) = v.split_once('x').ok_or(format!("{what} needs WxH"))?;
    Ok((
        w.parse().map_err(|_| format!("bad {what} width"))?,
        h.parse().map_err(|_| format!("bad {what} height"))?,
    ))
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        path: PathBuf::new(),
        md5: false,
        at: Vec::new(),
        seek: None,
        max: None,
        size: None,
        crop: None,
        rgb: None,
        png: false,
        out: PathBuf::from("frames-out"),
        frames: 10,
    };
    let mut given = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--md5" => args.md5 = true,
            "--at" => {
                args.at = it
                    .next()
                    .ok_or("--at needs I,J,..")?
                    .split(',')
                    .map(|i| {
                        i.trim()
                            .parse()
                            .map_err(|_| format!("bad --at index {i:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--seek" => {
                let v = it.next().ok_or("--seek needs SECONDS")?;
                args.seek = Some(v.parse().map_err(|_| format!("bad --seek time {v:?}"))?);
            }
            "--max" => args.max = Some(pair(&it.next().ok_or("--max needs WxH")?, "--max")?),
            "--size" => args.size = Some(pair(&it.next().ok_or("--size needs WxH")?, "--size")?),
            "--crop" => {
                let v = it.next().ok_or("--crop needs X,Y,W,H")?;
                let n: Vec<u32> = v
                    .split(',')
                    .map(|x| x.trim().parse().map_err(|_| "bad --crop value".to_string()))
                    .collect::<Result<_, _>>()?;
                let [x, y, w, h] = n[..] else {
                    return Err("--crop needs X,Y,W,H".into());
                };
                args.crop = Some(CropRect::new(x, y, w, h));
            }
            "--rgb" => {
                let v = it.next().ok_or("--rgb needs LAYOUT[:TYPE]")?;
                let (layout, sample) = v.split_once(':').unwrap_or((&v, "u8"));
                args.rgb = Some((
                    layout.parse().map_err(|e| format!("{e}"))?,
                    sample.parse().map_err(|e| format!("{e}"))?,
                ));
            }
            "--png" => args.png = true,
            "--out" => args.out = PathBuf::from(it.next().ok_or("--out needs DIR")?),
            "--frames" => {
                args.frames = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--frames needs a number")?;
            }
            "-h" | "--help" => {
                return Err(
                    "usage: decode [FILE] [--md5] [--max WxH] [--size WxH] [--crop X,Y,W,H] \
                     [--rgb LAYOUT[:TYPE] [--png] [--out DIR] [--frames N]] \
                     [--at I,J,.. | --seek SECONDS]"
                        .into(),
                );
            }
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
    if let Some((w, h)) = args.size {
        config = config.with_output_size(w, h);
    }
    if let Some(crop) = args.crop {
        config = config.with_crop(crop);
    }
    if args.png && args.rgb.is_some_and(|(_, s)| s != SampleType::U8) {
        return Err(nvcodec_guard::Error::InvalidConfig {
            parameter: "--png",
            reason: "--png writes u8 pictures only".into(),
        });
    }
    let started = Instant::now();
    let mut decoder = DecoderBuilder::new(config).build()?;
    let init = started.elapsed();
    let converter = match args.rgb {
        Some(_) => {
            std::fs::create_dir_all(&args.out).map_err(|e| {
                nvcodec_guard::Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", args.out.display()),
                ))
            })?;
            Some((
                Converter::new(decoder.context())?,
                RgbFramePool::new(decoder.context()),
            ))
        }
        None => None,
    };
    let mut written = 0usize;
    let mut first_frame = None;
    if args.md5 {
        // The timestamps are the container's (MP4/Matroska/WebM, IVF) in this time base, or
        // packet indices for raw elementary streams.
        match stream.time_base() {
            Some(tb) => println!("#tb 0: {}/{}", tb.num, tb.den),
            None => println!("#tb 0: packet index"),
        }
    }
    if !args.at.is_empty() || args.seek.is_some() {
        return random_access(&args, &mut decoder, &mut stream);
    }
    let frames = decoder.decode_stream(&mut stream, |frame: Frame<'_>| {
        if first_frame.is_none() {
            first_frame = Some(started.elapsed());
        }
        if let (Some((converter, pool)), Some((layout, sample))) = (&converter, args.rgb) {
            if written < args.frames {
                let spec = ConvertSpec::new(layout, sample);
                let picture = converter.convert_to_pool(&frame, &spec, pool)?;
                let bytes = picture.to_vec()?;
                let name = if args.png {
                    format!("frame-{written:04}.png")
                } else {
                    format!("frame-{written:04}.{layout}.{sample}")
                };
                let data = if args.png {
                    png::encode(&bytes, frame.width(), frame.height(), layout)
                } else {
                    bytes
                };
                let path = args.out.join(name);
                std::fs::write(&path, data).map_err(|e| {
                    nvcodec_guard::Error::Io(std::io::Error::new(
                        e.kind(),
                        format!("{}: {e}", path.display()),
                    ))
                })?;
                if written == 0 {
                    eprintln!(
                        "writing {}x{} {layout} {sample} to {} (colour {}, stream height {})",
                        frame.width(),
                        frame.height(),
                        args.out.display(),
                        frame.colour(),
                        frame.stream_height()
                    );
                }
                written += 1;
            }
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

/// `--at` / `--seek`: the frames at those display indices, or shown at that time.
fn random_access(
    args: &Args,
    decoder: &mut nvcodec_guard::decode::Decoder,
    stream: &mut ElementaryStream,
) -> nvcodec_guard::Result<()> {
    use nvcodec_guard::decode::DeviceFramePool;
    let pool = DeviceFramePool::new(decoder.context());
    let started = Instant::now();
    let frames = match args.seek {
        Some(seconds) => {
            let tb = stream
                .time_base()
                .ok_or_else(|| nvcodec_guard::Error::InvalidConfig {
                    parameter: "--seek",
                    reason: "a raw elementary stream has no clock; use --at with a frame index"
                        .into(),
                })?;
            let ticks = (seconds * tb.den as f64 / tb.num as f64).round() as i64;
            vec![decoder.frame_at_time(stream, ticks, &pool)?]
        }
        None => decoder.frames_at(stream, &args.at, &pool)?,
    };
    let took = started.elapsed();
    for frame in &frames {
        let bytes = frame.to_vec()?;
        if args.md5 {
            println!(
                "0, {:>10}, {:>10}, 1, {:>8}, {}",
                frame.pts(),
                frame.pts(),
                bytes.len(),
                md5_hex(&bytes)
            );
        }
    }
    eprintln!(
        "{}: {} frames by random access in {:.3} s",
        args.path.display(),
        frames.len(),
        took.as_secs_f64()
    );
    Ok(())
}

/// A minimal PNG writer: 8-bit RGB or RGBA, stored (uncompressed) deflate blocks.
mod png {
    use nvcodec_guard::convert::RgbLayout;

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in data {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    /// `pixels`: a packed u8 picture of `layout`.
    pub fn encode(pixels: &[u8], width: u32, height: u32, layout: RgbLayout) -> Vec<u8> {
        let (w, h) = (width as usize, height as usize);
        let alpha = matches!(layout, RgbLayout::Rgba | RgbLayout::Bgra);
        let channels = if alpha { 4 } else { 3 };
        let mut raw = Vec::with_capacity(h * (w * channels + 1));
        for y in 0..h {
            raw.push(0); // filter: none
            for x in 0..w {
                let i = y * w + x;
                let px: [u8; 4] = match layout {
                    RgbLayout::Rgb => [pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2], 255],
                    RgbLayout::Bgr => [pixels[3 * i + 2], pixels[3 * i + 1], pixels[3 * i], 255],
                    RgbLayout::Rgba => [
                        pixels[4 * i],
                        pixels[4 * i + 1],
                        pixels[4 * i + 2],
                        pixels[4 * i + 3],
                    ],
                    RgbLayout::Bgra => [
                        pixels[4 * i + 2],
                        pixels[4 * i + 1],
                        pixels[4 * i],
                        pixels[4 * i + 3],
                    ],
                    RgbLayout::PlanarRgb => {
                        [pixels[i], pixels[w * h + i], pixels[2 * w * h + i], 255]
                    }
                    // `RgbLayout` is `#[non_exhaustive]`: a layout added later has no PNG writer here.
                    other => unimplemented!("PNG output of {other:?}"),
                };
                raw.extend_from_slice(&px[..channels]);
            }
        }
        let mut z = vec![0x78, 0x01];
        let mut blocks = raw.chunks(65_535).peekable();
        if blocks.peek().is_none() {
            z.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        }
        while let Some(block) = blocks.next() {
            z.push(u8::from(blocks.peek().is_none()));
            let len = block.len() as u16;
            z.extend_from_slice(&len.to_le_bytes());
            z.extend_from_slice(&(!len).to_le_bytes());
            z.extend_from_slice(block);
        }
        z.extend_from_slice(&adler32(&raw).to_be_bytes());
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, if alpha { 6 } else { 2 }, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &z);
        chunk(&mut out, b"IEND", &[]);
        out
    }
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
